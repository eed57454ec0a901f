package ocirt

// #include <stdlib.h>
// #include "ocirt.h"
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// RuntimeConfig configures a Runtime. The zero value takes every default: runc and conmon
// found on the usual paths, state under /run/ocirt for root, and runc's own root.
type RuntimeConfig struct {
	// Name is the runtime's name ("runc", "crun", ...), "runc" by default. It selects the
	// default search list and is looked up in the support lists.
	Name string `json:"name,omitempty"`
	// Path is the runtime binary's absolute path. When it is set, no search happens.
	Path string `json:"path,omitempty"`
	// Paths are candidate runtime binaries, tried in order before a $PATH lookup of Name.
	Paths []string `json:"paths,omitempty"`
	// ConmonPath and ConmonPaths select conmon (2.0.24 or later) in the same way.
	ConmonPath  string   `json:"conmon_path,omitempty"`
	ConmonPaths []string `json:"conmon_paths,omitempty"`
	// RunDir is the base of StateDir (RunDir/containers), ExitDir (RunDir/exits) and
	// SocketDir (RunDir/socket), each of which can also be set on its own. Absolute paths.
	RunDir    string `json:"run_dir,omitempty"`
	StateDir  string `json:"state_dir,omitempty"`
	ExitDir   string `json:"exit_dir,omitempty"`
	SocketDir string `json:"socket_dir,omitempty"`
	// RuntimeRoot is the runtime's --root. The runtime keys containers by id there, so users
	// sharing a root share one id space.
	RuntimeRoot string `json:"runtime_root,omitempty"`
	// RuntimeFlags are global runtime arguments for every runtime command.
	RuntimeFlags []string `json:"runtime_flags,omitempty"`
	// LogLevel is conmon's log level ("error" by default).
	LogLevel string `json:"log_level,omitempty"`
	// CgroupManager is "cgroupfs" (the default) or "systemd".
	CgroupManager string `json:"cgroup_manager,omitempty"`
	// ConmonEnv is conmon's environment as KEY=value entries. Nil gives conmon only a
	// standard PATH.
	ConmonEnv []string `json:"conmon_env,omitzero"`
	// LogSizeMax is the default maximum size in bytes of a k8s-file log. Nil or a negative
	// value means unlimited.
	LogSizeMax *int64 `json:"log_size_max,omitempty"`
	// NoPivot runs the runtime with --no-pivot.
	NoPivot bool `json:"no_pivot,omitempty"`
	// The support lists contain runtime names. Nil keeps podman's defaults, and an empty
	// non-nil slice clears a list.
	SupportsJSONErrors []string `json:"supports_json_errors,omitzero"`
	SupportsNoCgroups  []string `json:"supports_no_cgroups,omitzero"`
	SupportsKVM        []string `json:"supports_kvm,omitzero"`
	// CreateTimeout is the maximum time CreateContainer waits for conmon, 4 minutes when 0.
	// The library counts whole milliseconds, so a fraction of a millisecond is dropped.
	CreateTimeout time.Duration `json:"-"`
}

// marshal returns the config as the JSON document that ocirt_runtime_new reads.
func (c *RuntimeConfig) marshal() (string, error) {
	if c.CreateTimeout < 0 {
		return "", invalidArgument(fmt.Sprintf("runtime config: CreateTimeout %v is negative, use 0 for the default", c.CreateTimeout))
	}
	type plain RuntimeConfig
	document := struct {
		plain
		CreateTimeoutMS int64 `json:"create_timeout_ms,omitempty"`
	}{plain: plain(*c), CreateTimeoutMS: c.CreateTimeout.Milliseconds()}
	text, err := json.Marshal(document)
	if err != nil {
		return "", invalidArgument("runtime config: " + err.Error())
	}
	return string(text), nil
}

// Runtime is an OCI runtime driven through conmon: libpod's OCIRuntime. Its methods take the
// container they act on, as libpod's do. A Runtime is safe for concurrent use.
type Runtime struct {
	// mu guards ptr. Calls hold it for reading and Close for writing, so the handle is
	// never freed while a call uses it.
	mu      sync.RWMutex
	ptr     *C.ocirt_runtime
	cleanup runtime.Cleanup
	name    string
	path    string
}

// NewRuntime finds the runtime binary and conmon and creates the state directories
// (mode 0750). config may be nil for the defaults. Close the Runtime when done with it.
func NewRuntime(config *RuntimeConfig) (*Runtime, error) {
	if config == nil {
		config = &RuntimeConfig{}
	}
	text, err := config.marshal()
	if err != nil {
		return nil, err
	}
	cText := C.CString(text)
	defer C.free(unsafe.Pointer(cText))

	var ptr *C.ocirt_runtime
	if err := call(func() C.ocirt_result { return C.ocirt_runtime_new(cText, &ptr) }); err != nil {
		return nil, err
	}
	r := &Runtime{ptr: ptr}
	// The name and path are borrowed from the handle, so they are copied while it lives.
	var name, path *C.char
	if err := call(func() C.ocirt_result { return C.ocirt_runtime_name(ptr, &name) }); err != nil {
		C.ocirt_runtime_free(ptr)
		return nil, err
	}
	if err := call(func() C.ocirt_result { return C.ocirt_runtime_path(ptr, &path) }); err != nil {
		C.ocirt_runtime_free(ptr)
		return nil, err
	}
	r.name = C.GoString(name)
	r.path = C.GoString(path)
	// A Runtime dropped without Close frees its handle when it is collected. AddCleanup, the
	// successor of SetFinalizer, gets the C pointer rather than r, so r is never resurrected.
	r.cleanup = runtime.AddCleanup(r, func(p *C.ocirt_runtime) { C.ocirt_runtime_free(p) }, ptr)
	return r, nil
}

