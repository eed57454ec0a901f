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
    let (pid, _handle) = env
        .runtime
        .exec_container(
            &ctr,
            &id,
            &options(json!({"cmd": ["sh", "-c", "sleep 1; exit 7"]})),
            Streams::Detached,
        )
        .unwrap();
    assert!(pid > 0);
    let (running, code) = env.runtime.exec_update_status(&ctr, &id).unwrap();
    assert!(running);
    assert_eq!(code, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        let (running, code) = env.runtime.exec_update_status(&ctr, &id).unwrap();
        if !running {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "detached exec still running after 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(7));
}

#[test]
fn detached_handle_waits_for_exit_code() {
    let env = TestEnv::new();
    let ctr = env.running("detwait", &["sleep", "1000"]);
    let id = session_id("w");
    let (_, handle) = env
        .runtime
        .exec_container(
            &ctr,
            &id,
            &options(json!({"cmd": ["sh", "-c", "sleep 0.5; exit 9"]})),
            Streams::Detached,
        )
        .unwrap();
    assert!(handle.wait(Some(Duration::from_millis(10))).is_none());
    let (result, code) = handle.wait(WAIT).unwrap();
    assert_eq!(result.unwrap(), AttachOutcome::Ended);
    assert_eq!(code, 9);
    let exit_file = ctr.file("exec").join(&id).join("exit").join(ctr.id());
    assert_eq!(std::fs::read_to_string(exit_file).unwrap(), "9");
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
        let err = env
            .runtime
            .exec_container(
                &ctr,
                &id,
                &options(json!({"cmd": ["/no/such/binary"], "terminal": terminal})),
                Streams::Detached,
            )
            .map(|_| ())
            .unwrap_err();
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
        let err = env
            .runtime
            .exec_container(
                &ctr,
                &id,
                &options(json!({"cmd": ["/etc"], "terminal": terminal})),
                Streams::Detached,
            )
            .map(|_| ())
            .unwrap_err();
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
        let exit_file = ctr.file("exec").join(&id).join("exit").join(ctr.id());
        assert_eq!(from_sync, code);
        assert_eq!(
            std::fs::read_to_string(exit_file).unwrap(),
            code.to_string()
        );
    }
}

#[test]
fn large_exec_output_is_complete() {
    let env = TestEnv::new();
    let ctr = env.running("bigexec", &["sleep", "1000"]);
    let expected: Vec<u8> = b"0123456789abcdef\n"
        .iter()
        .copied()
        .cycle()
        .take(4_194_304)
        .collect();
    for iteration in 0..10 {
        let (stdout, stderr, code) = exec_attached(
            &env,
            &ctr,
            json!({"cmd": ["dd", "if=/dev/zero", "bs=1", "count=500000"]}),
        );
        assert_eq!(code, 0);
        assert_eq!(stdout.len(), 500_000, "iteration {}", iteration);
        assert!(stdout.iter().all(|b| *b == 0));
        assert!(String::from_utf8_lossy(&stderr).contains("500000+0 records out"));
        let (stdout, _, code) = exec_attached(
            &env,
            &ctr,
            json!({"cmd": ["sh", "-c", "yes 0123456789abcdef | head -c 4194304"]}),
        );
        assert_eq!(code, 0);
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
    let sent = Instant::now();
    assert_eq!(session.write(b"\x10\x11").unwrap(), WriteOutcome::Detached);
    let (result, code) = session.wait(WAIT).unwrap();
    assert_eq!(result.unwrap(), AttachOutcome::Detached);
    assert_eq!(code, -1);
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
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
    env.runtime.exec_attach_resize(&ctr, &id, 160, 50).unwrap();
    session.write(b"\n").unwrap();
    let (_, code) = session.wait(WAIT).unwrap();
    assert_eq!(code, 0);
    assert!(
        out.stdout().ends_with(b"50 160\r\n"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout())
    );
    let err = env
        .runtime
        .exec_attach_resize(&ctr, &id, 80, 24)
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID);

    let plain = session_id("plain");
    env.runtime
        .exec_container(
            &ctr,
            &plain,
            &options(json!({"cmd": ["sleep", "5"]})),
            Streams::Detached,
        )
        .unwrap();
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
        let (pid, _) = env
            .runtime
            .exec_container(
                &ctr,
                &id,
                &options(json!({"cmd": ["sleep", "1001"]})),
                Streams::Detached,
            )
            .unwrap();
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
        assert!(eventually(Duration::from_secs(5), || env
            .runtime
            .exec_update_status(&ctr, &id)
            .unwrap()
            == (false, Some(137))));
        env.runtime.delete_container(&ctr).unwrap();
    }
}

