//! The runtime configuration: the JSON given to `ocirt_runtime_new`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Default `PATH` for conmon and the runtime commands, as containers.conf has it.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runtime configuration. Every field is optional; unknown fields are rejected.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Runtime name (`runc`, `crun`, `youki`, ...); it selects the default probe list and is
    /// looked up in the support lists. Default `runc`.
    #[serde(default = "default_name")]
    pub name: String,
    /// Explicit runtime binary. When set, no probing happens and the path must be an
    /// executable regular file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Candidate runtime binaries, tried in order; the first regular file wins. Default: the
    /// usual install locations for the runtime's name, then a `$PATH` lookup of the name.
    #[serde(default)]
    pub paths: Option<Vec<PathBuf>>,
    /// Explicit conmon binary (no probing).
    #[serde(default)]
    pub conmon_path: Option<PathBuf>,
    /// Candidate conmon binaries, tried in order; the first whose `--version` is new enough
    /// wins.
    #[serde(default)]
    pub conmon_paths: Option<Vec<PathBuf>>,
    /// Base directory for `state_dir`, `exit_dir` and `socket_dir` when those are not given.
    /// Default `/run/ocirt` for root, `$XDG_RUNTIME_DIR/ocirt` otherwise.
    #[serde(default)]
    pub run_dir: Option<PathBuf>,
    /// Directory that contains one directory per container (default `<run_dir>/containers`).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Directory in which conmon writes exit files (default `<run_dir>/exits`).
    #[serde(default)]
    pub exit_dir: Option<PathBuf>,
    /// Directory in which conmon links each attach socket's directory (default
    /// `<run_dir>/socket`).
    #[serde(default)]
    pub socket_dir: Option<PathBuf>,
    /// The runtime's `--root` state directory. Default: the runtime's own default.
    #[serde(default)]
    pub runtime_root: Option<PathBuf>,
    /// Extra global runtime arguments, placed before the subcommand of every runtime command,
    /// whether conmon or the library runs it (for example `["--systemd-cgroup"]`).
    #[serde(default)]
    pub runtime_flags: Vec<String>,
    /// conmon's `--log-level`: `panic`, `fatal`, `error`, `warning`, `warn`, `info`, `debug`
    /// or `trace`. Default `error`. At `debug`, runtime errors are not captured through the
    /// runtime's JSON error log, and conmon's own debug lines appear in exec output.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// `cgroupfs` (default) or `systemd`.
    #[serde(default = "default_cgroup_manager")]
    pub cgroup_manager: String,
    /// Environment of conmon (`KEY=value` entries). Default: a standard `PATH`.
    #[serde(default = "default_conmon_env")]
    pub conmon_env: Vec<String>,
    /// Default maximum size in bytes of a container's k8s-file log before conmon truncates
    /// it; negative means unlimited. A container's own `log_size_max` overrides it.
    #[serde(default = "default_log_size_max")]
    pub log_size_max: i64,
    /// Pass `--no-pivot` to the runtime (for rootfs on a ramdisk).
    #[serde(default)]
    pub no_pivot: bool,
    /// Runtime names that support `--log-format=json`.
    #[serde(default = "default_json_errors")]
    pub supports_json_errors: Vec<String>,
    /// Runtime names that can run containers without cgroups.
    #[serde(default = "default_no_cgroups")]
    pub supports_no_cgroups: Vec<String>,
    /// Runtime names that run containers in virtual machines.
    #[serde(default = "default_kvm")]
    pub supports_kvm: Vec<String>,
    /// Maximum time in milliseconds that create waits for conmon to report the container pid,
    /// and that an exec start waits for each conmon message. Default 240000 (4 minutes), as
    /// in podman.
    #[serde(default = "default_create_timeout_ms")]
    pub create_timeout_ms: u64,
}

fn default_name() -> String {
    "runc".to_string()
}

fn default_log_level() -> String {
    "error".to_string()
}

fn default_cgroup_manager() -> String {
    "cgroupfs".to_string()
}

fn default_conmon_env() -> Vec<String> {
    vec![DEFAULT_PATH.to_string()]
}

fn default_log_size_max() -> i64 {
    -1
}

