//! Spawning conmon and talking to it over its sync, start and attach pipes.
//!
//! conmon runs in two stages: the process the library spawns (P1) blocks reading the start
//! pipe, forks the long-lived monitor (P2) once it gets a byte, writes the conmon pidfile and
//! exits. P2 forks the runtime (`create` or `exec`) and reports the container pid, or the
//! runtime's error, as one JSON message on the sync pipe. Every pipe is a SOCK_SEQPACKET
//! socket pair, so each write is one message: exec depends on that, because its two start
//! bytes must reach two different reads.

pub mod sync;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::error::{ocirt_result, Error, Result};
use crate::process;

pub use sync::SyncMessage;

/// Size of the buffer for one sync message. conmon sends up to 8191 bytes of runtime output,
/// escaped to up to 6 bytes per input byte, and SEQPACKET drops whatever a read does not take.
const SYNC_BUFFER_SIZE: usize = 64 * 1024;

/// Everything needed to start one conmon.
#[derive(Clone, Debug)]
pub struct ConmonCommand {
    /// The conmon binary.
    pub binary: PathBuf,
    /// Arguments after the binary name.
    pub args: Vec<OsString>,
    /// The whole environment of conmon, as `KEY=value` entries; the pipe variables are added
    /// by [`spawn`].
    pub env: Vec<String>,
    /// conmon's working directory; it writes the `oom` marker there.
    pub cwd: PathBuf,
    /// Host descriptors passed as 3, 4, ... before the pipes (preserved fds).
    pub preserved_fds: Vec<RawFd>,
    /// Whether to create the exec attach pipe (`_OCI_ATTACHPIPE`).
    pub attach_pipe: bool,
}

/// A spawned conmon: P1 and the parent ends of its pipes.
///
/// Dropping it before [`ConmonProcess::wait_first_stage`] reaped P1 kills and reaps P1.
#[derive(Debug)]
pub struct ConmonProcess {
    child: FirstStage,
    stderr: Option<File>,
    /// Parent end of the sync pipe.
    pub sync: OwnedFd,
    /// Parent end of the start pipe.
    pub start: OwnedFd,
    /// Parent end of the exec attach pipe, when requested.
    pub attach: Option<OwnedFd>,
    /// P1's pid.
    pub pid: u32,
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|err| Error::errno("cannot create a SEQPACKET socket pair for conmon", err))
}

