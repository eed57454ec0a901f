//! `UpdateContainerStatus` and waiting for a container's exit.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::container::{Container, ContainerState, Locked, Status};
use crate::error::{ocirt_result, Error, Result};
use crate::exit_watch::WaitOutcome;
use crate::runtime::ConmonRuntime;
use crate::state;

/// How long to wait for conmon's exit file once the runtime reports the process stopped:
/// conmon drains the container's output before it writes the file.
pub const EXIT_FILE_GRACE: Duration = Duration::from_secs(5);

/// The part of `<runtime> state` output the library reads.
#[derive(Deserialize)]
struct RuntimeState {
    status: String,
    #[serde(default)]
    pid: i32,
}

/// Files conmon leaves in the bundle that would make a re-created container look exited or
/// OOM-killed.
pub const CONMON_FILES: [&str; 4] = ["attach", "ctl", "winsz", "oom"];

/// Removes conmon's per-run files and the exit file; missing files are fine.
pub fn remove_conmon_files(runtime: &ConmonRuntime, ctr: &Container) {
    let mut paths: Vec<std::path::PathBuf> =
        CONMON_FILES.iter().map(|name| ctr.file(name)).collect();
    paths.push(runtime.exit_file_path_for(ctr.id()));
    for path in paths {
        if let Err(err) = fs::remove_file(&path) {
            if err.kind() != io::ErrorKind::NotFound {
                log::warn!(
                    "container {}: cannot remove {}: {}",
                    ctr.id(),
                    path.display(),
                    err
                );
            }
        }
    }
}

/// Reads conmon's exit file into the state: exit code, finish time (the file's ctime) and the
/// OOM marker. Returns false when the file does not exist.
pub fn apply_exit_file(
    runtime: &ConmonRuntime,
    ctr: &Container,
    state: &mut ContainerState,
) -> Result<bool> {
    let path = runtime.exit_file_path_for(ctr.id());
    let metadata = match fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => {
            return Err(Error::io(
                format!("cannot stat exit file {}", path.display()),
                err,
            ))
        }
    };

    let text = fs::read_to_string(&path)
        .map_err(|err| Error::io(format!("cannot read exit file {}", path.display()), err))?;
    let code: i32 = text.trim().parse().map_err(|_| {
        Error::new(
            ocirt_result::OCIRT_ERR_CONMON,
            format!(
                "exit file {} contains {:?}, which is not an exit code",
                path.display(),
                text
            ),
        )
    })?;

    state.exit_code = Some(code);
    state.finished_at = Some(state::format_time(state::ctime(&metadata)));
    state.oom_killed = ctr.file("oom").exists();
    state.pid = 0;
    state.pid_start_time = None;
    state.conmon_pid = 0;
    state.conmon_start_time = None;
    log::info!("container {} exited with code {}", ctr.id(), code);
    Ok(true)
}

/// Records an exit with an unknown code (-1), for a container whose conmon wrote no exit
/// file.
fn mark_exit_unknown(ctr: &Container, state: &mut ContainerState) {
    log::warn!(
        "container {}: no exit file found; exit code unknown (-1)",
        ctr.id()
    );
    state.exit_code = Some(-1);
    state.finished_at = Some(state::now());
    state.pid = 0;
    state.pid_start_time = None;
    state.conmon_pid = 0;
    state.conmon_start_time = None;
}

/// Waits up to `grace` for the exit file while conmon is alive; returns whether it exists.
fn wait_exit_file(
    runtime: &ConmonRuntime,
    ctr: &Container,
    state: &ContainerState,
    grace: Duration,
) -> Result<bool> {
    let exit_path = runtime.exit_file_path_for(ctr.id());
    if exit_path.exists() {
        return Ok(true);
    }
    let Some(conmon) = state.conmon_process().open() else {
        // conmon is gone; it writes the exit file before it exits, so none will come.
        return Ok(exit_path.exists());
    };
    let outcome = runtime
        .exit_watcher()
        .wait(ctr.id(), Some(conmon.as_fd()), None, Some(grace))?;
    Ok(outcome == WaitOutcome::Exists)
}

