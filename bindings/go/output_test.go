package ocirt_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

// patternCheck is an io.Writer that checks its input against pattern repeated endlessly,
// without storing it.
type patternCheck struct {
	mu       sync.Mutex
	pattern  []byte
	received int64
	mismatch int64 // offset of the first wrong byte, or -1
}

// newPatternCheck returns a check of pattern repeated from the first byte on.
func newPatternCheck(pattern string) *patternCheck {
	return &patternCheck{pattern: []byte(pattern), mismatch: -1}
}

func (c *patternCheck) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, b := range p {
		offset := c.received + int64(i)
		if c.mismatch < 0 && b != c.pattern[offset%int64(len(c.pattern))] {
			c.mismatch = offset
		}
	}
	c.received += int64(len(p))
	return len(p), nil
}

// result returns the number of bytes received and the offset of the first wrong one, or
// -1 when every byte matched.
func (c *patternCheck) result() (received int64, mismatch int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received, c.mismatch
}

// expectPattern reports an error for each way that check's input differs from size bytes
// of its pattern: the byte count, and the first wrong byte.
func expectPattern(t *testing.T, output string, check *patternCheck, size int64) {
	t.Helper()
	received, mismatch := check.result()
	if received != size {
		t.Errorf("%s: received %d bytes, expected %d", output, received, size)
	}
	if mismatch >= 0 {
		t.Errorf("%s: byte %d differs from the repeated pattern %q", output, mismatch, check.pattern)
	}
}

// linePattern is the line that the tests' yes commands print.
const linePattern = "0123456789abcdef\n"

func TestBigOutputIsComplete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const ddSize = 500000
	const yesSize = 4194304
	yes := fmt.Sprintf("yes 0123456789abcdef | head -c %d", yesSize)

	zeros, stderr := newPatternCheck("\x00"), newSyncBuffer()
	ctr := e.created("dd", "dd", "if=/dev/zero", "bs=1", fmt.Sprintf("count=%d", ddSize))
	e.attachStarted(ctr, &ocirt.AttachStreams{OutputStream: zeros, ErrorStream: stderr})
	expectPattern(t, "dd bs=1", zeros, ddSize)
	if !strings.Contains(stderr.String(), "500000+0 records out") {
		t.Errorf("dd's stderr %q does not contain \"500000+0 records out\"", stderr.String())
	}
	e.expectExitCode(ctr, 0)

	lines := newPatternCheck(linePattern)
	began := time.Now()
	ctr = e.created("yes", "sh", "-c", yes)
	e.attachStarted(ctr, &ocirt.AttachStreams{OutputStream: lines})
	expectPattern(t, "yes | head", lines, yesSize)
	// A hang guard, generous for a loaded machine. It is not a throughput check.
	if took := time.Since(began); took > 60*time.Second {
		t.Errorf("creating the container and streaming 4 MiB took %v, expected well under 60 s", took)
	}

	// The same commands as attached exec sessions, ten runs each.
	runner := e.running("bigexec", "sleep", "1000")
	for i := 0; i < 10; i++ {
		for _, command := range []struct {
			cmd     []string
			pattern string
			size    int64
		}{
			{[]string{"dd", "if=/dev/zero", "bs=1", fmt.Sprintf("count=%d", ddSize)}, "\x00", ddSize},
			{[]string{"sh", "-c", yes}, linePattern, yesSize},
		} {
			check := newPatternCheck(command.pattern)
			session := uniqueID("big")
			_, results, err := e.rt.ExecContainer(context.Background(), runner, session,
				&ocirt.ExecOptions{Cmd: command.cmd}, &ocirt.AttachStreams{OutputStream: check}, nil)
			if err != nil {
				t.Fatalf("run %d of %v: %v", i, command.cmd, err)
			}
			if err := receive(t, results); err != nil {
				t.Fatalf("run %d of %v: %v", i, command.cmd, err)
			}
			expectPattern(t, fmt.Sprintf("exec run %d of %v", i, command.cmd), check, command.size)
			if code := e.execExitCode(runner, session); code != 0 {
				t.Errorf("exec run %d of %v: exit code %d", i, command.cmd, code)
			}
		}
	}
}

func TestBigOutputOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const size = 4194304
	ctr := e.created("httpbig", "sh", "-c", fmt.Sprintf("yes 0123456789abcdef | head -c %d", size))

	client, server := tcpPair(t)
	got := demux(t, e.httpAttachOutput(ctr, client, server, &ocirt.HTTPAttachStreams{Stdout: true, Stderr: true}))
	expected := bytes.Repeat([]byte(linePattern), size/len(linePattern)+1)[:size]
	if len(got.stdout) != size {
		t.Errorf("stdout frames carry %d bytes, expected %d", len(got.stdout), size)
	}
	if !bytes.Equal(got.stdout, expected) {
		t.Error("stdout frames differ from the repeated line pattern")
	}
}

func Test64MiBReachesWriter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const size = 64 << 20
	ctr := e.createdWith("64mib", spec("sh", "-c", fmt.Sprintf("yes 0123456789abcdef | head -c %d", size)),
		func(c *ocirt.ContainerConfig) { c.LogDriver = "none" })

	check := newPatternCheck(linePattern)
	began := time.Now()
	e.attachStarted(ctr, &ocirt.AttachStreams{OutputStream: check})
	took := time.Since(began)
	expectPattern(t, "64 MiB", check, size)
	t.Logf("64 MiB arrived in %v", took)
	e.expectExitCode(ctr, 0)
}
