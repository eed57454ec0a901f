//! Container lifecycle: create (and restore), start, kill, stop, delete, pause, unpause and
//! checkpoint.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use crate::conmon::{self, ConmonCommand};
use crate::container::config::LogDriver;
use crate::container::{Container, ContainerState, Locked, Status};
use crate::error::{ocirt_result, Error, Result};
use crate::exit_watch::WaitOutcome;
use crate::oci_runtime::{CheckpointOptions, OciRuntime, RestoreOptions};
use crate::process;
use crate::runtime::conmon_args;
use crate::runtime::status::{self, EXIT_FILE_GRACE};
use crate::runtime::ConmonRuntime;
use crate::runtime_cli;
use crate::state;

/// How long stop waits for the process to die after SIGKILL before it reports a failure.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long delete waits for conmon to record the exit after `runtime delete --force`.
const DELETE_EXIT_WAIT: Duration = Duration::from_secs(10);

/// Builds conmon's arguments and environment for creating (or restoring) `ctr`.
fn create_command(
    runtime: &ConmonRuntime,
    ctr: &Container,
    restore: Option<&RestoreOptions>,
) -> Result<ConmonCommand> {
    let config = ctr.config();
    let log = match config.log_driver()? {
        LogDriver::K8sFile => format!("k8s-file:{}", ctr.log_path().display()),
        LogDriver::Journald => "journald".to_string(),
        LogDriver::None => "none".to_string(),
    };
    let pidfile = ctr.file("pidfile");
    let oci_log = ctr.file("oci-log");
    let target = conmon_args::Target {
        cuuid: ctr.id(),
        bundle: ctr.dir(),
        pidfile: &pidfile,
        exit_dir: runtime.exit_dir(),
        log,
        oci_log: &oci_log,
    };
    let mut args = conmon_args::shared(runtime, ctr, &target);
    let log_size_max = config.log_size_max.unwrap_or(runtime.config().log_size_max);
    if log_size_max >= 0 {
        args.push(&["--log-size-max", &log_size_max.to_string()]);
    }
    if let Some(tag) = &config.log_tag {
        args.push(&["--log-tag", tag]);
    }
    if ctr.terminal() {
        args.push(&["-t"]);
    } else if config.stdin {
        args.push(&["-i"]);
    }
    if config.leave_stdin_open {
        args.push(&["--leave-stdin-open"]);
    }
    args.push_path("--conmon-pidfile", &ctr.conmon_pidfile());
    if runtime.config().no_pivot {
        args.push(&["--no-pivot"]);
    }
    conmon_args::exit_command(&mut args, &config.exit_command, config.exit_command_delay);
    if config.preserve_fds > 0 {
        args.push(&[
            "--runtime-opt",
            "--preserve-fds",
            "--runtime-opt",
            &config.preserve_fds.to_string(),
        ]);
    }
    for arg in &config.runtime_args {
        args.push(&["--runtime-opt", arg]);
    }
    if let Some(restore) = restore {
        args.push_path("--restore", &ctr.file("checkpoint"));
        if restore.tcp_established {
            args.push(&["--runtime-opt", "--tcp-established"]);
        }
    }
    let env = conmon_args::environment(runtime);

    Ok(ConmonCommand {
        binary: runtime.conmon_path().to_path_buf(),
        args: args.0,
        env,
        cwd: ctr.dir().to_path_buf(),
        preserved_fds: (3..3 + config.preserve_fds as i32).collect(),
        attach_pipe: false,
    })
}

/// Picks the runtime's error text: the last `msg` of the JSON error log, else conmon's
/// `message`, else a generic text. The runtime appends one line per failure and the file is
/// emptied before each create, so its last line belongs to this create.
fn runtime_error_text(ctr: &Container, message: Option<&str>) -> String {
    let from_log = fs::read_to_string(ctr.file("oci-log"))
        .ok()
        .and_then(|text| {
            text.lines().rev().find_map(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .ok()?
                    .get("msg")?
                    .as_str()
                    .map(str::to_string)
            })
        });
    if let Some(text) = from_log.filter(|t| !t.is_empty()) {
        return text;
    }
    match message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(text) => runtime_cli::runtime_message(text),
        None => "container create failed".to_string(),
    }
}

