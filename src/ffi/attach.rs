//! C functions of attach sessions, HTTP attach, terminal resize and cancel tokens.

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use crate::attach::http::HttpAttachOptions;
use crate::attach::{
    AttachOptions, AttachOutcome, OutputSink, SessionHandle, Stream, WriteOutcome,
};
use crate::cancel::Cancel;
use crate::error::{ocirt_result, Error, Result};
use crate::ffi::boundary::{
    check_not_null, guard, guard_value, handle_ref, opt_str_arg, write_out,
};
use crate::ffi::container::ocirt_container;
use crate::oci_runtime::OciRuntime;

/// Receives a chunk of a stream: `data` points to `len` bytes (never 0), borrowed for the
/// duration of the call. Return 0 to go on; any other value stops the session, which then
/// ends with `OCIRT_ERR_CALLBACK_ABORTED`.
pub type ocirt_stream_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, data: *const u8, len: usize) -> c_int>;

/// Receives the end of a session. `result` is `OCIRT_OK` (the streams ended),
/// `OCIRT_DETACHED`, or the error that ended it. `exit_code` is the exec session's exit code,
/// or -1 for a container attach and whenever it is unknown.
pub type ocirt_done_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, result: ocirt_result, exit_code: i32)>;

/// Frees the host's userdata once the library no longer needs it.
pub type ocirt_userdata_free_callback = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// Host callbacks of an attach or exec session. Every member may be NULL.
///
/// The callbacks run on a library thread, one at a time per session and in the order the
/// bytes arrived. They never overlap for one session, but they may run concurrently with the
/// host's own threads. `on_stdout` and `on_stderr` receive the streams, and a NULL callback
/// discards its stream. `on_done` runs once, after the last output. `userdata_free` runs
/// exactly once, after `on_done`, if and only if the call that took the callbacks returned
/// `OCIRT_OK`. A callback must not free the session's handle.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ocirt_attach_callbacks {
    /// Passed to every callback unchanged.
    pub userdata: *mut c_void,
    /// Standard output (all output, for a terminal).
    pub on_stdout: ocirt_stream_callback,
    /// Standard error.
    pub on_stderr: ocirt_stream_callback,
    /// Receives the end of the session.
    pub on_done: ocirt_done_callback,
    /// Frees `userdata`.
    pub userdata_free: ocirt_userdata_free_callback,
}

/// The end of an attach session that did not fail.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ocirt_attach_outcome {
    /// The streams ended because the process exited or closed them.
    OCIRT_ATTACH_ENDED = 0,
    /// The session detached (detach keys or `ocirt_attach_detach`); the process runs on.
    OCIRT_ATTACH_DETACHED = 1,
}

/// An attach or exec session: library threads that stream its output to the host's
/// callbacks, and its stdin.
///
/// Thread-safe: `ocirt_attach_write`, `_close_stdin`, `_detach` and `_wait` may be called from
/// any thread, also concurrently. Free it with `ocirt_attach_free`, never from inside one of
/// its callbacks.
pub struct ocirt_attach {
    pub(crate) session: Box<dyn SessionHandle>,
}

/// A cancellation token for blocking calls such as `ocirt_container_http_attach`.
///
/// Thread-safe: trigger it from any thread while another thread is blocked in a call that
/// watches it. Once triggered it stays triggered.
pub struct ocirt_cancel {
    pub(crate) inner: Cancel,
}

/// Delivers session output to the host's C callbacks.
pub(crate) struct CallbackSink {
    callbacks: ocirt_attach_callbacks,
}

// SAFETY: the host promises, by the documented contract of ocirt_attach_callbacks, that the
// callbacks and userdata may be used from the library's delivery thread.
unsafe impl Send for CallbackSink {}

impl CallbackSink {
    pub(crate) fn new(callbacks: ocirt_attach_callbacks) -> CallbackSink {
        CallbackSink { callbacks }
    }
}

