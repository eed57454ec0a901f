package ocirt_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

func TestLifecycleExitCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("exit", "sh", "-c", "echo hello; exit 3")

	if code := e.wait(ctr); code != 3 {
		t.Fatalf("exit code %d, expected 3", code)
	}
	state, err := ctr.State()
	if err != nil {
		t.Fatal(err)
	}
	if state.Status != ocirt.StatusStopped {
		t.Errorf("status %q, expected stopped", state.Status)
	}
	if state.ExitCode == nil || *state.ExitCode != 3 {
		t.Errorf("state exit code %v, expected 3", state.ExitCode)
	}
	if state.StartedAt == nil || state.FinishedAt == nil {
		t.Errorf("start and finish times missing: %+v", state)
	}
	path, err := e.rt.ExitFilePath(ctr)
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(content) != "3" {
		t.Errorf("exit file %s contains %q, expected \"3\"", path, content)
	}
	log, err := os.ReadFile(state.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "hello") {
		t.Errorf("log %s does not contain the output: %q", state.LogPath, log)
	}
}

func TestKillGives137(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("kill", "sleep", "1000")

	if err := e.rt.KillContainer(ctr, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if code := e.wait(ctr); code != 137 {
		t.Fatalf("exit code %d, expected 137", code)
	}
	err := e.rt.KillContainer(ctr, syscall.SIGTERM, false)
	if !errors.Is(err, ocirt.ErrContainerStateInvalid) {
		t.Fatalf("kill of a stopped container: %v, expected ErrContainerStateInvalid", err)
	}
}

func TestStopUsesStopSignal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.container("stop", spec("sh", "-c", "trap 'exit 0' INT; echo ready; while :; do sleep 1; done"),
		func(c *ocirt.ContainerConfig) { c.StopSignal = syscall.SIGINT })
	if err := e.rt.CreateContainer(ctr, nil); err != nil {
		t.Fatal(err)
	}
	// The shell, as PID 1, ignores SIGINT until its trap is installed, which "ready" shows.
	stdout := newSyncBuffer()
	attached := make(chan error, 1)
	go func() {
		attached <- e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
			Streams: &ocirt.AttachStreams{OutputStream: stdout},
			Start:   true,
		})
	}()
	if !stdout.waitFor("ready", 10*time.Second) {
		t.Fatalf("no \"ready\" from the container: %q", stdout.String())
	}

	began := time.Now()
	if err := e.rt.StopContainer(ctr, 10, false); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("stop took %v; the trap should end the container at once", took)
	}
	if err := receive(t, attached); err != nil {
		t.Errorf("attach: %v", err)
	}
	if code := e.wait(ctr); code != 0 {
		t.Errorf("exit code %d, expected 0 from the trap", code)
	}
	if err := e.rt.StopContainer(ctr, 10, false); err != nil {
		t.Errorf("stopping a stopped container: %v", err)
	}
}

