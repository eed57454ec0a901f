package ocirt

// #include <stdlib.h>
// #include "ocirt.h"
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// ContainerConfig configures a container. ID and one of Bundle or Spec are required.
type ContainerConfig struct {
	// ID is 1-128 ASCII letters, digits and "_.+-", not starting with "." or "-".
	ID string `json:"id"`
	// Name is the container name in conmon's journald fields. It defaults to the ID.
	Name string `json:"name,omitempty"`
	// Bundle is an absolute path to a directory with config.json.
	Bundle string `json:"bundle,omitempty"`
	// Spec is an inline OCI runtime spec, marshaled with encoding/json: a map, a
	// json.RawMessage or a runtime-spec specs.Spec. Its process.terminal decides whether the
	// container has a terminal.
	Spec any `json:"spec,omitempty"`
	// Rootfs is an absolute root filesystem path that overrides the spec's root.path.
	Rootfs string `json:"rootfs,omitempty"`
	// Stdin keeps the container's stdin open for Attach (podman's -i).
	Stdin bool `json:"stdin,omitempty"`
	// LeaveStdinOpen keeps the process's stdin open when an attach session ends, also by a
	// detach. By default conmon closes it, so the process reads end of file.
	LeaveStdinOpen bool `json:"leave_stdin_open,omitempty"`
	// LogDriver is "k8s-file" (the default), "json-file", "journald" or "none".
	LogDriver string `json:"log_driver,omitempty"`
	// LogPath is the k8s-file log's absolute path, by default ctr.log in the container's
	// state directory.
	LogPath string `json:"log_path,omitempty"`
	// LogSizeMax is the log's maximum size in bytes, unlimited when negative. Nil takes
	// the Runtime's LogSizeMax.
	LogSizeMax *int64 `json:"log_size_max,omitempty"`
	// LogTag is the journald SYSLOG_IDENTIFIER.
	LogTag string `json:"log_tag,omitempty"`
	// StopSignal is the signal StopContainer sends first, SIGTERM when 0.
	StopSignal syscall.Signal `json:"stop_signal,omitempty"`
	// ExitCommand is run by conmon after the container exits: an absolute program path,
	// then its arguments. ExitCommandDelay is the wait before it runs, in seconds.
	ExitCommand      []string `json:"exit_command,omitempty"`
	ExitCommandDelay uint     `json:"exit_command_delay,omitempty"`
	// ConmonPidFile is the absolute path of conmon's pid file, by default conmon.pid in the
	// container's state directory.
	ConmonPidFile string `json:"conmon_pidfile,omitempty"`
	// RuntimeArgs are extra options for `runtime create`.
	RuntimeArgs []string `json:"runtime_args,omitempty"`
	// PreserveFDs passes this process's descriptors 3 to 3+N-1 to the container as 3, 4, ...
	// They are read in the process that calls CreateContainer.
	PreserveFDs uint `json:"preserve_fds,omitempty"`
	// NoCgroups runs the container without cgroups (runtimes in the no-cgroups list only).
	NoCgroups bool `json:"no_cgroups,omitempty"`
}

// ContainerStatus is a container's status, as libpod names it.
type ContainerStatus string

// The statuses a container goes through.
const (
	StatusConfigured ContainerStatus = "configured"
	StatusCreated    ContainerStatus = "created"
	StatusRunning    ContainerStatus = "running"
	StatusPaused     ContainerStatus = "paused"
	StatusStopped    ContainerStatus = "stopped"
	StatusExited     ContainerStatus = "exited"
)