impl OutputSink for CallbackSink {
    fn output(&mut self, stream: Stream, data: &[u8]) -> Result<()> {
        let (callback, name) = match stream {
            Stream::Stdout => (self.callbacks.on_stdout, "on_stdout"),
            Stream::Stderr => (self.callbacks.on_stderr, "on_stderr"),
        };
        let Some(callback) = callback else {
            return Ok(());
        };
        // SAFETY: the host's callback, called as documented; `data` outlives the call.
        let status = unsafe { callback(self.callbacks.userdata, data.as_ptr(), data.len()) };
        if status != 0 {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_CALLBACK_ABORTED,
                format!(
                    "the {} callback returned {}, which stops the session",
                    name, status
                ),
            ));
        }
        Ok(())
    }

    fn finish(&mut self, result: &Result<AttachOutcome>, exit_code: i32) {
        let code = match result {
            Ok(AttachOutcome::Ended) => ocirt_result::OCIRT_OK,
            Ok(AttachOutcome::Detached) => ocirt_result::OCIRT_DETACHED,
            Err(err) => err.kind(),
        };
        if let Some(on_done) = self.callbacks.on_done {
            // SAFETY: the host's callback, called as documented.
            unsafe { on_done(self.callbacks.userdata, code, exit_code) };
        }
        if let Some(free) = self.callbacks.userdata_free.take() {
            // SAFETY: called exactly once, after the last use of userdata.
            unsafe { free(self.callbacks.userdata) };
        }
    }
}

/// Copies the callbacks from a pointer that may be NULL (meaning no callbacks at all).
pub(crate) unsafe fn read_callbacks(
    callbacks: *const ocirt_attach_callbacks,
) -> ocirt_attach_callbacks {
    if callbacks.is_null() {
        return ocirt_attach_callbacks {
            userdata: std::ptr::null_mut(),
            on_stdout: None,
            on_stderr: None,
            on_done: None,
            userdata_free: None,
        };
    }
    *callbacks
}

/// Attaches to a created or running container: connects to conmon's attach socket and
/// streams stdout and stderr to `callbacks` on a library thread, and writes `*out`, a handle
/// owned by the caller (free it with `ocirt_attach_free`).
///
/// `options_json` is NULL for the defaults, or an object with these fields:
/// - `stdout`, `stderr` (default true): deliver that stream.
/// - `stdin` (default false): accept `ocirt_attach_write`. The container needs a terminal
///   or `"stdin": true` in its config.
/// - `detach_keys` (default `"ctrl-p,ctrl-q"`): the detach sequence; `""` disables it.
/// - `start` (default false): start the created container once connected, so no output is
///   lost.
/// - `width`, `height`: the initial terminal size, both or neither.
/// - `buffer_limit` (bytes, default 8 MiB): output buffered while the callbacks lag. Past it
///   the library stops reading from conmon, which pauses the container's output.
///
/// Invalid detach keys are rejected before anything connects. Several sessions may attach to
/// one container, and each receives all output produced while it is connected.
///
/// # Safety
/// `container` is a live handle; `options_json` is NULL or a NUL-terminated string;
/// `callbacks` points to a callbacks struct (copied during the call); `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_attach(
    container: *const ocirt_container,
    options_json: *const c_char,
    callbacks: *const ocirt_attach_callbacks,
    out: *mut *mut ocirt_attach,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let options = AttachOptions::from_json(opt_str_arg(options_json, "options_json")?)?;
        check_not_null(callbacks, "callbacks")?;
        check_not_null(out, "out")?;
        let sink = Box::new(CallbackSink::new(*callbacks));
        let runtime = Arc::clone(container.inner.runtime());
        let session = runtime.attach(&container.inner, &options, sink)?;
        write_out(
            out,
            Box::into_raw(Box::new(ocirt_attach {
                session: Box::new(session),
            })),
        );
        Ok(())
    })
}

/// Writes `len` bytes from `data` to the session's stdin, in messages of at most 32768
/// bytes. The detach sequence is matched across calls: when it completes, the bytes before
/// it are sent, the session detaches, and the call returns `OCIRT_DETACHED`. Bytes that may
/// start the sequence are held back until the next call shows whether it completes.
///
/// Fails with `OCIRT_ERR_CONTAINER_STATE_INVALID` when the session has no stdin, detached or
/// had its stdin closed, and with `OCIRT_ERR_CONTAINER_STOPPED` once the session has ended.
/// An exec session without callbacks, or streamed over HTTP, has no stdin here and fails with
/// `OCIRT_ERR_EXEC_STATE_INVALID`.
///
/// # Safety
/// `attach` is a live handle; `data` points to `len` readable bytes (it may be NULL when
/// `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn ocirt_attach_write(
    attach: *const ocirt_attach,
    data: *const u8,
    len: usize,
) -> ocirt_result {
    guard(|| {
        let attach = handle_ref(attach, "attach")?;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            check_not_null(data, "data")?;
            std::slice::from_raw_parts(data, len)
        };
        match attach.session.write(bytes)? {
            WriteOutcome::Written => Ok(()),
            WriteOutcome::Detached => Err(Error::new(
                ocirt_result::OCIRT_DETACHED,
                "the detach keys were typed, so the session detached; the container keeps \
                 running",
            )),
        }
    })
}