func TestPauseAndReopen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("pause", "sleep", "1000")
	if err := e.rt.PauseContainer(ctr); err != nil {
		t.Fatal(err)
	}

	// A second Runtime on the same directories stands for another process.
	other, err := ocirt.NewRuntime(e.config())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	again, err := other.OpenContainer(ctr.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.ID() != ctr.ID() {
		t.Fatalf("reopened id %q, expected %q", again.ID(), ctr.ID())
	}
	if err := other.UpdateContainerStatus(again); err != nil {
		t.Fatal(err)
	}
	state, err := again.State()
	if err != nil {
		t.Fatal(err)
	}
	if state.Status != ocirt.StatusPaused {
		t.Fatalf("status %q, expected paused", state.Status)
	}
	if err := other.UnpauseContainer(again); err != nil {
		t.Fatal(err)
	}
	if err := other.StopContainer(again, 0, false); err != nil {
		t.Fatal(err)
	}
	if code := e.wait(ctr); code != 137 {
		t.Fatalf("exit code %d, expected 137", code)
	}
	if err := other.DeleteContainer(again); err != nil {
		t.Fatal(err)
	}
	err = e.rt.StartContainer(ctr)
	if !errors.Is(err, ocirt.ErrNoSuchContainer) {
		t.Fatalf("start after delete: %v, expected ErrNoSuchContainer", err)
	}
	if !strings.Contains(err.Error(), ctr.ID()) {
		t.Errorf("message %q does not name the container", err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("wait", "sleep", "1000")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := ctr.Wait(ctx)
	if !errors.Is(err, ocirt.ErrCanceled) {
		t.Errorf("Wait past the deadline: %v, expected ErrCanceled", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past the deadline: %v, expected context.DeadlineExceeded", err)
	}
	if err != nil && !strings.HasSuffix(err.Error(), "(context deadline exceeded)") {
		t.Errorf("Wait past the deadline: message %q does not name the deadline", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Wait returned after %v, long after its 200 ms deadline", took)
	}

	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, err = ctr.Wait(canceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a canceled context: %v, expected context.Canceled", err)
	}
	if status := e.status(ctr); status != ocirt.StatusRunning {
		t.Errorf("status %q after the waits, expected running", status)
	}
}

func TestRuntimeInfoAndList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.created("list", "true")
	second := e.created("list", "true")

	if e.rt.Name() != "runc" {
		t.Errorf("Name %q, expected runc", e.rt.Name())
	}
	if !strings.HasSuffix(e.rt.Path(), "/runc") {
		t.Errorf("Path %q does not end in /runc", e.rt.Path())
	}
	if !e.rt.SupportsJSONErrors() {
		t.Error("runc should be in the JSON-errors list")
	}
	if e.rt.SupportsKVM() {
		t.Error("runc should not be in the KVM list")
	}
	if e.rt.SupportsNoCgroups() {
		t.Error("runc should not be in the no-cgroups list")
	}
	_ = e.rt.SupportsCheckpoint()

	conmon, oci, err := e.rt.RuntimeInfo()
	if err != nil {
		t.Fatal(err)
	}
	if conmon.Version == "" || conmon.Path == "" {
		t.Errorf("conmon info incomplete: %+v", conmon)
	}
	if oci.Name != "runc" || oci.Version == "" {
		t.Errorf("runtime info incomplete: %+v", oci)
	}

	states, err := e.rt.ListContainers()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, state := range states {
		ids = append(ids, state.ID)
		if state.Status != ocirt.StatusCreated {
			t.Errorf("container %s is %q, expected created", state.ID, state.Status)
		}
	}
	expected := []string{first.ID(), second.ID()}
	slices.Sort(expected)
	if !slices.Equal(ids, expected) {
		t.Errorf("listed %v, expected %v", ids, expected)
	}
	if Version := ocirt.Version(); Version == "" {
		t.Error("Version is empty")
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("close", "sleep", "1000")

	// The container handle outlives the runtime handle, as in C.
	other, err := ocirt.NewRuntime(e.config())
	if err != nil {
		t.Fatal(err)
	}
	again, err := other.OpenContainer(ctr.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Errorf("second Close of a Runtime: %v", err)
	}
	if _, err := other.OpenContainer(ctr.ID()); !errors.Is(err, ocirt.ErrClosed) {
		t.Errorf("OpenContainer on a closed Runtime: %v, expected ErrClosed", err)
	}
	if _, err := again.State(); err != nil {
		t.Errorf("State after the Runtime closed: %v", err)
	}

	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if err := again.Close(); err != nil {
		t.Errorf("second Close of a Container: %v", err)
	}
	if _, err := again.State(); !errors.Is(err, ocirt.ErrClosed) {
		t.Errorf("State on a closed Container: %v, expected ErrClosed", err)
	}
	if err := e.rt.KillContainer(ctr, syscall.SIGKILL, false); err != nil {
		t.Errorf("closing a handle must leave the container alone: %v", err)
	}
}

func TestDroppedHandlesAreFreed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("drop", "true")

	// Handles dropped without Close are freed by their cleanups; this must neither crash
	// nor touch the container.
	for i := 0; i < 20; i++ {
		rt, err := ocirt.NewRuntime(e.config())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.OpenContainer(ctr.ID()); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	if status := e.status(ctr); status != ocirt.StatusCreated {
		t.Errorf("status %q, expected created", status)
	}
}

func TestLogFuncReceivesRecords(t *testing.T) {
	e := newEnv(t)
	var records atomic.Int64
	err := ocirt.SetLogFunc(ocirt.LogInfo, func(level ocirt.LogLevel, message string) {
		if level <= ocirt.LogInfo && message != "" {
			records.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ocirt.SetLogFunc(ocirt.LogOff, nil)

	ctr := e.running("log", "true")
	if code := e.wait(ctr); code != 0 {
		t.Errorf("exit code %d, expected 0", code)
	}
	if records.Load() == 0 {
		t.Error("no log records at level info for a create, start and wait")
	}
	if err := ocirt.SetLogFunc(ocirt.LogLevel(9), func(ocirt.LogLevel, string) {}); !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("log level 9: %v, expected ErrInvalidArgument", err)
	}
}
