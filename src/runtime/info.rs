//! `RuntimeInfo` and `SupportsCheckpoint`: facts read from the installed binaries.

use std::process::Stdio;

use crate::error::Result;
use crate::oci_runtime::{ConmonInfo, OciRuntimeInfo};
use crate::process;
use crate::runtime::probe;
use crate::runtime::ConmonRuntime;

/// Runs `<runtime> --version` and `<conmon> --version` and looks up their packages.
pub fn runtime_info(runtime: &ConmonRuntime) -> Result<(ConmonInfo, OciRuntimeInfo)> {
    let conmon_output = probe::run_for_output(&runtime.conmon_path, &["--version"])?;
    let conmon_version = conmon_output
        .replacen('\n', ", ", 1)
        .trim_end_matches('\n')
        .trim_end_matches(", ")
        .to_string();
    let runtime_output = probe::run_for_output(&runtime.path, &["--version"])?;
    let runtime_version = runtime_output
        .strip_suffix('\n')
        .unwrap_or(&runtime_output)
        .to_string();
    Ok((
        ConmonInfo {
            package: probe::package_of(&runtime.conmon_path),
            path: runtime.conmon_path.clone(),
            version: conmon_version,
        },
        OciRuntimeInfo {
            name: runtime.config.name.clone(),
            package: probe::package_of(&runtime.path),
            path: runtime.path.clone(),
            version: runtime_version,
        },
    ))
}

/// True when `<runtime> checkpoint --help` exits 0 and `criu` is on `$PATH`.
pub fn supports_checkpoint(runtime: &ConmonRuntime) -> bool {
    let mut cmd = runtime.cli.command(&["checkpoint".into(), "--help".into()]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let runtime_can = match cmd.spawn() {
        Ok(mut child) => process::wait_child(&mut child)
            .ok()
            .flatten()
            .is_some_and(|status| status.success()),
        Err(_) => false,
    };
    runtime_can && probe::lookup_in_path("criu").is_some()
}