// Close frees the runtime handle and returns nil, also when called again. It waits for
// calls in progress that use the handle. After Close, NewContainer, OpenContainer,
// ListContainers and RuntimeInfo fail with ErrClosed, and the Supports methods return
// false. Containers opened from the Runtime stay usable, and so do the methods that take
// one, because each container keeps the library's runtime alive.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return nil
	}
	r.cleanup.Stop()
	C.ocirt_runtime_free(r.ptr)
	r.ptr = nil
	return nil
}

// use runs fn with the live handle, or returns ErrClosed after Close.
func (r *Runtime) use(fn func(p *C.ocirt_runtime) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return ErrClosed
	}
	err := fn(r.ptr)
	// The handle must not be freed by the cleanup while the library still uses it.
	runtime.KeepAlive(r)
	return err
}

// Name returns the runtime's name ("runc").
func (r *Runtime) Name() string { return r.name }

// Path returns the path of the runtime binary.
func (r *Runtime) Path() string { return r.path }

// supports runs one of the ocirt_runtime_supports_* functions. Their only documented
// failure is a NULL argument, so an error (from a closed Runtime) reads as false.
func (r *Runtime) supports(fn func(p *C.ocirt_runtime, out *C.bool) C.ocirt_result) bool {
	var out C.bool
	err := r.use(func(p *C.ocirt_runtime) error {
		return call(func() C.ocirt_result { return fn(p, &out) })
	})
	return err == nil && bool(out)
}

// SupportsCheckpoint reports whether the runtime can checkpoint, which means that
// `runtime checkpoint --help` exits 0 and criu is on $PATH. True does not promise that
// CRIU works on this kernel.
func (r *Runtime) SupportsCheckpoint() bool {
	return r.supports(func(p *C.ocirt_runtime, out *C.bool) C.ocirt_result {
		return C.ocirt_runtime_supports_checkpoint(p, out)
	})
}

// SupportsJSONErrors reports whether the runtime's name is in the JSON-errors list.
func (r *Runtime) SupportsJSONErrors() bool {
	return r.supports(func(p *C.ocirt_runtime, out *C.bool) C.ocirt_result {
		return C.ocirt_runtime_supports_json_errors(p, out)
	})
}

// SupportsNoCgroups reports whether the runtime's name is in the no-cgroups list.
func (r *Runtime) SupportsNoCgroups() bool {
	return r.supports(func(p *C.ocirt_runtime, out *C.bool) C.ocirt_result {
		return C.ocirt_runtime_supports_no_cgroups(p, out)
	})
}

// SupportsKVM reports whether the runtime's name is in the KVM list.
func (r *Runtime) SupportsKVM() bool {
	return r.supports(func(p *C.ocirt_runtime, out *C.bool) C.ocirt_result {
		return C.ocirt_runtime_supports_kvm(p, out)
	})
}

// ConmonInfo describes the conmon binary in use.
type ConmonInfo struct {
	Package string `json:"package"`
	Path    string `json:"path"`
	Version string `json:"version"`
}

// OCIRuntimeInfo describes the OCI runtime binary in use.
type OCIRuntimeInfo struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	Path    string `json:"path"`
	Version string `json:"version"`
}

// RuntimeInfo runs conmon and the runtime with `--version` and returns the versions they
// print, their paths, and the packages that own them (from `rpm -qf` or `dpkg -S`).
func (r *Runtime) RuntimeInfo() (*ConmonInfo, *OCIRuntimeInfo, error) {
	text, err := r.ownedString(func(p *C.ocirt_runtime, out **C.char) C.ocirt_result {
		return C.ocirt_runtime_info(p, out)
	})
	if err != nil {
		return nil, nil, err
	}
	var info struct {
		Conmon  ConmonInfo     `json:"conmon"`
		Runtime OCIRuntimeInfo `json:"runtime"`
	}
	if err := json.Unmarshal([]byte(text), &info); err != nil {
		return nil, nil, fmt.Errorf("ocirt: invalid runtime info JSON %q from the library: %w", text, err)
	}
	return &info.Conmon, &info.Runtime, nil
}

// ListContainers returns the state of every container in the runtime's state directory,
// sorted by id.
func (r *Runtime) ListContainers() ([]ContainerState, error) {
	text, err := r.ownedString(func(p *C.ocirt_runtime, out **C.char) C.ocirt_result {
		return C.ocirt_runtime_list_containers(p, out)
	})
	if err != nil {
		return nil, err
	}
	var states []ContainerState
	if err := json.Unmarshal([]byte(text), &states); err != nil {
		return nil, fmt.Errorf("ocirt: invalid container list JSON from the library: %w", err)
	}
	return states, nil
}

// ownedString runs a function with a `char **` output, returns a copy of the string and
// frees the original with ocirt_string_free.
func (r *Runtime) ownedString(fn func(p *C.ocirt_runtime, out **C.char) C.ocirt_result) (string, error) {
	var out *C.char
	err := r.use(func(p *C.ocirt_runtime) error {
		return call(func() C.ocirt_result { return fn(p, &out) })
	})
	if err != nil {
		return "", err
	}
	defer C.ocirt_string_free(out)
	return C.GoString(out), nil
}

// Version returns the library's version ("0.1.0").
func Version() string {
	return C.GoString(C.ocirt_version())
}
