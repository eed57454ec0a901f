//! C functions of the container handle.

use std::ffi::{c_char, CString};
use std::sync::Arc;
use std::time::Duration;

use crate::container::{Container, ContainerConfig};
use crate::error::{ocirt_result, Error, Result};
use crate::ffi::boundary::{
    check_not_null, guard, guard_value, handle_ref, opt_str_arg, owned_c_string, str_arg, write_out,
};
use crate::ffi::runtime::ocirt_runtime;
use crate::oci_runtime::{CheckpointOptions, OciRuntime, RestoreOptions};

/// A container of a runtime: its configuration and the path of its state directory. The state
/// itself lives on disk, so several handles (in one or many processes) can refer to the same
/// container.
///
/// Thread-safe: any function may use one handle from many threads at once, and a lock file
/// serializes the operations on one container. Freeing the handle never stops the container,
/// because conmon keeps supervising it, and `ocirt_container_open` finds it again.
pub struct ocirt_container {
    pub(crate) inner: Arc<Container>,
    id: CString,
}

impl ocirt_container {
    fn new(inner: Arc<Container>) -> Result<ocirt_container> {
        let id = CString::new(inner.id())
            .map_err(|_| Error::invalid("container id contains a NUL byte"))?;
        Ok(ocirt_container { inner, id })
    }
}

fn into_handle(container: Arc<Container>, out: *mut *mut ocirt_container) -> Result<()> {
    let handle = ocirt_container::new(container)?;
    // SAFETY: the caller checked `out`.
    unsafe { write_out(out, Box::into_raw(Box::new(handle))) };
    Ok(())
}

/// Configures a new container and writes its handle to `*out`. Nothing runs until
/// `ocirt_container_create`.
///
/// `config_json` fields (unknown fields are rejected):
/// - `id` (string, required): 1-128 ASCII letters, digits, `_ . + -`, not starting with `.`
///   or `-`. `name` (string, default the id): for conmon's journald fields.
/// - `bundle` (absolute path): a directory with `config.json`; a relative `root.path` in it
///   is relative to the bundle. Or `spec` (object): an inline OCI spec, with `rootfs`
///   (absolute path) when its `root.path` is not absolute. `rootfs` also overrides a
///   bundle's root. The spec is copied into the container's state directory with absolute
///   paths, so one bundle can serve many containers. `process.terminal` decides whether the
///   container has a terminal.
/// - `stdin` (bool, default false): keep the container's stdin open for attach (`-i`). Without
///   a terminal, conmon closes the process's stdin when any attach session with stdin ends,
///   detach included. `leave_stdin_open` (bool) keeps it open instead, so a later session
///   can go on writing, and the process then never reads the end of its input.
/// - `log_driver`: `"k8s-file"` (the default), `"json-file"` (written as k8s-file),
///   `"journald"` or `"none"`.
/// - `log_path` (absolute path without `:`, default `ctr.log` in the state directory),
///   `log_size_max` (bytes, negative for unlimited, default the runtime's) and `log_tag`
///   (journald only).
/// - `stop_signal` (number or name such as `"SIGINT"`, default SIGTERM): sent first by stop.
/// - `exit_command` (array: an absolute program path, then arguments): run by conmon after
///   the container exits; `exit_command_delay` (seconds) before it runs.
/// - `conmon_pidfile` (absolute path, default `conmon.pid` in the state directory).
/// - `runtime_args` (array of strings): extra options for `runtime create`.
/// - `preserve_fds` (count): host descriptors 3 to 3+N-1 of the process that calls create
///   are passed to the container as 3, 4, ...
/// - `no_cgroups` (bool): run without cgroups (runtimes in `supports_no_cgroups` only).
///
/// The handle is owned by the caller and freed with `ocirt_container_free`. Fails with
/// `OCIRT_ERR_CONTAINER_EXISTS` when the id is taken in this state directory.
///
/// # Safety
/// `runtime` is a live handle; `config_json` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_new(
    runtime: *const ocirt_runtime,
    config_json: *const c_char,
    out: *mut *mut ocirt_container,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        let text = str_arg(config_json, "config_json")?;
        check_not_null(out, "out")?;
        let config = ContainerConfig::from_json(text)?;
        let container = Container::new(Arc::clone(&runtime.inner), config)?;
        into_handle(container, out)
    })
}

/// Opens an existing container by id, for example one created by another process, and writes
/// its handle to `*out` (owned by the caller, freed with `ocirt_container_free`). Fails with
/// `OCIRT_ERR_NO_SUCH_CONTAINER` when the runtime's state directory has no such container.
///
/// # Safety
/// `runtime` is a live handle; `id` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_open(
    runtime: *const ocirt_runtime,
    id: *const c_char,
    out: *mut *mut ocirt_container,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        let id = str_arg(id, "id")?;
        check_not_null(out, "out")?;
        let container = Container::open(Arc::clone(&runtime.inner), id)?;
        into_handle(container, out)
    })
}

