//! Exec sessions on real runc and conmon: exit codes, streams, terminals, users, stop, status,
//! cleanup and leftovers.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use ocirt::attach::http::HttpAttachOptions;
use ocirt::attach::{AttachOutcome, SessionHandle, WriteOutcome};
use ocirt::exec::{ExecOptions, Streams};
use ocirt::{ocirt_result, Container, OciRuntime, Status};
use serde_json::json;

const WAIT: Option<Duration> = Some(Duration::from_secs(30));

fn options(value: serde_json::Value) -> ExecOptions {
    ExecOptions::from_json(&value.to_string()).unwrap()
}

fn session_id(name: &str) -> String {
    unique_id(name)
}

/// Runs an attached exec and returns (stdout, stderr, exit code).
fn exec_attached(
    env: &TestEnv,
    ctr: &Container,
    value: serde_json::Value,
) -> (Vec<u8>, Vec<u8>, i32) {
    let out = Collected::default();
    let (_, session) = env
        .runtime
        .exec_container(
            ctr,
            &session_id("x"),
            &options(value),
            Streams::Sink(out.sink()),
        )
        .unwrap();
    let (result, code) = session.wait(WAIT).expect("exec ended in time");
    assert_eq!(result.unwrap(), AttachOutcome::Ended);
    (out.stdout(), out.stderr(), code)
}

fn exit_code_of(env: &TestEnv, ctr: &Container, cmd: &[&str]) -> i32 {
    exec_attached(env, ctr, json!({"cmd": cmd})).2
}

/// Starts a detached exec session and returns its pid and handle.
fn exec_detached(
    env: &TestEnv,
    ctr: &Container,
    id: &str,
    value: serde_json::Value,
) -> (i32, Box<dyn SessionHandle>) {
    env.runtime
        .exec_container(ctr, id, &options(value), Streams::Detached)
        .unwrap()
}

/// Starts a detached exec session that must fail and returns the error.
fn exec_error(env: &TestEnv, ctr: &Container, id: &str, value: serde_json::Value) -> ocirt::Error {
    env.runtime
        .exec_container(ctr, id, &options(value), Streams::Detached)
        .map(|_| ())
        .unwrap_err()
}

/// Returns the path of the exit file that conmon writes for an exec session.
fn exec_exit_file(ctr: &Container, id: &str) -> std::path::PathBuf {
    ctr.file("exec").join(id).join("exit").join(ctr.id())
}

#[test]
fn exec_exit_codes_attached_and_detached() {
    let env = TestEnv::new();
    let ctr = env.running("codes", &["sleep", "1000"]);

    assert_eq!(exit_code_of(&env, &ctr, &["true"]), 0);
    assert_eq!(exit_code_of(&env, &ctr, &["false"]), 1);
    assert_eq!(exit_code_of(&env, &ctr, &["sh", "-c", "exit 42"]), 42);
    assert_eq!(exit_code_of(&env, &ctr, &["sh", "-c", "exit 255"]), 255);
    assert_eq!(
        exit_code_of(&env, &ctr, &["sh", "-c", "kill -SEGV $$"]),
        139
    );

    let id = session_id("detached");
    let (pid, _handle) = exec_detached(
        &env,
        &ctr,
        &id,
        json!({"cmd": ["sh", "-c", "sleep 1; exit 7"]}),
    );
    assert!(pid > 0, "exec pid {}", pid);
    let (running, code) = env.runtime.exec_update_status(&ctr, &id).unwrap();
    assert!(running, "detached exec ended before its 1 s sleep");
    assert_eq!(code, None);

    let mut status = (true, None);
    assert!(
        eventually(Duration::from_secs(10), || {
            status = env.runtime.exec_update_status(&ctr, &id).unwrap();
            !status.0
        }),
        "detached exec still running after 10 s"
    );
    assert_eq!(status.1, Some(7));
}