fn truncate_file(path: &std::path::Path) {
    match fs::OpenOptions::new().write(true).truncate(true).open(path) {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => log::warn!("cannot empty {}: {}", path.display(), err),
    }
}

/// Returns the runtime's state root for messages ("runtime root /x" or "the default root of
/// runc").
fn runtime_root_text(runtime: &ConmonRuntime) -> String {
    match &runtime.config().runtime_root {
        Some(root) => format!("runtime root {}", root.display()),
        None => format!("the default root of {}", runtime.name()),
    }
}

/// Builds the error for an id the runtime already uses for a container of someone else.
fn id_taken(runtime: &ConmonRuntime, ctr: &Container) -> Error {
    Error::new(
        ocirt_result::OCIRT_ERR_CONTAINER_EXISTS,
        format!(
            "container id {} is already used in {} by a container this library did not create \
             (another engine, or another ocirt state directory); choose another id, or set \
             \"runtime_root\" to a directory of this runtime's own",
            ctr.id(),
            runtime_root_text(runtime)
        ),
    )
}

/// Returns the directory in which the runtime keeps container `id`, for runtimes whose layout
/// is known: runc, crun and youki keep `<root>/<id>`, with `/run/<name>` as the root for root.
fn runtime_state_dir(runtime: &ConmonRuntime, id: &str) -> Option<std::path::PathBuf> {
    let name = runtime.config().name.as_str();
    if !matches!(name, "runc" | "crun" | "youki") {
        return None;
    }
    let root = match &runtime.config().runtime_root {
        Some(root) => root.clone(),
        // SAFETY: geteuid cannot fail.
        None if unsafe { libc::geteuid() } == 0 => std::path::PathBuf::from("/run").join(name),
        None => return None,
    };
    Some(root.join(id))
}

/// Fails when the runtime already has a container with this id that is not this one, so that
/// neither the create nor its cleanup touches it. For runtimes with a known state layout this
/// is a directory lookup. For other runtimes it runs `runtime state <id>`.
fn check_id_free(runtime: &ConmonRuntime, ctr: &Container) -> Result<()> {
    let taken = match runtime_state_dir(runtime, ctr.id()) {
        Some(dir) => dir.exists(),
        None => runtime
            .cli()
            .run_raw(&["state", ctr.id()])?
            .status
            .success(),
    };
    if taken {
        return Err(id_taken(runtime, ctr));
    }
    Ok(())
}

/// Runs `runtime delete --force <id>` after a failed create. A failure of the delete is
/// logged and appended to `err`.
fn delete_after_failure(runtime: &ConmonRuntime, ctr: &Container, err: Error) -> Error {
    if err.kind() == ocirt_result::OCIRT_ERR_CONTAINER_EXISTS {
        // The runtime's container with this id belongs to someone else: leave it alone.
        return err;
    }
    match runtime.cli().run(&["delete", "--force", ctr.id()]) {
        Ok(_) => err,
        Err(cleanup) => {
            log::warn!(
                "container {}: cleanup after failed create: {}",
                ctr.id(),
                cleanup.message()
            );
            err.also(&cleanup)
        }
    }
}