/// Frees a container handle. NULL is ignored. The container itself keeps running.
///
/// # Safety
/// `container` is NULL or a handle from this library that was not freed yet, and no other
/// thread uses it during or after this call.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_free(container: *mut ocirt_container) {
    guard_value((), || {
        if !container.is_null() {
            // SAFETY: the pointer came from Box::into_raw in into_handle.
            drop(unsafe { Box::from_raw(container) });
        }
    })
}

/// Writes the container's id to `*out`: a string borrowed from the handle, valid until the
/// handle is freed.
///
/// # Safety
/// `container` is a live handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_id(
    container: *const ocirt_container,
    out: *mut *const c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        check_not_null(out, "out")?;
        write_out(out, container.id.as_ptr());
        Ok(())
    })
}

/// Writes the container's state as a JSON object to `*out`, owned by the caller and freed
/// with `ocirt_string_free`.
///
/// The fields are:
/// - `id`, `name`, `runtime`.
/// - `status`: `configured`, `created`, `running`, `paused`, `stopped` or `exited`.
/// - `pid`, `conmon_pid`, `exit_code` (null until the process exited), `oom_killed`.
/// - `created_at`, `started_at`, `finished_at`: RFC 3339 times in UTC.
/// - `restored`, `checkpointed`, `terminal`, `stdin`.
/// - `state_dir`: the container's directory, which is the bundle conmon and the runtime use.
/// - `bundle`: the bundle the config named, or null for an inline spec.
/// - `rootfs`, `log_driver`, `log_path`, `exit_file`, `attach_socket`.
///
/// The JSON is the stored state; call `ocirt_container_update_status` first to refresh it
/// from the runtime.
///
/// # Safety
/// `container` is a live handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_state_json(
    container: *const ocirt_container,
    out: *mut *mut c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        check_not_null(out, "out")?;
        let text = container.inner.state_json()?;
        write_out(out, owned_c_string(&text, "container state")?);
        Ok(())
    })
}

/// Creates the container in the runtime (`CreateContainer`): spawns conmon, which runs
/// `runtime create`, and blocks until conmon reports the container's pid or the runtime's
/// error. The container is then `created`, and `ocirt_container_start` runs its process.
///
/// `restore_json` is NULL for a plain create. Restore options (`{"tcp_established": bool,
/// "keep": bool}`) restore the container from its checkpoint instead, and a restored
/// container is `running` at once. Runtime errors come back as
/// `OCIRT_ERR_RUNTIME_NOT_FOUND`, `OCIRT_ERR_RUNTIME_PERMISSION_DENIED` or
/// `OCIRT_ERR_OCI_RUNTIME` with the runtime's own message. After a failure the runtime's
/// leftovers are deleted, unless the runtime's container with this id belongs to someone
/// else (`OCIRT_ERR_CONTAINER_EXISTS`).
///
/// # Safety
/// `container` is a live handle; `restore_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_create(
    container: *const ocirt_container,
    restore_json: *const c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let restore = match opt_str_arg(restore_json, "restore_json")? {
            Some(text) => Some(crate::json::parse::<RestoreOptions>(
                text,
                "restore options",
            )?),
            None => None,
        };
        let runtime = Arc::clone(container.inner.runtime());
        runtime.create_container(&container.inner, restore.as_ref())
    })
}

/// Starts the created container's process (`StartContainer`, `runtime start`).
/// `OCIRT_ERR_CONTAINER_STATE_INVALID` unless the container is `created`.
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_start(container: *const ocirt_container) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.start_container(&container.inner)
    })
}

/// Refreshes the stored state from the runtime (`UpdateContainerStatus`). Once the process
/// has exited, the exit code and OOM flag come from conmon's files, and the call waits up to
/// 5 s for the exit file. A container that the runtime no longer lists becomes `exited`.
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_update_status(
    container: *const ocirt_container,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.update_container_status(&container.inner)
    })
}

/// Sends `signal` (1 to SIGRTMAX) to the container's init process, or with `all` to every
/// process in the container (`KillContainer`). A container that is not created, running or
/// paused, or whose init process has exited, gives `OCIRT_ERR_CONTAINER_STATE_INVALID`. The
/// exception is `all` on a stopped container, whose other processes may live on and are
/// still signalled.
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_kill(
    container: *const ocirt_container,
    signal: i32,
    all: bool,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.kill_container(&container.inner, signal, all)
    })
}

/// Stops the container (`StopContainer`): sends its stop signal (config `stop_signal`,
/// default SIGTERM), waits up to `timeout_s` seconds for the process to exit, then sends
/// SIGKILL. `timeout_s` 0 sends SIGKILL at once. Returns as soon as the process is gone,
/// with the exit recorded, because it waits on a pidfd rather than a timer. Stopping a
/// stopped or exited container succeeds, and stopping a configured one fails with
/// `OCIRT_ERR_CONTAINER_STATE_INVALID`.
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_stop(
    container: *const ocirt_container,
    timeout_s: u32,
    all: bool,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.stop_container(&container.inner, timeout_s, all)
    })
}