#[test]
fn kill_all_reaches_orphaned_exec() {
    let env = TestEnv::new();
    let mut no_pid_ns = spec(&["sleep", "3"]);
    no_pid_ns["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "pid");
    let ctr = env.container_with("hostpid", no_pid_ns, json!({}));
    env.runtime.create_container(&ctr, None).unwrap();
    env.runtime.start_container(&ctr).unwrap();
    let id = session_id("orphan");
    let (pid, _) = env
        .runtime
        .exec_container(
            &ctr,
            &id,
            &options(json!({"cmd": ["sleep", "1000"]})),
            Streams::Detached,
        )
        .unwrap();
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

fn conmons_of(ctr: &Container) -> Vec<i32> {
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
        if is_conmon && for_ctr && !is_exec {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn exec_sessions_leave_no_zombies() {
    let env = TestEnv::new();
    let ctr = env.running("zombies", &["sleep", "1000"]);
    let monitor = ctr.load_state().unwrap().conmon_pid;
    for _ in 0..20 {
        assert_eq!(exit_code_of(&env, &ctr, &["true"]), 0);
    }
    let mut detached = Vec::new();
    for _ in 0..5 {
        let id = session_id("zd");
        env.runtime
            .exec_container(&ctr, &id, &options(json!({"cmd": ["true"], "exit_command": ["/bin/true"], "exit_command_delay": 0})), Streams::Detached)
            .unwrap();
        detached.push(id);
    }
    assert!(eventually(Duration::from_secs(10), || detached
        .iter()
        .all(|id| !env.runtime.exec_update_status(&ctr, id).unwrap().0)));
    std::thread::sleep(Duration::from_secs(2));
    let me = std::process::id() as i32;
    assert_eq!(zombies_under(&[me, monitor]), vec![]);
    assert_eq!(conmons_of(&ctr), vec![monitor]);
    env.runtime.stop_container(&ctr, 0, false).unwrap();
    env.runtime.delete_container(&ctr).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || conmons_of(&ctr).is_empty()),
        "{:?}",
        conmons_of(&ctr)
    );
}

#[test]
fn exec_user_cwd_and_env() {
    let env = TestEnv::new();
    let mut user_spec = spec(&["sleep", "1000"]);
    user_spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    user_spec["process"]["cwd"] = json!("/tmp");
    user_spec["process"]["env"] = json!(["PATH=/bin", "FOO=ctr"]);
    let ctr = env.container_with("users", user_spec, json!({}));
    env.runtime.create_container(&ctr, None).unwrap();
    env.runtime.start_container(&ctr).unwrap();

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

    let err = env
        .runtime
        .exec_container(
            &ctr,
            &session_id("nouser"),
            &options(json!({"cmd": ["true"], "user": "nobody-here"})),
            Streams::Detached,
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
    assert!(err.message().contains("nobody-here"), "{}", err);

    let mut kinds = Vec::new();
    for terminal in [false, true] {
        let id = session_id("badcwd");
        let err = env
            .runtime
            .exec_container(
                &ctr,
                &id,
                &options(json!({"cmd": ["true"], "cwd": "/does/not/exist", "terminal": terminal})),
                Streams::Detached,
            )
            .map(|_| ())
            .unwrap_err();
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
        assert!(!env
            .runtime
            .socket_link_for(&ocirt::exec::conmon_uuid(ctr.id(), &id))
            .exists());
    }
    let remaining: Vec<_> = std::fs::read_dir(ctr.file("exec")).unwrap().collect();
    assert!(remaining.is_empty(), "{:?}", remaining);
    assert!(
        eventually(Duration::from_secs(5), || conmons_of(&ctr) == vec![monitor]),
        "exec monitors left: {:?}",
        conmons_of(&ctr)
    );
    let me = std::process::id() as i32;
    assert_eq!(zombies_under(&[me, monitor]), vec![]);
    let fds_after = std::fs::read_dir("/proc/self/fd").unwrap().count();
    // Other tests in this binary run in parallel and open descriptors of their own; a leak
    // of one per exec would show as hundreds.
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
    env.runtime
        .exec_container(
            &ctr,
            &id,
            &options(json!({"cmd": ["sleep", "100"]})),
            Streams::Detached,
        )
        .unwrap();
    let path = env.runtime.exec_attach_socket_path(&ctr, &id).unwrap();
    assert_eq!(
        path,
        env.runtime
            .socket_dir()
            .join(format!("{}@{}", ctr.id(), id))
            .join("attach")
    );
    assert!(path.exists(), "{}", path.display());
    let err = env.runtime.exec_container_cleanup(&ctr, &id).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID);
    env.runtime.exec_stop_container(&ctr, &id, 1).unwrap();
    env.runtime.exec_container_cleanup(&ctr, &id).unwrap();
    assert!(!ctr.file("exec").join(&id).exists());
    assert!(!env
        .runtime
        .socket_link_for(&ocirt::exec::conmon_uuid(ctr.id(), &id))
        .exists());
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
        env.runtime
            .exec_container(
                ctr,
                &id,
                &options(json!({"cmd": ["sleep", "100"]})),
                Streams::Detached,
            )
            .unwrap();
    }
    let first_path = env.runtime.exec_attach_socket_path(&first, &id).unwrap();
    let second_path = env.runtime.exec_attach_socket_path(&second, &id).unwrap();
    assert_ne!(first_path, second_path);
    assert!(first_path.exists() && second_path.exists());
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
    // A session id may equal a container id: their links differ.
    let (_, handle) = env
        .runtime
        .exec_container(
            &first,
            second.id(),
            &options(json!({"cmd": ["true"]})),
            Streams::Detached,
        )
        .unwrap();
    assert_eq!(handle.wait(WAIT).unwrap().1, 0);
    assert!(env.runtime.attach_socket_path(&second).unwrap().exists());
}

#[test]
fn exec_rejects_bad_requests() {
    let env = TestEnv::new();
    let ctr = env.container("badexec", &["sleep", "1000"]);
    env.runtime.create_container(&ctr, None).unwrap();
    let err = env
        .runtime
        .exec_container(
            &ctr,
            "s1",
            &options(json!({"cmd": ["true"]})),
            Streams::Detached,
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );
    env.runtime.start_container(&ctr).unwrap();
    for bad in ["", "../x", "a/b"] {
        let err = env
            .runtime
            .exec_container(
                &ctr,
                bad,
                &options(json!({"cmd": ["true"]})),
                Streams::Detached,
            )
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
            "{:?}: {}",
            bad,
            err
        );
    }
    let id = session_id("dup");
    env.runtime
        .exec_container(
            &ctr,
            &id,
            &options(json!({"cmd": ["sleep", "100"]})),
            Streams::Detached,
        )
        .unwrap();
    let err = env
        .runtime
        .exec_container(
            &ctr,
            &id,
            &options(json!({"cmd": ["true"]})),
            Streams::Detached,
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_EXEC_SESSION_EXISTS,
        "{}",
        err
    );
    let err = env
        .runtime
        .exec_container(
            &ctr,
            &session_id("fds"),
            &options(json!({"cmd": ["true"], "preserve_fds": 5000})),
            Streams::Detached,
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
    assert!(err.message().contains("descriptor"), "{}", err);
    let err = env
        .runtime
        .exec_container(
            &ctr,
            &session_id("stdin"),
            &options(json!({"cmd": ["cat"], "stdin": true})),
            Streams::Detached,
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
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
    assert!(data.starts_with(header));
    let mut rest = &data[header.len()..];
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        match rest[0] {
            1 => stdout.extend_from_slice(&rest[8..8 + len]),
            2 => stderr.extend_from_slice(&rest[8..8 + len]),
            other => panic!("stream {}", other),
        }
        rest = &rest[8 + len..];
    }
    assert_eq!(stdout, b"pre-hello\n");
    assert_eq!(stderr, b"err\n");
}

#[test]
fn http_exec_failure_is_reported_on_the_connection() {
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
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND);
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    let header = ocirt::attach::http::HIJACK_HEADER;
    assert!(
        data.starts_with(header),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    let frame = &data[header.len()..];
    assert_eq!(frame[0], 2, "the error goes out as a stderr frame");
    let text = String::from_utf8_lossy(&frame[8..]);
    assert!(
        text.starts_with("Error: ") && text.contains("/no/such/binary"),
        "{}",
        text
    );
}