// ContainerState is a container's stored state and configuration, as
// ocirt_container_state_json returns it. Call UpdateContainerStatus first to refresh it
// from the runtime.
type ContainerState struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Status    ContainerStatus `json:"status"`
	PID       int             `json:"pid"`
	ConmonPID int             `json:"conmon_pid"`
	// ExitCode is nil until the process exits. Then it is 0-255, 128+N after signal N, or
	// -1 when conmon could not record it.
	ExitCode     *int32     `json:"exit_code"`
	OOMKilled    bool       `json:"oom_killed"`
	CreatedAt    *time.Time `json:"created_at"`
	StartedAt    *time.Time `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	Restored     bool       `json:"restored"`
	Checkpointed bool       `json:"checkpointed"`
	Terminal     bool       `json:"terminal"`
	Stdin        bool       `json:"stdin"`
	// StateDir is the container's directory, the bundle that conmon and the runtime use.
	StateDir string `json:"state_dir"`
	// Bundle is the bundle that the config named, empty for an inline spec.
	Bundle       string `json:"bundle"`
	Rootfs       string `json:"rootfs"`
	LogDriver    string `json:"log_driver"`
	LogPath      string `json:"log_path"`
	ExitFile     string `json:"exit_file"`
	AttachSocket string `json:"attach_socket"`
	Runtime      string `json:"runtime"`
}

// Container is a handle to a container of a Runtime. The container lives on disk and under
// conmon: closing the handle never stops it, and OpenContainer finds it again, also from
// another process. A Container is safe for concurrent use.
type Container struct {
	// mu guards ptr, as Runtime.mu does.
	mu      sync.RWMutex
	ptr     *C.ocirt_container
	cleanup runtime.Cleanup
	runtime *Runtime
	id      string
}

// NewContainer configures a container and stores its configuration. Nothing runs until
// CreateContainer. It fails with ErrContainerExists when the id is taken in the runtime's
// state directory.
func (r *Runtime) NewContainer(config *ContainerConfig) (*Container, error) {
	if config == nil {
		return nil, invalidArgument("container config is nil")
	}
	text, err := json.Marshal(config)
	if err != nil {
		return nil, invalidArgument(fmt.Sprintf("container config of %q cannot be encoded as JSON (check Spec): %v", config.ID, err))
	}
	cText := C.CString(string(text))
	defer C.free(unsafe.Pointer(cText))
	return r.newContainer(func(p *C.ocirt_runtime, out **C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_new(p, cText, out)
	})
}

// OpenContainer opens an existing container by id, for example one created by another
// process. It fails with ErrNoSuchContainer when the state directory has no such
// container.
func (r *Runtime) OpenContainer(id string) (*Container, error) {
	cID := C.CString(id)
	defer C.free(unsafe.Pointer(cID))
	return r.newContainer(func(p *C.ocirt_runtime, out **C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_open(p, cID, out)
	})
}

// newContainer runs a function that writes a new container handle and wraps the handle.
func (r *Runtime) newContainer(fn func(p *C.ocirt_runtime, out **C.ocirt_container) C.ocirt_result) (*Container, error) {
	var ptr *C.ocirt_container
	err := r.use(func(p *C.ocirt_runtime) error {
		return call(func() C.ocirt_result { return fn(p, &ptr) })
	})
	if err != nil {
		return nil, err
	}
	var id *C.char
	if err := call(func() C.ocirt_result { return C.ocirt_container_id(ptr, &id) }); err != nil {
		C.ocirt_container_free(ptr)
		return nil, err
	}
	c := &Container{ptr: ptr, runtime: r, id: C.GoString(id)}
	c.cleanup = runtime.AddCleanup(c, func(p *C.ocirt_container) { C.ocirt_container_free(p) }, ptr)
	return c, nil
}

// ID returns the container's id.
func (c *Container) ID() string { return c.id }

// Close frees the handle and returns nil, also when called again. The container keeps
// running. Close waits for calls in progress on the handle, so it blocks until a Wait
// without a deadline returns. Calls made meanwhile block too, then fail with ErrClosed.
func (c *Container) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return nil
	}
	c.cleanup.Stop()
	C.ocirt_container_free(c.ptr)
	c.ptr = nil
	return nil
}

// use runs fn with the live handle, or returns ErrClosed after Close.
func (c *Container) use(fn func(p *C.ocirt_container) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return ErrClosed
	}
	err := fn(c.ptr)
	// The handle must not be freed by the cleanup while the library still uses it.
	runtime.KeepAlive(c)
	return err
}

// simple runs a container function that only returns a result.
func (c *Container) simple(fn func(p *C.ocirt_container) C.ocirt_result) error {
	return c.use(func(p *C.ocirt_container) error {
		return call(func() C.ocirt_result { return fn(p) })
	})
}

// ownedString runs a container function with a `char **` output and returns a copy.
func (c *Container) ownedString(fn func(p *C.ocirt_container, out **C.char) C.ocirt_result) (string, error) {
	var out *C.char
	err := c.use(func(p *C.ocirt_container) error {
		return call(func() C.ocirt_result { return fn(p, &out) })
	})
	if err != nil {
		return "", err
	}
	defer C.ocirt_string_free(out)
	return C.GoString(out), nil
}

// State returns the container's stored state without asking the runtime. Call
// UpdateContainerStatus first for a fresh one.
func (c *Container) State() (*ContainerState, error) {
	text, err := c.ownedString(func(p *C.ocirt_container, out **C.char) C.ocirt_result {
		return C.ocirt_container_state_json(p, out)
	})
	if err != nil {
		return nil, err
	}
	var state ContainerState
	if err := json.Unmarshal([]byte(text), &state); err != nil {
		return nil, fmt.Errorf("ocirt: invalid state JSON of container %s from the library: %w", c.id, err)
	}
	return &state, nil
}

// Wait blocks until the container's process exits and returns its exit code: 0-255,
// 128+N after signal N, or -1 when conmon could not record it. It returns at once for a
// container that already exited. When ctx is done first, Wait returns an error that
// matches ErrCanceled and ctx's error. The library waits on inotify and a pidfd, without
// a polling interval.
func (c *Container) Wait(ctx context.Context) (int32, error) {
	cancel, err := newCanceler(ctx)
	if err != nil {
		return -1, err
	}
	defer cancel.close()

	var code C.int32_t
	err = c.simple(func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_wait(p, -1, cancel.tokenOf(), &code)
	})
	if err != nil {
		return -1, withContext(ctx, err)
	}
	return int32(code), nil
}

// checkOwner rejects a container of another Runtime, or a nil one.
func (r *Runtime) checkOwner(ctr *Container) error {
	if ctr == nil {
		return invalidArgument("container is nil")
	}
	if ctr.runtime != r {
		return invalidArgument(fmt.Sprintf("container %s belongs to another Runtime", ctr.id))
	}
	return nil
}

// onContainer checks ctr and runs a container function that only returns a result.
func (r *Runtime) onContainer(ctr *Container, fn func(p *C.ocirt_container) C.ocirt_result) error {
	if err := r.checkOwner(ctr); err != nil {
		return err
	}
	return ctr.simple(fn)
}

// RestoreOptions turns CreateContainer into a restore from the container's checkpoint.
type RestoreOptions struct {
	TCPEstablished bool `json:"tcp_established,omitempty"`
	Keep           bool `json:"keep,omitempty"`
}

// CheckpointOptions are the options of CheckpointContainer.
type CheckpointOptions struct {
	// LeaveRunning keeps the container running after the checkpoint.
	LeaveRunning   bool `json:"leave_running,omitempty"`
	TCPEstablished bool `json:"tcp_established,omitempty"`
	Keep           bool `json:"keep,omitempty"`
}

// CreateContainer spawns conmon, which runs `runtime create`, and returns once conmon
// reports the container's pid (the container is then created) or the runtime's error.
// With restore, the container is restored from its checkpoint and running at once.
func (r *Runtime) CreateContainer(ctr *Container, restore *RestoreOptions) error {
	var cRestore *C.char
	if restore != nil {
		text, err := json.Marshal(restore)
		if err != nil {
			return invalidArgument("restore options: " + err.Error())
		}
		cRestore = C.CString(string(text))
		defer C.free(unsafe.Pointer(cRestore))
	}
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_create(p, cRestore)
	})
}

// StartContainer starts the created container's process. It fails with
// ErrContainerStateInvalid unless the container is created.
func (r *Runtime) StartContainer(ctr *Container) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_start(p)
	})
}

// UpdateContainerStatus refreshes the stored state from the runtime and, once the process
// exited, from conmon's exit file.
func (r *Runtime) UpdateContainerStatus(ctr *Container) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_update_status(p)
	})
}

// KillContainer sends signal to the container's init process, or with all to every
// process in it. It fails with ErrContainerStateInvalid for a container that is not
// running.
func (r *Runtime) KillContainer(ctr *Container, signal syscall.Signal, all bool) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_kill(p, C.int32_t(signal), C.bool(all))
	})
}

// StopContainer sends the stop signal, waits up to timeout seconds for the process to
// exit, then sends SIGKILL. With timeout 0 it sends SIGKILL at once. It returns as soon
// as the process is gone. Stopping a stopped container succeeds.
func (r *Runtime) StopContainer(ctr *Container, timeout uint, all bool) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_stop(p, clampSeconds(timeout), C.bool(all))
	})
}

// DeleteContainer force-deletes the container from the runtime (killing a running process)
// and removes its files. Every later call on ctr fails with ErrNoSuchContainer, but ctr
// still needs Close.
func (r *Runtime) DeleteContainer(ctr *Container) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_delete(p)
	})
}

// PauseContainer freezes a running container.
func (r *Runtime) PauseContainer(ctr *Container) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_pause(p)
	})
}

// UnpauseContainer thaws a paused container.
func (r *Runtime) UnpauseContainer(ctr *Container) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_unpause(p)
	})
}

// CheckpointContainer checkpoints a running container with CRIU. It fails with
// ErrNotSupported when the runtime cannot checkpoint.
func (r *Runtime) CheckpointContainer(ctr *Container, options CheckpointOptions) error {
	text, err := json.Marshal(options)
	if err != nil {
		return invalidArgument("checkpoint options: " + err.Error())
	}
	cText := C.CString(string(text))
	defer C.free(unsafe.Pointer(cText))
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_checkpoint(p, cText)
	})
}

// TerminalSize is a terminal's size in character cells.
type TerminalSize struct {
	Width  uint16
	Height uint16
}

// AttachResize sets the terminal size of a terminal container. It works from the moment the
// container is created, so a size set before start is the size the process starts with.
// It fails with ErrContainerStateInvalid for a container without a terminal.
func (r *Runtime) AttachResize(ctr *Container, size TerminalSize) error {
	return r.onContainer(ctr, func(p *C.ocirt_container) C.ocirt_result {
		return C.ocirt_container_resize(p, C.uint16_t(size.Width), C.uint16_t(size.Height))
	})
}

// AttachSocketPath returns the full path of the container's attach socket, even when it
// is longer than a sockaddr_un can contain.
func (r *Runtime) AttachSocketPath(ctr *Container) (string, error) {
	if err := r.checkOwner(ctr); err != nil {
		return "", err
	}
	return ctr.ownedString(func(p *C.ocirt_container, out **C.char) C.ocirt_result {
		return C.ocirt_container_attach_socket_path(p, out)
	})
}

// ExitFilePath returns the path where conmon writes the container's exit code (decimal,
// without a newline).
func (r *Runtime) ExitFilePath(ctr *Container) (string, error) {
	if err := r.checkOwner(ctr); err != nil {
		return "", err
	}
	return ctr.ownedString(func(p *C.ocirt_container, out **C.char) C.ocirt_result {
		return C.ocirt_container_exit_file_path(p, out)
	})
}

// clampSeconds converts a timeout in seconds to the library's uint32, saturating.
func clampSeconds(seconds uint) C.uint32_t {
	if uint64(seconds) > math.MaxUint32 {
		return C.uint32_t(math.MaxUint32)
	}
	return C.uint32_t(seconds)
}
