//! Attach, HTTP attach and terminal resize of containers.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::attach::detach::DetachKeys;
use crate::attach::http::{self, HttpAttachOptions, HttpSink, HIJACK_HEADER};
use crate::attach::{
    self, resize, AttachOptions, AttachOutcome, AttachSession, OutputSink, SessionConfig,
};
use crate::cancel::Cancel;
use crate::container::{Container, ContainerState, Status};
use crate::error::{Error, Result};
use crate::oci_runtime::OciRuntime;
use crate::runtime::ConmonRuntime;

/// Checks that the container can be attached to, and may be started when `start` is set.
/// Returns the state it read.
fn check_attachable(ctr: &Container, start: bool) -> Result<ContainerState> {
    let state = ctr.load_state()?;
    let status = state.status;
    let ok = if start {
        status == Status::Created
    } else {
        status.is_active()
    };
    if ok {
        return Ok(state);
    }
    if start {
        return Err(Error::state_invalid(format!(
            "container {} is {}; attach with \"start\": true needs a created container (attach without \"start\" to join a running one)",
            ctr.id(),
            status
        )));
    }
    Err(Error::state_invalid(format!(
        "container {} is {}; attach needs a created, running or paused container",
        ctr.id(),
        status
    )))
}

fn check_stdin(ctr: &Container, stdin: bool) -> Result<()> {
    if stdin && !ctr.terminal() && !ctr.config().stdin {
        return Err(Error::invalid(format!(
            "container {} has neither a terminal nor \"stdin\": true, so conmon cannot pass stdin to it",
            ctr.id()
        )));
    }
    Ok(())
}

/// Starts the container after the attach socket is connected; a failure closes the socket.
fn start_if_requested(runtime: &ConmonRuntime, ctr: &Container, start: bool) -> Result<()> {
    if start {
        runtime.start_container(ctr)?;
    }
    Ok(())
}

/// `Attach`: connects to the container's attach socket, sets the initial terminal size,
/// starts the container when `options.start` is set, and streams the output to `sink`.
pub fn attach(
    runtime: &ConmonRuntime,
    ctr: &Container,
    options: &AttachOptions,
    sink: Box<dyn OutputSink>,
) -> Result<AttachSession> {
    options.validate()?;
    let keys = DetachKeys::parse_or_default(options.detach_keys.as_deref())?;
    let state = check_attachable(ctr, options.start)?;
    check_stdin(ctr, options.stdin)?;
    let size = options.size()?;
    if size.is_some() && !ctr.terminal() {
        return Err(Error::state_invalid(format!(
            "container {} has no terminal, so it has no size to set",
            ctr.id()
        )));
    }

    let socket = attach::connect(&ctr.file("attach"))?;
    if let Some((width, height)) = size {
        resize::resize_terminal(
            &ctr.file("ctl"),
            state.init_process(),
            width,
            height,
            &format!("container {}", ctr.id()),
        )?;
    }
    // Connected first, started second: conmon sends no output to a client that is not
    // connected yet, so this order loses nothing of a fast container's output.
    start_if_requested(runtime, ctr, options.start)?;
    let config = SessionConfig {
        description: format!("container {}", ctr.id()),
        stdout: options.stdout,
        stderr: options.stderr,
        stdin: options.stdin,
        detach_keys: keys,
        buffer_limit: options.buffer_limit,
    };
    AttachSession::start(socket, config, sink, None)
}

/// `HTTPAttach`: streams the container over the hijacked connection `conn` until the streams
/// end, the session detaches or `cancel` fires. A failure is also reported on the connection.
pub fn http_attach(
    runtime: &ConmonRuntime,
    ctr: &Container,
    conn: OwnedFd,
    options: &HttpAttachOptions,
    buffered: &[u8],
    cancel: Option<&Cancel>,
) -> Result<AttachOutcome> {
    let conn = Arc::new(conn);
    let mut progress = http::Progress::Nothing;
    let result = http_attach_on(
        runtime,
        ctr,
        &conn,
        options,
        buffered,
        cancel,
        &mut progress,
    );
    if let Err(err) = &result {
        http::report_failure(&conn, options.hijack_header, ctr.terminal(), progress, err);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn http_attach_on(
    runtime: &ConmonRuntime,
    ctr: &Container,
    conn: &Arc<OwnedFd>,
    options: &HttpAttachOptions,
    buffered: &[u8],
    cancel: Option<&Cancel>,
    progress: &mut http::Progress,
) -> Result<AttachOutcome> {
    let keys = DetachKeys::parse_or_default(options.detach_keys.as_deref())?;
    check_attachable(ctr, options.start)?;
    check_stdin(ctr, options.stdin)?;
    let socket = attach::connect(&ctr.file("attach"))?;
    start_if_requested(runtime, ctr, options.start)?;
    if options.hijack_header {
        http::write_all(conn, HIJACK_HEADER)?;
        *progress = http::Progress::Header;
    }
    let config = SessionConfig {
        description: format!("container {}", ctr.id()),
        stdout: options.stdout,
        stderr: options.stderr,
        stdin: options.stdin,
        detach_keys: keys,
        buffer_limit: options.buffer_limit,
    };
    let sink = Box::new(HttpSink::new(Arc::clone(conn), ctr.terminal()));
    let session = AttachSession::start(socket, config, sink, None)?;
    // From here on, failures are written to the connection by the session's sink.
    *progress = http::Progress::Streaming;
    http::run(
        Arc::new(session),
        Arc::clone(conn),
        options.stdin,
        buffered,
        cancel,
    )
}

/// `AttachResize`: sets the size of the container's terminal, directly on its pty where this
/// process may open it, otherwise through conmon's control FIFO.
pub fn resize(ctr: &Container, width: u16, height: u16) -> Result<()> {
    let state = ctr.load_state()?;
    let status = state.status;
    if !ctr.terminal() {
        return Err(Error::state_invalid(format!(
            "container {} has no terminal (process.terminal is false), so it cannot be resized",
            ctr.id()
        )));
    }
    if !status.is_active() {
        return Err(Error::state_invalid(format!(
            "container {} is {}; only a created, running or paused container can be resized",
            ctr.id(),
            status
        )));
    }
    resize::resize_terminal(
        &ctr.file("ctl"),
        state.init_process(),
        width,
        height,
        &format!("container {}", ctr.id()),
    )
}
