//! The conmon-backed OCI runtime: podman's "Conmon OCI runtime".

mod attach;
pub mod config;
pub(crate) mod conmon_args;
mod info;
mod lifecycle;
pub mod probe;
mod status;

use std::path::{Path, PathBuf};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::exit_watch::ExitWatcher;
use crate::oci_runtime::{
    CheckpointOptions, ConmonInfo, OciRuntime, OciRuntimeInfo, RestoreOptions,
};
use crate::runtime_cli::RuntimeCli;
use crate::state;

pub use config::RuntimeConfig;

/// The length of `sun_path` in `struct sockaddr_un` on Linux.
const SUN_PATH_LEN: usize = 108;

/// An OCI runtime driven through conmon.
///
/// Thread-safe; share it with `Arc`. It owns one exit watcher thread, started by the first
/// wait, and no thread per container.
#[derive(Debug)]
pub struct ConmonRuntime {
    config: RuntimeConfig,
    path: PathBuf,
    conmon_path: PathBuf,
    conmon_version: (u32, u32, u32),
    state_dir: PathBuf,
    exit_dir: PathBuf,
    socket_dir: PathBuf,
    cli: RuntimeCli,
    exit_watcher: ExitWatcher,
}

fn default_run_dir() -> Result<PathBuf> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(PathBuf::from("/run/ocirt"));
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir).join("ocirt")),
        _ => Err(Error::invalid(
            "runtime config: \"run_dir\" is not set and neither is $XDG_RUNTIME_DIR; set one of them",
        )),
    }
}

impl ConmonRuntime {
    /// Probes the runtime and conmon binaries and creates the state, exit and socket
    /// directories (mode 0750).
    pub fn new(config: RuntimeConfig) -> Result<ConmonRuntime> {
        config.validate()?;
        let candidates = config
            .paths
            .clone()
            .unwrap_or_else(|| probe::default_runtime_paths(&config.name));
        let path = probe::find_runtime(&config.name, config.path.as_deref(), &candidates)?;
        let conmon_candidates = config
            .conmon_paths
            .clone()
            .unwrap_or_else(probe::default_conmon_paths);
        let (conmon_path, conmon_version) =
            probe::find_conmon(config.conmon_path.as_deref(), &conmon_candidates)?;

        let run_dir = match &config.run_dir {
            Some(dir) => dir.clone(),
            None => default_run_dir()?,
        };
        let state_dir = config
            .state_dir
            .clone()
            .unwrap_or_else(|| run_dir.join("containers"));
        let exit_dir = config
            .exit_dir
            .clone()
            .unwrap_or_else(|| run_dir.join("exits"));
        let socket_dir = config
            .socket_dir
            .clone()
            .unwrap_or_else(|| run_dir.join("socket"));
        for dir in [&state_dir, &exit_dir, &socket_dir] {
            state::create_dir_all(dir)?;
        }

        let mut global_args = Vec::new();
        if let Some(root) = &config.runtime_root {
            global_args.push("--root".to_string());
            global_args.push(root.to_string_lossy().into_owned());
        }
        global_args.extend(config.runtime_flags.iter().cloned());
        // SAFETY: geteuid cannot fail.
        let xdg_runtime_dir = if unsafe { libc::geteuid() } == 0 {
            String::new()
        } else {
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_default()
        };
        let cli = RuntimeCli::new(path.clone(), global_args, xdg_runtime_dir);
        let exit_watcher = ExitWatcher::new(&exit_dir)?;

        log::info!(
            "runtime {} at {} with conmon {} ({}.{}.{}), state in {}",
            config.name,
            path.display(),
            conmon_path.display(),
            conmon_version.0,
            conmon_version.1,
            conmon_version.2,
            state_dir.display()
        );
        Ok(ConmonRuntime {
            config,
            path,
            conmon_path,
            conmon_version,
            state_dir,
            exit_dir,
            socket_dir,
            cli,
            exit_watcher,
        })
    }

    /// Returns the configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Returns the directory that contains one directory per container.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Returns the directory of conmon's exit files.
    pub fn exit_dir(&self) -> &Path {
        &self.exit_dir
    }