/// Spawns conmon P1 with the exact descriptor map: 0 `/dev/null`, 1 `/dev/null`, 2 a pipe that
/// captures P1's own error messages, 3.. the preserved fds, then sync, start and (for exec)
/// attach. The child ends are closed in this process right after the spawn, so EOF on the
/// sync pipe means that conmon is gone.
pub fn spawn(command: &ConmonCommand) -> Result<ConmonProcess> {
    let (sync_parent, sync_child) = seqpacket_pair()?;
    let (start_parent, start_child) = seqpacket_pair()?;
    let attach_pair = if command.attach_pipe {
        Some(seqpacket_pair()?)
    } else {
        None
    };

    let preserved = command.preserved_fds.len();
    let mut env = command.env.clone();
    env.push(format!("_OCI_SYNCPIPE={}", preserved + 3));
    env.push(format!("_OCI_STARTPIPE={}", preserved + 4));
    if attach_pair.is_some() {
        env.push(format!("_OCI_ATTACHPIPE={}", preserved + 5));
    }

    let mut fd_map: Vec<RawFd> = command.preserved_fds.clone();
    fd_map.push(sync_child.as_raw_fd());
    fd_map.push(start_child.as_raw_fd());
    if let Some((_, attach_child)) = &attach_pair {
        fd_map.push(attach_child.as_raw_fd());
    }

    let mut cmd = Command::new(&command.binary);
    cmd.args(&command.args)
        .env_clear()
        .current_dir(&command.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    for entry in &env {
        if let Some((key, value)) = entry.split_once('=') {
            cmd.env(key, value);
        }
    }
    process::set_fd_map(&mut cmd, &fd_map);

    log::debug!(
        "spawning {} {}",
        command.binary.display(),
        command
            .args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let spawned = cmd.spawn();
    // Close the child ends whether or not the spawn worked.
    drop(sync_child);
    drop(start_child);
    let attach = attach_pair.map(|(parent, child)| {
        drop(child);
        parent
    });
    let mut child = spawned.map_err(|err| {
        Error::new(
            ocirt_result::OCIRT_ERR_CONMON,
            format!("cannot run conmon {}: {}", command.binary.display(), err),
        )
    })?;
    let stderr = child
        .stderr
        .take()
        .map(|pipe| File::from(OwnedFd::from(pipe)));
    let pid = child.id();
    Ok(ConmonProcess {
        child: FirstStage(child),
        stderr,
        sync: sync_parent,
        start: start_parent,
        attach,
        pid,
    })
}

impl ConmonProcess {
    /// Writes one start byte (0x00). EPIPE means conmon already exited; that is not an error
    /// here, because [`ConmonProcess::wait_first_stage`] then reports why.
    pub fn release(&self) -> Result<()> {
        match socket::send(self.start.as_raw_fd(), &[0u8], MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => Ok(()),
            Err(nix::errno::Errno::EPIPE) | Err(nix::errno::Errno::ECONNRESET) => {
                log::debug!(
                    "conmon (pid {}) closed its start pipe before the start byte",
                    self.pid
                );
                Ok(())
            }
            Err(err) => Err(Error::errno("cannot write to conmon's start pipe", err)),
        }
    }

    /// Waits for P1 to exit. A non-zero status means conmon rejected its arguments; the error
    /// carries what it printed on stderr.
    pub fn wait_first_stage(&mut self) -> Result<()> {
        let status = process::wait_child(&mut self.child.0)
            .map_err(|err| Error::io(format!("cannot wait for conmon (pid {})", self.pid), err))?;
        let stderr = self.take_stderr();
        match status {
            Some(status) if !status.success() => Err(Error::new(
                ocirt_result::OCIRT_ERR_CONMON,
                format!(
                    "conmon failed ({}): {}",
                    status,
                    if stderr.is_empty() {
                        "no output".to_string()
                    } else {
                        stderr
                    }
                ),
            )),
            _ => {
                if !stderr.is_empty() {
                    log::debug!("conmon (pid {}) printed: {}", self.pid, stderr);
                }
                Ok(())
            }
        }
    }

    /// Reads what P1 wrote to stderr without blocking, because P2 may still hold the pipe for
    /// a moment before it points its stdio at /dev/null.
    fn take_stderr(&mut self) -> String {
        let Some(mut file) = self.stderr.take() else {
            return String::new();
        };
        let flags = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL).unwrap_or(0);
        let _ = nix::fcntl::fcntl(
            &file,
            nix::fcntl::FcntlArg::F_SETFL(
                nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK,
            ),
        );
        let mut collected = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => collected.extend_from_slice(&buffer[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            if collected.len() > 64 * 1024 {
                break;
            }
        }
        String::from_utf8_lossy(&collected)
            .lines()
            .filter(|line| !line.contains("oom_score_adj"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    }
}

/// conmon's P1, killed and reaped on drop unless it was reaped already.
#[derive(Debug)]
struct FirstStage(Child);

impl Drop for FirstStage {
    /// Kills and reaps P1 when a step before `wait_first_stage` failed, so that P1 neither
    /// stays a zombie nor goes on to run the runtime for a call that already failed.
    fn drop(&mut self) {
        // `try_wait` returns the status cached by an earlier wait, so a reaped P1 is left
        // alone. `Ok(None)` means P1 is still this process's unreaped child, so its pid
        // cannot have been reused.
        if let Ok(None) = self.0.try_wait() {
            let pid = self.0.id();
            log::debug!("stopping conmon (pid {}) after a failed start", pid);
            let _ = self.0.kill();
            if let Err(err) = process::wait_child(&mut self.0) {
                log::warn!("cannot reap conmon (pid {}): {}", pid, err);
            }
        }
    }
}

/// Reads one message from a sync or attach pipe, waiting at most `timeout`.
///
/// EOF (conmon exited without a message), a timeout and a message without an integer `data`
/// are errors of kind `OCIRT_ERR_CONMON` (`OCIRT_ERR_TIMED_OUT` for the timeout).
pub fn read_message(fd: &OwnedFd, timeout: Option<Duration>, what: &str) -> Result<SyncMessage> {
    let ready = process::wait_readable(&[fd.as_fd()], timeout)
        .map_err(|err| Error::io(format!("cannot wait for conmon's {}", what), err))?;
    if ready.is_none() {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_TIMED_OUT,
            format!(
                "timed out after {} ms waiting for conmon's {}",
                timeout.unwrap_or_default().as_millis(),
                what
            ),
        ));
    }
    let mut buffer = vec![0u8; SYNC_BUFFER_SIZE];
    let received = loop {
        match socket::recv(fd.as_raw_fd(), &mut buffer, MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::ECONNRESET) => break 0,
            Err(err) => return Err(Error::errno(format!("cannot read conmon's {}", what), err)),
        }
    };
    if received == 0 {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_CONMON,
            format!(
                "conmon exited without writing its {}; with the runtime's \"log_level\" set to \
                 \"debug\", conmon logs its own messages to syslog",
                what
            ),
        ));
    }
    let raw = &buffer[..received];
    log::debug!(
        "conmon {}: {}",
        what,
        String::from_utf8_lossy(raw).trim_end()
    );
    sync::parse(raw).ok_or_else(|| {
        Error::new(
            ocirt_result::OCIRT_ERR_CONMON,
            format!(
                "cannot parse conmon's {}: {:?}",
                what,
                String::from_utf8_lossy(raw)
            ),
        )
    })
}
