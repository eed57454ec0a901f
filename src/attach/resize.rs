//! Messages to conmon's control FIFO (`ctl`): terminal resize and log reopen; and direct
//! terminal resize where the library may open the process's pty.
//!
//! conmon parses one message per write ("<type> <a> <b>\n") and ignores a second message in
//! the same write, so each message is one open, one write and one close. The FIFO is always
//! opened non-blocking, because a blocking open would hang forever once conmon, its only
//! reader, has exited. The non-blocking open fails at once with ENXIO instead.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::{ocirt_result, Error, Result};
use crate::process::ProcessId;

/// conmon's message type for a terminal resize.
const RESIZE_EVENT: u32 = 1;

/// conmon's message type for reopening the log file.
const REOPEN_LOGS_EVENT: u32 = 2;

/// How long a write may wait for room in a full FIFO.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes one message to the control FIFO at `ctl`. `what` names the target in errors.
pub fn send(ctl: &Path, message: &str, what: &str) -> Result<()> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(ctl)
    {
        Ok(file) => file,
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
            return Err(Error::state_invalid(format!(
                "{}: control FIFO {} does not exist; the container is not created or was cleaned up",
                what,
                ctl.display()
            )))
        }
        Err(err) if err.raw_os_error() == Some(libc::ENXIO) => {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_CONTAINER_STOPPED,
                format!("{}: conmon has exited, so nothing reads {}", what, ctl.display()),
            ))
        }
        Err(err) => return Err(Error::io(format!("{}: cannot open {}", what, ctl.display()), err)),
    };
    loop {
        match file.write(message.as_bytes()) {
            Ok(n) if n == message.len() => return Ok(()),
            Ok(n) => {
                // A non-blocking FIFO write of at most PIPE_BUF (4096) bytes writes everything
                // or fails with EAGAIN, so this cannot happen for these short messages.
                return Err(Error::new(
                    ocirt_result::OCIRT_ERR_IO,
                    format!("{}: short write of {} bytes to {}", what, n, ctl.display()),
                ));
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLOUT)];
                let millis = WRITE_TIMEOUT.as_millis() as i32;
                match poll(
                    &mut fds,
                    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(0) => {
                        return Err(Error::new(
                            ocirt_result::OCIRT_ERR_TIMED_OUT,
                            format!(
                                "{}: {} stayed full for {} s",
                                what,
                                ctl.display(),
                                WRITE_TIMEOUT.as_secs()
                            ),
                        ))
                    }
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(err) => {
                        return Err(Error::errno(
                            format!("{}: cannot wait for {}", what, ctl.display()),
                            err,
                        ))
                    }
                }
            }
            Err(err) => {
                return Err(Error::io(
                    format!("{}: cannot write {}", what, ctl.display()),
                    err,
                ))
            }
        }
    }
}

/// Asks conmon to set the terminal to `width` columns and `height` rows.
pub fn resize(ctl: &Path, width: u16, height: u16, what: &str) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::invalid(format!(
            "{}: terminal size {}x{} is invalid; width and height must be at least 1",
            what, width, height
        )));
    }
    send(
        ctl,
        &format!("{} {} {}\n", RESIZE_EVENT, height, width),
        what,
    )
}

/// Sets the terminal size directly on the pty of `process` (its first standard descriptor
/// that is a terminal), so the size is in effect when this returns. Returns false when that
/// is not possible (no such process, not a terminal, no permission).
fn resize_pty_of(process: ProcessId, width: u16, height: u16) -> bool {
    if !process.is_alive() {
        return false;
    }
    for fd in 0..3 {
        let path = format!("/proc/{}/fd/{}", process.pid, fd);
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
        else {
            continue;
        };
        // SAFETY: isatty and ioctl on a descriptor owned by `file`.
        if unsafe { libc::isatty(file.as_raw_fd()) } != 1 {
            continue;
        }
        // The descriptor may belong to a process that reused the pid after the check above.
        if !process.is_alive() {
            return false;
        }
        let size = libc::winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize struct that outlives the call.
        return unsafe { libc::ioctl(file.as_raw_fd(), libc::TIOCSWINSZ, &size) } == 0;
    }
    false
}

/// Sets the terminal of `process` to `width` columns and `height` rows.
///
/// The size is set on the process's pty directly where this process may open it (as root).
/// It then takes effect before this returns, so the process reads the new size when it
/// handles input sent afterwards. Otherwise the request goes through conmon's control FIFO
/// at `ctl`, and conmon applies it soon after, asynchronously.
pub fn resize_terminal(
    ctl: &Path,
    process: ProcessId,
    width: u16,
    height: u16,
    what: &str,
) -> Result<()> {
    if width == 0 || height == 0 {
        return resize(ctl, width, height, what);
    }
    if resize_pty_of(process, width, height) {
        return Ok(());
    }
    resize(ctl, width, height, what)
}

/// Asks conmon to reopen (truncate and start again) the container's log file.
pub fn reopen_log(ctl: &Path, what: &str) -> Result<()> {
    send(ctl, &format!("{} 0 0\n", REOPEN_LOGS_EVENT), what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fifo_is_state_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let err = resize(&dir.path().join("ctl"), 80, 24, "container c1").unwrap_err();
        assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID);
    }

    #[test]
    fn fifo_without_reader_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = resize(&path, 80, 24, "container c1").unwrap_err();
        assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_CONTAINER_STOPPED);
    }

    #[test]
    fn writes_one_line_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        resize(&path, 120, 40, "container c1").unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &reader, &mut text).ok();
        assert_eq!(text, "1 40 120\n");
        let err = resize(&path, 0, 40, "container c1").unwrap_err();
        assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
    }
}
