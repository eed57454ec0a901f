//! The container configuration: the JSON given to `ocirt_container_new`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids;
use crate::process;

/// A signal given as a number (`15`) or a name (`"SIGTERM"`, `"TERM"`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SignalSpec {
    /// A signal number.
    Number(i32),
    /// A signal name.
    Name(String),
}

impl<'de> Deserialize<'de> for SignalSpec {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Number(n) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(SignalSpec::Number)
                .ok_or_else(|| serde::de::Error::custom(format!("{} is not a signal number", n))),
            serde_json::Value::String(name) => Ok(SignalSpec::Name(name)),
            other => Err(serde::de::Error::custom(format!(
                "expected a signal number or a name such as \"SIGTERM\", got {}",
                other
            ))),
        }
    }
}

impl std::fmt::Display for SignalSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalSpec::Number(n) => write!(f, "{}", n),
            SignalSpec::Name(name) => write!(f, "{:?}", name),
        }
    }
}

impl SignalSpec {
    /// Returns the signal number, or an error naming the invalid value.
    pub fn number(&self) -> Result<i32> {
        let parsed = match self {
            SignalSpec::Number(n) => process::parse_signal(&n.to_string()),
            SignalSpec::Name(name) => process::parse_signal(name),
        };
        parsed.ok_or_else(|| {
            Error::invalid(format!(
                "container config: \"stop_signal\" {} is not a valid signal; use a number from 1 to {} or a name such as \"SIGTERM\"",
                self,
                libc::SIGRTMAX()
            ))
        })
    }
}

/// Container configuration. Unknown fields are rejected.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    /// Container id: 1-128 ASCII letters, digits, `_`, `.`, `+`, `-`, not starting with `.`
    /// or `-`.
    pub id: String,
    /// Container name, for conmon's journald fields. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// OCI bundle directory holding `config.json`. A relative `root.path` in it is relative to
    /// the bundle. Give either `bundle` or `spec`.
    #[serde(default)]
    pub bundle: Option<PathBuf>,
    /// Inline OCI runtime spec (the content of a `config.json`).
    #[serde(default)]
    pub spec: Option<serde_json::Value>,
    /// Absolute root filesystem path; overrides the spec's `root.path`. Required with an
    /// inline `spec` whose `root.path` is not absolute.
    #[serde(default)]
    pub rootfs: Option<PathBuf>,
    /// Keep the container's stdin open so attach sessions can write to it (conmon `-i`).
    /// Ignored for terminal containers, whose terminal always accepts input. conmon closes the
    /// process's stdin when any attach session with stdin ends (detach included), unless
    /// `leave_stdin_open` is set.
    #[serde(default)]
    pub stdin: bool,
    /// Keep the process's stdin open when attach sessions end (conmon
    /// `--leave-stdin-open`), so a detached session can attach again and go on writing. The
    /// process then never reads the end of its input.
    #[serde(default)]
    pub leave_stdin_open: bool,
    /// `k8s-file` (default), `json-file` (written as k8s-file, as podman does), `journald`
    /// or `none`.
    #[serde(default)]
    pub log_driver: Option<String>,
    /// Absolute log file path for `k8s-file`. Default: `ctr.log` in the container's state
    /// directory. conmon cuts the path at `:`, so a path with `:` is rejected.
    #[serde(default)]
    pub log_path: Option<PathBuf>,
    /// Maximum log size in bytes before conmon truncates the log; negative means unlimited.
    /// Default: the runtime's `log_size_max`.
    #[serde(default)]
    pub log_size_max: Option<i64>,
    /// journald `SYSLOG_IDENTIFIER`; only valid with the `journald` driver.
    #[serde(default)]
    pub log_tag: Option<String>,
    /// Signal that `stop` sends first. Default SIGTERM.
    #[serde(default)]
    pub stop_signal: Option<SignalSpec>,
    /// Command conmon runs after the container exits: an absolute program path, then its
    /// arguments. conmon runs it with execv, so no `$PATH` search happens.
    #[serde(default)]
    pub exit_command: Vec<String>,
    /// Seconds conmon waits after the exit before it runs the exit command.
    #[serde(default)]
    pub exit_command_delay: Option<u32>,
    /// Absolute path where conmon writes its own pid. Default: `conmon.pid` in the
    /// container's state directory.
    #[serde(default)]
    pub conmon_pidfile: Option<PathBuf>,
    /// Extra options for `runtime create` (conmon `--runtime-opt`), such as `["--no-new-keyring"]`.
    #[serde(default)]
    pub runtime_args: Vec<String>,
    /// Number of host descriptors, starting at 3, that the container inherits as 3, 4, ...
    /// They are read from the process that calls `ocirt_container_create`.
    #[serde(default)]
    pub preserve_fds: u32,
    /// Run without cgroups (`--cgroup-manager disabled`; only runtimes in the runtime's
    /// `supports_no_cgroups` list).
    #[serde(default)]
    pub no_cgroups: bool,
}

/// The log drivers conmon 2.1.6 supports here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogDriver {
    /// conmon's k8s-file format.
    K8sFile,
    /// systemd's journal.
    Journald,
    /// No log.
    None,
}

impl ContainerConfig {
    /// Parses and validates the container configuration JSON.
    pub fn from_json(text: &str) -> Result<ContainerConfig> {
        let config: ContainerConfig = crate::json::parse(text, "container config")?;
        config.validate()?;
        Ok(config)
    }