    /// Returns the directory of conmon's socket links.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Returns the conmon binary's path.
    pub fn conmon_path(&self) -> &Path {
        &self.conmon_path
    }

    /// Returns conmon's version.
    pub fn conmon_version(&self) -> (u32, u32, u32) {
        self.conmon_version
    }

    /// Returns the runner of the runtime binary's commands.
    pub fn cli(&self) -> &RuntimeCli {
        &self.cli
    }

    /// Returns the shared exit-file watcher.
    pub fn exit_watcher(&self) -> &ExitWatcher {
        &self.exit_watcher
    }

    /// Returns `<exit dir>/<id>`.
    pub fn exit_file_path_for(&self, id: &str) -> PathBuf {
        self.exit_dir.join(id)
    }

    /// Returns the link that conmon makes from the socket directory to the bundle for `cuuid`
    /// (a container id, or an exec session's [`crate::exec::conmon_uuid`]). conmon shortens
    /// the link name by one byte when the path would be exactly 107 bytes long, so that the
    /// link and the socket path below it never coincide in length. This function applies the
    /// same rule.
    pub fn socket_link_for(&self, cuuid: &str) -> PathBuf {
        let mut link = self.socket_dir.join(cuuid).to_string_lossy().into_owned();
        if link.len() == SUN_PATH_LEN - 1 {
            link.truncate(SUN_PATH_LEN - 2);
        }
        PathBuf::from(link)
    }

    /// Returns `<socket dir>/<id>/attach`, podman's name of the attach socket. It reaches the
    /// socket conmon binds at `<bundle>/attach` through conmon's link.
    pub fn attach_socket_path_for(&self, id: &str) -> PathBuf {
        self.socket_link_for(id).join("attach")
    }

    fn name_in(&self, list: &[String]) -> bool {
        let base = Path::new(&self.config.name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        list.iter().any(|entry| *entry == base)
    }
}

impl OciRuntime for ConmonRuntime {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn create_container(&self, ctr: &Container, restore: Option<&RestoreOptions>) -> Result<()> {
        lifecycle::create(self, ctr, restore)
    }

    fn update_container_status(&self, ctr: &Container) -> Result<()> {
        let mut locked = ctr.lock()?;
        status::update(self, &mut locked)
    }

    fn start_container(&self, ctr: &Container) -> Result<()> {
        lifecycle::start(self, ctr)
    }

    fn kill_container(&self, ctr: &Container, signal: i32, all: bool) -> Result<()> {
        lifecycle::kill(self, ctr, signal, all)
    }

    fn stop_container(&self, ctr: &Container, timeout_s: u32, all: bool) -> Result<()> {
        lifecycle::stop(self, ctr, timeout_s, all)
    }

    fn delete_container(&self, ctr: &Container) -> Result<()> {
        lifecycle::delete(self, ctr)
    }

    fn pause_container(&self, ctr: &Container) -> Result<()> {
        lifecycle::pause(self, ctr)
    }

    fn unpause_container(&self, ctr: &Container) -> Result<()> {
        lifecycle::unpause(self, ctr)
    }

    fn attach(
        &self,
        ctr: &Container,
        options: &crate::attach::AttachOptions,
        sink: Box<dyn crate::attach::OutputSink>,
    ) -> Result<crate::attach::AttachSession> {
        attach::attach(self, ctr, options, sink)
    }

    fn http_attach(
        &self,
        ctr: &Container,
        conn: std::os::fd::OwnedFd,
        options: &crate::attach::http::HttpAttachOptions,
        buffered: &[u8],
        cancel: Option<&crate::cancel::Cancel>,
    ) -> Result<crate::attach::AttachOutcome> {
        attach::http_attach(self, ctr, conn, options, buffered, cancel)
    }

    fn attach_resize(&self, ctr: &Container, width: u16, height: u16) -> Result<()> {
        attach::resize(ctr, width, height)
    }

