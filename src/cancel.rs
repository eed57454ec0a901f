//! Cancellation tokens: an eventfd that stays readable once triggered, so any number of
//! blocking calls can poll it.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::error::{Error, Result};

/// A one-shot cancellation signal shared between threads.
#[derive(Debug)]
pub struct Cancel {
    fd: EventFd,
}

impl Cancel {
    /// Creates an untriggered token.
    pub fn new() -> Result<Cancel> {
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|err| Error::errno("cannot create an eventfd", err))?;
        Ok(Cancel { fd })
    }

    /// Triggers the token. Triggering again has no further effect.
    pub fn trigger(&self) -> Result<()> {
        // The counter is never read, so the descriptor stays readable from now on.
        match self.fd.write(1) {
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => Ok(()),
            Err(err) => Err(Error::errno("cannot trigger the cancel token", err)),
        }
    }

    /// Returns a second handle to the same token (a duplicated descriptor), for a thread that
    /// must own what it watches.
    pub fn try_clone(&self) -> Result<Cancel> {
        let fd = nix::fcntl::fcntl(&self.fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(0))
            .map_err(|err| Error::errno("cannot duplicate the cancel token", err))?;
        // SAFETY: fcntl returned a new descriptor of the same eventfd, owned from here on.
        let fd = unsafe {
            EventFd::from_owned_fd(
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd),
            )
        };
        Ok(Cancel { fd })
    }

    /// Returns whether the token was triggered.
    pub fn is_triggered(&self) -> bool {
        crate::process::pidfd_exited(self.fd.as_fd())
    }
}

impl AsFd for Cancel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Spawns a library thread named `name` with every signal blocked, so the host's signal
/// handlers run on its own threads and a write to a closed pipe or socket yields EPIPE
/// instead of a process-killing SIGPIPE.
pub fn spawn_thread<F>(name: &str, body: F) -> Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let all = nix::sys::signal::SigSet::all();
            let _ = nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_BLOCK,
                Some(&all),
                None,
            );
            body()
        })
        .map_err(|err| Error::io(format!("cannot start thread {}", name), err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_is_sticky() {
        let cancel = Cancel::new().unwrap();
        assert!(!cancel.is_triggered());
        cancel.trigger().unwrap();
        cancel.trigger().unwrap();
        assert!(cancel.is_triggered());
        assert!(cancel.is_triggered());
    }
}
