//! Container lifecycle on real runc and conmon: create, start, wait, kill, stop, delete,
//! pause, status updates and exit codes.

mod common;

use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ocirt::{ocirt_result, Container, OciRuntime, Status};
use serde_json::json;

const WAIT: Option<Duration> = Some(Duration::from_secs(30));

fn exit_file(env: &TestEnv, container: &Container) -> String {
    let path = env.runtime.exit_file_path(container).unwrap();
    fs::read_to_string(path).unwrap()
}

#[test]
fn exit_code_and_log_of_short_container() {
    let env = TestEnv::new();
    let ctr = env.created("exit3", &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let state = ctr.load_state().unwrap();
    assert_eq!(state.status, Status::Created);
    assert!(state.pid > 0, "created container has pid {}", state.pid);

    env.runtime.start_container(&ctr).unwrap();

    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 3);
    assert_eq!(exit_file(&env, &ctr), "3");
    let state = ctr.load_state().unwrap();
    assert_eq!(state.status, Status::Stopped);
    assert_eq!(state.exit_code, Some(3));
    assert!(state.finished_at.is_some());
    let log = log_text(&ctr);
    assert!(log.contains(" stdout F out\n"), "{}", log);
    assert!(log.contains(" stderr F err\n"), "{}", log);
}

#[test]
fn sigkill_gives_exit_code_137() {
    let env = TestEnv::new();
    let ctr = env.running("kill9", &["sleep", "1000"]);
    env.runtime
        .kill_container(&ctr, libc::SIGKILL, false)
        .unwrap();
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 137);
    assert_eq!(exit_file(&env, &ctr), "137");
}

#[test]
fn fast_exits_never_report_unknown_codes() {
    let env = TestEnv::new();
    for iteration in 0..100 {
        let (args, expected): (&[&str], i32) = if iteration % 2 == 0 {
            (&["true"], 0)
        } else {
            (&["sh", "-c", "exit 3"], 3)
        };
        let ctr = env.running("fast", args);

        let code = env.runtime.wait_container(&ctr, WAIT).unwrap();
        assert_eq!(code, expected, "iteration {}", iteration);
        let state = ctr.load_state().unwrap();
        let (started, finished) = (state.started_at.unwrap(), state.finished_at.unwrap());
        assert!(
            started <= finished,
            "iteration {}: started {} after finished {}",
            iteration,
            started,
            finished
        );
        assert_eq!(
            exit_file(&env, &ctr),
            expected.to_string(),
            "iteration {}",
            iteration
        );
        env.runtime.delete_container(&ctr).unwrap();
    }
}

#[test]
fn status_update_waits_for_late_exit_file() {
    // runc reports "stopped" as soon as the process dies, possibly before conmon has written
    // the exit file. The exit code must still come from that file, never from a placeholder.
    let env = TestEnv::new();
    for iteration in 0..20 {
        let ctr = env.running("late", &["sh", "-c", "exit 7"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            env.runtime.update_container_status(&ctr).unwrap();
            let state = ctr.load_state().unwrap();
            if state.status == Status::Stopped {
                assert_eq!(state.exit_code, Some(7), "iteration {}", iteration);
                break;
            }
            assert!(Instant::now() < deadline, "container never stopped");
        }
        env.runtime.delete_container(&ctr).unwrap();
    }
}

fn wait_for_log(ctr: &Container, needle: &str) {
    assert!(
        eventually(Duration::from_secs(10), || log_text(ctr).contains(needle)),
        "log never contained {:?}: {}",
        needle,
        log_text(ctr)
    );
}

/// A shell that prints "got-term" on SIGTERM but keeps running, so only SIGKILL ends it.
const TRAP_TERM: &str = "trap 'echo got-term' TERM; echo ready; while :; do sleep 1; done";

#[test]
fn stop_honours_grace_period_then_kills() {
    let env = TestEnv::new();
    let ctr = env.running("grace", &["sh", "-c", TRAP_TERM]);
    wait_for_log(&ctr, "ready");

    let started = Instant::now();
    env.runtime.stop_container(&ctr, 3, false).unwrap();
    let took = started.elapsed();

    // Stop must wait out most of the 3 s grace period. The upper bound only detects a stop
    // that never escalates to SIGKILL.
    assert!(
        took >= Duration::from_millis(2500),
        "stop returned after {:?}",
        took
    );
    assert!(
        took <= Duration::from_secs(9),
        "stop returned after {:?}",
        took
    );
    assert!(log_text(&ctr).contains("got-term"), "{}", log_text(&ctr));
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(137));
}

