//! Exec options: the JSON given to `ocirt_exec_start`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::attach::detach::DetachKeys;
use crate::error::{Error, Result};

/// Extra environment: an object of names to values, or an array of `NAME=value` entries.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ExecEnv {
    /// `{"NAME": "value"}`, applied in name order.
    Map(BTreeMap<String, String>),
    /// `["NAME=value"]`, applied in the given order.
    List(Vec<String>),
}

impl Default for ExecEnv {
    fn default() -> Self {
        ExecEnv::List(Vec::new())
    }
}

/// Options of an exec session. Unknown fields are rejected.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecOptions {
    /// The command and its arguments; required and non-empty.
    pub cmd: Vec<String>,
    /// Environment added to the container's (a later entry with the same name wins).
    #[serde(default)]
    pub env: ExecEnv,
    /// Run the command on a terminal.
    #[serde(default)]
    pub terminal: bool,
    /// Initial terminal width in columns (with `terminal`; needs `height`).
    #[serde(default)]
    pub width: Option<u16>,
    /// Initial terminal height in rows.
    #[serde(default)]
    pub height: Option<u16>,
    /// Working directory; default the container's.
    #[serde(default)]
    pub cwd: Option<String>,
    /// `uid`, `uid:gid`, `name` or `name:group`; names are looked up in the container's
    /// `/etc/passwd` and `/etc/group`. Default: the container's user.
    #[serde(default)]
    pub user: Option<String>,
    /// Capabilities added to the process (`CAP_NET_ADMIN` or `NET_ADMIN`).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Number of descriptors of the calling process, from 3 upward, that the command inherits
    /// as 3, 4, ...
    #[serde(default)]
    pub preserve_fds: u32,
    /// Attach stdin (the container needs nothing special: conmon opens a pipe or uses the
    /// terminal). Only for attached sessions.
    #[serde(default)]
    pub stdin: bool,
    /// Deliver stdout (default true).
    #[serde(default = "default_true")]
    pub stdout: bool,
    /// Deliver stderr (default true).
    #[serde(default = "default_true")]
    pub stderr: bool,
    /// Detach sequence; absent means `ctrl-p,ctrl-q`, `""` disables detaching.
    #[serde(default)]
    pub detach_keys: Option<String>,
    /// Command conmon runs after the session ends: an absolute program path, then arguments.
    #[serde(default)]
    pub exit_command: Vec<String>,
    /// Seconds conmon waits before it runs the exit command.
    #[serde(default)]
    pub exit_command_delay: Option<u32>,
    /// Bytes of output buffered while callbacks lag (default 8 MiB).
    #[serde(default = "default_buffer_limit")]
    pub buffer_limit: usize,
}

fn default_true() -> bool {
    true
}

fn default_buffer_limit() -> usize {
    crate::attach::OCIRT_DEFAULT_BUFFER_LIMIT
}

impl ExecOptions {
    /// Parses and validates the options JSON.
    pub fn from_json(text: &str) -> Result<ExecOptions> {
        let options: ExecOptions = crate::json::parse(text, "exec options")?;
        options.validate()?;
        Ok(options)
    }