/// Closes the session's stdin (a half-close): bytes held back as a possible detach sequence
/// are sent first. Output keeps flowing until the process ends it. Without a terminal, conmon
/// then closes the process's stdin (for every attached client, unless the container has
/// `leave_stdin_open`), so the process reads end of file. A terminal has no end of input:
/// send the terminal's EOF character (ctrl-d, byte 0x04) with `ocirt_attach_write` instead.
///
/// # Safety
/// `attach` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_attach_close_stdin(attach: *const ocirt_attach) -> ocirt_result {
    guard(|| {
        let attach = handle_ref(attach, "attach")?;
        attach.session.close_stdin()
    })
}

/// Detaches the session: it disconnects from conmon, delivers what it already received, and
/// ends with `OCIRT_ATTACH_DETACHED`. The process keeps running and can be attached again.
/// For a session with stdin on a container without a terminal, conmon closes the process's
/// stdin on the disconnect (as it does for podman), unless the container has
/// `leave_stdin_open`. A process that reads stdin then reads end of file.
///
/// # Safety
/// `attach` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_attach_detach(attach: *const ocirt_attach) -> ocirt_result {
    guard(|| {
        let attach = handle_ref(attach, "attach")?;
        attach.session.detach();
        Ok(())
    })
}

/// Waits until the session is over, at most `timeout_ms` milliseconds (< 0 waits forever).
///
/// Returns `OCIRT_OK` and writes `*outcome` (`OCIRT_ATTACH_ENDED` or
/// `OCIRT_ATTACH_DETACHED`) and `*exit_code` (an exec session's exit code, -1 for a
/// container attach) when the session ended without error. Returns the session's error
/// (such as `OCIRT_ERR_CALLBACK_ABORTED` or `OCIRT_ERR_IO`, with its message) when it
/// failed, and `OCIRT_ERR_TIMED_OUT` when it is still going. The outputs are untouched in
/// both cases. May be called again after it returned. Called from inside one of the
/// session's own callbacks, it fails with `OCIRT_ERR_INVALID_ARGUMENT` instead of waiting
/// forever, because the session ends only after its callbacks return.
///
/// # Safety
/// `attach` is a live handle; `outcome` and `exit_code` are writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_attach_wait(
    attach: *const ocirt_attach,
    timeout_ms: i64,
    outcome: *mut ocirt_attach_outcome,
    exit_code: *mut i32,
) -> ocirt_result {
    guard(|| {
        let attach = handle_ref(attach, "attach")?;
        check_not_null(outcome, "outcome")?;
        check_not_null(exit_code, "exit_code")?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let Some((result, code)) = attach.session.wait(timeout) else {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_TIMED_OUT,
                format!(
                    "the attach session is still running after {} ms; call ocirt_attach_wait \
                     again or detach it",
                    timeout_ms
                ),
            ));
        };
        let value = match result? {
            AttachOutcome::Ended => ocirt_attach_outcome::OCIRT_ATTACH_ENDED,
            AttachOutcome::Detached => ocirt_attach_outcome::OCIRT_ATTACH_DETACHED,
        };
        write_out(outcome, value);
        write_out(exit_code, code);
        Ok(())
    })
}

/// Frees a session handle. A session that is still running is stopped first, and its
/// `on_done` receives `OCIRT_ERR_CANCELLED`. The call returns after the session's callbacks
/// have finished, so the host may free their userdata afterwards. The container keeps
/// running. NULL is ignored.
///
/// # Safety
/// `attach` is NULL or a live handle not used by any other thread during or after the call,
/// and the call is not made from one of the session's callbacks.
#[no_mangle]
pub unsafe extern "C" fn ocirt_attach_free(attach: *mut ocirt_attach) {
    guard_value((), || {
        if !attach.is_null() {
            // SAFETY: the pointer came from Box::into_raw in this module.
            drop(unsafe { Box::from_raw(attach) });
        }
    })
}

/// Sets the terminal size of a terminal container (`AttachResize`): `width` columns,
/// `height` rows, each at least 1.
///
/// Where the library may open the container's terminal (as root), it sets the size there
/// itself, so the size is in effect when the call returns. Otherwise the request goes
/// through conmon's control FIFO, and conmon applies it soon after. Works from the moment the
/// container is created, so a size set before start is the first size the process gets.
/// Fails with `OCIRT_ERR_CONTAINER_STATE_INVALID` for a container without a terminal, or one
/// that is not created, running or paused.
///
/// # Safety
/// `container` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_resize(
    container: *const ocirt_container,
    width: u16,
    height: u16,
) -> ocirt_result {
    guard(|| {
        let container = handle_ref(container, "container")?;
        let runtime = Arc::clone(container.inner.runtime());
        runtime.attach_resize(&container.inner, width, height)
    })
}

