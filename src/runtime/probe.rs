//! Finding the OCI runtime and conmon binaries, and reading their versions.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{ocirt_result, Error, Result};
use crate::process;

/// Oldest supported conmon. 2.0.24 is the first release that binds the attach socket through
/// `/proc/self/fd`, which makes attach work for bundle paths longer than `sun_path`.
pub const MIN_CONMON_VERSION: (u32, u32, u32) = (2, 0, 24);

/// Default install locations of a runtime, by name.
pub fn default_runtime_paths(name: &str) -> Vec<PathBuf> {
    let mut dirs = vec![
        "/usr/bin",
        "/usr/sbin",
        "/usr/local/bin",
        "/usr/local/sbin",
        "/sbin",
        "/bin",
    ];
    if name == "runc" {
        dirs.push("/usr/lib/cri-o-runc/sbin");
    }
    dirs.push("/run/current-system/sw/bin");
    dirs.iter().map(|dir| Path::new(dir).join(name)).collect()
}

/// Default install locations of conmon.
pub fn default_conmon_paths() -> Vec<PathBuf> {
    [
        "/usr/libexec/podman/conmon",
        "/usr/local/libexec/podman/conmon",
        "/usr/local/lib/podman/conmon",
        "/usr/bin/conmon",
        "/usr/sbin/conmon",
        "/usr/local/bin/conmon",
        "/usr/local/sbin/conmon",
        "/run/current-system/sw/bin/conmon",
    ]
    .iter()
    .map(PathBuf::from)
    .collect()
}

/// Returns whether `path` may be executed by this process (`access(X_OK)`).
pub fn is_executable(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access reads a NUL-terminated path.
    unsafe { libc::access(c_path.as_ptr(), libc::X_OK) == 0 }
}

/// Looks `name` up in `$PATH` and returns the first executable regular file.
pub fn lookup_in_path(name: &str) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate).is_ok_and(|m| m.is_file()) && is_executable(candidate)
        })
}

/// Finds the runtime binary: an explicit `path`, else the first candidate that is a regular
/// file, else a `$PATH` lookup of `name`. Missing and non-regular candidates are skipped, and
/// any other stat error fails.
pub fn find_runtime(
    name: &str,
    explicit: Option<&Path>,
    candidates: &[PathBuf],
) -> Result<PathBuf> {
    if let Some(path) = explicit {
        let metadata = fs::metadata(path).map_err(|err| {
            Error::new(
                ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
                format!("OCI runtime {} at {}: {}", name, path.display(), err),
            )
        })?;
        if !metadata.is_file() || !is_executable(path) {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
                format!(
                    "OCI runtime {} at {} is not an executable file",
                    name,
                    path.display()
                ),
            ));
        }
        return Ok(path.to_path_buf());
    }
    for candidate in candidates {
        match fs::metadata(candidate) {
            Ok(metadata) if metadata.is_file() => return Ok(candidate.clone()),
            Ok(_) => continue,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => {
                return Err(Error::new(
                    ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
                    format!(
                        "cannot stat OCI runtime candidate {}: {}",
                        candidate.display(),
                        err
                    ),
                ))
            }
        }
    }
    if let Some(found) = lookup_in_path(name) {
        return Ok(found);
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(Error::new(
        ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
        format!(
            "no executable found for OCI runtime {:?}; tried {} and $PATH; install it or set \"path\"",
            name,
            if tried.is_empty() { "no candidates".to_string() } else { tried.join(", ") }
        ),
    ))
}