#[test]
fn stop_without_handler_escalates_to_sigkill() {
    let env = TestEnv::new();
    let ctr = env.running("nohandler", &["sleep", "1000"]);
    wait_for_command(&ctr);
    let pid = ctr.load_state().unwrap().pid;

    // `sleep` as PID 1 of its namespace ignores SIGTERM, so stop must wait out the 2 s grace
    // period. The upper bound only detects a stop that never escalates to SIGKILL.
    let started = Instant::now();
    env.runtime.stop_container(&ctr, 2, false).unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "stop returned after {:?}",
        took
    );
    assert!(
        took <= Duration::from_secs(8),
        "stop returned after {:?}",
        took
    );

    let state = ctr.load_state().unwrap();
    assert_eq!(state.status, Status::Stopped);
    assert_eq!(state.exit_code, Some(137));
    assert!(!pid_alive(pid), "pid {} still alive", pid);
}

#[test]
fn stop_with_zero_timeout_kills_at_once() {
    let env = TestEnv::new();
    let ctr = env.running("zero", &["sh", "-c", TRAP_TERM]);
    wait_for_log(&ctr, "ready");

    let started = Instant::now();
    env.runtime.stop_container(&ctr, 0, false).unwrap();
    // A generous bound that only detects a stop that hangs instead of killing at once.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!log_text(&ctr).contains("got-term"), "{}", log_text(&ctr));
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(137));
}

#[test]
fn stop_returns_as_soon_as_process_exits() {
    let env = TestEnv::new();
    let ctr = env.running(
        "prompt",
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo ready; while :; do sleep 1; done",
        ],
    );
    wait_for_log(&ctr, "ready");

    // The shell exits on SIGTERM, so stop must return long before the 10 s grace period.
    let started = Instant::now();
    env.runtime.stop_container(&ctr, 10, false).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(0));
}

#[test]
fn stop_and_kill_of_exited_container() {
    let env = TestEnv::new();
    let ctr = env.running("exited", &["true"]);
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);

    // Stopping an exited container returns at once instead of waiting out the grace period.
    let started = Instant::now();
    env.runtime.stop_container(&ctr, 5, false).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let err = env
        .runtime
        .kill_container(&ctr, libc::SIGTERM, false)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(0));
}

#[test]
fn stop_racing_with_exit_succeeds() {
    let env = TestEnv::new();
    for iteration in 0..50 {
        let ctr = env.running("race", &["true"]);
        // `true` runs as PID 1 of its namespace, so it ignores SIGTERM and exits with 0 by
        // itself, unless the signal reaches runc's init before `true` runs.
        wait_for_command(&ctr);

        // The process exits by itself, so stop must not wait out the 10 s grace period.
        let started = Instant::now();
        env.runtime.stop_container(&ctr, 10, false).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "iteration {}: {:?}",
            iteration,
            started.elapsed()
        );
        assert_eq!(
            ctr.load_state().unwrap().exit_code,
            Some(0),
            "iteration {}",
            iteration
        );
        env.runtime.delete_container(&ctr).unwrap();
    }
}

/// Returns the pids of the children of `parent`'s main thread.
fn child_pids(parent: i32) -> Vec<i32> {
    let path = format!("/proc/{}/task/{}/children", parent, parent);
    fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Returns the children of `parent` whose command line is exactly `args`. A child that has
/// forked but not yet executed its command still has its parent's command line, so it is
/// not listed.
fn children_running(parent: i32, args: &[&str]) -> Vec<i32> {
    let expected: Vec<u8> = args.iter().flat_map(|arg| arg.bytes().chain([0])).collect();
    child_pids(parent)
        .into_iter()
        .filter(|pid| fs::read(format!("/proc/{}/cmdline", pid)).is_ok_and(|c| c == expected))
        .collect()
}

#[test]
fn kill_all_reaches_processes_after_init_exited() {
    // Without a PID namespace, the container's other processes outlive init. Kill with `all`
    // must still reach them through the runtime.
    let env = TestEnv::new();
    let ctr = env.created_with(
        "killall",
        spec_without_pid_namespace(&["sh", "-c", "sleep 1000 & sleep 3"]),
        json!({}),
    );
    let init = ctr.load_state().unwrap().pid;
    env.runtime.start_container(&ctr).unwrap();

    let background_args = ["sleep", "1000"];
    assert!(
        eventually(Duration::from_secs(5), || {
            !children_running(init, &background_args).is_empty()
        }),
        "no child of {} runs sleep 1000: {:?}",
        init,
        child_pids(init)
    );
    let background = children_running(init, &background_args);
    assert_eq!(
        background.len(),
        1,
        "children of {}: {:?}",
        init,
        child_pids(init)
    );

    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
    assert!(pid_alive(background[0]), "background sleep died with init");

    env.runtime
        .kill_container(&ctr, libc::SIGKILL, true)
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !pid_alive(background[0])),
        "pid {} survived kill --all",
        background[0]
    );
    env.runtime.delete_container(&ctr).unwrap();
    assert!(env.runc_ids().is_empty(), "{:?}", env.runc_ids());
}

