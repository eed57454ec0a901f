//! Attach over a connection the host has already hijacked from an HTTP server (podman's
//! `HTTPAttach`).
//!
//! Output without a terminal is framed as Docker's multiplexed stream: an 8-byte header
//! (stream id 1 for stdout or 2 for stderr, three zero bytes, the payload length as a
//! big-endian u32) before each payload. With a terminal the bytes go out raw. Stdin is read
//! from the connection, after any bytes the host's HTTP parser already buffered, and passes
//! through the detach matcher. The end of stdin half-closes the attach socket while output
//! keeps flowing. The library owns the connection descriptor and closes it when the session
//! is over.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{self, MsgFlags};
use serde::Deserialize;

use crate::attach::{
    AttachOutcome, AttachSession, OutputSink, Stream, WriteOutcome, OCIRT_STDIN_CHUNK,
};
use crate::cancel::Cancel;
use crate::error::{ocirt_result, Error, Result};
use crate::process;

/// The response podman writes before streaming on a hijacked connection.
pub const HIJACK_HEADER: &[u8] = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";

/// Options of an HTTP attach, from JSON. Unknown fields are rejected.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAttachOptions {
    /// Read stdin from the connection (default true).
    #[serde(default = "default_true")]
    pub stdin: bool,
    /// Send stdout (default true).
    #[serde(default = "default_true")]
    pub stdout: bool,
    /// Send stderr (default true).
    #[serde(default = "default_true")]
    pub stderr: bool,
    /// Detach sequence; absent means `ctrl-p,ctrl-q`, `""` disables detaching.
    #[serde(default)]
    pub detach_keys: Option<String>,
    /// Write podman's `HTTP/1.1 101 UPGRADED` response before streaming (default false).
    #[serde(default)]
    pub hijack_header: bool,
    /// Start the created container once attached.
    #[serde(default)]
    pub start: bool,
    /// Bytes of output buffered while the client reads slowly. Default 8 MiB.
    #[serde(default = "default_buffer_limit")]
    pub buffer_limit: usize,
}

fn default_true() -> bool {
    true
}

fn default_buffer_limit() -> usize {
    crate::attach::OCIRT_DEFAULT_BUFFER_LIMIT
}

impl HttpAttachOptions {
    /// Parses the options JSON; NULL (None) gives the defaults.
    pub fn from_json(text: Option<&str>) -> Result<HttpAttachOptions> {
        let options: HttpAttachOptions =
            crate::json::parse(text.unwrap_or("{}"), "HTTP attach options")?;
        if !(options.stdin || options.stdout || options.stderr) {
            return Err(Error::invalid(
                "HTTP attach options: at least one of \"stdin\", \"stdout\" and \"stderr\" must be true",
            ));
        }
        if options.buffer_limit == 0 {
            return Err(Error::invalid(
                "HTTP attach options: \"buffer_limit\" must be greater than 0",
            ));
        }
        crate::attach::detach::DetachKeys::parse_or_default(options.detach_keys.as_deref())?;
        Ok(options)
    }
}

/// Writes all of `data` to the connection. A client that went away yields an error rather
/// than SIGPIPE: sockets get MSG_NOSIGNAL, and other descriptors are written with SIGPIPE
/// blocked.
pub fn write_all(conn: &OwnedFd, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        let written = match socket::send(conn.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL) {
            Err(nix::errno::Errno::ENOTSOCK) => write_without_sigpipe(conn, data),
            other => other,
        };
        match written {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let _ = nix::poll::poll(
                    &mut [nix::poll::PollFd::new(
                        conn.as_fd(),
                        nix::poll::PollFlags::POLLOUT,
                    )],
                    nix::poll::PollTimeout::NONE,
                );
            }
            Err(err) => {
                return Err(Error::new(
                    ocirt_result::OCIRT_ERR_IO,
                    format!("cannot write to the HTTP connection: {}", err),
                ))
            }
        }
    }
    Ok(())
}