#[test]
fn detached_handle_waits_for_exit_code() {
    let env = TestEnv::new();
    let ctr = env.running("detwait", &["sleep", "1000"]);
    let id = session_id("w");
    let (_, handle) = exec_detached(
        &env,
        &ctr,
        &id,
        json!({"cmd": ["sh", "-c", "sleep 0.5; exit 9"]}),
    );
    assert!(
        handle.wait(Some(Duration::from_millis(10))).is_none(),
        "wait returned before the 0.5 s sleep ended"
    );

    let (result, code) = handle.wait(WAIT).unwrap();
    assert_eq!(result.unwrap(), AttachOutcome::Ended);
    assert_eq!(code, 9);
    assert_eq!(
        std::fs::read_to_string(exec_exit_file(&ctr, &id)).unwrap(),
        "9"
    );
    assert_eq!(
        env.runtime.exec_update_status(&ctr, &id).unwrap(),
        (false, Some(9))
    );

    let err = handle.write(b"x").unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID);
}

#[test]
fn missing_and_unexecutable_commands() {
    let env = TestEnv::new();
    let ctr = env.running("notfound", &["sleep", "1000"]);
    for terminal in [false, true] {
        let id = session_id("missing");
        let err = exec_error(
            &env,
            &ctr,
            &id,
            json!({"cmd": ["/no/such/binary"], "terminal": terminal}),
        );
        assert_eq!(
            err.kind(),
            ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND,
            "terminal {}: {}",
            terminal,
            err
        );
        assert!(err.message().contains("127"), "{}", err);
        assert_eq!(
            env.runtime.exec_update_status(&ctr, &id).unwrap(),
            (false, Some(127))
        );

        let id = session_id("directory");
        let err = exec_error(
            &env,
            &ctr,
            &id,
            json!({"cmd": ["/etc"], "terminal": terminal}),
        );
        assert_eq!(
            err.kind(),
            ocirt_result::OCIRT_ERR_RUNTIME_PERMISSION_DENIED,
            "terminal {}: {}",
            terminal,
            err
        );
        assert_eq!(
            env.runtime.exec_update_status(&ctr, &id).unwrap(),
            (false, Some(126))
        );
    }

    // The failures leave the container and later execs working.
    assert_eq!(exit_code_of(&env, &ctr, &["sh", "-c", "exit 5"]), 5);
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn sync_and_exit_file_codes_agree() {
    let env = TestEnv::new();
    let ctr = env.running("agree", &["sleep", "1000"]);
    for code in [0, 3, 130] {
        let id = session_id("agree");
        let out = Collected::default();
        let (_, session) = env
            .runtime
            .exec_container(
                &ctr,
                &id,
                &options(json!({"cmd": ["sh", "-c", format!("exit {}", code)]})),
                Streams::Sink(out.sink()),
            )
            .unwrap();
        let (_, from_sync) = session.wait(WAIT).unwrap();
        assert_eq!(from_sync, code);
        assert_eq!(
            std::fs::read_to_string(exec_exit_file(&ctr, &id)).unwrap(),
            code.to_string()
        );
    }
}

#[test]
fn large_exec_output_is_complete() {
    let env = TestEnv::new();
    let ctr = env.running("bigexec", &["sleep", "1000"]);
    let expected = yes_output(4_194_304);

    for iteration in 0..10 {
        // dd writes one byte per write(2), 500000 writes in all.
        let (stdout, stderr, code) = exec_attached(
            &env,
            &ctr,
            json!({"cmd": ["dd", "if=/dev/zero", "bs=1", "count=500000"]}),
        );
        assert_eq!(code, 0, "iteration {}", iteration);
        assert_eq!(stdout.len(), 500_000, "iteration {}", iteration);
        assert!(
            stdout.iter().all(|b| *b == 0),
            "iteration {}: dd output has a non-zero byte",
            iteration
        );
        let stderr = String::from_utf8_lossy(&stderr);
        assert!(
            stderr.contains("500000+0 records out"),
            "iteration {}: {}",
            iteration,
            stderr
        );

        let (stdout, _, code) = exec_attached(
            &env,
            &ctr,
            json!({"cmd": ["sh", "-c", yes_command(4_194_304)]}),
        );
        assert_eq!(code, 0, "iteration {}", iteration);
        assert!(
            stdout == expected,
            "iteration {}: yes output differs",
            iteration
        );
    }

    let (stdout, _, _) = exec_attached(&env, &ctr, json!({"cmd": ["printf", "\\377\\000x"]}));
    assert_eq!(stdout, b"\xff\x00x");
}

#[test]
fn exec_stdin_eof_ends_cat() {
    let env = TestEnv::new();
    let ctr = env.running("execcat", &["sleep", "1000"]);
    let out = Collected::default();
    let (_, session) = env
        .runtime
        .exec_container(
            &ctr,
            &session_id("cat"),
            &options(json!({"cmd": ["cat"], "stdin": true})),
            Streams::Sink(out.sink()),
        )
        .unwrap();
    session.write(b"hello\n").unwrap();
    session.close_stdin().unwrap();
    let closed = Instant::now();

    let (result, code) = session.wait(WAIT).unwrap();
    assert_eq!(result.unwrap(), AttachOutcome::Ended);
    // A generous bound that only detects an EOF that never reached cat.
    assert!(
        closed.elapsed() < Duration::from_secs(5),
        "{:?}",
        closed.elapsed()
    );
    assert_eq!(code, 0);
    assert_eq!(out.stdout(), b"hello\n");
}

#[test]
fn exec_detach_keys_with_terminal() {
    let env = TestEnv::new();
    let ctr = env.running("execdetach", &["sleep", "1000"]);
    let id = session_id("tty");
    let (_, session) = env
        .runtime
        .exec_container(
            &ctr,
            &id,
            &options(json!({"cmd": ["sleep", "1000"], "terminal": true, "stdin": true})),
            Streams::Sink(Collected::default().sink()),
        )
        .unwrap();

    // The default detach keys are ctrl-p,ctrl-q.
    let sent = Instant::now();
    assert_eq!(session.write(b"\x10\x11").unwrap(), WriteOutcome::Detached);
    let (result, code) = session.wait(WAIT).unwrap();
    assert_eq!(result.unwrap(), AttachOutcome::Detached);
    assert_eq!(code, -1);
    // A generous bound that only detects a session that keeps running after the detach.
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );

    // The detached session's process keeps running until it is stopped.
    assert_eq!(
        env.runtime.exec_update_status(&ctr, &id).unwrap(),
        (true, None)
    );
    env.runtime.exec_stop_container(&ctr, &id, 0).unwrap();
    assert_eq!(
        env.runtime.exec_update_status(&ctr, &id).unwrap(),
        (false, Some(137))
    );
}

