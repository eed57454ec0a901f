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

	if !e.expectExitCode(ctr, 3) {
		t.FailNow()
	}
	state, err := ctr.State()
	if err != nil {
		t.Fatal(err)
	}
	if state.Status != ocirt.StatusStopped {
		t.Errorf("status %q, expected stopped", state.Status)
	}
	if state.ExitCode == nil {
		t.Error("state has no exit code, expected 3")
	} else if *state.ExitCode != 3 {
		t.Errorf("state exit code %d, expected 3", *state.ExitCode)
	}
	if state.StartedAt == nil {
		t.Errorf("start time missing: %+v", state)
	}
	if state.FinishedAt == nil {
		t.Errorf("finish time missing: %+v", state)
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

func TestKillExitCode137(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("kill", "sleep", "1000")

	if err := e.rt.KillContainer(ctr, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if !e.expectExitCode(ctr, 137) {
		t.FailNow()
	}
	err := e.rt.KillContainer(ctr, syscall.SIGTERM, false)
	if !errors.Is(err, ocirt.ErrContainerStateInvalid) {
		t.Fatalf("kill of a stopped container: %v, expected ErrContainerStateInvalid", err)
	}
}

func TestStopUsesStopSignal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("stop", spec("sh", "-c", "trap 'exit 0' INT; echo ready; while :; do sleep 1; done"),
		func(c *ocirt.ContainerConfig) { c.StopSignal = syscall.SIGINT })

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
	// The trap ends the container at once. A stop that sent SIGTERM instead, which PID 1
	// ignores without a handler, would wait for the whole 10 s grace period before SIGKILL.
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("stop took %v, expected the SIGINT trap to end the container well within the 10 s grace period", took)
	}
	if err := receive(t, attached); err != nil {
		t.Errorf("attach: %v", err)
	}
	e.expectExitCode(ctr, 0)
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

	// A second Runtime on the same directories plays the part of another process.
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
	if !e.expectExitCode(ctr, 137) {
		t.FailNow()
	}
	if err := other.DeleteContainer(again); err != nil {
		t.Fatal(err)
	}
	err = e.rt.StartContainer(ctr)
	if !errors.Is(err, ocirt.ErrNoSuchContainer) {
		t.Fatalf("start after delete: %v, expected ErrNoSuchContainer", err)
	}
	expectMessageContains(t, err, ctr.ID(), "start after delete")
}

func TestWaitHonorsContext(t *testing.T) {
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
		t.Errorf("Wait past the deadline: message %q does not end in \"(context deadline exceeded)\"", err)
	}
	// A hang guard, generous for a loaded machine: only a Wait that ignored the deadline
	// takes this long.
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Wait returned after %v, long after its 200 ms deadline", took)
	}

	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, err = ctr.Wait(canceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a canceled context: %v, expected context.Canceled", err)
	}
	e.expectStatus(ctr, ocirt.StatusRunning, "after the waits")
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
		t.Error("SupportsJSONErrors is false for runc, expected true (podman's default list)")
	}
	if e.rt.SupportsKVM() {
		t.Error("SupportsKVM is true for runc, expected false")
	}
	if e.rt.SupportsNoCgroups() {
		t.Error("SupportsNoCgroups is true for runc, expected false")
	}
	// The result depends on whether criu is installed, so only the call is exercised.
	_ = e.rt.SupportsCheckpoint()

	conmon, oci, err := e.rt.RuntimeInfo()
	if err != nil {
		t.Fatal(err)
	}
	if conmon.Version == "" {
		t.Errorf("conmon info has no version: %+v", conmon)
	}
	if conmon.Path == "" {
		t.Errorf("conmon info has no path: %+v", conmon)
	}
	if oci.Name != "runc" {
		t.Errorf("runtime info name %q, expected runc: %+v", oci.Name, oci)
	}
	if oci.Version == "" {
		t.Errorf("runtime info has no version: %+v", oci)
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
	if version := ocirt.Version(); version == "" {
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
		t.Errorf("KillContainer after two handles closed: %v, expected the container still running", err)
	}
}

func TestDroppedHandlesAreFreed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("drop", "true")

	// Handles dropped without Close are freed by their cleanups. That must neither crash
	// nor change the container.
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
	e.expectStatus(ctr, ocirt.StatusCreated, "after its handles were collected")
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
	e.expectExitCode(ctr, 0)
	if records.Load() == 0 {
		t.Error("no log records at level info for a create, start and wait")
	}
	err = ocirt.SetLogFunc(ocirt.LogLevel(9), func(ocirt.LogLevel, string) {})
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("log level 9: %v, expected ErrInvalidArgument", err)
	}
}