pub fn create(
    runtime: &ConmonRuntime,
    ctr: &Container,
    restore: Option<&RestoreOptions>,
) -> Result<()> {
    let mut locked = ctr.lock()?;
    match locked.state.status {
        Status::Configured | Status::Exited => check_id_free(runtime, ctr)?,
        Status::Stopped => {
            // The runtime still has the exited container, so remove it before re-creating.
            runtime.cli().run(&["delete", "--force", ctr.id()])?;
        }
        other => {
            return Err(Error::state_invalid(format!(
                "container {} is {}; it can only be created when configured or exited",
                ctr.id(),
                other
            )))
        }
    }
    if restore.is_some() {
        if !runtime.supports_checkpoint() {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_NOT_SUPPORTED,
                format!(
                    "runtime {} cannot restore checkpoints (or CRIU is missing)",
                    runtime.name()
                ),
            ));
        }
        let inventory = ctr.file("checkpoint").join("inventory.img");
        if !inventory.exists() {
            return Err(Error::invalid(format!(
                "container {} has no checkpoint to restore: {} is missing",
                ctr.id(),
                inventory.display()
            )));
        }
    }

    if ctr.config().log_driver()? == LogDriver::K8sFile {
        let log_path = ctr.log_path();
        if let Some(parent) = log_path.parent() {
            if !parent.is_dir() {
                return Err(Error::invalid(format!(
                    "container {}: the directory of log_path {} does not exist",
                    ctr.id(),
                    log_path.display()
                )));
            }
        }
    }

    status::remove_conmon_files(runtime, ctr);
    for name in ["pidfile", "oci-log"] {
        truncate_file(&ctr.file(name));
    }
    let _ = fs::remove_file(ctr.conmon_pidfile());

    let command = create_command(runtime, ctr, restore)?;
    let mut conmon = conmon::spawn(&command)?;
    let timeout = Duration::from_millis(runtime.config().create_timeout_ms);
    let reported = conmon
        .release()
        .and_then(|()| conmon.wait_first_stage())
        .and_then(|()| conmon::read_message(&conmon.sync, Some(timeout), "sync message"));
    let message = match reported {
        Ok(message) => message,
        Err(err) => {
            return Err(delete_after_failure(
                runtime,
                ctr,
                err.context(format!("container {}", ctr.id())),
            ))
        }
    };
    if message.data < 0 {
        let text = runtime_error_text(ctr, message.message.as_deref());
        if text.contains("already exists") {
            // Another process created a container with this id since `check_id_free`.
            return Err(id_taken(runtime, ctr));
        }
        let err = Error::new(
            runtime_cli::classify_message(&text),
            format!(
                "container {}: runtime {} failed to create it: {}",
                ctr.id(),
                runtime.name(),
                text
            ),
        );
        return Err(delete_after_failure(runtime, ctr, err));
    }

    let pid = message.data as i32;
    let conmon_pid = match fs::read_to_string(ctr.conmon_pidfile()) {
        Ok(text) => text.trim().parse::<i32>().unwrap_or_else(|_| {
            log::warn!(
                "container {}: conmon pidfile contains {:?}, not a pid",
                ctr.id(),
                text
            );
            0
        }),
        Err(err) => {
            log::warn!(
                "container {}: cannot read conmon pidfile {}: {}",
                ctr.id(),
                ctr.conmon_pidfile().display(),
                err
            );
            0
        }
    };
    let state = &mut locked.state;
    state.pid = pid;
    state.pid_start_time = process::start_time(pid);
    state.conmon_pid = conmon_pid;
    state.conmon_start_time = process::start_time(conmon_pid);
    state.exit_code = None;
    state.oom_killed = false;
    state.finished_at = None;
    state.created_at = Some(state::now());
    state.checkpointed = false;
    if let Some(options) = restore {
        state.status = Status::Running;
        state.started_at = state.created_at.clone();
        state.restored = true;
        if !options.keep {
            for name in ["restore.log", "dump.log", "stats-dump", "stats-restore"] {
                let _ = fs::remove_file(ctr.file(name));
            }
        }
    } else {
        state.status = Status::Created;
        state.started_at = None;
        state.restored = false;
    }
    locked.save()?;
    log::info!(
        "container {} {} (pid {}, conmon pid {})",
        ctr.id(),
        if restore.is_some() {
            "restored"
        } else {
            "created"
        },
        pid,
        conmon_pid
    );
    Ok(())
}

pub fn start(runtime: &ConmonRuntime, ctr: &Container) -> Result<()> {
    let mut locked = ctr.lock()?;
    if locked.state.status != Status::Created {
        return Err(Error::state_invalid(format!(
            "container {} is {}; only a created container can be started",
            ctr.id(),
            locked.state.status
        )));
    }
    // Taken before the runtime starts the process, so a process that exits at once cannot
    // finish before it started.
    let started_at = state::now();
    runtime
        .cli()
        .run(&["start", ctr.id()])
        .map_err(|err| err.context(format!("container {}", ctr.id())))?;
    locked.state.status = Status::Running;
    locked.state.started_at = Some(started_at);
    locked.save_rebuildable()?;
    log::info!("container {} started", ctr.id());
    Ok(())
}