#[test]
fn exec_terminal_initial_size_every_time() {
    let env = TestEnv::new();
    let ctr = env.running("ttysize", &["sleep", "1000"]);
    for iteration in 0..20 {
        let (stdout, _, code) = exec_attached(
            &env,
            &ctr,
            json!({"cmd": ["stty", "size"], "terminal": true, "width": 100, "height": 30}),
        );
        assert_eq!(code, 0);
        assert_eq!(stdout, b"30 100\r\n", "iteration {}", iteration);
    }
}

#[test]
fn exec_resize_while_running() {
    let env = TestEnv::new();
    let ctr = env.running("execresize", &["sleep", "1000"]);
    let id = session_id("resize");
    let out = Collected::default();
    let (_, session) = env
        .runtime
        .exec_container(
            &ctr,
            &id,
            &options(
                json!({"cmd": ["sh", "-c", "read x; stty size"], "terminal": true, "stdin": true}),
            ),
            Streams::Sink(out.sink()),
        )
        .unwrap();

    // The shell reads the size only after the newline, so after the resize.
    env.runtime.exec_attach_resize(&ctr, &id, 160, 50).unwrap();
    session.write(b"\n").unwrap();
    let (_, code) = session.wait(WAIT).unwrap();
    assert_eq!(code, 0);
    assert!(
        out.stdout().ends_with(b"50 160\r\n"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout())
    );

    // Neither an ended session nor one without a terminal can be resized.
    let err = env
        .runtime
        .exec_attach_resize(&ctr, &id, 80, 24)
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID);

    let plain = session_id("plain");
    exec_detached(&env, &ctr, &plain, json!({"cmd": ["sleep", "5"]}));
    let err = env
        .runtime
        .exec_attach_resize(&ctr, &plain, 80, 24)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID,
        "{}",
        err
    );
    env.runtime.exec_stop_container(&ctr, &plain, 0).unwrap();
}

