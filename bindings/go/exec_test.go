package ocirt_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

func TestExecAttachedExitCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("exec", "sleep", "1000")

	cases := []struct {
		cmd      []string
		exitCode int
	}{
		{[]string{"true"}, 0},
		{[]string{"false"}, 1},
		{[]string{"sh", "-c", "exit 42"}, 42},
		{[]string{"sh", "-c", "exit 255"}, 255},
		{[]string{"sh", "-c", "kill -SEGV $$"}, 139},
	}
	for i, c := range cases {
		session := uniqueID("code")
		stdout := newSyncBuffer()
		pid, results, err := e.rt.ExecContainer(context.Background(), ctr, session,
			&ocirt.ExecOptions{Cmd: c.cmd}, &ocirt.AttachStreams{OutputStream: stdout}, nil)
		if err != nil {
			t.Fatalf("case %d %v: %v", i, c.cmd, err)
		}
		if pid <= 0 {
			t.Errorf("case %d %v: pid %d, expected a host pid above 0", i, c.cmd, pid)
		}
		if err := receive(t, results); err != nil {
			t.Errorf("case %d %v: attach: %v", i, c.cmd, err)
		}
		if code := e.execExitCode(ctr, session); code != c.exitCode {
			t.Errorf("case %d %v: exit code %d, expected %d", i, c.cmd, code, c.exitCode)
		}
		if err := e.rt.ExecContainerCleanup(ctr, session); err != nil {
			t.Errorf("case %d %v: cleanup: %v", i, c.cmd, err)
		}
	}
}

func TestExecOptionsReachProcess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("options", "sleep", "1000")

	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	_, results, err := e.rt.ExecContainer(context.Background(), ctr, uniqueID("options"),
		&ocirt.ExecOptions{
			Cmd:  []string{"sh", "-c", "echo $FOO-$(id -u)-$(pwd); echo err >&2"},
			Env:  map[string]string{"FOO": "exec"},
			User: "65534",
			Cwd:  "/tmp",
		},
		&ocirt.AttachStreams{OutputStream: stdout, ErrorStream: stderr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := receive(t, results); err != nil {
		t.Fatal(err)
	}
	expectOutput(t, "stdout", stdout.String(), "exec-65534-/tmp\n")
	expectOutput(t, "stderr", stderr.String(), "err\n")
}

func TestExecDetached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("detached", "sleep", "1000")

	// The command runs until the test creates /tmp/release (a tmpfs that exec sessions
	// share with the container), so the checks below see it running on any machine.
	session := uniqueID("detached")
	command := []string{"sh", "-c", "while [ ! -e /tmp/release ]; do sleep 0.05; done; exit 7"}
	pid, err := e.rt.ExecContainerDetached(ctr, session, &ocirt.ExecOptions{Cmd: command})
	if err != nil {
		t.Fatal(err)
	}
	if pid <= 0 {
		t.Errorf("pid %d, expected a host pid above 0", pid)
	}
	if !e.execRunning(ctr, session) {
		t.Error("the detached session's command does not run right after the start")
	}
	if err := e.rt.ExecContainerCleanup(ctr, session); !errors.Is(err, ocirt.ErrExecStateInvalid) {
		t.Errorf("cleanup of a running session: %v, expected ErrExecStateInvalid", err)
	}
	release := &ocirt.ExecOptions{Cmd: []string{"touch", "/tmp/release"}}
	if _, err := e.rt.ExecContainerDetached(ctr, uniqueID("release"), release); err != nil {
		t.Fatal(err)
	}
	e.expectExecExitCode(ctr, session, 7)
	path, err := e.rt.ExecAttachSocketPath(ctr, session)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, session+"/attach") {
		t.Errorf("socket path %q does not end in %s/attach", path, session)
	}
	if err := e.rt.ExecContainerCleanup(ctr, session); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if _, _, err := e.rt.ExecUpdateStatus(ctr, session); !errors.Is(err, ocirt.ErrNoSuchExecSession) {
		t.Errorf("status after cleanup: %v, expected ErrNoSuchExecSession", err)
	}
}

func TestExecMissingOrBadCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("missing", "sleep", "1000")

	session := uniqueID("missing")
	_, _, err := e.rt.ExecContainer(context.Background(), ctr, session,
		&ocirt.ExecOptions{Cmd: []string{"/no/such/binary"}}, &ocirt.AttachStreams{OutputStream: io.Discard}, nil)
	if !errors.Is(err, ocirt.ErrRuntimeNotFound) {
		t.Errorf("exec of a missing binary: %v, expected ErrRuntimeNotFound", err)
	}
	if code := e.execExitCode(ctr, session); code != 127 {
		t.Errorf("recorded exit code %d, expected 127", code)
	}

	session = uniqueID("directory")
	_, err = e.rt.ExecContainerDetached(ctr, session, &ocirt.ExecOptions{Cmd: []string{"/etc"}})
	if !errors.Is(err, ocirt.ErrRuntimePermissionDenied) {
		t.Errorf("exec of a directory: %v, expected ErrRuntimePermissionDenied", err)
	}
	if code := e.execExitCode(ctr, session); code != 126 {
		t.Errorf("recorded exit code %d, expected 126", code)
	}
	e.expectStatus(ctr, ocirt.StatusRunning, "after the failed execs")

	stopped := e.created("stopped", "true")
	_, err = e.rt.ExecContainerDetached(stopped, uniqueID("stopped"), &ocirt.ExecOptions{Cmd: []string{"true"}})
	if !errors.Is(err, ocirt.ErrContainerStateInvalid) {
		t.Errorf("exec in a created container: %v, expected ErrContainerStateInvalid", err)
	}
}

func TestExecStdinEOF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("execcat", "sleep", "1000")

	session := uniqueID("cat")
	stdout := newSyncBuffer()
	_, results, err := e.rt.ExecContainer(context.Background(), ctr, session, &ocirt.ExecOptions{Cmd: []string{"cat"}},
		&ocirt.AttachStreams{OutputStream: stdout, InputStream: strings.NewReader("hello\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := receive(t, results); err != nil {
		t.Fatal(err)
	}
	expectOutput(t, "stdout", stdout.String(), "hello\n")
	e.expectExecExitCode(ctr, session, 0)
}

func TestExecDetachKeysAndStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("execdetach", "sleep", "1000")

	session := uniqueID("tty")
	began := time.Now()
	_, results, err := e.rt.ExecContainer(context.Background(), ctr, session,
		&ocirt.ExecOptions{Cmd: []string{"sleep", "1000"}, Terminal: true},
		&ocirt.AttachStreams{OutputStream: io.Discard, InputStream: strings.NewReader("\x10\x11")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := receive(t, results); !errors.Is(err, ocirt.ErrDetached) {
		t.Fatalf("exec with ctrl-p,ctrl-q typed: %v, expected ErrDetached", err)
	}
	// A hang guard, generous for a loaded machine. Without the detach the session would
	// last as long as the 1000 s sleep.
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("exec and detach took %v, expected a prompt detach", took)
	}
	if !e.execRunning(ctr, session) {
		t.Fatal("the command stopped at the detach, expected it to keep running")
	}
	if err := e.rt.ExecStopContainer(ctr, session, 0); err != nil {
		t.Fatal(err)
	}
	if code := e.execExitCode(ctr, session); code != 137 {
		t.Errorf("exit code %d after ExecStopContainer(0), expected 137", code)
	}
}

func TestExecContextDetaches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("execctx", "sleep", "1000")

	session := uniqueID("ctx")
	ctx, cancel := context.WithCancel(context.Background())
	_, results, err := e.rt.ExecContainer(ctx, ctr, session, &ocirt.ExecOptions{Cmd: []string{"sleep", "1000"}},
		&ocirt.AttachStreams{OutputStream: io.Discard}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	err = receive(t, results)
	if !errors.Is(err, ocirt.ErrCanceled) {
		t.Errorf("exec with a canceled context: %v, expected ErrCanceled", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("exec with a canceled context: %v, expected context.Canceled", err)
	}
	if !e.execRunning(ctr, session) {
		t.Error("the command stopped when the context was canceled, expected it to keep running")
	}
}

func TestKillAllReachesExecSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("killall", "sleep", "1000")

	session := uniqueID("sleeper")
	if _, err := e.rt.ExecContainerDetached(ctr, session, &ocirt.ExecOptions{Cmd: []string{"sleep", "1001"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.KillContainer(ctr, syscall.SIGKILL, true); err != nil {
		t.Fatal(err)
	}
	e.expectExitCode(ctr, 137)
	if code := e.execExitCode(ctr, session); code != 137 {
		t.Errorf("exec exit code %d, expected 137", code)
	}
}