/// Writes to a descriptor that is not a socket, such as a pipe, without raising SIGPIPE.
///
/// This may run on the host's thread (the hijack header and failure reports), so SIGPIPE is
/// blocked on the calling thread around the write. A SIGPIPE that the write raised is then
/// pending on this thread, and it is consumed before the old signal mask returns.
fn write_without_sigpipe(conn: &OwnedFd, data: &[u8]) -> nix::Result<usize> {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

    let mut pipe_signal = SigSet::empty();
    pipe_signal.add(Signal::SIGPIPE);
    let mut old_mask = SigSet::empty();
    pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&pipe_signal),
        Some(&mut old_mask),
    )?;

    let written = nix::unistd::write(conn, data);
    if written == Err(nix::errno::Errno::EPIPE) && !old_mask.contains(Signal::SIGPIPE) {
        let no_wait = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: sigtimedwait reads the signal set and the timespec, both valid for the
        // call, and accepts a NULL siginfo pointer.
        unsafe { libc::sigtimedwait(pipe_signal.as_ref(), std::ptr::null_mut(), &no_wait) };
    }

    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    written
}

/// Returns the 8-byte multiplexing header for `len` bytes of `stream`.
pub fn frame_header(stream: Stream, len: usize) -> [u8; 8] {
    let id = match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    };
    let len = len as u32;
    let size = len.to_be_bytes();
    [id, 0, 0, 0, size[0], size[1], size[2], size[3]]
}

/// Writes session output to the hijacked connection.
pub struct HttpSink {
    conn: Arc<OwnedFd>,
    terminal: bool,
}

impl HttpSink {
    /// Creates a sink writing framed (`terminal` false) or raw output to `conn`.
    pub fn new(conn: Arc<OwnedFd>, terminal: bool) -> HttpSink {
        HttpSink { conn, terminal }
    }
}

impl OutputSink for HttpSink {
    fn output(&mut self, stream: Stream, data: &[u8]) -> Result<()> {
        if self.terminal {
            return write_all(&self.conn, data);
        }
        // Payloads above 4 GiB would not fit the header; the session delivers at most 1 MiB.
        let mut frame = Vec::with_capacity(8 + data.len());
        frame.extend_from_slice(&frame_header(stream, data.len()));
        frame.extend_from_slice(data);
        write_all(&self.conn, &frame)
    }

    fn finish(&mut self, result: &Result<AttachOutcome>, _exit_code: i32) {
        let Err(err) = result else {
            return;
        };
        if err.kind() == ocirt_result::OCIRT_ERR_CANCELLED {
            return;
        }
        // Report the failure in-band, as podman does after the hijack.
        let text = format!("Error: {}\n", err.message());
        let _ = if self.terminal {
            write_all(&self.conn, text.as_bytes())
        } else {
            let mut frame = frame_header(Stream::Stderr, text.len()).to_vec();
            frame.extend_from_slice(text.as_bytes());
            write_all(&self.conn, &frame)
        };
    }
}

/// Progress of a call on a hijacked connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing was written.
    Nothing,
    /// The hijack header was written.
    Header,
    /// A session streams; its sink reports failures itself.
    Streaming,
}

/// Reports a failure on the hijacked connection, which the host can no longer use for an
/// HTTP error: the hijack header when requested and not yet written, then
/// `Error: <message>` as a stderr frame (or raw text with a terminal), as podman does after
/// a hijack. Does nothing once a session streams, or for a cancellation.
pub fn report_failure(
    conn: &OwnedFd,
    hijack_header: bool,
    terminal: bool,
    progress: Progress,
    err: &Error,
) {
    if err.kind() == ocirt_result::OCIRT_ERR_CANCELLED || progress == Progress::Streaming {
        return;
    }
    if hijack_header && progress == Progress::Nothing {
        let _ = write_all(conn, HIJACK_HEADER);
    }
    let text = format!("Error: {}\n", err.message());
    let _ = if terminal {
        write_all(conn, text.as_bytes())
    } else {
        let mut frame = frame_header(Stream::Stderr, text.len()).to_vec();
        frame.extend_from_slice(text.as_bytes());
        write_all(conn, &frame)
    };
}

