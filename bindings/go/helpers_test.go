package ocirt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

// testEnv is one test's runtime, with a run directory and runc root of its own under /tmp,
// so tests run in parallel. Its cleanup deletes every container the test made, also when
// the test fails.
type testEnv struct {
	t    *testing.T
	dir  string
	root string
	rt   *ocirt.Runtime

	mu         sync.Mutex
	containers []*ocirt.Container
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "ocirt-go-test-")
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, dir: dir, root: filepath.Join(dir, "runc")}
	t.Cleanup(e.cleanup)
	e.rt, err = ocirt.NewRuntime(e.config())
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	return e
}

// config returns the runtime config of the test's directories, for a second Runtime.
func (e *testEnv) config() *ocirt.RuntimeConfig {
	return &ocirt.RuntimeConfig{RunDir: filepath.Join(e.dir, "run"), RuntimeRoot: e.root}
}

func (e *testEnv) cleanup() {
	e.mu.Lock()
	containers := e.containers
	e.mu.Unlock()
	for _, ctr := range containers {
		if err := e.rt.DeleteContainer(ctr); err != nil && !errors.Is(err, ocirt.ErrNoSuchContainer) {
			e.t.Logf("deleting container %s: %v", ctr.ID(), err)
		}
		ctr.Close()
	}
	// Anything the library lost track of: a failed test may leave any state behind.
	output, _ := exec.Command("runc", "--root", e.root, "list", "-q").Output()
	for _, id := range strings.Fields(string(output)) {
		exec.Command("runc", "--root", e.root, "delete", "--force", id).Run()
	}
	if e.rt != nil {
		e.rt.Close()
	}
	os.RemoveAll(e.dir)
}

var idCounter atomic.Int64

// uniqueID returns an id unique across parallel tests and test processes: runc names
// cgroups after container ids, and those are global.
func uniqueID(name string) string {
	return fmt.Sprintf("%s-%d-%d", name, os.Getpid(), idCounter.Add(1))
}

// spec returns a copy of the bundle's spec running args.
func spec(args ...string) map[string]any {
	text, _ := json.Marshal(bundleSpec)
	var copied map[string]any
	json.Unmarshal(text, &copied)
	process := copied["process"].(map[string]any)
	process["args"] = args
	return copied
}

// terminalSpec returns a spec running args on a terminal.
func terminalSpec(args ...string) map[string]any {
	s := spec(args...)
	s["process"].(map[string]any)["terminal"] = true
	return s
}

// container configures a container with an inline spec; configure, when not nil, changes
// the config first.
func (e *testEnv) container(name string, spec map[string]any, configure func(*ocirt.ContainerConfig)) *ocirt.Container {
	e.t.Helper()
	config := &ocirt.ContainerConfig{
		ID:     uniqueID(name),
		Spec:   spec,
		Rootfs: filepath.Join(bundleDir, "rootfs"),
	}
	if configure != nil {
		configure(config)
	}
	ctr, err := e.rt.NewContainer(config)
	if err != nil {
		e.t.Fatalf("NewContainer %s: %v", config.ID, err)
	}
	e.track(ctr)
	return ctr
}

func (e *testEnv) track(ctr *ocirt.Container) {
	e.mu.Lock()
	e.containers = append(e.containers, ctr)
	e.mu.Unlock()
}

// created configures and creates a container running args.
func (e *testEnv) created(name string, args ...string) *ocirt.Container {
	e.t.Helper()
	ctr := e.container(name, spec(args...), nil)
	if err := e.rt.CreateContainer(ctr, nil); err != nil {
		e.t.Fatalf("CreateContainer %s: %v", ctr.ID(), err)
	}
	return ctr
}

// running configures, creates and starts a container running args.
func (e *testEnv) running(name string, args ...string) *ocirt.Container {
	e.t.Helper()
	ctr := e.created(name, args...)
	if err := e.rt.StartContainer(ctr); err != nil {
		e.t.Fatalf("StartContainer %s: %v", ctr.ID(), err)
	}
	return ctr
}

// wait waits at most 30 s for the container to exit and returns its exit code.
func (e *testEnv) wait(ctr *ocirt.Container) int32 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := ctr.Wait(ctx)
	if err != nil {
		e.t.Fatalf("Wait %s: %v", ctr.ID(), err)
	}
	return code
}

// status refreshes and returns the container's status.
func (e *testEnv) status(ctr *ocirt.Container) ocirt.ContainerStatus {
	e.t.Helper()
	if err := e.rt.UpdateContainerStatus(ctr); err != nil {
		e.t.Fatalf("UpdateContainerStatus %s: %v", ctr.ID(), err)
	}
	state, err := ctr.State()
	if err != nil {
		e.t.Fatalf("State %s: %v", ctr.ID(), err)
	}
	return state.Status
}

// execExitCode waits at most 10 s for an exec session to exit and returns its exit code.
func (e *testEnv) execExitCode(ctr *ocirt.Container, sessionID string) int {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		running, code, err := e.rt.ExecUpdateStatus(ctr, sessionID)
		if err != nil {
			e.t.Fatalf("ExecUpdateStatus %s: %v", sessionID, err)
		}
		if !running {
			return code
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("exec session %s still runs after 10 s", sessionID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receive waits at most 30 s for a session's result.
func receive(t *testing.T, results <-chan error) error {
	t.Helper()
	select {
	case err := <-results:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the session did not end within 30 s")
		return nil
	}
}

// syncBuffer is a bytes.Buffer that the library's thread writes while a test reads.
type syncBuffer struct {
	mu      sync.Mutex
	buffer  bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer {
	return &syncBuffer{changed: make(chan struct{}, 1)}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.String()
}

// waitFor waits up to limit for the buffer to contain needle.
func (b *syncBuffer) waitFor(needle string, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		if strings.Contains(b.String(), needle) {
			return true
		}
		select {
		case <-b.changed:
		case <-deadline:
			return strings.Contains(b.String(), needle)
		}
	}
}
