package ocirt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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

// newEnv makes the test's directories and Runtime and registers their cleanup.
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

// cleanup deletes the test's containers, the Runtime and the directories.
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
	// A failed test may leave containers that the library lost track of, so runc deletes
	// whatever its root still lists.
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

// createdWith configures and creates a container with an inline spec. configure, when not
// nil, changes the config first.
func (e *testEnv) createdWith(name string, spec map[string]any, configure func(*ocirt.ContainerConfig)) *ocirt.Container {
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
	if err := e.rt.CreateContainer(ctr, nil); err != nil {
		e.t.Fatalf("CreateContainer %s: %v", ctr.ID(), err)
	}
	return ctr
}

// track adds ctr to the containers that cleanup deletes.
func (e *testEnv) track(ctr *ocirt.Container) {
	e.mu.Lock()
	e.containers = append(e.containers, ctr)
	e.mu.Unlock()
}

// created configures and creates a container running args.
func (e *testEnv) created(name string, args ...string) *ocirt.Container {
	e.t.Helper()
	return e.createdWith(name, spec(args...), nil)
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

// eventually calls condition until it returns true or limit has passed, and returns its
// last result. It polls every 20 ms, for states that send no notification.
func eventually(limit time.Duration, condition func() bool) bool {
	deadline := time.Now().Add(limit)
	for !condition() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// execRunning reports whether an exec session's command still runs.
func (e *testEnv) execRunning(ctr *ocirt.Container, sessionID string) bool {
	e.t.Helper()
	running, _, err := e.rt.ExecUpdateStatus(ctr, sessionID)
	if err != nil {
		e.t.Fatalf("ExecUpdateStatus %s: %v", sessionID, err)
	}
	return running
}

// execExitCode waits at most 10 s for an exec session to exit and returns its exit code.
func (e *testEnv) execExitCode(ctr *ocirt.Container, sessionID string) int {
	e.t.Helper()
	code := -1
	exited := eventually(10*time.Second, func() bool {
		var running bool
		var err error
		running, code, err = e.rt.ExecUpdateStatus(ctr, sessionID)
		if err != nil {
			e.t.Fatalf("ExecUpdateStatus %s: %v", sessionID, err)
		}
		return !running
	})
	if !exited {
		e.t.Fatalf("exec session %s still runs after 10 s", sessionID)
	}
	return code
}

// expectStatus reports an error unless the container's refreshed status is expected, and
// returns whether it is. when describes the moment, such as "after detach".
func (e *testEnv) expectStatus(ctr *ocirt.Container, expected ocirt.ContainerStatus, when string) bool {
	e.t.Helper()
	status := e.status(ctr)
	if status != expected {
		e.t.Errorf("container %s is %q %s, expected %q", ctr.ID(), status, when, expected)
		return false
	}
	return true
}

// expectExitCode waits for the container to exit and reports an error unless its exit
// code is expected. It returns whether the code matched.
func (e *testEnv) expectExitCode(ctr *ocirt.Container, expected int32) bool {
	e.t.Helper()
	code := e.wait(ctr)
	if code != expected {
		e.t.Errorf("container %s exit code %d, expected %d", ctr.ID(), code, expected)
		return false
	}
	return true
}

// attachStarted attaches streams to the created container, starts it, and returns when
// its streams end. It fails the test when Attach returns an error.
func (e *testEnv) attachStarted(ctr *ocirt.Container, streams *ocirt.AttachStreams) {
	e.t.Helper()
	err := e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{Streams: streams, Start: true})
	if err != nil {
		e.t.Fatalf("Attach %s: %v", ctr.ID(), err)
	}
}

// expectExecExitCode waits at most 10 s for an exec session to exit and reports an error
// unless its exit code is expected.
func (e *testEnv) expectExecExitCode(ctr *ocirt.Container, sessionID string, expected int) {
	e.t.Helper()
	if code := e.execExitCode(ctr, sessionID); code != expected {
		e.t.Errorf("exec session %s exit code %d, expected %d", sessionID, code, expected)
	}
}

// httpAttachOutput starts the created container through HTTPAttach on server, reads
// everything the library writes to client until it closes the connection, and returns
// the bytes. It fails the test when HTTPAttach returns an error.
func (e *testEnv) httpAttachOutput(ctr *ocirt.Container, client, server net.Conn, streams *ocirt.HTTPAttachStreams) []byte {
	e.t.Helper()
	result := make(chan error, 1)
	go func() {
		result <- e.rt.HTTPAttach(context.Background(), ctr, server, nil, streams, &ocirt.HTTPAttachOptions{Start: true})
	}()
	data := readAll(e.t, client)
	if err := receive(e.t, result); err != nil {
		e.t.Fatalf("HTTPAttach %s: %v", ctr.ID(), err)
	}
	return data
}

// expectOutput reports an error unless the output of a stream, such as "stdout", is
// exactly expected.
func expectOutput(t *testing.T, stream string, output string, expected string) {
	t.Helper()
	if output != expected {
		t.Errorf("%s %q, expected %q", stream, output, expected)
	}
}

// expectMessageContains reports an error unless err is not nil and its message contains
// text. call describes the call that returned err.
func expectMessageContains(t *testing.T, err error, text string, call string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, expected one whose message contains %q", call, text)
		return
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("%s: message %q does not contain %q", call, err, text)
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

// syncBuffer is a bytes.Buffer that the library's thread writes while a test reads. changed
// receives a value after each Write, and waitFor blocks on it instead of polling.
type syncBuffer struct {
	mu      sync.Mutex
	buffer  bytes.Buffer
	changed chan struct{}
}

// newSyncBuffer returns an empty syncBuffer.
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