fn default_json_errors() -> Vec<String> {
    ["crun", "runc", "kata", "runsc", "youki", "krun", "ocijail"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn default_no_cgroups() -> Vec<String> {
    vec!["crun".to_string(), "krun".to_string()]
}

fn default_kvm() -> Vec<String> {
    ["kata", "kata-runtime", "kata-qemu", "kata-fc", "krun"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn default_create_timeout_ms() -> u64 {
    240_000
}

/// Log levels conmon 2.1.6 accepts; it exits on any other value.
const CONMON_LOG_LEVELS: [&str; 8] = [
    "panic", "fatal", "error", "warning", "warn", "info", "debug", "trace",
];

impl Default for RuntimeConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("an empty object is a valid runtime config")
    }
}

impl RuntimeConfig {
    /// Parses and validates the runtime configuration JSON.
    pub fn from_json(text: &str) -> Result<RuntimeConfig> {
        let config: RuntimeConfig = crate::json::parse(text, "runtime config")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values serde cannot check.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("runtime config: \"name\" must not be empty"));
        }
        if self.name.contains('/') || self.name.contains('\0') {
            return Err(Error::invalid(format!(
                "runtime config: \"name\" {:?} must be a plain name; give a path in \"path\"",
                self.name
            )));
        }
        let level = self.log_level.to_ascii_lowercase();
        if !CONMON_LOG_LEVELS.contains(&level.as_str()) {
            return Err(Error::invalid(format!(
                "runtime config: \"log_level\" {:?} is not one of {}",
                self.log_level,
                CONMON_LOG_LEVELS.join(", ")
            )));
        }
        if self.cgroup_manager != "cgroupfs" && self.cgroup_manager != "systemd" {
            return Err(Error::invalid(format!(
                "runtime config: \"cgroup_manager\" {:?} must be \"cgroupfs\" or \"systemd\"",
                self.cgroup_manager
            )));
        }
        for (field, value) in [
            ("run_dir", &self.run_dir),
            ("state_dir", &self.state_dir),
            ("exit_dir", &self.exit_dir),
            ("socket_dir", &self.socket_dir),
            ("runtime_root", &self.runtime_root),
            ("path", &self.path),
            ("conmon_path", &self.conmon_path),
        ] {
            if let Some(path) = value {
                if !path.is_absolute() {
                    return Err(Error::invalid(format!(
                        "runtime config: \"{}\" must be an absolute path, got {:?}",
                        field, path
                    )));
                }
            }
        }
        for entry in &self.conmon_env {
            if !entry.contains('=') || entry.starts_with('=') {
                return Err(Error::invalid(format!(
                    "runtime config: \"conmon_env\" entry {:?} is not KEY=value",
                    entry
                )));
            }
        }
        for flag in &self.runtime_flags {
            if flag.is_empty() {
                return Err(Error::invalid(
                    "runtime config: \"runtime_flags\" must not contain empty strings",
                ));
            }
        }
        if self.create_timeout_ms == 0 {
            return Err(Error::invalid(
                "runtime config: \"create_timeout_ms\" must be greater than 0",
            ));
        }
        Ok(())
    }

    /// Returns the conmon log level in the spelling conmon accepts.
    pub fn conmon_log_level(&self) -> String {
        self.log_level.to_ascii_lowercase()
    }

    /// Returns true when the log level is `debug` or `trace`.
    pub fn is_debug(&self) -> bool {
        matches!(self.conmon_log_level().as_str(), "debug" | "trace")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = RuntimeConfig::from_json("{}").unwrap();
        assert_eq!(config.name, "runc");
        assert_eq!(config.log_size_max, -1);
        assert!(config.supports_json_errors.contains(&"runc".to_string()));
    }

    #[test]
    fn rejects_unknown_field_by_name() {
        let err = RuntimeConfig::from_json(r#"{"nmae": "runc"}"#).unwrap_err();
        assert!(err.message().contains("nmae"), "{}", err.message());
    }

    #[test]
    fn rejects_bad_values() {
        for (json, needle) in [
            (r#"{"name": ""}"#, "name"),
            (r#"{"log_level": "loud"}"#, "loud"),
            (r#"{"cgroup_manager": "x"}"#, "\"x\""),
            (r#"{"state_dir": "relative"}"#, "relative"),
            (r#"{"conmon_env": ["NOEQUALS"]}"#, "NOEQUALS"),
            (r#"{"create_timeout_ms": 0}"#, "create_timeout_ms"),
        ] {
            let err = RuntimeConfig::from_json(json).unwrap_err();
            assert!(
                err.message().contains(needle),
                "{} -> {}",
                json,
                err.message()
            );
        }
    }
}
