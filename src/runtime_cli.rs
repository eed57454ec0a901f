//! Direct calls of the OCI runtime's command line (`start`, `kill`, `state`, `delete`, ...).
//!
//! Every call gets the same global flags (`--root` and the configured runtime flags) that conmon
//! passes to the runtime, so both find the same container state. Arguments are passed as argv;
//! no shell is involved. stdout and stderr are captured concurrently, so a runtime that writes
//! a lot to both cannot deadlock the call.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{ocirt_result, Error, Result};
use crate::process;

/// Runner of the runtime binary's commands: its path, global arguments and environment.
#[derive(Clone, Debug)]
pub struct RuntimeCli {
    path: PathBuf,
    global_args: Vec<String>,
    xdg_runtime_dir: String,
    path_env: String,
}

/// Returns the result code for a runtime's error message, by the texts runc and crun print.
pub fn classify_message(message: &str) -> ocirt_result {
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission denied") || lower.contains("operation not permitted") {
        ocirt_result::OCIRT_ERR_RUNTIME_PERMISSION_DENIED
    } else if lower.contains("executable file not found in")
        || lower.contains("no such file or directory")
        || lower.contains("open executable")
    {
        ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND
    } else {
        ocirt_result::OCIRT_ERR_OCI_RUNTIME
    }
}

/// Extracts the human message from a runtime's stderr: runc writes logrus lines
/// (`time="…" level=error msg="…"`), crun writes plain text. Returns the messages joined by
/// "; ", or the trimmed text when no `msg=` field is present.
pub fn runtime_message(stderr: &str) -> String {
    let mut messages = Vec::new();
    for line in stderr.lines() {
        if let Some(start) = line.find("msg=\"") {
            let mut message = String::new();
            let mut chars = line[start + 5..].chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => message.push('\n'),
                        Some('t') => message.push('\t'),
                        Some(other) => message.push(other),
                        None => break,
                    },
                    '"' => break,
                    other => message.push(other),
                }
            }
            messages.push(message);
        } else if !line.trim().is_empty() {
            messages.push(line.trim().to_string());
        }
    }
    messages.join("; ")
}

impl RuntimeCli {
    /// Describes the runtime at `path` with its global arguments. `xdg_runtime_dir` is the
    /// value of `XDG_RUNTIME_DIR` for the runtime (empty for root, as podman passes it).
    pub fn new(path: PathBuf, global_args: Vec<String>, xdg_runtime_dir: String) -> RuntimeCli {
        let path_env = std::env::var("PATH")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| crate::runtime::config::DEFAULT_PATH["PATH=".len()..].to_string());
        RuntimeCli {
            path,
            global_args,
            xdg_runtime_dir,
            path_env,
        }
    }

    /// Returns the runtime binary's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the global arguments placed before every subcommand.
    pub fn global_args(&self) -> &[String] {
        &self.global_args
    }

    /// Returns the `XDG_RUNTIME_DIR` value given to the runtime.
    pub fn xdg_runtime_dir(&self) -> &str {
        &self.xdg_runtime_dir
    }

    /// Builds the command `<runtime> <global args> <args>` with an explicit environment
    /// (`XDG_RUNTIME_DIR`, `PATH`, and `NOTIFY_SOCKET` when the host has one), no stdin and
    /// no inherited descriptors beyond 0-2.
    pub fn command(&self, args: &[OsString]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(&self.global_args)
            .args(args)
            .env_clear()
            .env("XDG_RUNTIME_DIR", &self.xdg_runtime_dir)
            .env("PATH", &self.path_env)
            .stdin(Stdio::null());
        if let Some(notify) = std::env::var_os("NOTIFY_SOCKET") {
            cmd.env("NOTIFY_SOCKET", notify);
        }
        process::set_fd_map(&mut cmd, &[]);
        cmd
    }

    /// Runs the runtime with `args` and returns its output whatever the exit status.
    pub fn run_raw(&self, args: &[&str]) -> Result<Output> {
        let os_args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let mut cmd = self.command(&os_args);
        let mut words: Vec<&str> = self.global_args.iter().map(String::as_str).collect();
        words.extend_from_slice(args);
        log::debug!("running {} {}", self.path.display(), words.join(" "));
        cmd.output().map_err(|err| {
            Error::new(
                ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
                format!(
                    "cannot run `{} {}`: {}",
                    self.path.display(),
                    args.join(" "),
                    err
                ),
            )
        })
    }

    /// Runs the runtime with `args` and fails with a classified error carrying the runtime's
    /// message when it exits non-zero.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        let output = self.run_raw(args)?;
        if output.status.success() {
            return Ok(output);
        }
        Err(self.failure(args, &output))
    }

    /// Builds the error for a failed call: "`runc kill c1 9` failed (exit status: 1): container
    /// not running".
    pub fn failure(&self, args: &[&str], output: &Output) -> Error {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut message = runtime_message(&stderr);
        if message.is_empty() {
            message = String::from_utf8_lossy(&output.stdout).trim().to_string();
        }
        let program = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        Error::new(
            classify_message(&message),
            format!(
                "`{} {}` failed ({}): {}",
                program,
                args.join(" "),
                output.status,
                message
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_logrus_messages() {
        let stderr = "time=\"2026-12-04T19:20:07Z\" level=error msg=\"container \\\"x\\\" does not exist\"\n";
        assert_eq!(runtime_message(stderr), "container \"x\" does not exist");
        assert_eq!(runtime_message("plain crun text\n"), "plain crun text");
    }

    #[test]
    fn classifies_like_podman() {
        assert_eq!(
            classify_message("exec: \"/x\": stat /x: no such file or directory"),
            ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND
        );
        assert_eq!(
            classify_message("exec: \"/etc\": Permission Denied"),
            ocirt_result::OCIRT_ERR_RUNTIME_PERMISSION_DENIED
        );
        assert_eq!(
            classify_message("container not running"),
            ocirt_result::OCIRT_ERR_OCI_RUNTIME
        );
    }
}