/// Parses `conmon version X.Y.Z` from the first line of `conmon --version`.
pub fn parse_conmon_version(output: &str) -> Option<(u32, u32, u32)> {
    let rest = output
        .lines()
        .next()?
        .trim()
        .strip_prefix("conmon version ")?;
    let mut parts = rest.split('.').map(|p| {
        let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().ok()
    });
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Runs `<binary> <args>` with no stdin and returns stdout, failing on a non-zero exit.
pub fn run_for_output(binary: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(binary);
    cmd.args(args).stdin(Stdio::null());
    process::set_fd_map(&mut cmd, &[]);
    let output = cmd.output().map_err(|err| {
        Error::new(
            ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
            format!(
                "cannot run `{} {}`: {}",
                binary.display(),
                args.join(" "),
                err
            ),
        )
    })?;
    if !output.status.success() {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
            format!(
                "`{} {}` failed: {}: {}{}",
                binary.display(),
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Finds a conmon binary whose version is at least [`MIN_CONMON_VERSION`]: an explicit path,
/// else the candidates in order, else a `$PATH` lookup. Returns the path and its version.
pub fn find_conmon(
    explicit: Option<&Path>,
    candidates: &[PathBuf],
) -> Result<(PathBuf, (u32, u32, u32))> {
    let mut list: Vec<PathBuf> = match explicit {
        Some(path) => vec![path.to_path_buf()],
        None => candidates.to_vec(),
    };
    if explicit.is_none() {
        if let Some(found) = lookup_in_path("conmon") {
            list.push(found);
        }
    }
    let mut outdated = Vec::new();
    let mut failures = Vec::new();
    for candidate in &list {
        match fs::metadata(candidate) {
            Ok(metadata) if !metadata.is_dir() => {}
            Ok(_) => continue,
            Err(err) => {
                if explicit.is_some() {
                    failures.push(format!("{}: {}", candidate.display(), err));
                }
                continue;
            }
        }
        let output = match run_for_output(candidate, &["--version"]) {
            Ok(output) => output,
            Err(err) => {
                failures.push(err.message().to_string());
                continue;
            }
        };
        let Some(version) = parse_conmon_version(&output) else {
            failures.push(format!(
                "{}: unrecognized --version output {:?}",
                candidate.display(),
                output.trim()
            ));
            continue;
        };
        if version < MIN_CONMON_VERSION {
            log::warn!(
                "conmon at {} is version {}.{}.{}, older than {}.{}.{}; skipping it",
                candidate.display(),
                version.0,
                version.1,
                version.2,
                MIN_CONMON_VERSION.0,
                MIN_CONMON_VERSION.1,
                MIN_CONMON_VERSION.2
            );
            outdated.push(format!(
                "{} ({}.{}.{})",
                candidate.display(),
                version.0,
                version.1,
                version.2
            ));
            continue;
        }
        return Ok((candidate.clone(), version));
    }
    if !outdated.is_empty() {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_CONMON_TOO_OLD,
            format!(
                "every conmon found is too old: {}; update conmon to {}.{}.{} or later",
                outdated.join(", "),
                MIN_CONMON_VERSION.0,
                MIN_CONMON_VERSION.1,
                MIN_CONMON_VERSION.2
            ),
        ));
    }
    let tried: Vec<String> = list.iter().map(|p| p.display().to_string()).collect();
    let mut message = format!(
        "could not find a working conmon binary; tried {}",
        if tried.is_empty() {
            "nothing".to_string()
        } else {
            tried.join(", ")
        }
    );
    if !failures.is_empty() {
        message.push_str(&format!(" ({})", failures.join("; ")));
    }
    message.push_str("; install conmon or set \"conmon_path\"");
    Err(Error::new(ocirt_result::OCIRT_ERR_CONMON, message))
}

/// Returns the package that owns `path` (`rpm -qf`, then `dpkg -S`), or `Unknown`.
pub fn package_of(path: &Path) -> String {
    let path_text = path.to_string_lossy().to_string();
    for (binary, args) in [
        ("/usr/bin/rpm", vec!["-q", "-f", path_text.as_str()]),
        ("/usr/bin/dpkg", vec!["-S", path_text.as_str()]),
    ] {
        if !Path::new(binary).exists() {
            continue;
        }
        if let Ok(output) = run_for_output(Path::new(binary), &args) {
            let trimmed = output.trim_matches('\n').trim();
            if !trimmed.is_empty() {
                return trimmed.to_string();
            }
        }
    }
    "Unknown".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conmon_versions() {
        assert_eq!(
            parse_conmon_version("conmon version 2.1.6\ncommit: unknown\n"),
            Some((2, 1, 6))
        );
        assert_eq!(
            parse_conmon_version("conmon version 2.0.1-dev\n"),
            Some((2, 0, 1))
        );
        assert_eq!(parse_conmon_version("something else"), None);
    }

    #[test]
    fn runtime_probe_skips_missing_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake-runtime");
        fs::write(&fake, "#!/bin/sh\n").unwrap();
        let found = find_runtime(
            "no-such-runtime-name",
            None,
            &[
                dir.path().join("missing"),
                dir.path().to_path_buf(),
                fake.clone(),
            ],
        )
        .unwrap();
        assert_eq!(found, fake);
    }

    #[test]
    fn runtime_probe_failure_names_candidates() {
        let err = find_runtime(
            "no-such-runtime-name",
            None,
            &[PathBuf::from("/nonexistent/rt")],
        )
        .unwrap_err();
        assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE);
        assert!(
            err.message().contains("/nonexistent/rt"),
            "{}",
            err.message()
        );
    }
}