#[test]
fn kill_and_stop_all_in_private_pid_namespace() {
    let env = TestEnv::new();
    for use_stop in [false, true] {
        let ctr = env.running("all", &["sh", "-c", "sleep 1001 & sleep 1002 & wait"]);
        let init = ctr.load_state().unwrap().pid;
        assert!(
            eventually(Duration::from_secs(5), || child_pids(init).len() == 2),
            "children of {}: {:?}",
            init,
            child_pids(init)
        );
        let children = child_pids(init);

        if use_stop {
            env.runtime.stop_container(&ctr, 0, true).unwrap();
        } else {
            env.runtime
                .kill_container(&ctr, libc::SIGKILL, true)
                .unwrap();
        }
        assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 137);
        for child in children {
            assert!(
                eventually(Duration::from_secs(5), || !pid_alive(child)),
                "pid {} survived",
                child
            );
        }
        env.runtime.delete_container(&ctr).unwrap();
    }
}

#[test]
fn force_delete_of_running_containers() {
    let env = TestEnv::new();
    // The last iteration's shell ignores SIGTERM, so only SIGKILL ends it.
    for iteration in 0..21 {
        let args: &[&str] = if iteration < 20 {
            &["sleep", "1000"]
        } else {
            &["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
        };
        let ctr = env.running("delete", args);
        let pid = ctr.load_state().unwrap().pid;
        let exit_path = env.runtime.exit_file_path(&ctr).unwrap();

        let started = Instant::now();
        env.runtime.delete_container(&ctr).unwrap();
        // A generous bound that only detects a delete that hangs instead of killing.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "iteration {}: {:?}",
            iteration,
            started.elapsed()
        );
        assert!(
            !pid_alive(pid),
            "iteration {}: pid {} alive",
            iteration,
            pid
        );
        let runc_ids = env.runc_ids();
        assert!(
            !runc_ids.contains(&ctr.id().to_string()),
            "iteration {}: runc still lists {} in {:?}",
            iteration,
            ctr.id(),
            runc_ids
        );
        // Delete waits for conmon to record the exit and then removes the exit file, so a
        // file left behind (even one reading 137) means conmon wrote it too late.
        let leftover = fs::read_to_string(&exit_path);
        assert!(
            leftover.is_err(),
            "iteration {}: delete left {} with {:?}",
            iteration,
            exit_path.display(),
            leftover
        );
        let err = ctr.load_state().unwrap_err();
        assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER);
        assert!(
            !ctr.dir().exists(),
            "iteration {}: {} still exists",
            iteration,
            ctr.dir().display()
        );
    }
}

#[test]
fn pause_and_unpause() {
    let env = TestEnv::new();
    let ctr = env.running("pause", &["sleep", "1000"]);

    env.runtime.pause_container(&ctr).unwrap();
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Paused);
    let err = env.runtime.pause_container(&ctr).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID);

    env.runtime.unpause_container(&ctr).unwrap();
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);

    // A paused container can be stopped, because stop thaws it to deliver the signal.
    env.runtime.pause_container(&ctr).unwrap();
    env.runtime.stop_container(&ctr, 1, false).unwrap();
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(137));
}

/// Deletes the container behind the library's back, as a reboot or another tool would.
fn runc_delete(env: &TestEnv, id: &str) {
    let status = env.runc_force_delete(id).expect("runc runs");
    assert!(status.success(), "runc delete --force {}: {}", id, status);
}

