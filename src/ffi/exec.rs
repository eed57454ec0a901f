//! C functions of exec sessions.

use std::ffi::{c_char, c_int};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use crate::attach::http::HttpAttachOptions;
use crate::error::ocirt_result;
use crate::error::Error;
use crate::exec::{ExecOptions, Streams};
use crate::ffi::attach::{
    ocirt_attach, ocirt_attach_callbacks, ocirt_cancel, read_callbacks, CallbackSink,
};
use crate::ffi::boundary::{
    check_not_null, guard, handle_ref, opt_str_arg, owned_c_string, str_arg, write_out,
};
use crate::ffi::container::ocirt_container;
use crate::oci_runtime::OciRuntime;

/// Writes the results of a started session: the pid, and the handle when `attach_out` is not
/// NULL. Without `attach_out`, the handle is released and the session runs to its end on its
/// own.
unsafe fn write_started(
    pid_out: *mut i32,
    attach_out: *mut *mut ocirt_attach,
    pid: i32,
    session: Box<dyn crate::attach::SessionHandle>,
) {
    write_out(pid_out, pid);
    if attach_out.is_null() {
        session.release();
    } else {
        write_out(
            attach_out,
            Box::into_raw(Box::new(ocirt_attach { session })),
        );
    }
}

/// Starts an exec session (`ExecContainer`): runs `options_json`'s command in the running
/// container under its own conmon. Returns as soon as the command runs, with its host pid in
/// `*pid` and a session handle in `*attach`, owned by the caller and freed with
/// `ocirt_attach_free`.
///
/// `session_id` names the session. It follows the rules of container ids and must be unique
/// in the container. `options_json` has these fields:
/// - `cmd` (array, required): the command and its arguments.
/// - `env` (object, or array of `NAME=value`): added to the container's environment.
/// - `terminal` (bool), and `width` and `height` (the initial terminal size).
/// - `cwd` (absolute path), and `user` (`uid`, `uid:gid`, `name` or `name:group`, looked up
///   in the container's `/etc/passwd` and `/etc/group`; default the container's user).
/// - `cap_add` (array of capability names).
/// - `preserve_fds` (count of this process's descriptors from 3 on, checked to be open).
/// - `stdin` (default false): accept `ocirt_attach_write`. Needs `callbacks`.
/// - `stdout`, `stderr`, `detach_keys`, `buffer_limit`: as for `ocirt_container_attach`.
/// - `exit_command`, `exit_command_delay`: as in the container config.
///
/// With `callbacks`, the output streams to them as in `ocirt_container_attach`, and stdin is
/// written with `ocirt_attach_write`. `ocirt_attach_wait` returns the outcome and the exit
/// code (0-255, 128+N after signal N). With `callbacks` NULL the session runs detached,
/// `ocirt_attach_wait` still waits for the exit code, and `attach` may be NULL. A command
/// the runtime cannot find fails with `OCIRT_ERR_RUNTIME_NOT_FOUND` (exit code 127 recorded),
/// and one it cannot execute with `OCIRT_ERR_RUNTIME_PERMISSION_DENIED` (126).
///
/// # Safety
/// `container` is a live handle, and the strings are NUL-terminated. `callbacks` is NULL or
/// points to a callbacks struct, which is copied. `pid` is writable, and `attach` is
/// writable or NULL when `callbacks` is NULL.
#[no_mangle]
pub unsafe extern "C" fn ocirt_exec_start(
    container: *const ocirt_container,
    session_id: *const c_char,
    options_json: *const c_char,
    callbacks: *const ocirt_attach_callbacks,
    pid: *mut i32,
    attach: *mut *mut ocirt_attach,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let session_id = str_arg(session_id, "session_id")?;
        let options = ExecOptions::from_json(str_arg(options_json, "options_json")?)?;
        check_not_null(pid, "pid")?;
        if !callbacks.is_null() {
            check_not_null(attach, "attach")?;
        }
        let streams = if callbacks.is_null() {
            Streams::Detached
        } else {
            Streams::Sink(Box::new(CallbackSink::new(read_callbacks(callbacks))))
        };
        let runtime = Arc::clone(container.inner.runtime());
        let (started_pid, session) =
            runtime.exec_container(&container.inner, session_id, &options, streams)?;
        write_started(pid, attach, started_pid, session);
        Ok(())
    })
}

