//! Process helpers: spawning children with an exact file descriptor map, pidfds for waiting
//! without polling, and process identity checks that survive pid reuse.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Makes `cmd`'s child see `fds[i]` as file descriptor `3 + i` and no other descriptor of
/// this process beyond 0, 1 and 2.
///
/// Descriptors of the host that lack `FD_CLOEXEC` would otherwise leak into conmon, which
/// keeps every inherited descriptor open for the container's whole life. The pre-exec hook
/// only makes async-signal-safe system calls; every buffer it uses is allocated before fork.
pub fn set_fd_map(cmd: &mut Command, fds: &[RawFd]) {
    let sources: Vec<RawFd> = fds.to_vec();
    let mut scratch: Vec<RawFd> = vec![-1; fds.len()];
    let first_free = 3 + fds.len() as RawFd;
    // SAFETY: the hook runs between fork and exec and calls only fcntl, dup2, close_range
    // and getrlimit, which are async-signal-safe; it does not allocate.
    unsafe {
        cmd.pre_exec(move || {
            // Move every source above the target range first, so that a source that already
            // sits on a target number (say 4) is not overwritten before it is copied.
            for (index, source) in sources.iter().enumerate() {
                let moved = libc::fcntl(*source, libc::F_DUPFD_CLOEXEC, first_free);
                if moved < 0 {
                    return Err(io::Error::last_os_error());
                }
                scratch[index] = moved;
            }
            for (index, moved) in scratch.iter().enumerate() {
                // dup2 clears FD_CLOEXEC on the target, so the child inherits it.
                if libc::dup2(*moved, 3 + index as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            mark_cloexec_from(first_free)
        });
    }
}

/// Sets `FD_CLOEXEC` on every descriptor numbered `first` and above. Async-signal-safe.
fn mark_cloexec_from(first: RawFd) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: plain system calls on integers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: mark each descriptor up to the limit.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1 << 20) as RawFd
    } else {
        4096
    };
    for fd in first..max {
        // SAFETY: fcntl on a descriptor that may not exist just fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Opens a pidfd for `pid` (`pidfd_open(2)`, CLOEXEC by definition).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: a plain system call; the returned descriptor is owned here.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `signal` through a pidfd, so the signal cannot reach a process that reused the pid.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: a plain system call on a valid descriptor.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Returns the start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`),
/// or `None` when the process does not exist.
pub fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
    // The command name in field 2 may contain spaces and parentheses, so the fields after it
    // start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts with field 3 (state), so field 22 is at index 19.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Returns the state letter of `pid` (`R`, `S`, `Z`, ...) from `/proc/<pid>/stat`.
pub fn state_letter(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// A process identified by pid and start time, so that a reused pid is never mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: Option<u64>,
}

/// A descriptor that becomes readable when a process exits: a pidfd, or where the kernel (or
/// valgrind) lacks `pidfd_open`, the read end of a pipe whose write end a watcher thread
/// closes when the process is gone.
#[derive(Debug)]
pub struct ProcessFd {
    fd: OwnedFd,
    poller: Option<Arc<AtomicBool>>,
}

impl AsFd for ProcessFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl ProcessFd {
    /// Returns true for a real pidfd, which also accepts `pidfd_send_signal`.
    pub fn is_pidfd(&self) -> bool {
        self.poller.is_none()
    }
}

impl Drop for ProcessFd {
    fn drop(&mut self) {
        if let Some(stop) = &self.poller {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Whether `pidfd_open` works here: 0 unknown, 1 yes, 2 no (ENOSYS).
static PIDFD_SUPPORT: AtomicU8 = AtomicU8::new(0);

/// Interval of the fallback liveness check when `pidfd_open` is missing.
const FALLBACK_POLL: Duration = Duration::from_millis(10);

fn alive(id: ProcessId) -> bool {
    match (id.start_time, start_time(id.pid)) {
        (_, None) => false,
        (Some(recorded), Some(now)) if recorded != now => false,
        _ => state_letter(id.pid) != Some('Z'),
    }
}

fn fallback_process_fd(id: ProcessId) -> Option<ProcessFd> {
    if !alive(id) {
        return None;
    }
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    // NOTE: this path polls every 10 ms; it only runs where pidfd_open (Linux 5.3) is
    // missing, such as under valgrind 3.19.
    crate::cancel::spawn_thread("ocirt-pid-watch", move || {
        while !thread_stop.load(Ordering::Relaxed) && alive(id) {
            std::thread::sleep(FALLBACK_POLL);
        }
        drop(write);
    })
    .ok()?;
    Some(ProcessFd {
        fd: read,
        poller: Some(stop),
    })
}

impl ProcessId {
    /// Records `pid` together with its current start time.
    pub fn capture(pid: i32) -> ProcessId {
        ProcessId {
            pid,
            start_time: start_time(pid),
        }
    }

    /// Opens a descriptor that becomes readable when the process exits, if it is still the
    /// same process (its start time matches the recorded one, when one was recorded). `None`
    /// means the process is gone.
    pub fn open(&self) -> Option<ProcessFd> {
        if self.pid <= 0 {
            return None;
        }
        if PIDFD_SUPPORT.load(Ordering::Relaxed) == 2 {
            return fallback_process_fd(*self);
        }
        let fd = match pidfd_open(self.pid) {
            Ok(fd) => {
                PIDFD_SUPPORT.store(1, Ordering::Relaxed);
                fd
            }
            Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => {
                PIDFD_SUPPORT.store(2, Ordering::Relaxed);
                return fallback_process_fd(*self);
            }
            Err(_) => return None,
        };
        match (self.start_time, start_time(self.pid)) {
            (Some(recorded), Some(now)) if recorded != now => None,
            (Some(_), None) => None,
            _ if pidfd_exited(fd.as_fd()) => None,
            _ => Some(ProcessFd { fd, poller: None }),
        }
    }

    /// Returns whether the process is still alive (and is the same process).
    pub fn is_alive(&self) -> bool {
        self.pid > 0 && alive(*self)
    }
}

/// Returns true when the process behind `pidfd` has exited (the pidfd is readable).
pub fn pidfd_exited(pidfd: BorrowedFd<'_>) -> bool {
    matches!(wait_readable(&[pidfd], Some(Duration::ZERO)), Ok(Some(_)))
}

/// Waits until one of `fds` becomes readable (or hangs up) and returns its index, or `None`
/// when `timeout` passes first. `None` as timeout waits forever. EINTR restarts the wait with
/// the remaining time.
pub fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Option<usize>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut poll_fds: Vec<PollFd> = fds
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        let wait = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Round up so a sub-millisecond remainder does not turn into a busy loop.
                let millis = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
        };
        match poll(&mut poll_fds, wait) {
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
            }
            Ok(_) => {
                for (index, polled) in poll_fds.iter().enumerate() {
                    if polled.revents().is_some_and(|r| !r.is_empty()) {
                        return Ok(Some(index));
                    }
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(err) => return Err(io::Error::from_raw_os_error(err as i32)),
        }
    }
}

/// Waits for a child to exit, retrying on EINTR. ECHILD (the host set SIGCHLD to SIG_IGN, so
/// the kernel reaped the child) is reported as `Ok(None)`.
pub fn wait_child(child: &mut std::process::Child) -> io::Result<Option<std::process::ExitStatus>> {
    loop {
        match child.wait() {
            Ok(status) => return Ok(Some(status)),
            Err(err) if err.raw_os_error() == Some(libc::EINTR) => continue,
            Err(err) if err.raw_os_error() == Some(libc::ECHILD) => return Ok(None),
            Err(err) => return Err(err),
        }
    }
}

/// Returns the name of a signal number for messages ("SIGKILL" for 9), or "signal N" for a
/// number without a name.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {}", signal))
}

/// Parses a signal given as a number ("9"), a name ("KILL", "SIGKILL", case-insensitive) or
/// a real-time signal ("RTMIN+3").
pub fn parse_signal(text: &str) -> Option<i32> {
    let trimmed = text.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return (1..=libc::SIGRTMAX()).contains(&number).then_some(number);
    }
    let upper = trimmed.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(offset) = name.strip_prefix("RTMIN") {
        let offset: i32 = if offset.is_empty() {
            0
        } else {
            offset.strip_prefix('+')?.parse().ok()?
        };
        let number = libc::SIGRTMIN() + offset;
        return (number <= libc::SIGRTMAX()).then_some(number);
    }
    if let Some(offset) = name.strip_prefix("RTMAX") {
        let offset: i32 = if offset.is_empty() {
            0
        } else {
            offset.strip_prefix('-')?.parse().ok()?
        };
        let number = libc::SIGRTMAX() - offset;
        return (number >= libc::SIGRTMIN()).then_some(number);
    }
    let full = format!("SIG{}", name);
    full.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signals() {
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(15));
        assert_eq!(parse_signal("SIGRTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("65"), None);
        assert_eq!(parse_signal("NOPE"), None);
    }

    #[test]
    fn start_time_of_self_is_stable() {
        let me = std::process::id() as i32;
        let first = start_time(me).expect("own start time");
        assert_eq!(start_time(me), Some(first));
        assert!(ProcessId::capture(me).is_alive());
        let wrong = ProcessId {
            pid: me,
            start_time: Some(first + 1),
        };
        assert!(!wrong.is_alive());
    }

    #[test]
    fn pidfd_sees_child_exit() {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("exit 0")
            .spawn()
            .unwrap();
        let pidfd = pidfd_open(child.id() as i32).unwrap();
        let ready = wait_readable(&[pidfd.as_fd()], Some(Duration::from_secs(10))).unwrap();
        assert_eq!(ready, Some(0));
        assert!(wait_child(&mut child).unwrap().unwrap().success());
    }

    #[test]
    fn fd_map_passes_only_mapped_fds() {
        // A pipe without CLOEXEC plays a host descriptor that must not leak.
        let mut raw = [0; 2];
        assert_eq!(unsafe { libc::pipe(raw.as_mut_ptr()) }, 0);
        let leaky_read = unsafe { OwnedFd::from_raw_fd(raw[0]) };
        let leaky_write = unsafe { OwnedFd::from_raw_fd(raw[1]) };
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg("ls /proc/self/fd");
        set_fd_map(&mut cmd, &[leaky_write.as_raw_fd()]);
        let output = cmd.output().unwrap();
        let mut fds: Vec<i32> = String::from_utf8(output.stdout)
            .unwrap()
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        fds.sort();
        // 0-2, the mapped fd 3, and the descriptor `ls` opens to read /proc/self/fd.
        assert_eq!(fds, vec![0, 1, 2, 3, 4]);
        drop(leaky_read);
    }
}