#[test]
fn forgotten_container_is_marked_exited() {
    let env = TestEnv::new();

    // Case 1: conmon is gone, so no exit file will come, and runc loses the container.
    let ctr = env.running("forgot", &["sleep", "1000"]);
    let conmon_pid = ctr.load_state().unwrap().conmon_pid;
    assert!(conmon_pid > 0, "conmon pid {}", conmon_pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(conmon_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !pid_alive(conmon_pid)),
        "conmon {} survived SIGKILL",
        conmon_pid
    );
    runc_delete(&env, ctr.id());
    env.runtime.update_container_status(&ctr).unwrap();
    let state = ctr.load_state().unwrap();
    assert_eq!(state.status, Status::Exited);
    assert_eq!(state.exit_code, Some(-1));

    // Case 2: the container exits, then runc loses it. The exit code survives.
    let ctr = env.running("forgot2", &["sh", "-c", "exit 9"]);
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 9);
    runc_delete(&env, ctr.id());
    env.runtime.update_container_status(&ctr).unwrap();
    let state = ctr.load_state().unwrap();
    assert_eq!(state.status, Status::Exited);
    assert_eq!(state.exit_code, Some(9));

    // Case 3: runc loses a running container while conmon lives. conmon records the kill,
    // and the status update takes the code from its exit file.
    let ctr = env.running("forgot3", &["sleep", "1000"]);
    runc_delete(&env, ctr.id());
    env.runtime.update_container_status(&ctr).unwrap();
    let state = ctr.load_state().unwrap();
    assert!(!state.status.is_active(), "{:?}", state.status);
    assert_eq!(state.exit_code, Some(137));
}

#[test]
fn container_can_be_created_again_after_exit() {
    let env = TestEnv::new();
    let ctr = env.running("again", &["sh", "-c", "exit 4"]);
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 4);

    env.runtime.create_container(&ctr, None).unwrap();
    let state = ctr.load_state().unwrap();
    assert_eq!(state.status, Status::Created);
    assert_eq!(state.exit_code, None);
    env.runtime.start_container(&ctr).unwrap();
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 4);
}

#[test]
fn state_errors_for_wrong_states() {
    let env = TestEnv::new();
    let ctr = env.container("states", &["sleep", "1000"]);

    // A configured container can only be created.
    for err in [
        env.runtime.start_container(&ctr).unwrap_err(),
        env.runtime
            .kill_container(&ctr, libc::SIGTERM, false)
            .unwrap_err(),
        env.runtime.stop_container(&ctr, 1, false).unwrap_err(),
        env.runtime.pause_container(&ctr).unwrap_err(),
        env.runtime.wait_container(&ctr, WAIT).unwrap_err(),
    ] {
        assert_eq!(
            err.kind(),
            ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
            "{}",
            err
        );
        assert!(err.message().contains(ctr.id()), "{}", err);
    }

    env.runtime.create_container(&ctr, None).unwrap();
    let err = env.runtime.create_container(&ctr, None).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );

    // Stopping a container that was created but never started kills its waiting process.
    env.runtime.stop_container(&ctr, 5, false).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Stopped);
    let err = env.runtime.kill_container(&ctr, 0, false).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
        "{}",
        err
    );
}

#[test]
fn wait_times_out_without_exit() {
    let env = TestEnv::new();
    let ctr = env.running("waiting", &["sleep", "1000"]);

    let started = Instant::now();
    let err = env
        .runtime
        .wait_container(&ctr, Some(Duration::from_millis(200)))
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_TIMED_OUT, "{}", err);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "wait timed out after {:?}",
        started.elapsed()
    );

    // A second thread that is blocked in wait returns with the kill's exit code.
    let (tid_sender, tid_receiver) = std::sync::mpsc::channel();
    let waiter = {
        let runtime = Arc::clone(&env.runtime);
        let ctr = Arc::clone(&ctr);
        std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_sender.send(unsafe { libc::gettid() }).unwrap();
            runtime.wait_container(&ctr, WAIT)
        })
    };
    let tid = tid_receiver.recv().unwrap();
    // The wait blocks in poll(2), where the thread sleeps (state S).
    assert!(
        eventually(Duration::from_secs(10), || {
            ocirt::process::state_letter(tid) == Some('S')
        }),
        "waiter thread {} never blocked",
        tid
    );
    env.runtime
        .kill_container(&ctr, libc::SIGKILL, false)
        .unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), 137);
}

