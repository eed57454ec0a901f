//! Waiting for conmon's exit files without polling.
//!
//! One watcher per runtime keeps one inotify descriptor on the exit directory for the
//! runtime's whole life. Closing an inotify descriptor that has a watch took 10-15 ms in
//! measurements on recent kernels, so a watch per wait would be slow. A library thread reads
//! the events and wakes the waiters of the file names that appeared, each through its own
//! eventfd. A waiter polls its eventfd together with a pidfd of the conmon monitor, so that a
//! monitor that dies without writing an exit file does not leave the waiter blocked, and
//! with an optional cancel descriptor.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Error, Result};
use crate::process;

/// Outcome of a wait for a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The file exists.
    Exists,
    /// The monitor process exited and the file still does not exist.
    MonitorGone,
    /// The timeout passed first.
    TimedOut,
    /// The cancel descriptor became readable.
    Cancelled,
}

type WaiterList = HashMap<OsString, Vec<(u64, Arc<EventFd>)>>;

struct Shared {
    dir: PathBuf,
    inotify: Inotify,
    stop: EventFd,
    waiters: Mutex<WaiterList>,
    next_waiter: Mutex<u64>,
}

/// A watcher of one directory, shared by every waiter of a runtime.
pub struct ExitWatcher {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for ExitWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExitWatcher")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes a waiter's registration when the wait ends, however it ends.
struct Registration<'a> {
    shared: &'a Shared,
    name: OsString,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut waiters = lock(&self.shared.waiters);
        if let Some(list) = waiters.get_mut(&self.name) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                waiters.remove(&self.name);
            }
        }
    }
}

impl ExitWatcher {
    /// Starts watching `dir`, which must exist. The event thread starts with the first wait.
    pub fn new(dir: &Path) -> Result<ExitWatcher> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|err| Error::errno("cannot create an inotify instance", err))?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .map_err(|err| Error::errno(format!("cannot watch {}", dir.display()), err))?;
        let stop = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|err| Error::errno("cannot create an eventfd", err))?;
        Ok(ExitWatcher {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                inotify,
                stop,
                waiters: Mutex::new(HashMap::new()),
                next_waiter: Mutex::new(0),
            }),
            thread: Mutex::new(None),
        })
    }

    /// Returns the watched directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    fn ensure_thread(&self) -> Result<()> {
        let mut thread = lock(&self.thread);
        if thread.is_some() {
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        let handle = crate::cancel::spawn_thread("ocirt-exit-watch", move || run_events(&shared))?;
        *thread = Some(handle);
        Ok(())
    }

    /// Waits until `<dir>/<name>` exists.
    ///
    /// Also returns when `monitor` (a pidfd) becomes readable while the file is still
    /// missing, when `cancel` becomes readable, or when `timeout` passes (`None` waits
    /// forever). Does not hold any lock while blocked.
    pub fn wait(
        &self,
        name: &str,
        monitor: Option<BorrowedFd<'_>>,
        cancel: Option<BorrowedFd<'_>>,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome> {
        let path = self.shared.dir.join(name);
        if path.exists() {
            return Ok(WaitOutcome::Exists);
        }
        self.ensure_thread()?;
        let wakeup = Arc::new(
            EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                .map_err(|err| Error::errno("cannot create an eventfd", err))?,
        );
        let id = {
            let mut next = lock(&self.shared.next_waiter);
            *next += 1;
            *next
        };
        lock(&self.shared.waiters)
            .entry(OsString::from(name))
            .or_default()
            .push((id, Arc::clone(&wakeup)));
        let _registration = Registration {
            shared: &self.shared,
            name: OsString::from(name),
            id,
        };

        // The file may have appeared between the first check and the registration.
        if path.exists() {
            return Ok(WaitOutcome::Exists);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let mut fds = vec![wakeup.as_fd()];
            let monitor_index = monitor.map(|fd| {
                fds.push(fd);
                fds.len() - 1
            });
            let cancel_index = cancel.map(|fd| {
                fds.push(fd);
                fds.len() - 1
            });
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ready = process::wait_readable(&fds, left)
                .map_err(|err| Error::io(format!("cannot wait for {}", path.display()), err))?;
            match ready {
                None => {
                    return Ok(if path.exists() {
                        WaitOutcome::Exists
                    } else {
                        WaitOutcome::TimedOut
                    })
                }
                Some(0) => {
                    let _ = wakeup.read();
                    if path.exists() {
                        return Ok(WaitOutcome::Exists);
                    }
                }
                Some(index) if Some(index) == monitor_index => {
                    return Ok(if path.exists() {
                        WaitOutcome::Exists
                    } else {
                        WaitOutcome::MonitorGone
                    });
                }
                Some(index) if Some(index) == cancel_index => return Ok(WaitOutcome::Cancelled),
                Some(_) => {}
            }
        }
    }
}