#[test]
fn kill_all_ends_exec_sessions() {
    let env = TestEnv::new();
    for use_stop in [false, true] {
        let ctr = env.running("killall", &["sleep", "1000"]);
        let id = session_id("bg");
        let (pid, _) = exec_detached(&env, &ctr, &id, json!({"cmd": ["sleep", "1001"]}));

        if use_stop {
            env.runtime.stop_container(&ctr, 0, true).unwrap();
        } else {
            env.runtime
                .kill_container(&ctr, libc::SIGKILL, true)
                .unwrap();
        }
        assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 137);
        assert!(
            eventually(Duration::from_secs(5), || !pid_alive(pid)),
            "exec pid {} survived",
            pid
        );
        assert!(
            eventually(Duration::from_secs(5), || {
                env.runtime.exec_update_status(&ctr, &id).unwrap() == (false, Some(137))
            }),
            "exec status: {:?}",
            env.runtime.exec_update_status(&ctr, &id)
        );
        env.runtime.delete_container(&ctr).unwrap();
    }
}

#[test]
fn kill_all_reaches_orphaned_exec() {
    // Without a PID namespace, the exec'd process outlives the container's init.
    let env = TestEnv::new();
    let ctr = env.running_with(
        "hostpid",
        spec_without_pid_namespace(&["sleep", "3"]),
        json!({}),
    );
    let id = session_id("orphan");
    let (pid, _) = exec_detached(&env, &ctr, &id, json!({"cmd": ["sleep", "1000"]}));

    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
    assert!(pid_alive(pid), "the exec'd sleep died with init");

    env.runtime
        .kill_container(&ctr, libc::SIGKILL, true)
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !pid_alive(pid)),
        "pid {} survived",
        pid
    );
    env.runtime.delete_container(&ctr).unwrap();
}

/// Returns the zombie processes whose parent is in `parents`, as (pid, parent pid).
fn zombies_under(parents: &[i32]) -> Vec<(i32, i32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pid)) else {
            continue;
        };
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ppid: i32 = fields[1].parse().unwrap();
        if fields[0] == "Z" && parents.contains(&ppid) {
            found.push((pid, ppid));
        }
    }
    found
}

/// Returns the pids of the conmons that monitor the container itself: one while it runs.
fn container_monitors(ctr: &Container) -> Vec<i32> {
    conmon_pids(ctr, false)
}

/// Returns the pids of the conmons that monitor the container's exec sessions.
fn exec_monitors(ctr: &Container) -> Vec<i32> {
    conmon_pids(ctr, true)
}

/// Returns the pids of the conmon processes for the container, either those of its exec
/// sessions (started with `-e`) or the container's own.
fn conmon_pids(ctr: &Container, exec_sessions: bool) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", pid)) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_conmon = args.first().is_some_and(|a| a.ends_with("conmon"));
        let for_ctr = args.windows(2).any(|w| w[0] == "-c" && w[1] == ctr.id());
        let is_exec = args.iter().any(|a| a == "-e");
        if is_conmon && for_ctr && is_exec == exec_sessions {
            pids.push(pid);
        }
    }
    pids
}

/// Asserts that no zombie of this process or of `monitor` stays. Other tests of this binary
/// run in parallel, and their children are zombies for a moment before they are reaped, so
/// the check waits for a moment without any.
fn assert_no_zombies(monitor: i32) {
    let parents = [std::process::id() as i32, monitor];
    assert!(
        eventually(Duration::from_secs(5), || {
            zombies_under(&parents).is_empty()
        }),
        "zombies (pid, parent): {:?}",
        zombies_under(&parents)
    );
}

