//! conmon arguments and environment shared by container create and exec sessions.

use std::ffi::OsString;
use std::path::Path;

use crate::container::Container;
use crate::oci_runtime::OciRuntime;
use crate::runtime::ConmonRuntime;

/// An argument list under construction.
#[derive(Default)]
pub struct Args(pub Vec<OsString>);

impl Args {
    /// Appends each item as one argument.
    pub fn push(&mut self, items: &[&str]) {
        self.0.extend(items.iter().map(OsString::from));
    }

    /// Appends `flag` and a path argument.
    pub fn push_path(&mut self, flag: &str, path: &Path) {
        self.0.push(OsString::from(flag));
        self.0.push(path.as_os_str().to_os_string());
    }
}

/// The settings in which the conmon of a container and that of an exec session differ.
pub struct Target<'a> {
    /// conmon's `-u`, which names the socket link: the container id, or the exec session's
    /// [`crate::exec::conmon_uuid`].
    pub cuuid: &'a str,
    /// conmon's bundle (`-b`) and working directory.
    pub bundle: &'a Path,
    /// The runtime's pid file (`-p`).
    pub pidfile: &'a Path,
    /// Directory in which conmon writes the exit file.
    pub exit_dir: &'a Path,
    /// conmon's `-l` value.
    pub log: String,
    /// File to which the runtime writes JSON errors, when it supports that.
    pub oci_log: &'a Path,
}

/// Builds the arguments every conmon gets, in the order podman passes them.
pub fn shared(runtime: &ConmonRuntime, ctr: &Container, target: &Target<'_>) -> Args {
    let config = ctr.config();
    let mut args = Args::default();
    // conmon 2.1.6 treats --api-version as a flag and ignores the "1" after it. Older conmon
    // releases took a value, so the "1" stays.
    args.push(&["--api-version", "1"]);
    args.push(&["-c", ctr.id(), "-u", target.cuuid]);
    args.push_path("-r", runtime.path());
    args.push_path("-b", target.bundle);
    args.push_path("-p", target.pidfile);
    args.push(&["-n", config.name()]);
    args.push_path("--exit-dir", target.exit_dir);
    args.push_path("--socket-dir-path", runtime.socket_dir());

    if runtime.config().cgroup_manager == "systemd" && !config.no_cgroups {
        args.push(&["-s"]);
    }
    args.push(&["-l", &target.log]);
    args.push(&["--log-level", &runtime.config().conmon_log_level()]);
    if runtime.config().is_debug() {
        args.push(&["--syslog"]);
    }

    // Options that conmon passes on to the runtime.
    for arg in runtime.cli().global_args() {
        args.push(&[&format!("--runtime-arg={}", arg)]);
    }
    if runtime.supports_json_errors() && !runtime.config().is_debug() {
        args.push(&["--runtime-arg=--log-format=json", "--runtime-arg=--log"]);
        args.push(&[&format!("--runtime-arg={}", target.oci_log.display())]);
    }
    if config.no_cgroups {
        args.push(&["--runtime-arg=--cgroup-manager", "--runtime-arg=disabled"]);
    }
    args
}

/// Appends the exit command options.
pub fn exit_command(args: &mut Args, command: &[String], delay: Option<u32>) {
    if let Some((program, rest)) = command.split_first() {
        args.push(&["--exit-command", program]);
        for arg in rest {
            args.push(&["--exit-command-arg", arg]);
        }
        if let Some(delay) = delay {
            args.push(&["--exit-delay", &delay.to_string()]);
        }
    }
}

/// Returns conmon's environment: the configured entries and what podman adds.
pub fn environment(runtime: &ConmonRuntime) -> Vec<String> {
    let mut env = runtime.config().conmon_env.clone();
    env.push(format!(
        "XDG_RUNTIME_DIR={}",
        runtime.cli().xdg_runtime_dir()
    ));
    for key in ["_CONTAINERS_USERNS_CONFIGURED", "_CONTAINERS_ROOTLESS_UID"] {
        env.push(format!(
            "{}={}",
            key,
            std::env::var(key).unwrap_or_default()
        ));
    }
    env.push(format!(
        "HOME={}",
        std::env::var("HOME").unwrap_or_else(|_| "/".to_string())
    ));
    if let Ok(notify) = std::env::var("NOTIFY_SOCKET") {
        env.push(format!("NOTIFY_SOCKET={}", notify));
    }
    env
}