/// Starts an exec session streamed over a connection the host hijacked from its HTTP server
/// (`ExecContainerHTTP`). Returns as soon as the command runs, with its pid in `*pid` and a
/// handle in `*attach` whose `ocirt_attach_wait` returns when the streams end, with the exit
/// code. With `attach` NULL, the session streams to its end on its own.
///
/// The library owns `conn_fd` from the call on and closes it when the session is over,
/// whatever the result. The streams are framed as in `ocirt_container_http_attach`, and the
/// session's `terminal` option decides between framed and raw output. `http_options_json`
/// (NULL for the defaults) selects `stdin`, `stdout`, `stderr`, `detach_keys`,
/// `hijack_header` and `buffer_limit`. `buffered` contains the bytes that the HTTP parser
/// already read past the request. `cancel`, when not NULL, ends the streaming early once
/// triggered. The session keeps its own reference to the token, so the host may free the
/// token once this call has returned.
///
/// # Safety
/// As for `ocirt_exec_start`, and: `conn_fd` is an open descriptor the caller gives up,
/// `buffered` points to `buffered_len` bytes (NULL when 0), and `cancel` is NULL or a live
/// token.
#[no_mangle]
pub unsafe extern "C" fn ocirt_exec_start_http(
    container: *const ocirt_container,
    session_id: *const c_char,
    options_json: *const c_char,
    conn_fd: c_int,
    http_options_json: *const c_char,
    buffered: *const u8,
    buffered_len: usize,
    cancel: *const ocirt_cancel,
    pid: *mut i32,
    attach: *mut *mut ocirt_attach,
) -> ocirt_result {
    guard(|| {
        if conn_fd < 0 || libc::fcntl(conn_fd, libc::F_GETFD) < 0 {
            return Err(Error::invalid(format!(
                "conn_fd {} is not an open descriptor; pass the connection's descriptor",
                conn_fd
            )));
        }
        // SAFETY: the caller hands the open descriptor over. `OwnedFd` closes it exactly once.
        let conn = OwnedFd::from_raw_fd(conn_fd);
        let container = handle_ref(container, "container")?;
        let session_id = str_arg(session_id, "session_id")?;
        let options = ExecOptions::from_json(str_arg(options_json, "options_json")?)?;
        let http_options =
            HttpAttachOptions::from_json(opt_str_arg(http_options_json, "http_options_json")?)?;
        check_not_null(pid, "pid")?;
        let buffered: Vec<u8> = if buffered_len == 0 {
            Vec::new()
        } else {
            check_not_null(buffered, "buffered")?;
            std::slice::from_raw_parts(buffered, buffered_len).to_vec()
        };
        let cancel = if cancel.is_null() {
            None
        } else {
            Some((*cancel).inner.try_clone()?)
        };
        let runtime = Arc::clone(container.inner.runtime());
        let (started_pid, session) = runtime.exec_container_http(
            &container.inner,
            session_id,
            &options,
            conn,
            http_options,
            buffered,
            cancel,
        )?;
        write_started(pid, attach, started_pid, session);
        Ok(())
    })
}

/// Sets the terminal size of a running terminal exec session (`ExecAttachResize`):
/// `width` columns, `height` rows, each at least 1. `OCIRT_ERR_EXEC_STATE_INVALID` for a
/// session without a terminal or one that exited.
///
/// # Safety
/// `container` is a live handle; `session_id` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ocirt_exec_resize(
    container: *const ocirt_container,
    session_id: *const c_char,
    width: u16,
    height: u16,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let session_id = str_arg(session_id, "session_id")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.exec_attach_resize(&container.inner, session_id, width, height)
    })
}

/// Stops an exec session's command (`ExecStopContainer`): SIGTERM, then SIGKILL after
/// `timeout_s` seconds (at once for 0). Returns as soon as the command is gone, with its
/// exit code recorded; a session that already exited succeeds at once.
///
/// # Safety
/// `container` is a live handle; `session_id` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ocirt_exec_stop(
    container: *const ocirt_container,
    session_id: *const c_char,
    timeout_s: u32,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let session_id = str_arg(session_id, "session_id")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.exec_stop_container(&container.inner, session_id, timeout_s)
    })
}

/// Writes whether an exec session's command still runs to `*running`, and its exit code to
/// `*exit_code`, -1 while it runs (`ExecUpdateStatus`). Works from any process, because it
/// reads the session's files, and a pid reused by another process is not mistaken for the
/// command.
///
/// # Safety
/// `container` is a live handle; `session_id` is a NUL-terminated string; `running` and
/// `exit_code` are writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_exec_update_status(
    container: *const ocirt_container,
    session_id: *const c_char,
    running: *mut bool,
    exit_code: *mut i32,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let session_id = str_arg(session_id, "session_id")?;
        check_not_null(running, "running")?;
        check_not_null(exit_code, "exit_code")?;
        let runtime = Arc::clone(container.inner.runtime());
        let (is_running, code) = runtime.exec_update_status(&container.inner, session_id)?;
        write_out(running, is_running);
        write_out(exit_code, code.unwrap_or(-1));
        Ok(())
    })
}

/// Removes every file of an exited exec session, its socket link included
/// (`ExecContainerCleanup`). `OCIRT_ERR_EXEC_STATE_INVALID` while the command runs.
///
/// # Safety
/// `container` is a live handle; `session_id` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ocirt_exec_cleanup(
    container: *const ocirt_container,
    session_id: *const c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let session_id = str_arg(session_id, "session_id")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.exec_container_cleanup(&container.inner, session_id)
    })
}

/// Writes the path of an exec session's attach socket (`ExecAttachSocketPath()`,
/// `<socket dir>/<session id>/attach`) to `*out`, owned by the caller (free it with
/// `ocirt_string_free`).
///
/// # Safety
/// `container` is a live handle; `session_id` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_exec_attach_socket_path(
    container: *const ocirt_container,
    session_id: *const c_char,
    out: *mut *mut c_char,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let session_id = str_arg(session_id, "session_id")?;
        check_not_null(out, "out")?;
        let runtime = Arc::clone(container.inner.runtime());
        let path = runtime.exec_attach_socket_path(&container.inner, session_id)?;
        write_out(
            out,
            owned_c_string(&path.to_string_lossy(), "exec attach socket path")?,
        );
        Ok(())
    })
}