#[test]
fn exec_sessions_leave_no_zombies() {
    let env = TestEnv::new();
    let ctr = env.running("zombies", &["sleep", "1000"]);
    let monitor = ctr.load_state().unwrap().conmon_pid;

    for _ in 0..20 {
        assert_eq!(exit_code_of(&env, &ctr, &["true"]), 0);
    }
    let mut markers = Vec::new();
    for index in 0..5 {
        let marker = env.dir.path().join(format!("exit-command-{}", index));
        let exec = json!({
            "cmd": ["true"],
            "exit_command": ["/usr/bin/touch", marker],
            "exit_command_delay": 0,
        });
        exec_detached(&env, &ctr, &session_id("zd"), exec);
        markers.push(marker);
    }

    // Each exec monitor runs its exit command and then exits.
    assert!(
        eventually(Duration::from_secs(10), || {
            markers.iter().all(|m| m.exists())
        }),
        "exit commands ran: {:?}",
        markers.iter().map(|m| m.exists()).collect::<Vec<_>>()
    );
    assert!(
        eventually(Duration::from_secs(10), || exec_monitors(&ctr).is_empty()),
        "exec monitors left: {:?}",
        exec_monitors(&ctr)
    );
    assert_no_zombies(monitor);
    assert_eq!(container_monitors(&ctr), vec![monitor]);

    env.runtime.stop_container(&ctr, 0, false).unwrap();
    env.runtime.delete_container(&ctr).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || {
            container_monitors(&ctr).is_empty()
        }),
        "{:?}",
        container_monitors(&ctr)
    );
}

#[test]
fn exec_user_cwd_and_env() {
    let env = TestEnv::new();
    let mut user_spec = spec(&["sleep", "1000"]);
    user_spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    user_spec["process"]["cwd"] = json!("/tmp");
    user_spec["process"]["env"] = json!(["PATH=/bin", "FOO=ctr"]);
    let ctr = env.running_with("users", user_spec, json!({}));

    let run =
        |value: serde_json::Value| String::from_utf8(exec_attached(&env, &ctr, value).0).unwrap();
    assert_eq!(run(json!({"cmd": ["id", "-u"]})), "1000\n");
    assert_eq!(run(json!({"cmd": ["id", "-u"], "user": "0"})), "0\n");
    assert_eq!(run(json!({"cmd": ["id", "-g"], "user": "root"})), "0\n");
    assert_eq!(run(json!({"cmd": ["pwd"]})), "/tmp\n");
    assert_eq!(run(json!({"cmd": ["pwd"], "cwd": "/"})), "/\n");
    assert_eq!(
        run(json!({"cmd": ["sh", "-c", "echo $FOO-$BAR"], "env": {"BAR": "exec"}})),
        "ctr-exec\n"
    );
    assert_eq!(
        run(json!({"cmd": ["sh", "-c", "echo $HOME"], "user": "root"})),
        "/root\n"
    );

    let err = exec_error(
        &env,
        &ctr,
        &session_id("nouser"),
        json!({"cmd": ["true"], "user": "nobody-here"}),
    );
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
        "{}",
        err
    );
    assert!(err.message().contains("nobody-here"), "{}", err);

    // A missing working directory fails the same way with and without a terminal.
    let mut kinds = Vec::new();
    for terminal in [false, true] {
        let id = session_id("badcwd");
        let err = exec_error(
            &env,
            &ctr,
            &id,
            json!({"cmd": ["true"], "cwd": "/does/not/exist", "terminal": terminal}),
        );
        kinds.push((
            err.kind(),
            env.runtime.exec_update_status(&ctr, &id).unwrap(),
        ));
    }
    assert_eq!(
        kinds[0], kinds[1],
        "terminal and non-terminal failures differ: {:?}",
        kinds
    );
    assert_eq!(kinds[0].0, ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND);

    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn two_hundred_execs_leave_nothing_behind() {
    let env = TestEnv::new();
    let ctr = env.running("loop", &["sleep", "1000"]);
    let fds_before = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let monitor = ctr.load_state().unwrap().conmon_pid;

    for iteration in 0..200 {
        let id = session_id("loop");
        let (_, session) = env
            .runtime
            .exec_container(
                &ctr,
                &id,
                &options(json!({"cmd": ["sh", "-c", "exit 3"]})),
                Streams::Sink(Collected::default().sink()),
            )
            .unwrap();
        let (_, code) = session.wait(WAIT).unwrap();
        assert_eq!(code, 3, "iteration {}", iteration);
        drop(session);
        env.runtime.exec_container_cleanup(&ctr, &id).unwrap();
        let link = env
            .runtime
            .socket_link_for(&ocirt::exec::conmon_uuid(ctr.id(), &id));
        assert!(
            !link.exists(),
            "iteration {}: cleanup left {}",
            iteration,
            link.display()
        );
    }

    let remaining: Vec<_> = std::fs::read_dir(ctr.file("exec")).unwrap().collect();
    assert!(remaining.is_empty(), "{:?}", remaining);
    assert!(
        eventually(Duration::from_secs(5), || exec_monitors(&ctr).is_empty()),
        "exec monitors left: {:?}",
        exec_monitors(&ctr)
    );
    assert_eq!(container_monitors(&ctr), vec![monitor]);
    assert_no_zombies(monitor);
    let fds_after = std::fs::read_dir("/proc/self/fd").unwrap().count();
    // Other tests in this binary run in parallel and open descriptors of their own. A leak
    // of one descriptor per exec would show as hundreds.
    assert!(
        fds_after < fds_before + 50,
        "descriptors: {} before, {} after",
        fds_before,
        fds_after
    );
}

