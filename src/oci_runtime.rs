//! The `OciRuntime` trait: podman's libpod `OCIRuntime` interface, method for method.
//!
//! [`crate::runtime::ConmonRuntime`] implements it by driving an OCI runtime binary through
//! conmon. The C functions in [`crate::ffi`] translate their arguments and call these methods.
//! Every container method expects the container to be locked by the method itself: callers
//! pass a plain `&Container` and the implementation takes the container's lock.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::attach::http::HttpAttachOptions;
use crate::attach::{AttachOptions, AttachOutcome, AttachSession, OutputSink, SessionHandle};
use crate::cancel::Cancel;
use crate::container::Container;
use crate::error::Result;
use crate::exec::{ExecOptions, Streams};

/// Options of a restore (`CreateContainer` with restore options).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreOptions {
    /// Restore established TCP connections (`--tcp-established`).
    #[serde(default)]
    pub tcp_established: bool,
    /// Keep the restore log and statistics files in the container directory.
    #[serde(default)]
    pub keep: bool,
}

/// Options of `CheckpointContainer`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointOptions {
    /// Leave the container running after the checkpoint (`--leave-running`).
    #[serde(default)]
    pub leave_running: bool,
    /// Checkpoint established TCP connections (`--tcp-established`).
    #[serde(default)]
    pub tcp_established: bool,
    /// Keep the dump log and statistics files in the container directory.
    #[serde(default)]
    pub keep: bool,
}

/// conmon's part of `RuntimeInfo`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConmonInfo {
    /// Owning package (`rpm -qf` or `dpkg -S`), or `Unknown`.
    pub package: String,
    /// Binary path.
    pub path: PathBuf,
    /// `conmon --version` with its first newline replaced by ", ".
    pub version: String,
}

/// The OCI runtime's part of `RuntimeInfo`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OciRuntimeInfo {
    /// Runtime name.
    pub name: String,
    /// Owning package, or `Unknown`.
    pub package: String,
    /// Binary path.
    pub path: PathBuf,
    /// `<runtime> --version` output without its trailing newline.
    pub version: String,
}

/// podman's `OCIRuntime` interface.
///
/// Implementations are shared between threads; every method may be called concurrently.
pub trait OciRuntime: Send + Sync {
    /// `Name()`: the runtime's name.
    fn name(&self) -> &str;

    /// `Path()`: the runtime binary's path.
    fn path(&self) -> &Path;

    /// `CreateContainer`: spawns conmon, which runs `runtime create` (or `restore`), and
    /// blocks until conmon reports the container's pid or the runtime's error.
    fn create_container(&self, ctr: &Container, restore: Option<&RestoreOptions>) -> Result<()>;

    /// `UpdateContainerStatus`: reads the container's status from `runtime state`, or from
    /// conmon's exit file when one exists. Once the process has exited, it reads the exit
    /// code and OOM marker from conmon's files.
    fn update_container_status(&self, ctr: &Container) -> Result<()>;

    /// `StartContainer`: runs `runtime start`.
    fn start_container(&self, ctr: &Container) -> Result<()>;

    /// `KillContainer`: sends `signal` to the container's init process, or to every process
    /// of the container when `all` is set.
    fn kill_container(&self, ctr: &Container, signal: i32, all: bool) -> Result<()>;

    /// `StopContainer`: sends the stop signal, waits up to `timeout_s` seconds for the
    /// process to exit, then sends SIGKILL. Timeout 0 sends SIGKILL at once. Returns as soon
    /// as the process is gone.
    fn stop_container(&self, ctr: &Container, timeout_s: u32, all: bool) -> Result<()>;

    /// `DeleteContainer`: runs `runtime delete --force` and removes the library's files.
    fn delete_container(&self, ctr: &Container) -> Result<()>;

    /// `PauseContainer`: freezes the container.
    fn pause_container(&self, ctr: &Container) -> Result<()>;

    /// `UnpauseContainer`: thaws the container.
    fn unpause_container(&self, ctr: &Container) -> Result<()>;