/// Sends `signal` through the runtime. Returns a state-invalid error when the container's
/// process is already gone, whatever the runtime printed.
fn send_signal(runtime: &ConmonRuntime, locked: &Locked<'_>, signal: i32, all: bool) -> Result<()> {
    let ctr = locked.container();
    let signal_text = signal.to_string();
    let mut args = vec!["kill"];
    if all {
        args.push("--all");
    }
    args.push(ctr.id());
    args.push(&signal_text);
    match runtime.cli().run(&args) {
        Ok(_) => Ok(()),
        Err(err) => {
            let gone = !locked.state.init_process().is_alive();
            let not_running =
                err.message().contains("not running") || err.message().contains("does not exist");
            if gone || not_running {
                Err(Error::state_invalid(format!(
                    "container {} is not running, so {} cannot be delivered ({})",
                    ctr.id(),
                    process::signal_name(signal),
                    err.message()
                )))
            } else {
                Err(err.context(format!(
                    "container {}: cannot send {}",
                    ctr.id(),
                    process::signal_name(signal)
                )))
            }
        }
    }
}

fn check_signal(signal: i32) -> Result<()> {
    if signal < 1 || signal > libc::SIGRTMAX() {
        return Err(Error::invalid(format!(
            "signal {} is out of range (1 to {})",
            signal,
            libc::SIGRTMAX()
        )));
    }
    Ok(())
}

pub fn kill(runtime: &ConmonRuntime, ctr: &Container, signal: i32, all: bool) -> Result<()> {
    check_signal(signal)?;
    let mut locked = ctr.lock()?;
    let status = locked.state.status;
    // With `all`, a stopped container may still have processes (no private PID namespace:
    // init exited, others live on in its cgroup), and the runtime signals every one of them.
    let allowed = status.is_active() || (all && status == Status::Stopped);
    if !allowed {
        return Err(Error::state_invalid(format!(
            "container {} is {}, so {} cannot be delivered",
            ctr.id(),
            status,
            process::signal_name(signal)
        )));
    }
    if status.is_active() && !all && !locked.state.init_process().is_alive() {
        status::update(runtime, &mut locked)?;
        return Err(Error::state_invalid(format!(
            "container {} has exited, so {} cannot be delivered",
            ctr.id(),
            process::signal_name(signal)
        )));
    }
    send_signal(runtime, &locked, signal, all)?;
    log::info!(
        "container {}: sent {}{}",
        ctr.id(),
        process::signal_name(signal),
        if all { " to all processes" } else { "" }
    );
    Ok(())
}

/// Waits until the process behind `pidfd` exits; true when it did within `timeout`.
fn wait_gone(pidfd: &process::ProcessFd, timeout: Duration) -> Result<bool> {
    let ready = process::wait_readable(&[pidfd.as_fd()], Some(timeout))
        .map_err(|err| Error::io("cannot wait for the container process", err))?;
    Ok(ready.is_some())
}

pub fn stop(runtime: &ConmonRuntime, ctr: &Container, timeout_s: u32, all: bool) -> Result<()> {
    let mut locked = ctr.lock()?;
    match locked.state.status {
        Status::Configured => {
            return Err(Error::state_invalid(format!(
                "container {} has not been created, so it cannot be stopped",
                ctr.id()
            )))
        }
        Status::Stopped | Status::Exited => return Ok(()),
        Status::Created | Status::Running | Status::Paused => {}
    }
    let init = locked.state.init_process();
    let Some(pidfd) = init.open() else {
        // Already gone: record the exit and report success.
        return status::update(runtime, &mut locked);
    };
    let paused = locked.state.status == Status::Paused;
    let mut stopped = false;

    if timeout_s > 0 {
        let stop_signal = ctr.config().stop_signal()?;
        match send_signal(runtime, &locked, stop_signal, all) {
            Ok(()) => {}
            Err(_) if process::pidfd_exited(pidfd.as_fd()) => stopped = true,
            Err(err) => return Err(err),
        }
        if paused && !stopped {
            // A frozen process receives the signal only once thawed.
            runtime.cli().run(&["resume", ctr.id()])?;
        }
        if !stopped {
            stopped = wait_gone(&pidfd, Duration::from_secs(u64::from(timeout_s)))?;
            if !stopped {
                log::info!(
                    "container {} did not exit within {} s of {}; sending SIGKILL",
                    ctr.id(),
                    timeout_s,
                    process::signal_name(stop_signal)
                );
            }
        }
    }
    if !stopped {
        match send_signal(runtime, &locked, libc::SIGKILL, all) {
            Ok(()) => {}
            Err(_) if process::pidfd_exited(pidfd.as_fd()) => {}
            Err(err) => return Err(err),
        }
        if paused && timeout_s == 0 {
            runtime.cli().run(&["resume", ctr.id()])?;
        }
        if !wait_gone(&pidfd, KILL_TIMEOUT)? {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_TIMED_OUT,
                format!(
                    "container {} (pid {}) did not exit within {} s of SIGKILL",
                    ctr.id(),
                    init.pid,
                    KILL_TIMEOUT.as_secs()
                ),
            ));
        }
    }
    status::update(runtime, &mut locked)?;
    if locked.state.status.is_active() {
        // The runtime may lag a moment behind the kernel; the exit file settles it.
        let mut state = locked.state.clone();
        if status::apply_exit_file(runtime, ctr, &mut state)? {
            state.status = Status::Stopped;
            locked.state = state;
            locked.save_rebuildable()?;
        }
    }
    log::info!("container {} stopped", ctr.id());
    Ok(())
}