/// Deletes the container (`DeleteContainer`): runs `runtime delete --force`, which kills a
/// running process, and removes its state directory, exit file and socket links. The handle
/// stays allocated, and every later call on it except `ocirt_container_id` fails with
/// `OCIRT_ERR_NO_SUCH_CONTAINER`. Free it with `ocirt_container_free`.
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_delete(container: *const ocirt_container) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.delete_container(&container.inner)
    })
}

/// Freezes a running container (`PauseContainer`).
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_pause(container: *const ocirt_container) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.pause_container(&container.inner)
    })
}

/// Thaws a paused container (`UnpauseContainer`).
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_unpause(
    container: *const ocirt_container,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.unpause_container(&container.inner)
    })
}

/// Blocks until the container's process exits and writes its exit code to `*exit_code`:
/// 0-255, 128+N after signal N, -1 when conmon could not record it. Returns at once for a
/// container that already exited.
///
/// `timeout_ms` < 0 waits forever. Otherwise the call fails with `OCIRT_ERR_TIMED_OUT` after
/// that many milliseconds. `cancel`, when not NULL, ends the wait with `OCIRT_ERR_CANCELLED`
/// once triggered. The wait uses inotify and pidfds rather than a timer loop, except on
/// kernels without `pidfd_open` (before 5.3), where a process's exit is checked every 10 ms.
/// It holds no lock, so other threads and processes can operate on the container meanwhile.
///
/// # Safety
/// `container` is a live handle; `cancel` is NULL or a live token; `exit_code` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_wait(
    container: *const ocirt_container,
    timeout_ms: i64,
    cancel: *const crate::ffi::attach::ocirt_cancel,
    exit_code: *mut i32,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        check_not_null(exit_code, "exit_code")?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let cancel = if cancel.is_null() {
            None
        } else {
            Some(&(*cancel).inner)
        };
        let runtime = Arc::clone(container.inner.runtime());
        let code = runtime.wait_container_cancellable(&container.inner, timeout, cancel)?;
        write_out(exit_code, code);
        Ok(())
    })
}

/// Writes the path of the container's exit file (`ExitFilePath()`, `<exit dir>/<id>`) to
/// `*out`. conmon writes the decimal exit code there, without a newline, when the process
/// exits. The string is owned by the caller; free it with `ocirt_string_free`.
///
/// # Safety
/// `container` is a live handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_exit_file_path(
    container: *const ocirt_container,
    out: *mut *mut c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        check_not_null(out, "out")?;
        let runtime = Arc::clone(container.inner.runtime());
        let path = runtime.exit_file_path(&container.inner)?;
        write_out(
            out,
            owned_c_string(&path.to_string_lossy(), "exit file path")?,
        );
        Ok(())
    })
}

/// Writes the path of the container's attach socket (`AttachSocketPath()`) to `*out`, owned
/// by the caller and freed with `ocirt_string_free`.
///
/// The path is `<socket dir>/<id>/attach`, which reaches `<state dir>/<id>/attach` through
/// conmon's link. It is written in full even when it is longer than the 107 bytes that fit
/// in `sockaddr_un.sun_path`. In that case, open it with `O_PATH` and connect to
/// `/proc/self/fd/N`.
///
/// # Safety
/// `container` is a live handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_attach_socket_path(
    container: *const ocirt_container,
    out: *mut *mut c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        check_not_null(out, "out")?;
        let runtime = Arc::clone(container.inner.runtime());
        let path = runtime.attach_socket_path(&container.inner)?;
        write_out(
            out,
            owned_c_string(&path.to_string_lossy(), "attach socket path")?,
        );
        Ok(())
    })
}

/// Checkpoints a running container with CRIU through the runtime (`CheckpointContainer`)
/// into `<state dir>/<id>/checkpoint`. `options_json` is NULL for the defaults or
/// `{"leave_running": bool, "tcp_established": bool, "keep": bool}`. Without
/// `leave_running` the container is `stopped` afterwards and can be restored with
/// `ocirt_container_create`. Fails with `OCIRT_ERR_NOT_SUPPORTED` when the runtime cannot
/// checkpoint. A CRIU failure returns the runtime's error, usually `OCIRT_ERR_OCI_RUNTIME`,
/// plus CRIU's reason and the path of its dump log when that log names an error, and the
/// container keeps running.
///
/// # Safety
/// `container` is a live handle; `options_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_checkpoint(
    container: *const ocirt_container,
    options_json: *const c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let options = match opt_str_arg(options_json, "options_json")? {
            Some(text) => crate::json::parse::<CheckpointOptions>(text, "checkpoint options")?,
            None => CheckpointOptions::default(),
        };
        let runtime = Arc::clone(container.inner.runtime());
        runtime.checkpoint_container(&container.inner, &options)
    })
}