/// `UpdateContainerStatus` with the lock held.
pub fn update(runtime: &ConmonRuntime, locked: &mut Locked<'_>) -> Result<()> {
    let ctr = locked.container();
    let old = locked.state.status;
    if matches!(old, Status::Configured | Status::Exited) {
        return Ok(());
    }

    // An exit file for a live state means conmon recorded the process's exit, so the runtime
    // need not be queried (podman's exit-file check does the same).
    if old.is_active() && apply_exit_file(runtime, ctr, &mut locked.state)? {
        locked.state.status = Status::Stopped;
        return locked.save_rebuildable();
    }

    let args = ["state", ctr.id()];
    let output = runtime.cli().run_raw(&args)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("does not exist") || stderr.contains("No such file") {
            // The runtime forgot the container (reboot, external delete). Use the exit file
            // if conmon wrote or is about to write one.
            let mut state = locked.state.clone();
            let found = old.is_active() && wait_exit_file(runtime, ctr, &state, EXIT_FILE_GRACE)?;
            if !(found && apply_exit_file(runtime, ctr, &mut state)?) && old != Status::Stopped {
                mark_exit_unknown(ctr, &mut state);
            }
            state.status = Status::Exited;
            locked.state = state;
            locked.save()?;
            remove_conmon_files(runtime, ctr);
            return Ok(());
        }
        return Err(runtime.cli().failure(&args, &output));
    }

    let parsed: RuntimeState = serde_json::from_slice(&output.stdout).map_err(|err| {
        Error::new(
            ocirt_result::OCIRT_ERR_OCI_RUNTIME,
            format!(
                "cannot parse `{} state {}` output: {}: {:?}",
                runtime.config().name,
                ctr.id(),
                err,
                String::from_utf8_lossy(&output.stdout)
            ),
        )
    })?;
    let new = match parsed.status.as_str() {
        "created" => Status::Created,
        "running" => Status::Running,
        "paused" => Status::Paused,
        "stopped" => Status::Stopped,
        other => {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_OCI_RUNTIME,
                format!(
                    "container {}: unrecognized status {:?} returned by runtime {}",
                    ctr.id(),
                    other,
                    runtime.config().name
                ),
            ))
        }
    };
    if new == Status::Stopped && old != Status::Stopped {
        let mut state = locked.state.clone();
        let found = wait_exit_file(runtime, ctr, &state, EXIT_FILE_GRACE)?;
        if !(found && apply_exit_file(runtime, ctr, &mut state)?) {
            mark_exit_unknown(ctr, &mut state);
        }
        state.status = Status::Stopped;
        locked.state = state;
        return locked.save();
    }
    if new != Status::Stopped && parsed.pid > 0 && parsed.pid != locked.state.pid {
        locked.state.pid = parsed.pid;
        locked.state.pid_start_time = crate::process::start_time(parsed.pid);
    }
    if new != old {
        locked.state.status = new;
        locked.save_rebuildable()?;
    }
    Ok(())
}

/// Blocks until the container's process exits and returns the exit code.
///
/// Waits on conmon's exit file through the runtime's shared watcher, and on a pidfd of conmon
/// (or of the container's init process when conmon is gone). It polls on a timer only on
/// kernels without `pidfd_open` (see [`crate::process::ProcessId::open`]), and it never
/// holds the container's lock while blocked.
pub fn wait(
    runtime: &ConmonRuntime,
    ctr: &Container,
    timeout: Option<Duration>,
    cancel: Option<&crate::cancel::Cancel>,
) -> Result<i32> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let state = ctr.load_state()?;
        match state.status {
            Status::Configured => {
                return Err(Error::state_invalid(format!(
                    "container {} has not been created, so it cannot be waited for",
                    ctr.id()
                )))
            }
            Status::Stopped | Status::Exited => return Ok(state.exit_code.unwrap_or(-1)),
            Status::Created | Status::Running | Status::Paused => {}
        }

        let monitor = state
            .conmon_process()
            .open()
            .or_else(|| state.init_process().open());
        let Some(monitor) = monitor else {
            // Neither conmon nor the process is alive: the status update settles it.
            let mut locked = ctr.lock()?;
            update(runtime, &mut locked)?;
            if locked.state.status.is_active() {
                return Err(Error::new(
                    ocirt_result::OCIRT_ERR_CONMON,
                    format!(
                        "container {}: conmon and the container process are gone but the runtime reports {}",
                        ctr.id(),
                        locked.state.status
                    ),
                ));
            }
            continue;
        };
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let outcome = runtime.exit_watcher().wait(
            ctr.id(),
            Some(monitor.as_fd()),
            cancel.map(|c| c.as_fd()),
            left,
        )?;
        match outcome {
            WaitOutcome::TimedOut => {
                return Err(Error::new(
                    ocirt_result::OCIRT_ERR_TIMED_OUT,
                    format!(
                        "timed out after {} ms waiting for container {} to exit",
                        timeout.unwrap_or_default().as_millis(),
                        ctr.id()
                    ),
                ))
            }
            WaitOutcome::Cancelled => {
                return Err(Error::new(
                    ocirt_result::OCIRT_ERR_CANCELLED,
                    format!("wait for container {} was cancelled", ctr.id()),
                ))
            }
            WaitOutcome::Exists | WaitOutcome::MonitorGone => {
                let mut locked = ctr.lock()?;
                update(runtime, &mut locked)?;
                if !locked.state.status.is_active() && locked.state.status != Status::Configured {
                    return Ok(locked.state.exit_code.unwrap_or(-1));
                }
            }
        }
    }
}
