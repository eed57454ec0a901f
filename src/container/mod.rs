//! Containers: configuration, the per-container state directory, and state persistence.
//!
//! A container lives in `<state dir>/<id>/`, which is also the bundle that conmon and the
//! runtime use:
//!
//! | file | written by | content |
//! |---|---|---|
//! | `config.json` | library | the OCI spec copy with absolute paths |
//! | `container.json` | library | the container config and facts taken from the spec |
//! | `state.json` | library | [`ContainerState`], replaced atomically |
//! | `lock` | library | `flock` target for read-modify-write of the state |
//! | `pidfile`, `conmon.pid` | runtime, conmon | container init pid, conmon pid |
//! | `attach`, `ctl`, `winsz` | conmon | attach socket, control and resize FIFOs |
//! | `oom`, `oci-log`, `ctr.log` | conmon, runtime | OOM marker, JSON runtime errors, log |
//!
//! Any process can re-open a container by id and go on with it, because everything the
//! library needs is in these files.

pub mod config;
pub mod spec;
pub mod status;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids;
use crate::oci_runtime::OciRuntime;
use crate::runtime::ConmonRuntime;
use crate::state::{self, Durability, FileLock};

pub use config::ContainerConfig;
pub use status::{ContainerState, Status};

/// Content of `container.json`: the config and the facts read once from the spec.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredContainer {
    config: ContainerConfig,
    terminal: bool,
    private_pid_namespace: bool,
    rootfs: PathBuf,
    instance: String,
}

/// A container of a [`ConmonRuntime`].
///
/// Thread-safe: every method may be called from any thread. Operations that change the state
/// hold an exclusive `flock` on the container's lock file for their duration, which also
/// orders them against other processes using the same state directory.
#[derive(Debug)]
pub struct Container {
    runtime: Arc<ConmonRuntime>,
    dir: PathBuf,
    stored: StoredContainer,
    cached: Mutex<ContainerState>,
}

/// A container whose lock is held, with the state read under the lock.
pub struct Locked<'a> {
    container: &'a Container,
    _lock: FileLock,
    /// The state as read under the lock; change it and call [`Locked::save`].
    pub state: ContainerState,
}

impl<'a> Locked<'a> {
    /// Writes the state durably and updates the handle's cached copy.
    pub fn save(&mut self) -> Result<()> {
        self.container.write_state(&self.state, Durability::Durable)
    }

    /// Writes the state without fsyncs, for changes the runtime's and conmon's own files
    /// record too (a start, an exit read from conmon's exit file): after a crash the next
    /// status update derives them again.
    pub fn save_rebuildable(&mut self) -> Result<()> {
        self.container.write_state(&self.state, Durability::Atomic)
    }

    /// Returns the container.
    pub fn container(&self) -> &'a Container {
        self.container
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled != bytes.len() as isize {
        // Fall back to time and pid; the token only has to differ between incarnations.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return format!("{:032x}{:08x}", nanos, std::process::id());
    }
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn lock_poisoned<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Container {
    /// Configures a new container: validates the config, prepares the spec copy and writes
    /// the container's state directory. Nothing runs yet; `create` spawns conmon.
    ///
    /// Fails with `OCIRT_ERR_CONTAINER_EXISTS` when the id is taken.
    pub fn new(runtime: Arc<ConmonRuntime>, config: ContainerConfig) -> Result<Arc<Container>> {
        config.validate()?;
        let prepared = spec::prepare(&config)?;
        if config.no_cgroups && !runtime.supports_no_cgroups() {
            return Err(Error::new(
                crate::error::ocirt_result::OCIRT_ERR_NOT_SUPPORTED,
                format!(
                    "container {}: runtime {} cannot run containers without cgroups",
                    config.id,
                    runtime.name()
                ),
            ));
        }
        let dir = runtime.state_dir().join(&config.id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::new(
                    crate::error::ocirt_result::OCIRT_ERR_CONTAINER_EXISTS,
                    format!(
                        "container \"{}\" already exists in {}; open it or delete it first",
                        config.id,
                        runtime.state_dir().display()
                    ),
                ))
            }
            Err(err) => {
                return Err(Error::io(
                    format!("cannot create container directory {}", dir.display()),
                    err,
                ))
            }
        }