/// Waits until conmon has recorded the exit of a container that `runtime delete --force`
/// killed, so that it does not write an exit file after the container's files are gone.
fn wait_for_recorded_exit(
    runtime: &ConmonRuntime,
    ctr: &Container,
    state: &ContainerState,
) -> Result<()> {
    let Some(conmon) = state.conmon_process().open() else {
        return Ok(());
    };
    let outcome = runtime.exit_watcher().wait(
        ctr.id(),
        Some(conmon.as_fd()),
        None,
        Some(DELETE_EXIT_WAIT),
    )?;
    if outcome == WaitOutcome::TimedOut {
        log::warn!(
            "container {}: conmon (pid {}) did not record the exit within {} s",
            ctr.id(),
            state.conmon_pid,
            DELETE_EXIT_WAIT.as_secs()
        );
    }
    // After the exit file, conmon unlinks the attach socket and runs the exit command.
    // A moment's wait lets it finish before its files disappear.
    let _ = process::wait_readable(&[conmon.as_fd()], Some(Duration::from_secs(1)));
    Ok(())
}

/// Removes the exit file, the socket link and the state directory; returns what failed.
fn remove_container_files(runtime: &ConmonRuntime, ctr: &Container) -> Vec<String> {
    let mut failures = Vec::new();
    let mut paths = vec![
        runtime.exit_file_path_for(ctr.id()),
        runtime.socket_link_for(ctr.id()),
    ];
    paths.extend(
        crate::exec::session_ids(ctr)
            .iter()
            .map(|id| runtime.socket_link_for(&crate::exec::conmon_uuid(ctr.id(), id))),
    );
    for path in paths {
        if let Err(err) = fs::remove_file(&path) {
            if err.kind() != io::ErrorKind::NotFound {
                failures.push(format!("{}: {}", path.display(), err));
            }
        }
    }
    // The state file goes first, so a concurrent reader finds "deleted" rather than a
    // half-removed directory.
    let _ = fs::remove_file(ctr.file("state.json"));
    if let Err(err) = fs::remove_dir_all(ctr.dir()) {
        if err.kind() != io::ErrorKind::NotFound {
            failures.push(format!("{}: {}", ctr.dir().display(), err));
        }
    }
    failures
}

pub fn delete(runtime: &ConmonRuntime, ctr: &Container) -> Result<()> {
    let locked = ctr.lock()?;
    let state = locked.state.clone();
    if state.status != Status::Configured {
        runtime
            .cli()
            .run(&["delete", "--force", ctr.id()])
            .map_err(|err| err.context(format!("container {}", ctr.id())))?;
    }
    wait_for_recorded_exit(runtime, ctr, &state)?;

    let failures = remove_container_files(runtime, ctr);
    // The lock file went with the directory; other processes waiting on it find the state gone.
    drop(locked);
    if !failures.is_empty() {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_IO,
            format!(
                "container {} deleted, but removing its files failed: {}",
                ctr.id(),
                failures.join("; ")
            ),
        ));
    }
    log::info!("container {} deleted", ctr.id());
    Ok(())
}