/// Attaches over a connection the host already hijacked from its HTTP server
/// (`HTTPAttach`), blocking until the container's streams end, the session detaches, or
/// `cancel` fires.
///
/// The library owns `conn_fd` from the call on and closes it before returning, whatever the
/// result. Output without a terminal is framed: each payload follows an 8-byte header
/// (stream 1 stdout or 2 stderr, three zero bytes, the length as a big-endian u32). With a
/// terminal the output is raw. Stdin is read from the connection after the `buffered_len`
/// bytes at `buffered`, which the host's HTTP parser read past the request headers. The end
/// of stdin half-closes the container's stdin while output goes on.
///
/// `options_json` is NULL or an object with `stdin`, `stdout`, `stderr` (each default true,
/// at least one true), `detach_keys`, `hijack_header` (write podman's
/// `HTTP/1.1 101 UPGRADED` response first, default false), `start` and `buffer_limit`. A
/// failure after streaming began is also written to the connection as `Error: <message>`.
/// A client that went away never raises SIGPIPE.
///
/// Returns `OCIRT_OK` when the streams ended, `OCIRT_DETACHED` on detach and
/// `OCIRT_ERR_CANCELLED` when `cancel` fired.
///
/// # Safety
/// `container` is a live handle; `conn_fd` is an open descriptor the caller gives up;
/// `buffered` points to `buffered_len` bytes (NULL when 0); `cancel` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ocirt_container_http_attach(
    container: *const ocirt_container,
    conn_fd: c_int,
    options_json: *const c_char,
    buffered: *const u8,
    buffered_len: usize,
    cancel: *const ocirt_cancel,
) -> ocirt_result {
    guard(|| {
        if conn_fd < 0 || libc::fcntl(conn_fd, libc::F_GETFD) < 0 {
            return Err(Error::invalid(format!(
                "conn_fd {} is not an open descriptor; pass the connection's descriptor",
                conn_fd
            )));
        }
        // SAFETY: the caller hands the open descriptor over. `OwnedFd` closes it exactly once,
        // when the last `Arc` that shares `conn` drops.
        let conn = OwnedFd::from_raw_fd(conn_fd);
        let container = handle_ref(container, "container")?;
        let options = HttpAttachOptions::from_json(opt_str_arg(options_json, "options_json")?)?;
        let buffered: &[u8] = if buffered_len == 0 {
            &[]
        } else {
            check_not_null(buffered, "buffered")?;
            std::slice::from_raw_parts(buffered, buffered_len)
        };
        let cancel = if cancel.is_null() {
            None
        } else {
            Some(&(*cancel).inner)
        };
        let runtime = Arc::clone(container.inner.runtime());
        match runtime.http_attach(&container.inner, conn, &options, buffered, cancel)? {
            AttachOutcome::Ended => Ok(()),
            AttachOutcome::Detached => Err(Error::new(
                ocirt_result::OCIRT_DETACHED,
                "the client typed the detach keys, so the session detached; the container keeps \
                 running",
            )),
        }
    })
}

/// Creates a cancel token and writes it to `*out` (owned by the caller, freed with
/// `ocirt_cancel_free`).
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_cancel_new(out: *mut *mut ocirt_cancel) -> ocirt_result {
    guard(|| {
        check_not_null(out, "out")?;
        let inner = Cancel::new()?;
        write_out(out, Box::into_raw(Box::new(ocirt_cancel { inner })));
        Ok(())
    })
}

/// Triggers a cancel token: every call watching it returns `OCIRT_ERR_CANCELLED` soon after.
/// Safe to call from any thread and more than once.
///
/// # Safety
/// `cancel` is a live token.
#[no_mangle]
pub unsafe extern "C" fn ocirt_cancel_trigger(cancel: *const ocirt_cancel) -> ocirt_result {
    guard(|| {
        let cancel = handle_ref(cancel, "cancel")?;
        cancel.inner.trigger()
    })
}

/// Frees a cancel token. NULL is ignored.
///
/// # Safety
/// `cancel` is NULL or a live token that no call is watching any more.
#[no_mangle]
pub unsafe extern "C" fn ocirt_cancel_free(cancel: *mut ocirt_cancel) {
    guard_value((), || {
        if !cancel.is_null() {
            // SAFETY: the pointer came from Box::into_raw in ocirt_cancel_new.
            drop(unsafe { Box::from_raw(cancel) });
        }
    })
}