fn wake(waiters: &WaiterList, name: Option<&OsString>) {
    match name {
        Some(name) => {
            if let Some(list) = waiters.get(name) {
                for (_, fd) in list {
                    let _ = fd.write(1);
                }
            }
        }
        None => {
            for list in waiters.values() {
                for (_, fd) in list {
                    let _ = fd.write(1);
                }
            }
        }
    }
}

fn run_events(shared: &Shared) {
    loop {
        let fds = [shared.inotify.as_fd(), shared.stop.as_fd()];
        match process::wait_readable(&fds, None) {
            Ok(Some(1)) => return,
            Ok(_) => {}
            Err(err) => {
                log::error!("exit watcher of {} stopped: {}", shared.dir.display(), err);
                wake(&lock(&shared.waiters), None);
                return;
            }
        }
        loop {
            match shared.inotify.read_events() {
                Ok(events) if !events.is_empty() => {
                    let waiters = lock(&shared.waiters);
                    for event in events {
                        if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW)
                            || event.mask.contains(AddWatchFlags::IN_IGNORED)
                        {
                            // Events were lost or the directory went away: let every waiter
                            // look at the file system again.
                            wake(&waiters, None);
                        } else {
                            wake(&waiters, event.name.as_ref());
                        }
                    }
                }
                Ok(_) => break,
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => {
                    log::error!(
                        "cannot read inotify events for {}: {}",
                        shared.dir.display(),
                        err
                    );
                    wake(&lock(&shared.waiters), None);
                    break;
                }
            }
        }
    }
}

impl Drop for ExitWatcher {
    fn drop(&mut self) {
        let _ = self.shared.stop.write(1);
        if let Some(handle) = lock(&self.thread).take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_on_atomic_rename() {
        let dir = tempfile::tempdir().unwrap();
        let watcher = Arc::new(ExitWatcher::new(dir.path()).unwrap());
        let writer_dir = dir.path().to_path_buf();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::write(writer_dir.join(".tmp"), b"0").unwrap();
            std::fs::rename(writer_dir.join(".tmp"), writer_dir.join("c1")).unwrap();
        });
        let outcome = watcher
            .wait("c1", None, None, Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(outcome, WaitOutcome::Exists);
        writer.join().unwrap();
    }

    #[test]
    fn times_out_and_reports_monitor_exit() {
        let dir = tempfile::tempdir().unwrap();
        let watcher = ExitWatcher::new(dir.path()).unwrap();
        let outcome = watcher
            .wait("never", None, None, Some(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(outcome, WaitOutcome::TimedOut);

        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        let pidfd = process::pidfd_open(child.id() as i32).unwrap();
        let outcome = watcher
            .wait(
                "never",
                Some(pidfd.as_fd()),
                None,
                Some(Duration::from_secs(10)),
            )
            .unwrap();
        assert_eq!(outcome, WaitOutcome::MonitorGone);
        child.wait().unwrap();
    }
}