    /// Returns the name, defaulting to the id.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Returns the log driver.
    pub fn log_driver(&self) -> Result<LogDriver> {
        match self.log_driver.as_deref() {
            None | Some("") | Some("k8s-file") | Some("json-file") => Ok(LogDriver::K8sFile),
            Some("journald") => Ok(LogDriver::Journald),
            Some("none") => Ok(LogDriver::None),
            Some(other) => Err(Error::invalid(format!(
                "container config: \"log_driver\" {:?} is not one of k8s-file, json-file, journald, none",
                other
            ))),
        }
    }

    /// Returns the stop signal number (default SIGTERM).
    pub fn stop_signal(&self) -> Result<i32> {
        match &self.stop_signal {
            Some(spec) => spec.number(),
            None => Ok(libc::SIGTERM),
        }
    }

    /// Checks the values serde cannot check.
    pub fn validate(&self) -> Result<()> {
        ids::validate(&self.id, "container id")?;
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains('\0') || name.contains('\n') {
                return Err(Error::invalid(format!(
                    "container config: \"name\" {:?} must be non-empty text without NUL or newline",
                    name
                )));
            }
        }
        match (&self.bundle, &self.spec) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "container config: give either \"bundle\" or \"spec\", not both",
                ))
            }
            (None, None) => {
                return Err(Error::invalid(
                    "container config: one of \"bundle\" (a directory with config.json) or \"spec\" (an inline OCI spec) is required",
                ))
            }
            _ => {}
        }

        for (field, value) in [
            ("bundle", &self.bundle),
            ("rootfs", &self.rootfs),
            ("log_path", &self.log_path),
            ("conmon_pidfile", &self.conmon_pidfile),
        ] {
            if let Some(path) = value {
                if !path.is_absolute() {
                    return Err(Error::invalid(format!(
                        "container config: \"{}\" must be an absolute path, got {:?}",
                        field, path
                    )));
                }
            }
        }

        let driver = self.log_driver()?;
        if let Some(path) = &self.log_path {
            if driver == LogDriver::K8sFile && path.to_string_lossy().contains(':') {
                return Err(Error::invalid(format!(
                    "container config: \"log_path\" {:?} contains ':', which conmon cannot parse",
                    path
                )));
            }
        }
        if let Some(tag) = &self.log_tag {
            if driver != LogDriver::Journald {
                return Err(Error::invalid(format!(
                    "container config: \"log_tag\" {:?} needs log_driver \"journald\"; conmon rejects a tag for other drivers",
                    tag
                )));
            }
        }

        self.stop_signal()?;
        if let Some(program) = self.exit_command.first() {
            if !program.starts_with('/') {
                return Err(Error::invalid(format!(
                    "container config: \"exit_command\" program {:?} must be an absolute path (conmon does not search $PATH)",
                    program
                )));
            }
        }
        if self.exit_command_delay.is_some() && self.exit_command.is_empty() {
            return Err(Error::invalid(
                "container config: \"exit_command_delay\" needs an \"exit_command\"",
            ));
        }
        for arg in self.exit_command.iter().chain(&self.runtime_args) {
            if arg.contains('\0') {
                return Err(Error::invalid(format!(
                    "container config: argument {:?} contains a NUL byte",
                    arg
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_config(extra: &str) -> String {
        format!(r#"{{"id": "c1", "bundle": "/b"{}}}"#, extra)
    }

    #[test]
    fn minimal_bundle_config() {
        let config = ContainerConfig::from_json(&bundle_config("")).unwrap();
        assert_eq!(config.name(), "c1");
        assert_eq!(config.stop_signal().unwrap(), libc::SIGTERM);
        assert_eq!(config.log_driver().unwrap(), LogDriver::K8sFile);
    }

    #[test]
    fn signals_by_name_and_number() {
        let config =
            ContainerConfig::from_json(&bundle_config(r#", "stop_signal": "SIGINT""#)).unwrap();
        assert_eq!(config.stop_signal().unwrap(), libc::SIGINT);
        let config = ContainerConfig::from_json(&bundle_config(r#", "stop_signal": 3"#)).unwrap();
        assert_eq!(config.stop_signal().unwrap(), 3);
    }

    #[test]
    fn rejects_invalid_configs_naming_the_value() {
        for (json, needle) in [
            (r#"{"id": "../x", "bundle": "/b"}"#.to_string(), "../x"),
            (r#"{"id": "c1"}"#.to_string(), "required"),
            (bundle_config(r#", "spec": {}"#), "not both"),
            (bundle_config(r#", "log_path": "rel.log""#), "rel.log"),
            (bundle_config(r#", "log_path": "/a:b.log""#), "/a:b.log"),
            (bundle_config(r#", "log_tag": "t""#), "journald"),
            (bundle_config(r#", "stop_signal": "SIGNOPE""#), "SIGNOPE"),
            (bundle_config(r#", "exit_command": ["cleanup"]"#), "cleanup"),
            (bundle_config(r#", "log_driver": "syslog""#), "syslog"),
            (bundle_config(r#", "colour": 1"#), "colour"),
        ] {
            let err = ContainerConfig::from_json(&json).unwrap_err();
            assert_eq!(
                err.kind(),
                crate::error::ocirt_result::OCIRT_ERR_INVALID_ARGUMENT
            );
            assert!(
                err.message().contains(needle),
                "{} -> {}",
                json,
                err.message()
            );
        }
    }
}