    /// `Attach` (podman 4 and later): connects to the container's attach socket and streams
    /// its output to `sink` on library threads. With `options.start`, it starts the created
    /// container once connected.
    fn attach(
        &self,
        ctr: &Container,
        options: &AttachOptions,
        sink: Box<dyn OutputSink>,
    ) -> Result<AttachSession>;

    /// `HTTPAttach`: streams the container over a hijacked connection, which the call owns
    /// and closes. Returns when the streams end, on detach, or when `cancel` fires.
    fn http_attach(
        &self,
        ctr: &Container,
        conn: OwnedFd,
        options: &HttpAttachOptions,
        buffered: &[u8],
        cancel: Option<&Cancel>,
    ) -> Result<AttachOutcome>;

    /// `AttachResize`: sets the terminal size of a terminal container.
    fn attach_resize(&self, ctr: &Container, width: u16, height: u16) -> Result<()>;

    /// `ExecContainer`: runs a command in the running container under its own conmon.
    /// Returns as soon as the command runs, with its host pid and a handle that follows the
    /// session: `streams` selects callbacks, or none (detached).
    fn exec_container(
        &self,
        ctr: &Container,
        session_id: &str,
        options: &ExecOptions,
        streams: Streams,
    ) -> Result<(i32, Box<dyn SessionHandle>)>;

    /// `ExecContainerHTTP`: as `exec_container`, with the streams on a hijacked HTTP
    /// connection (framed as HTTP attach), which the session owns and closes.
    #[allow(clippy::too_many_arguments)]
    fn exec_container_http(
        &self,
        ctr: &Container,
        session_id: &str,
        options: &ExecOptions,
        conn: OwnedFd,
        http_options: HttpAttachOptions,
        buffered: Vec<u8>,
        cancel: Option<Cancel>,
    ) -> Result<(i32, Box<dyn SessionHandle>)>;

    /// `ExecAttachResize`: sets the terminal size of a terminal exec session.
    fn exec_attach_resize(
        &self,
        ctr: &Container,
        session_id: &str,
        width: u16,
        height: u16,
    ) -> Result<()>;

    /// `ExecStopContainer`: SIGTERM, then SIGKILL after `timeout_s` seconds (at once for 0);
    /// returns when the command is gone.
    fn exec_stop_container(&self, ctr: &Container, session_id: &str, timeout_s: u32) -> Result<()>;

    /// `ExecUpdateStatus`: whether the command still runs, and its exit code once it exited.
    fn exec_update_status(&self, ctr: &Container, session_id: &str) -> Result<(bool, Option<i32>)>;

    /// `ExecContainerCleanup`: removes every file of an exited session.
    fn exec_container_cleanup(&self, ctr: &Container, session_id: &str) -> Result<()>;

    /// `ExecAttachSocketPath`: the path of the session's attach socket.
    fn exec_attach_socket_path(&self, ctr: &Container, session_id: &str) -> Result<PathBuf>;

    /// `CheckpointContainer`: checkpoints the container with CRIU through the runtime.
    fn checkpoint_container(&self, ctr: &Container, options: &CheckpointOptions) -> Result<()>;

    /// `SupportsCheckpoint`: whether the runtime can checkpoint and CRIU is installed.
    fn supports_checkpoint(&self) -> bool;

    /// `SupportsJSONErrors`: whether the runtime writes JSON error logs.
    fn supports_json_errors(&self) -> bool;

    /// `SupportsNoCgroups`: whether the runtime can run containers without cgroups.
    fn supports_no_cgroups(&self) -> bool;

    /// `SupportsKVM`: whether the runtime runs containers in virtual machines.
    fn supports_kvm(&self) -> bool;

    /// `AttachSocketPath`: the path of the container's attach socket.
    fn attach_socket_path(&self, ctr: &Container) -> Result<PathBuf>;

    /// `ExitFilePath`: the path of the file conmon writes the exit code to.
    fn exit_file_path(&self, ctr: &Container) -> Result<PathBuf>;

    /// `RuntimeInfo`: versions and packages of conmon and the runtime.
    fn runtime_info(&self) -> Result<(ConmonInfo, OciRuntimeInfo)>;
}
