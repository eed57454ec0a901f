package ocirt_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

func TestResizeBeforeStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("size", terminalSpec("sh", "-c", "sleep 1; stty size"), nil)
	if err := e.rt.AttachResize(ctr, ocirt.TerminalSize{Width: 120, Height: 40}); err != nil {
		t.Fatal(err)
	}

	stdout := newSyncBuffer()
	e.attachStarted(ctr, &ocirt.AttachStreams{OutputStream: stdout})
	if got := stdout.String(); got != "40 120\r\n" {
		t.Errorf("stty size printed %q, expected \"40 120\\r\\n\"", got)
	}

	plain := e.running("plain", "sleep", "1000")
	err := e.rt.AttachResize(plain, ocirt.TerminalSize{Width: 80, Height: 24})
	if !errors.Is(err, ocirt.ErrContainerStateInvalid) {
		t.Errorf("resize of a container without a terminal: %v, expected ErrContainerStateInvalid", err)
	}
	e.expectStatus(plain, ocirt.StatusRunning, "after the failed resize")
}

func TestExecInitialSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("execsize", "sleep", "1000")

	for i := 0; i < 20; i++ {
		stdout := newSyncBuffer()
		_, results, err := e.rt.ExecContainer(context.Background(), ctr, uniqueID("size"),
			&ocirt.ExecOptions{Cmd: []string{"stty", "size"}, Terminal: true},
			&ocirt.AttachStreams{OutputStream: stdout}, &ocirt.TerminalSize{Width: 100, Height: 30})
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		if err := receive(t, results); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		if got := stdout.String(); got != "30 100\r\n" {
			t.Errorf("iteration %d: stty size printed %q, expected \"30 100\\r\\n\"", i, got)
		}
	}
}

func TestExecResize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("execresize", "sleep", "1000")

	session := uniqueID("resize")
	stdout := newSyncBuffer()
	input, typing := io.Pipe()
	defer typing.Close()
	_, results, err := e.rt.ExecContainer(context.Background(), ctr, session,
		&ocirt.ExecOptions{Cmd: []string{"sh", "-c", "stty size; read x; stty size"}, Terminal: true},
		&ocirt.AttachStreams{OutputStream: stdout, InputStream: input}, &ocirt.TerminalSize{Width: 90, Height: 25})
	if err != nil {
		t.Fatal(err)
	}
	if !stdout.waitFor("25 90\r\n", 10*time.Second) {
		t.Fatalf("no initial size in %q", stdout.String())
	}
	if err := e.rt.ExecAttachResize(ctr, session, ocirt.TerminalSize{Width: 160, Height: 50}); err != nil {
		t.Fatal(err)
	}
	typing.Write([]byte("\n"))
	if err := receive(t, results); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.HasSuffix(got, "50 160\r\n") {
		t.Errorf("output %q does not end in \"50 160\\r\\n\"", got)
	}
	e.expectExecExitCode(ctr, session, 0)
	err = e.rt.ExecAttachResize(ctr, session, ocirt.TerminalSize{Width: 80, Height: 24})
	if !errors.Is(err, ocirt.ErrExecStateInvalid) {
		t.Errorf("resize of an exited session: %v, expected ErrExecStateInvalid", err)
	}
}
