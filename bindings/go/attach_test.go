package ocirt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

func TestAttachStdinEOF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("cat", spec("cat"), func(c *ocirt.ContainerConfig) { c.Stdin = true })

	stdout := newSyncBuffer()
	e.attachStarted(ctr, &ocirt.AttachStreams{OutputStream: stdout, InputStream: strings.NewReader("hello\n")})
	expectOutput(t, "stdout", stdout.String(), "hello\n")
	e.expectExitCode(ctr, 0)
}

func TestAttachSeparatesStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("streams", "sh", "-c", "echo out; echo err >&2; printf 'a\\000b'")

	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	e.attachStarted(ctr, &ocirt.AttachStreams{OutputStream: stdout, ErrorStream: stderr})
	expectOutput(t, "stdout", stdout.String(), "out\na\x00b")
	expectOutput(t, "stderr", stderr.String(), "err\n")
}

func TestAttachDetachKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("detach", terminalSpec("sleep", "1000"), nil)

	began := time.Now()
	err := e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
		Streams: &ocirt.AttachStreams{OutputStream: io.Discard, InputStream: strings.NewReader("\x10\x11")},
		Start:   true,
	})
	if !errors.Is(err, ocirt.ErrDetached) {
		t.Fatalf("attach with ctrl-p,ctrl-q typed: %v, expected ErrDetached", err)
	}
	// A hang guard, generous for a loaded machine. Without the detach the attach would
	// last as long as the 1000 s sleep.
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("attach and detach took %v, expected a prompt detach", took)
	}
	if !e.expectStatus(ctr, ocirt.StatusRunning, "after detach") {
		t.FailNow()
	}

	// The container can be attached again, with other keys, split across two reads.
	// io.Pipe hands each Write to a separate Read, so the library gets the two keys in
	// two ocirt_attach_write calls.
	keys := "ctrl-x,a"
	input, typing := io.Pipe()
	go func() {
		typing.Write([]byte("\x18"))
		typing.Write([]byte("a"))
	}()
	err = e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
		Streams:    &ocirt.AttachStreams{OutputStream: io.Discard, InputStream: input},
		DetachKeys: &keys,
	})
	typing.Close()
	if !errors.Is(err, ocirt.ErrDetached) {
		t.Fatalf("attach with ctrl-x,a typed: %v, expected ErrDetached", err)
	}
	e.expectStatus(ctr, ocirt.StatusRunning, "after the second detach")
}

func TestAttachDetachAfterOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("read", spec("sh", "-c", "read x; echo got:$x; sleep 1000"),
		func(c *ocirt.ContainerConfig) { c.Stdin = true })

	stdout := newSyncBuffer()
	input, typing := io.Pipe()
	go func() {
		typing.Write([]byte("xyz\n"))
		if stdout.waitFor("got:xyz\n", 10*time.Second) {
			typing.Write([]byte("\x10\x11"))
		}
		typing.Close()
	}()
	err := e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
		Streams: &ocirt.AttachStreams{OutputStream: stdout, InputStream: input},
		Start:   true,
	})
	if !errors.Is(err, ocirt.ErrDetached) {
		t.Fatalf("attach: %v, expected ErrDetached", err)
	}
	expectOutput(t, "stdout", stdout.String(), "got:xyz\n")
	e.expectStatus(ctr, ocirt.StatusRunning, "after detach")
}

func TestAttachLeaveStdinOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("leftopen", spec("sh", "-c", "while read x; do echo got:$x; done; echo eof; sleep 1000"),
		func(c *ocirt.ContainerConfig) {
			c.Stdin = true
			c.LeaveStdinOpen = true
		})

	for i, word := range []string{"first", "second"} {
		stdout := newSyncBuffer()
		input, typing := io.Pipe()
		go func() {
			typing.Write([]byte(word + "\n"))
			if stdout.waitFor("got:"+word+"\n", 10*time.Second) {
				typing.Write([]byte("\x10\x11"))
			}
			typing.Close()
		}()
		err := e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
			Streams: &ocirt.AttachStreams{OutputStream: stdout, InputStream: input},
			Start:   i == 0,
		})
		if !errors.Is(err, ocirt.ErrDetached) {
			t.Fatalf("attach %d: %v, expected ErrDetached", i+1, err)
		}
		// Without LeaveStdinOpen the first detach would close stdin and print "eof".
		if got := stdout.String(); got != "got:"+word+"\n" {
			t.Fatalf("attach %d: stdout %q, expected only the echo of %q", i+1, got, word)
		}
	}
	e.expectStatus(ctr, ocirt.StatusRunning, "after two detaches")
}

func TestAttachDisabledDetachKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("nokeys", spec("cat"), func(c *ocirt.ContainerConfig) { c.Stdin = true })

	none := ""
	stdout := newSyncBuffer()
	err := e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
		Streams:    &ocirt.AttachStreams{OutputStream: stdout, InputStream: strings.NewReader("\x10\x11\n")},
		DetachKeys: &none,
		Start:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "\x10\x11\n" {
		t.Errorf("stdout %q, expected the bytes 10 11 0a unchanged", got)
	}
	e.expectExitCode(ctr, 0)
}

func TestAttachContextDetaches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("ctx", "sh", "-c", "while :; do echo tick; sleep 0.1; done")

	stdout := newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		stdout.waitFor("tick", 10*time.Second)
		cancel()
	}()
	err := e.rt.Attach(ctx, ctr, &ocirt.AttachOptions{Streams: &ocirt.AttachStreams{OutputStream: stdout}})
	if !errors.Is(err, ocirt.ErrCanceled) {
		t.Errorf("attach with a canceled context: %v, expected ErrCanceled", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("attach with a canceled context: %v, expected context.Canceled", err)
	}
	if !strings.Contains(stdout.String(), "tick") {
		t.Errorf("no output before the cancel: %q", stdout.String())
	}
	e.expectStatus(ctr, ocirt.StatusRunning, "after the canceled attach")
}

func TestStopWhileAttached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("stopattached", "sh", "-c", "trap 'echo got-term' TERM; echo ready; while :; do sleep 1; done")

	stdout := newSyncBuffer()
	ready := make(chan bool, 1)
	result := make(chan error, 1)
	go func() {
		result <- e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
			Streams:     &ocirt.AttachStreams{OutputStream: stdout},
			Start:       true,
			AttachReady: ready,
		})
	}()
	select {
	case <-ready:
	case err := <-result:
		t.Fatalf("attach ended before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("attach not ready within 30 s")
	}
	if !stdout.waitFor("ready", 10*time.Second) {
		t.Fatalf("no \"ready\" from the container: %q", stdout.String())
	}
	began := time.Now()
	if err := e.rt.StopContainer(ctr, 3, false); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	// The trap keeps the shell alive after SIGTERM, so only the SIGKILL at the end of the
	// 3 s grace period ends it. A slow machine cannot make the stop shorter.
	if took < 2500*time.Millisecond {
		t.Errorf("stop took %v, expected it to wait for the 3 s grace period", took)
	}
	// A hang guard, generous for a loaded machine.
	if took > 15*time.Second {
		t.Errorf("stop took %v, expected SIGKILL after the 3 s grace period", took)
	}
	if err := receive(t, result); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if !strings.Contains(stdout.String(), "got-term") {
		t.Errorf("stdout %q does not contain \"got-term\"", stdout.String())
	}
	e.expectExitCode(ctr, 137)
}

// failingWriter fails its second Write.
type failingWriter struct {
	writes int
	err    error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > 1 {
		return 0, w.err
	}
	return len(p), nil
}

func TestAttachWriterErrorStopsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("writer", "sh", "-c", "while :; do echo line; sleep 0.05; done")

	writer := &failingWriter{err: errors.New("disk full")}
	err := e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{Streams: &ocirt.AttachStreams{OutputStream: writer}})
	if !errors.Is(err, ocirt.ErrCallbackAborted) {
		t.Errorf("attach with a failing writer: %v, expected ErrCallbackAborted", err)
	}
	if !errors.Is(err, writer.err) {
		t.Errorf("attach with a failing writer: %v, expected the writer's error", err)
	}
	e.expectStatus(ctr, ocirt.StatusRunning, "after the writer failed")
}

// panickingWriter panics in Write.
type panickingWriter struct{}

func (panickingWriter) Write(p []byte) (int, error) {
	panic("writer exploded")
}

func TestAttachWriterPanicIsRaisedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("panic", "echo", "hi")

	recovered := func() (value any) {
		defer func() { value = recover() }()
		e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
			Streams: &ocirt.AttachStreams{OutputStream: panickingWriter{}},
			Start:   true,
		})
		return nil
	}()
	if fmt.Sprint(recovered) != "writer exploded" {
		t.Errorf("recovered %v, expected the writer's panic", recovered)
	}
}
