//! The container's persisted state: libpod's status values and the fields the lifecycle
//! methods write.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Container status, as libpod names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Configured but not created in the runtime.
    Configured,
    /// Created in the runtime; the process waits for `start`.
    Created,
    /// Started and not known to have exited.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The process exited; the runtime still knows the container.
    Stopped,
    /// The process exited and the runtime no longer knows the container.
    Exited,
}

impl Status {
    /// Returns the lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Configured => "configured",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
            Status::Exited => "exited",
        }
    }

    /// True for the states in which the runtime holds a live container process.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The mutable state of a container, stored in `state.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContainerState {
    /// Random token written when the container is configured; a handle whose token differs
    /// from the stored one refers to a container that was deleted (and maybe re-created).
    pub instance: String,
    /// Current status.
    pub status: Status,
    /// Host pid of the container's init process; 0 when there is none.
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot, to detect pid reuse.
    #[serde(default)]
    pub pid_start_time: Option<u64>,
    /// pid of the conmon monitor; 0 when there is none.
    pub conmon_pid: i32,
    /// Start time of `conmon_pid`.
    #[serde(default)]
    pub conmon_start_time: Option<u64>,
    /// Exit code once the process exited: 0-255, 128+N after signal N, -1 when unknown.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Whether the kernel's OOM killer acted in the container.
    #[serde(default)]
    pub oom_killed: bool,
    /// RFC 3339 time of the last successful create.
    #[serde(default)]
    pub created_at: Option<String>,
    /// RFC 3339 time of the last start (or restore).
    #[serde(default)]
    pub started_at: Option<String>,
    /// RFC 3339 time of the last exit.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Whether the last create was a restore from a checkpoint.
    #[serde(default)]
    pub restored: bool,
    /// Whether the container was checkpointed since its last create.
    #[serde(default)]
    pub checkpointed: bool,
}

impl ContainerState {
    /// A fresh state for a configured container.
    pub fn configured(instance: String) -> ContainerState {
        ContainerState {
            instance,
            status: Status::Configured,
            pid: 0,
            pid_start_time: None,
            conmon_pid: 0,
            conmon_start_time: None,
            exit_code: None,
            oom_killed: false,
            created_at: None,
            started_at: None,
            finished_at: None,
            restored: false,
            checkpointed: false,
        }
    }

    /// The container's init process.
    pub fn init_process(&self) -> crate::process::ProcessId {
        crate::process::ProcessId {
            pid: self.pid,
            start_time: self.pid_start_time,
        }
    }

    /// The conmon monitor process.
    pub fn conmon_process(&self) -> crate::process::ProcessId {
        crate::process::ProcessId {
            pid: self.conmon_pid,
            start_time: self.conmon_start_time,
        }
    }
}