#[test]
fn exec_cleanup_and_paths() {
    let env = TestEnv::new();
    let ctr = env.running("cleanup", &["sleep", "1000"]);
    let id = session_id("running");
    exec_detached(&env, &ctr, &id, json!({"cmd": ["sleep", "100"]}));

    let path = env.runtime.exec_attach_socket_path(&ctr, &id).unwrap();
    assert_eq!(
        path,
        env.runtime
            .socket_dir()
            .join(format!("{}@{}", ctr.id(), id))
            .join("attach")
    );
    assert!(path.exists(), "{}", path.display());

    // A running session cannot be cleaned up, a stopped one can.
    let err = env.runtime.exec_container_cleanup(&ctr, &id).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID);
    env.runtime.exec_stop_container(&ctr, &id, 1).unwrap();
    env.runtime.exec_container_cleanup(&ctr, &id).unwrap();
    let session_dir = ctr.file("exec").join(&id);
    assert!(!session_dir.exists(), "{} left", session_dir.display());
    let link = env
        .runtime
        .socket_link_for(&ocirt::exec::conmon_uuid(ctr.id(), &id));
    assert!(!link.exists(), "{} left", link.display());

    // After cleanup, the session is unknown.
    for err in [
        env.runtime
            .exec_update_status(&ctr, &id)
            .map(|_| ())
            .unwrap_err(),
        env.runtime.exec_stop_container(&ctr, &id, 0).unwrap_err(),
        env.runtime.exec_container_cleanup(&ctr, &id).unwrap_err(),
        env.runtime
            .exec_attach_socket_path(&ctr, &id)
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!(
            err.kind(),
            ocirt_result::OCIRT_ERR_NO_SUCH_EXEC_SESSION,
            "{}",
            err
        );
    }
}

#[test]
fn same_session_id_in_two_containers() {
    let env = TestEnv::new();
    let first = env.running("twin1", &["sleep", "1000"]);
    let second = env.running("twin2", &["sleep", "1000"]);
    let id = session_id("shared");
    for ctr in [&first, &second] {
        exec_detached(&env, ctr, &id, json!({"cmd": ["sleep", "100"]}));
    }

    let first_path = env.runtime.exec_attach_socket_path(&first, &id).unwrap();
    let second_path = env.runtime.exec_attach_socket_path(&second, &id).unwrap();
    assert_ne!(first_path, second_path);
    assert!(first_path.exists(), "{} is missing", first_path.display());
    assert!(second_path.exists(), "{} is missing", second_path.display());

    env.runtime.exec_stop_container(&second, &id, 0).unwrap();
    env.runtime.exec_container_cleanup(&second, &id).unwrap();
    assert!(
        first_path.exists(),
        "cleaning up one session removed the other's link"
    );
    assert_eq!(
        env.runtime.exec_update_status(&first, &id).unwrap(),
        (true, None)
    );

    // A session id may equal a container id, because their links differ.
    let (_, handle) = exec_detached(&env, &first, second.id(), json!({"cmd": ["true"]}));
    assert_eq!(handle.wait(WAIT).unwrap().1, 0);
    let second_attach = env.runtime.attach_socket_path(&second).unwrap();
    assert!(
        second_attach.exists(),
        "{} is missing",
        second_attach.display()
    );
}