        let instance = random_token();
        let stored = StoredContainer {
            config,
            terminal: prepared.terminal,
            private_pid_namespace: prepared.private_pid_namespace,
            rootfs: prepared.rootfs,
            instance: instance.clone(),
        };
        let container = Container {
            runtime,
            dir: dir.clone(),
            stored,
            cached: Mutex::new(ContainerState::configured(instance.clone())),
        };
        let written = (|| -> Result<()> {
            let spec_text = serde_json::to_vec_pretty(&prepared.json)
                .map_err(|err| Error::invalid(format!("cannot serialize the OCI spec: {}", err)))?;
            // The configuration files are written before the container exists anywhere else;
            // the state file written durably last makes the whole directory count.
            state::write_atomic(
                &dir.join("config.json"),
                &spec_text,
                0o640,
                Durability::Atomic,
            )?;
            let stored_text = serde_json::to_vec_pretty(&container.stored).map_err(|err| {
                Error::invalid(format!("cannot serialize the container config: {}", err))
            })?;
            state::write_atomic(
                &dir.join("container.json"),
                &stored_text,
                0o640,
                Durability::Atomic,
            )?;
            FileLock::create(&dir.join("lock"))?;
            container.write_state(&ContainerState::configured(instance), Durability::Durable)
        })();
        if let Err(err) = written {
            let _ = fs::remove_dir_all(&dir);
            return Err(err);
        }
        log::info!(
            "container {} configured in {}",
            container.id(),
            dir.display()
        );
        Ok(Arc::new(container))
    }

    /// Re-opens an existing container by id, for example one configured by another process.
    pub fn open(runtime: Arc<ConmonRuntime>, id: &str) -> Result<Arc<Container>> {
        ids::validate(id, "container id")?;
        let dir = runtime.state_dir().join(id);
        let stored_path = dir.join("container.json");
        let text = match fs::read(&stored_path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(Error::no_such_container_detail(
                    id,
                    &format!("not found in {}", runtime.state_dir().display()),
                ))
            }
            Err(err) => {
                return Err(Error::io(
                    format!("cannot read {}", stored_path.display()),
                    err,
                ))
            }
        };
        let stored: StoredContainer = serde_json::from_slice(&text).map_err(|err| {
            Error::new(
                crate::error::ocirt_result::OCIRT_ERR_IO,
                format!(
                    "container file {} is corrupt: {}",
                    stored_path.display(),
                    err
                ),
            )
        })?;
        let state = read_state_file(&dir, id)?;
        if state.instance != stored.instance {
            return Err(Error::no_such_container_detail(
                id,
                "it is being deleted or re-created",
            ));
        }
        Ok(Arc::new(Container {
            runtime,
            dir,
            cached: Mutex::new(state),
            stored,
        }))
    }

    /// Returns the container id.
    pub fn id(&self) -> &str {
        &self.stored.config.id
    }

    /// Returns the container's configuration.
    pub fn config(&self) -> &ContainerConfig {
        &self.stored.config
    }

    /// Returns the runtime the container belongs to.
    pub fn runtime(&self) -> &Arc<ConmonRuntime> {
        &self.runtime
    }

    /// Returns the container's state directory, which is its bundle for conmon and the
    /// runtime.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns whether the container's process has a terminal (`process.terminal`).
    pub fn terminal(&self) -> bool {
        self.stored.terminal
    }

    /// Returns whether the container has a private PID namespace.
    pub fn private_pid_namespace(&self) -> bool {
        self.stored.private_pid_namespace
    }

    /// Returns the container's root filesystem.
    pub fn rootfs(&self) -> &Path {
        &self.stored.rootfs
    }

    /// Returns the k8s-file log path (the configured one or `ctr.log` in the state
    /// directory).
    pub fn log_path(&self) -> PathBuf {
        self.stored
            .config
            .log_path
            .clone()
            .unwrap_or_else(|| self.dir.join("ctr.log"))
    }

    /// Returns the path of conmon's pidfile.
    pub fn conmon_pidfile(&self) -> PathBuf {
        self.stored
            .config
            .conmon_pidfile
            .clone()
            .unwrap_or_else(|| self.dir.join("conmon.pid"))
    }

    /// Returns the path of a file in the state directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Returns the last state this handle read or wrote, without touching the disk.
    pub fn cached_state(&self) -> ContainerState {
        lock_poisoned(&self.cached).clone()
    }

    /// Reads the current state from disk without taking the lock (the file is replaced
    /// atomically, so the read is consistent).
    pub fn load_state(&self) -> Result<ContainerState> {
        let state = read_state_file(&self.dir, self.id())?;
        if state.instance != self.stored.instance {
            return Err(self.gone());
        }
        *lock_poisoned(&self.cached) = state.clone();
        Ok(state)
    }

    /// Takes the container's lock and reads the state under it.
    pub fn lock(&self) -> Result<Locked<'_>> {
        let lock = FileLock::acquire(&self.dir.join("lock"))?.ok_or_else(|| self.gone())?;
        let state = self.load_state()?;
        Ok(Locked {
            container: self,
            _lock: lock,
            state,
        })
    }

    fn gone(&self) -> Error {
        Error::no_such_container_detail(self.id(), "it was deleted")
    }

    fn write_state(&self, state: &ContainerState, durability: Durability) -> Result<()> {
        let text = serde_json::to_vec_pretty(state)
            .map_err(|err| Error::invalid(format!("cannot serialize container state: {}", err)))?;
        state::write_atomic(&self.dir.join("state.json"), &text, 0o640, durability)?;
        *lock_poisoned(&self.cached) = state.clone();
        Ok(())
    }

    /// Returns the container's state and configuration as one JSON document.
    pub fn state_json(&self) -> Result<String> {
        let state = self.load_state()?;
        let document = serde_json::json!({
            "id": self.id(),
            "name": self.stored.config.name(),
            "status": state.status.as_str(),
            "pid": state.pid,
            "conmon_pid": state.conmon_pid,
            "exit_code": state.exit_code,
            "oom_killed": state.oom_killed,
            "created_at": state.created_at,
            "started_at": state.started_at,
            "finished_at": state.finished_at,
            "restored": state.restored,
            "checkpointed": state.checkpointed,
            "terminal": self.stored.terminal,
            "stdin": self.stored.config.stdin,
            "state_dir": self.dir,
            "bundle": self.stored.config.bundle,
            "rootfs": self.stored.rootfs,
            "log_driver": self.stored.config.log_driver.as_deref().unwrap_or("k8s-file"),
            "log_path": self.log_path(),
            "exit_file": self.runtime.exit_file_path_for(self.id()),
            "attach_socket": self.runtime.attach_socket_path_for(self.id()),
            "runtime": self.runtime.name(),
        });
        serde_json::to_string_pretty(&document)
            .map_err(|err| Error::invalid(format!("cannot serialize container state: {}", err)))
    }
}

fn read_state_file(dir: &Path, id: &str) -> Result<ContainerState> {
    let path = dir.join("state.json");
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(Error::no_such_container_detail(id, "it was deleted"))
        }
        Err(err) => return Err(Error::io(format!("cannot read {}", path.display()), err)),
    };
    serde_json::from_slice(&text).map_err(|err| {
        Error::new(
            crate::error::ocirt_result::OCIRT_ERR_IO,
            format!("state file {} is corrupt: {}", path.display(), err),
        )
    })
}