#[test]
fn create_failure_is_classified_and_cleaned_up() {
    let env = TestEnv::new();
    let missing = env.container("missing", &["/no/such/binary"]);
    let err = env.runtime.create_container(&missing, None).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND,
        "{}",
        err
    );
    assert!(err.message().contains("/no/such/binary"), "{}", err);
    assert_eq!(missing.load_state().unwrap().status, Status::Configured);

    let directory = env.container("directory", &["/etc"]);
    let err = env.runtime.create_container(&directory, None).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_RUNTIME_PERMISSION_DENIED,
        "{}",
        err
    );
    assert!(
        env.runc_ids().is_empty(),
        "left behind: {:?}",
        env.runc_ids()
    );

    // Deleting the failed container frees its id for a new container with a valid command.
    let id = missing.id().to_string();
    env.runtime.delete_container(&missing).unwrap();
    let fixed = Container::new(
        Arc::clone(&env.runtime),
        container_config(&id, spec(&["true"]), json!({})),
    )
    .unwrap();
    env.track(Arc::clone(&fixed));
    env.runtime.create_container(&fixed, None).unwrap();
    env.runtime.start_container(&fixed).unwrap();
    assert_eq!(env.runtime.wait_container(&fixed, WAIT).unwrap(), 0);
}

#[test]
fn conmon_rejection_reports_its_message() {
    let env = TestEnv::new();

    // A log path that is a directory passes the library's checks, but conmon rejects it.
    let ctr = env.container_with(
        "badlog",
        spec(&["true"]),
        json!({"log_path": env.dir.path()}),
    );
    let err = env.runtime.create_container(&ctr, None).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_CONMON, "{}", err);
    assert!(err.message().contains("log file"), "{}", err);
    assert!(env.runc_ids().is_empty(), "{:?}", env.runc_ids());

    let ctr = env.container_with(
        "nologdir",
        spec(&["true"]),
        json!({"log_path": "/nonexistent-ocirt-dir/ctr.log"}),
    );
    let err = env.runtime.create_container(&ctr, None).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
        "{}",
        err
    );
    assert!(err.message().contains("/nonexistent-ocirt-dir"), "{}", err);
}

#[test]
fn exit_command_runs_after_exit() {
    let env = TestEnv::new();
    let marker = env.dir.path().join("exit-command-ran");
    let ctr = env.running_with(
        "exitcmd",
        spec(&["sh", "-c", "exit 2"]),
        json!({"exit_command": ["/usr/bin/touch", marker]}),
    );

    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 2);
    assert!(
        eventually(Duration::from_secs(10), || marker.exists()),
        "exit command did not run"
    );
}

#[test]
fn one_bundle_serves_many_containers() {
    let env = TestEnv::new();
    let bundle_dir = env.dir.path().join("bundle");
    let status = std::process::Command::new(repo_root().join("scripts/make-bundle.sh"))
        .arg(&bundle_dir)
        .args(["sleep", "1000"])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "scripts/make-bundle.sh failed: {}",
        status
    );

    let mut containers = Vec::new();
    for _ in 0..3 {
        let config = json!({"id": unique_id("shared"), "bundle": bundle_dir});
        let ctr = Container::new(
            Arc::clone(&env.runtime),
            ocirt::ContainerConfig::from_json(&config.to_string()).unwrap(),
        )
        .unwrap();
        env.track(Arc::clone(&ctr));
        env.runtime.create_container(&ctr, None).unwrap();
        env.runtime.start_container(&ctr).unwrap();
        let copy: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(ctr.file("config.json")).unwrap()).unwrap();
        assert_eq!(
            copy["root"]["path"],
            bundle_dir.join("rootfs").to_string_lossy().as_ref()
        );
        containers.push(ctr);
    }

    for ctr in &containers {
        env.runtime.update_container_status(ctr).unwrap();
        assert_eq!(ctr.load_state().unwrap().status, Status::Running);
    }
}

#[test]
fn duplicate_id_is_rejected() {
    let env = TestEnv::new();
    let ctr = env.container("dup", &["true"]);

    let config = container_config(ctr.id(), spec(&["true"]), json!({}));
    let err = Container::new(Arc::clone(&env.runtime), config).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_EXISTS,
        "{}",
        err
    );
    assert!(err.message().contains(ctr.id()), "{}", err);
}

#[test]
fn reopened_handle_shares_state() {
    let env = TestEnv::new();
    let ctr = env.running("reopen", &["sleep", "1000"]);

    let again = Container::open(Arc::clone(&env.runtime), ctr.id()).unwrap();
    assert_eq!(again.load_state().unwrap(), ctr.load_state().unwrap());

    // A change made through one handle is visible through the other.
    env.runtime
        .kill_container(&again, libc::SIGKILL, false)
        .unwrap();
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 137);
    env.runtime.delete_container(&again).unwrap();

    let err = env
        .runtime
        .kill_container(&ctr, libc::SIGKILL, false)
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER);
    let err = Container::open(Arc::clone(&env.runtime), ctr.id()).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER);
}