#[test]
fn exec_rejects_bad_requests() {
    let env = TestEnv::new();
    let ctr = env.created("badexec", &["sleep", "1000"]);

    // A created container has no process to exec into yet.
    let err = exec_error(&env, &ctr, "s1", json!({"cmd": ["true"]}));
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );
    env.runtime.start_container(&ctr).unwrap();

    for bad in ["", "../x", "a/b"] {
        let err = exec_error(&env, &ctr, bad, json!({"cmd": ["true"]}));
        assert_eq!(
            err.kind(),
            ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
            "{:?}: {}",
            bad,
            err
        );
    }

    let id = session_id("dup");
    exec_detached(&env, &ctr, &id, json!({"cmd": ["sleep", "100"]}));
    let err = exec_error(&env, &ctr, &id, json!({"cmd": ["true"]}));
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_EXEC_SESSION_EXISTS,
        "{}",
        err
    );

    let err = exec_error(
        &env,
        &ctr,
        &session_id("fds"),
        json!({"cmd": ["true"], "preserve_fds": 5000}),
    );
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
        "{}",
        err
    );
    assert!(err.message().contains("descriptor"), "{}", err);

    // A detached session has no stdin to forward.
    let err = exec_error(
        &env,
        &ctr,
        &session_id("stdin"),
        json!({"cmd": ["cat"], "stdin": true}),
    );
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
        "{}",
        err
    );
}

#[test]
fn exec_over_http() {
    let env = TestEnv::new();
    let ctr = env.running("httpexec", &["sleep", "1000"]);
    let (mut client, server) = UnixStream::pair().unwrap();
    let http_options = HttpAttachOptions::from_json(Some(r#"{"hijack_header": true}"#)).unwrap();
    let (_, session) = env
        .runtime
        .exec_container_http(
            &ctr,
            &session_id("http"),
            &options(json!({"cmd": ["sh", "-c", "cat; echo err >&2; exit 4"]})),
            OwnedFd::from(server),
            http_options,
            b"pre-".to_vec(),
            None,
        )
        .unwrap();

    client.write_all(b"hello\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    let (result, code) = session.wait(WAIT).unwrap();
    assert_eq!(result.unwrap(), AttachOutcome::Ended);
    assert_eq!(code, 4);

    let header = ocirt::attach::http::HIJACK_HEADER;
    assert!(
        data.starts_with(header),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    let frames = demux(&data[header.len()..]);
    let streams: Vec<u8> = frames.iter().map(|(stream, _)| *stream).collect();
    assert!(
        streams.iter().all(|stream| *stream == 1 || *stream == 2),
        "stream ids: {:?}",
        streams
    );
    // The buffered bytes reach the command's stdin before what the client sends.
    assert_eq!(payload(&frames, 1), b"pre-hello\n");
    assert_eq!(payload(&frames, 2), b"err\n");
}

#[test]
fn http_exec_failure_reaches_client() {
    let env = TestEnv::new();
    let ctr = env.running("httpfail", &["sleep", "1000"]);
    let (mut client, server) = UnixStream::pair().unwrap();
    let http_options = HttpAttachOptions::from_json(Some(r#"{"hijack_header": true}"#)).unwrap();
    let err = env
        .runtime
        .exec_container_http(
            &ctr,
            &session_id("fail"),
            &options(json!({"cmd": ["/no/such/binary"]})),
            OwnedFd::from(server),
            http_options,
            Vec::new(),
            None,
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND,
        "{}",
        err
    );

    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    let header = ocirt::attach::http::HIJACK_HEADER;
    assert!(
        data.starts_with(header),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    let frame = &data[header.len()..];
    assert!(frame.len() > 8, "no frame after the header: {:?}", frame);
    assert_eq!(frame[0], 2, "the error goes out as a stderr frame");
    let text = String::from_utf8_lossy(&frame[8..]);
    assert!(text.starts_with("Error: "), "{}", text);
    assert!(text.contains("/no/such/binary"), "{}", text);
}
