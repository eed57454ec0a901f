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
			t.Errorf("case %d %v: pid %d", i, c.cmd, pid)
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
	if got := stdout.String(); got != "exec-65534-/tmp\n" {
		t.Errorf("stdout %q, expected \"exec-65534-/tmp\\n\"", got)
	}
	if got := stderr.String(); got != "err\n" {
		t.Errorf("stderr %q, expected \"err\\n\"", got)
	}
}

func TestExecDetached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("detached", "sleep", "1000")

	session := uniqueID("detached")
	pid, err := e.rt.ExecContainerDetached(ctr, session, &ocirt.ExecOptions{Cmd: []string{"sh", "-c", "sleep 0.3; exit 7"}})
	if err != nil {
		t.Fatal(err)
	}
	if pid <= 0 {
		t.Errorf("pid %d", pid)
	}
	running, _, err := e.rt.ExecUpdateStatus(ctr, session)
	if err != nil {
		t.Fatal(err)
	}
	if !running {
		t.Error("the detached session should still run right after the start")
	}
	if err := e.rt.ExecContainerCleanup(ctr, session); !errors.Is(err, ocirt.ErrExecStateInvalid) {
		t.Errorf("cleanup of a running session: %v, expected ErrExecStateInvalid", err)
	}
	if code := e.execExitCode(ctr, session); code != 7 {
		t.Errorf("exit code %d, expected 7", code)
	}
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
	if status := e.status(ctr); status != ocirt.StatusRunning {
		t.Errorf("status %q after the failed execs, expected running", status)
	}

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
	if got := stdout.String(); got != "hello\n" {
		t.Errorf("stdout %q, expected \"hello\\n\" once", got)
	}
	if code := e.execExitCode(ctr, session); code != 0 {
		t.Errorf("exit code %d, expected 0", code)
	}
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
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("detaching took %v", took)
	}
	running, _, err := e.rt.ExecUpdateStatus(ctr, session)
	if err != nil {
		t.Fatal(err)
	}
	if !running {
		t.Fatal("the command should run on after the detach")
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
	if !errors.Is(err, ocirt.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("exec with a canceled context: %v, expected ErrCanceled and context.Canceled", err)
	}
	running, _, err := e.rt.ExecUpdateStatus(ctr, session)
	if err != nil {
		t.Fatal(err)
	}
	if !running {
		t.Error("the command should run on after the context was canceled")
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
	if code := e.wait(ctr); code != 137 {
		t.Errorf("container exit code %d, expected 137", code)
	}
	if code := e.execExitCode(ctr, session); code != 137 {
		t.Errorf("exec exit code %d, expected 137", code)
	}
}