    fn exec_container(
        &self,
        ctr: &Container,
        session_id: &str,
        options: &crate::exec::ExecOptions,
        streams: crate::exec::Streams,
    ) -> Result<(i32, Box<dyn crate::attach::SessionHandle>)> {
        crate::exec::start(self, ctr, session_id, options, streams)
    }

    fn exec_container_http(
        &self,
        ctr: &Container,
        session_id: &str,
        options: &crate::exec::ExecOptions,
        conn: std::os::fd::OwnedFd,
        http_options: crate::attach::http::HttpAttachOptions,
        buffered: Vec<u8>,
        cancel: Option<crate::cancel::Cancel>,
    ) -> Result<(i32, Box<dyn crate::attach::SessionHandle>)> {
        let streams = crate::exec::Streams::Http {
            conn: std::sync::Arc::new(conn),
            options: http_options,
            buffered,
            cancel,
        };
        crate::exec::start(self, ctr, session_id, options, streams)
    }

    fn exec_attach_resize(
        &self,
        ctr: &Container,
        session_id: &str,
        width: u16,
        height: u16,
    ) -> Result<()> {
        crate::exec::resize(ctr, session_id, width, height)
    }

    fn exec_stop_container(&self, ctr: &Container, session_id: &str, timeout_s: u32) -> Result<()> {
        crate::exec::stop(ctr, session_id, timeout_s)
    }

    fn exec_update_status(&self, ctr: &Container, session_id: &str) -> Result<(bool, Option<i32>)> {
        crate::exec::update_status(ctr, session_id)
    }

    fn exec_container_cleanup(&self, ctr: &Container, session_id: &str) -> Result<()> {
        crate::exec::cleanup(self, ctr, session_id)
    }

    fn exec_attach_socket_path(&self, ctr: &Container, session_id: &str) -> Result<PathBuf> {
        crate::exec::load_record(ctr, session_id)?;
        Ok(self
            .socket_link_for(&crate::exec::conmon_uuid(ctr.id(), session_id))
            .join("attach"))
    }

    fn checkpoint_container(&self, ctr: &Container, options: &CheckpointOptions) -> Result<()> {
        lifecycle::checkpoint(self, ctr, options)
    }

    fn supports_checkpoint(&self) -> bool {
        info::supports_checkpoint(self)
    }

    fn supports_json_errors(&self) -> bool {
        self.name_in(&self.config.supports_json_errors)
    }

    fn supports_no_cgroups(&self) -> bool {
        self.name_in(&self.config.supports_no_cgroups)
    }

    fn supports_kvm(&self) -> bool {
        self.name_in(&self.config.supports_kvm)
    }

    fn attach_socket_path(&self, ctr: &Container) -> Result<PathBuf> {
        ctr.load_state()?;
        Ok(self.attach_socket_path_for(ctr.id()))
    }

    fn exit_file_path(&self, ctr: &Container) -> Result<PathBuf> {
        ctr.load_state()?;
        Ok(self.exit_file_path_for(ctr.id()))
    }

    fn runtime_info(&self) -> Result<(ConmonInfo, OciRuntimeInfo)> {
        info::runtime_info(self)
    }
}

impl ConmonRuntime {
    /// Blocks until the container's process has exited and returns its exit code (-1 when
    /// conmon could not record one). `timeout` `None` waits forever.
    pub fn wait_container(
        &self,
        ctr: &Container,
        timeout: Option<std::time::Duration>,
    ) -> Result<i32> {
        status::wait(self, ctr, timeout, None)
    }

    /// As [`ConmonRuntime::wait_container`], and returns `OCIRT_ERR_CANCELLED` once `cancel`
    /// is triggered.
    pub fn wait_container_cancellable(
        &self,
        ctr: &Container,
        timeout: Option<std::time::Duration>,
        cancel: Option<&crate::cancel::Cancel>,
    ) -> Result<i32> {
        status::wait(self, ctr, timeout, cancel)
    }

    /// Returns the ids of the containers in the state directory, sorted.
    pub fn container_ids(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.state_dir)
            .map_err(|err| Error::io(format!("cannot list {}", self.state_dir.display()), err))?;
        let mut ids: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().join("state.json").exists())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| crate::ids::validate(name, "container id").is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}