/// Copies stdin from the connection into the session until EOF, detach or `stop`.
fn pump_stdin(session: &AttachSession, conn: &OwnedFd, buffered: &[u8], stop: &EventFd) {
    if !buffered.is_empty() {
        match session.write(buffered) {
            Ok(WriteOutcome::Written) => {}
            Ok(WriteOutcome::Detached) | Err(_) => return,
        }
    }
    let mut buffer = vec![0u8; OCIRT_STDIN_CHUNK];
    loop {
        match process::wait_readable(&[conn.as_fd(), stop.as_fd()], None) {
            Ok(Some(0)) => {}
            _ => return,
        }
        match nix::unistd::read(conn, &mut buffer) {
            Ok(0) => {
                if let Err(err) = session.close_stdin() {
                    log::debug!(
                        "closing stdin after the HTTP client's EOF: {}",
                        err.message()
                    );
                }
                return;
            }
            Ok(n) => match session.write(&buffer[..n]) {
                Ok(WriteOutcome::Written) => {}
                Ok(WriteOutcome::Detached) => return,
                Err(err) => {
                    log::debug!(
                        "stdin from the HTTP client not delivered: {}",
                        err.message()
                    );
                    return;
                }
            },
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
            Err(err) => {
                log::debug!("reading stdin from the HTTP client failed: {}", err);
                let _ = session.close_stdin();
                return;
            }
        }
    }
}

/// Runs a started session over `conn` until its streams end, it detaches, or `cancel` fires.
pub fn run(
    session: Arc<AttachSession>,
    conn: Arc<OwnedFd>,
    stdin: bool,
    buffered: &[u8],
    cancel: Option<&Cancel>,
) -> Result<AttachOutcome> {
    let stop = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(|err| Error::errno("cannot create an eventfd", err))?;
    let stop = Arc::new(stop);
    let pump = if stdin {
        let session = Arc::clone(&session);
        let conn = Arc::clone(&conn);
        let stop = Arc::clone(&stop);
        let buffered = buffered.to_vec();
        Some(crate::cancel::spawn_thread(
            "ocirt-http-stdin",
            move || pump_stdin(&session, &conn, &buffered, &stop),
        )?)
    } else {
        None
    };

    let mut fds = vec![session.done_fd()];
    if let Some(cancel) = cancel {
        fds.push(cancel.as_fd());
    }
    let cancelled = matches!(process::wait_readable(&fds, None), Ok(Some(1)));
    if cancelled {
        session.abort(Error::new(
            ocirt_result::OCIRT_ERR_CANCELLED,
            "HTTP attach was cancelled",
        ));
        // A write blocked on a slow client would otherwise hold the session open.
        let _ = socket::shutdown(conn.as_raw_fd(), socket::Shutdown::Both);
    }
    let result = session.wait(None).map(|(result, _)| result);
    let _ = stop.write(1);
    if let Some(pump) = pump {
        let _ = pump.join();
    }
    drop(session);
    match result {
        Some(result) => result,
        None => Err(Error::new(
            ocirt_result::OCIRT_ERR_IO,
            "HTTP attach session ended without a result",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_is_big_endian() {
        assert_eq!(frame_header(Stream::Stdout, 5), [1, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(
            frame_header(Stream::Stderr, 0x0102_0304),
            [2, 0, 0, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn options_need_a_stream() {
        let err = HttpAttachOptions::from_json(Some(
            r#"{"stdin": false, "stdout": false, "stderr": false}"#,
        ))
        .unwrap_err();
        assert!(err.message().contains("at least one"), "{}", err.message());
        let err = HttpAttachOptions::from_json(Some(r#"{"detach_keys": "ctrl-C"}"#)).unwrap_err();
        assert!(err.message().contains("ctrl-C"), "{}", err.message());
        assert!(HttpAttachOptions::from_json(None).unwrap().stdin);
    }
}