    /// Checks the values serde cannot check.
    pub fn validate(&self) -> Result<()> {
        if self.cmd.is_empty() || self.cmd[0].is_empty() {
            return Err(Error::invalid(
                "exec options: \"cmd\" must be a non-empty array with a non-empty command",
            ));
        }
        for arg in self.cmd.iter().chain(&self.exit_command) {
            if arg.contains('\0') {
                return Err(Error::invalid(format!(
                    "exec options: argument {:?} contains a NUL byte",
                    arg
                )));
            }
        }
        for (name, value) in self.env_pairs()? {
            if name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0')
            {
                return Err(Error::invalid(format!(
                    "exec options: environment variable {:?} is invalid; use NAME=value with a non-empty NAME",
                    name
                )));
            }
        }
        match (self.width, self.height) {
            (None, None) => {}
            (Some(w), Some(h)) if w > 0 && h > 0 => {
                if !self.terminal {
                    return Err(Error::invalid("exec options: \"width\" and \"height\" need \"terminal\": true"));
                }
            }
            (w, h) => {
                return Err(Error::invalid(format!(
                    "exec options: give both \"width\" and \"height\", each at least 1 (got width {}, height {})",
                    crate::attach::describe_size(w),
                    crate::attach::describe_size(h)
                )))
            }
        }
        if let Some(cwd) = &self.cwd {
            if !cwd.starts_with('/') {
                return Err(Error::invalid(format!(
                    "exec options: \"cwd\" {:?} must be an absolute path",
                    cwd
                )));
            }
        }
        if let Some(user) = &self.user {
            if user.is_empty() || user.contains('\0') {
                return Err(Error::invalid(format!(
                    "exec options: \"user\" {:?} is invalid",
                    user
                )));
            }
        }
        for cap in &self.cap_add {
            let name = crate::exec::normalize_capability(cap);
            if name.len() <= 4
                || !name[4..]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_')
            {
                return Err(Error::invalid(format!(
                    "exec options: capability {:?} is not a capability name such as CAP_NET_ADMIN",
                    cap
                )));
            }
        }
        if let Some(program) = self.exit_command.first() {
            if !program.starts_with('/') {
                return Err(Error::invalid(format!(
                    "exec options: \"exit_command\" program {:?} must be an absolute path (conmon does not search $PATH)",
                    program
                )));
            }
        }
        if self.buffer_limit == 0 {
            return Err(Error::invalid(
                "exec options: \"buffer_limit\" must be greater than 0",
            ));
        }
        DetachKeys::parse_or_default(self.detach_keys.as_deref())?;
        Ok(())
    }

    /// Returns the extra environment as (name, value) pairs in the order they apply.
    pub fn env_pairs(&self) -> Result<Vec<(String, String)>> {
        match &self.env {
            ExecEnv::Map(map) => Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ExecEnv::List(list) => list
                .iter()
                .map(|entry| match entry.split_once('=') {
                    Some((name, value)) => Ok((name.to_string(), value.to_string())),
                    None => Err(Error::invalid(format!(
                        "exec options: environment entry {:?} is not NAME=value",
                        entry
                    ))),
                })
                .collect(),
        }
    }

    /// Returns the initial terminal size as (width, height), when given.
    pub fn size(&self) -> Option<(u16, u16)> {
        self.width.zip(self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_env_as_map_or_list() {
        let options =
            ExecOptions::from_json(r#"{"cmd": ["true"], "env": {"B": "2", "A": "1"}}"#).unwrap();
        assert_eq!(
            options.env_pairs().unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        let options =
            ExecOptions::from_json(r#"{"cmd": ["true"], "env": ["B=2", "A=x=y"]}"#).unwrap();
        assert_eq!(
            options.env_pairs().unwrap(),
            vec![("B".into(), "2".into()), ("A".into(), "x=y".into())]
        );
    }

    #[test]
    fn rejects_bad_options_by_value() {
        for (json, needle) in [
            (r#"{"cmd": []}"#, "cmd"),
            (r#"{"cmd": [""]}"#, "cmd"),
            (r#"{}"#, "missing field `cmd`"),
            (r#"{"cmd": ["true"], "env": ["NOVALUE"]}"#, "NOVALUE"),
            (r#"{"cmd": ["true"], "cwd": "tmp"}"#, "\"tmp\""),
            (
                r#"{"cmd": ["true"], "width": 80, "height": 24}"#,
                "terminal",
            ),
            (
                r#"{"cmd": ["true"], "cap_add": ["net admin"]}"#,
                "net admin",
            ),
            (r#"{"cmd": ["true"], "detach_keys": "ctrl-C"}"#, "ctrl-C"),
            (r#"{"cmd": ["true"], "exit_command": ["rel"]}"#, "rel"),
            (r#"{"cmd": ["true"], "colour": 1}"#, "colour"),
        ] {
            let err = ExecOptions::from_json(json).unwrap_err();
            assert!(
                err.message().contains(needle),
                "{} -> {}",
                json,
                err.message()
            );
        }
    }
}