pub fn pause(runtime: &ConmonRuntime, ctr: &Container) -> Result<()> {
    let mut locked = ctr.lock()?;
    if locked.state.status != Status::Running {
        return Err(Error::state_invalid(format!(
            "container {} is {}; only a running container can be paused",
            ctr.id(),
            locked.state.status
        )));
    }
    runtime
        .cli()
        .run(&["pause", ctr.id()])
        .map_err(|err| err.context(format!("container {}", ctr.id())))?;
    locked.state.status = Status::Paused;
    locked.save()
}

pub fn unpause(runtime: &ConmonRuntime, ctr: &Container) -> Result<()> {
    let mut locked = ctr.lock()?;
    if locked.state.status != Status::Paused {
        return Err(Error::state_invalid(format!(
            "container {} is {}; only a paused container can be unpaused",
            ctr.id(),
            locked.state.status
        )));
    }
    runtime
        .cli()
        .run(&["resume", ctr.id()])
        .map_err(|err| err.context(format!("container {}", ctr.id())))?;
    locked.state.status = Status::Running;
    locked.save()
}

/// Adds CRIU's own reason, the last error line of its dump log, to a failed checkpoint.
fn with_criu_reason(err: Error, ctr: &Container) -> Error {
    let dump_log = ctr.file("dump.log");
    let Ok(text) = fs::read_to_string(&dump_log) else {
        return err;
    };
    match text.lines().rev().find(|l| l.contains("Error")) {
        Some(line) => Error::new(
            err.kind(),
            format!(
                "{}; CRIU: {} (see {})",
                err.message(),
                line.trim(),
                dump_log.display()
            ),
        ),
        None => err,
    }
}

/// Records the exit of a container whose checkpoint ended its process.
fn record_checkpoint_exit(
    runtime: &ConmonRuntime,
    ctr: &Container,
    locked: &mut Locked<'_>,
) -> Result<()> {
    let mut state = locked.state.clone();
    if let Some(conmon) = state.conmon_process().open() {
        let _ = runtime.exit_watcher().wait(
            ctr.id(),
            Some(conmon.as_fd()),
            None,
            Some(EXIT_FILE_GRACE),
        );
    }
    if !status::apply_exit_file(runtime, ctr, &mut state)? {
        state.finished_at = Some(state::now());
    }
    state.status = Status::Stopped;
    state.pid = 0;
    state.pid_start_time = None;
    locked.state = state;
    Ok(())
}

pub fn checkpoint(
    runtime: &ConmonRuntime,
    ctr: &Container,
    options: &CheckpointOptions,
) -> Result<()> {
    if !runtime.supports_checkpoint() {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_NOT_SUPPORTED,
            format!(
                "runtime {} cannot checkpoint (or CRIU is missing)",
                runtime.name()
            ),
        ));
    }
    let mut locked = ctr.lock()?;
    if locked.state.status != Status::Running {
        return Err(Error::state_invalid(format!(
            "container {} is {}; only a running container can be checkpointed",
            ctr.id(),
            locked.state.status
        )));
    }

    let images = ctr.file("checkpoint").to_string_lossy().into_owned();
    let work = ctr.dir().to_string_lossy().into_owned();
    let mut args = vec!["checkpoint", "--image-path", &images, "--work-path", &work];
    if options.leave_running {
        args.push("--leave-running");
    }
    if options.tcp_established {
        args.push("--tcp-established");
    }
    args.push(ctr.id());
    if let Err(err) = runtime.cli().run(&args) {
        let err = err.context(format!("container {}: checkpoint failed", ctr.id()));
        return Err(with_criu_reason(err, ctr));
    }

    locked.state.checkpointed = true;
    if !options.leave_running {
        // The dump ended the process, and conmon records the exit as usual.
        record_checkpoint_exit(runtime, ctr, &mut locked)?;
    }
    locked.save()?;
    if !options.keep {
        for name in ["dump.log", "stats-dump"] {
            let _ = fs::remove_file(ctr.file(name));
        }
    }
    log::info!("container {} checkpointed to {}", ctr.id(), images);
    Ok(())
}