#[test]
fn oom_kill_is_recorded() {
    let env = TestEnv::new();
    let mut oom_spec = spec(&[
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=64M count=1; exit 0",
    ]);
    oom_spec["linux"]["resources"]["memory"] =
        json!({"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024});
    let ctr = env.running_with("oom", oom_spec, json!({}));

    // The script exits with 0 after dd, so only the state shows the OOM kill.
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
    assert!(
        ctr.load_state().unwrap().oom_killed,
        "log: {}",
        log_text(&ctr)
    );
}

#[test]
fn runtime_info_reads_versions() {
    let env = TestEnv::new();
    let (conmon, runtime) = env.runtime.runtime_info().unwrap();
    assert!(
        conmon.version.starts_with("conmon version "),
        "{}",
        conmon.version
    );
    assert!(!conmon.version.contains('\n'), "{:?}", conmon.version);
    assert!(
        runtime.version.starts_with("runc version"),
        "{}",
        runtime.version
    );
    assert_eq!(runtime.name, "runc");
    // The default runtime config lists runc only under supports_json_errors.
    assert!(env.runtime.supports_json_errors(), "supports_json_errors");
    assert!(!env.runtime.supports_no_cgroups(), "supports_no_cgroups");
    assert!(!env.runtime.supports_kvm(), "supports_kvm");
}

#[test]
fn checkpoint_and_restore_or_skip() {
    let env = TestEnv::new();
    if !env.runtime.supports_checkpoint() {
        skip(
            "checkpoint",
            "the runtime cannot checkpoint (checkpoint --help failed or criu is missing)",
        );
        return;
    }
    let ctr = env.running("checkpoint", &["sleep", "1000"]);

    // Restoring without a checkpoint names the missing image.
    let fresh = env.container("norestore", &["true"]);
    let err = env
        .runtime
        .create_container(&fresh, Some(&ocirt::RestoreOptions::default()))
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
        "{}",
        err
    );
    assert!(err.message().contains("inventory.img"), "{}", err);

    match env
        .runtime
        .checkpoint_container(&ctr, &ocirt::CheckpointOptions::default())
    {
        Err(err)
            if err.kind() == ocirt_result::OCIRT_ERR_OCI_RUNTIME
                && err.message().contains("criu") =>
        {
            skip(
                "checkpoint",
                &format!("CRIU cannot dump on this machine: {}", err.message()),
            );
            // A failed checkpoint leaves the container running.
            env.runtime.update_container_status(&ctr).unwrap();
            let state = ctr.load_state().unwrap();
            assert_eq!(state.status, Status::Running);
            assert!(!state.checkpointed, "a failed checkpoint set checkpointed");
        }
        Err(err) => panic!("checkpoint failed unexpectedly: {}", err),
        Ok(()) => {
            let state = ctr.load_state().unwrap();
            assert_eq!(state.status, Status::Stopped);
            assert!(state.checkpointed, "{:?}", state);
            env.runtime
                .create_container(&ctr, Some(&ocirt::RestoreOptions::default()))
                .unwrap();
            let state = ctr.load_state().unwrap();
            assert_eq!(state.status, Status::Running);
            assert!(state.restored, "{:?}", state);
            env.runtime
                .kill_container(&ctr, libc::SIGKILL, false)
                .unwrap();
            assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 137);
        }
    }
}

#[test]
fn foreign_container_id_is_left_alone() {
    // Two state directories share one runc root. The second runtime must neither create nor
    // delete the container that the first one runs under the same id.
    let shared_root = tempfile::tempdir_in("/tmp").unwrap();
    let first = TestEnv::with_config(json!({"runtime_root": shared_root.path()}));
    let second = TestEnv::with_config(json!({"runtime_root": shared_root.path()}));
    let ours = first.running("shared", &["sleep", "1000"]);

    let config = container_config(ours.id(), spec(&["sleep", "1000"]), json!({}));
    let theirs = Container::new(Arc::clone(&second.runtime), config).unwrap();
    let err = second.runtime.create_container(&theirs, None).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_EXISTS,
        "{}",
        err
    );
    assert!(err.message().contains("runtime_root"), "{}", err);
    second.runtime.delete_container(&theirs).unwrap();

    first.runtime.update_container_status(&ours).unwrap();
    let state = ours.load_state().unwrap();
    assert_eq!(state.status, Status::Running);
    assert!(pid_alive(state.pid), "pid {} is gone", state.pid);
    first.runtime.stop_container(&ours, 0, false).unwrap();
}
