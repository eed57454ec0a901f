//! Attach sessions, detach keys, terminal resize and HTTP attach on real runc and conmon.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ocirt::attach::http::HttpAttachOptions;
use ocirt::attach::{AttachOptions, AttachOutcome, AttachSession, WriteOutcome};
use ocirt::{ocirt_result, Container, OciRuntime, Status};
use serde_json::json;

const WAIT: Option<Duration> = Some(Duration::from_secs(30));

fn options(json: serde_json::Value) -> AttachOptions {
    AttachOptions::from_json(Some(&json.to_string())).unwrap()
}

/// Attaches `out` to the container with the attach options in `json`.
fn attach(
    env: &TestEnv,
    ctr: &Container,
    json: serde_json::Value,
    out: &Collected,
) -> AttachSession {
    env.runtime.attach(ctr, &options(json), out.sink()).unwrap()
}

/// Waits for the session to end and returns how it ended.
fn ended(session: &AttachSession) -> AttachOutcome {
    let (result, _) = session.wait(WAIT).expect("session ended in time");
    result.unwrap()
}

/// Configures and creates a container with "stdin": true, so conmon passes attach input to
/// its stdin.
fn with_stdin(env: &TestEnv, name: &str, args: &[&str]) -> Arc<Container> {
    env.created_with(name, spec(args), json!({"stdin": true}))
}

/// Configures and creates a container with a terminal.
fn created_terminal(env: &TestEnv, name: &str, args: &[&str]) -> Arc<Container> {
    env.created_with(name, terminal_spec(args), json!({}))
}

/// Creates a container running `args`, attaches to it with "start" and returns the output
/// once the session has ended.
fn run_attached(env: &TestEnv, name: &str, args: &[&str]) -> (Arc<Container>, Collected) {
    let ctr = env.created(name, args);
    let out = Collected::default();
    let session = attach(env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    (ctr, out)
}

/// Returns whether the container's log contains `needle`.
fn log_contains(ctr: &Container, needle: &str) -> bool {
    log_text(ctr).contains(needle)
}

#[test]
fn start_after_attach_loses_no_output() {
    let env = TestEnv::new();
    for iteration in 0..100 {
        let ctr = env.created("early", &["echo", "hi"]);
        let out = Collected::default();
        let session = attach(&env, &ctr, json!({"start": true}), &out);
        assert_eq!(
            ended(&session),
            AttachOutcome::Ended,
            "iteration {}",
            iteration
        );
        assert_eq!(out.stdout(), b"hi\n", "iteration {}", iteration);
        assert_eq!(out.stderr(), b"", "iteration {}", iteration);
        assert_eq!(
            env.runtime.wait_container(&ctr, WAIT).unwrap(),
            0,
            "iteration {}",
            iteration
        );
        env.runtime.delete_container(&ctr).unwrap();
    }
}

#[test]
fn attach_returns_when_container_exits() {
    let env = TestEnv::new();
    let ctr = env.running("selfexit", &["sh", "-c", "sleep 2; echo end"]);
    let out = Collected::default();
    let started = Instant::now();

    let session = attach(&env, &ctr, json!({}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    // The container runs for 2 s, so the bound detects a session that outlives it.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.stdout(), b"end\n");
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
}

#[test]
fn large_output_arrives_complete() {
    let env = TestEnv::new();

    // dd writes one byte per write(2), 500000 writes in all.
    let (ctr, out) = run_attached(&env, "dd", &["dd", "if=/dev/zero", "bs=1", "count=500000"]);
    let stdout = out.stdout();
    assert_eq!(stdout.len(), 500_000);
    assert!(
        stdout.iter().all(|b| *b == 0),
        "dd output has a non-zero byte"
    );
    let stderr = String::from_utf8_lossy(&out.stderr()).into_owned();
    assert!(stderr.contains("500000+0 records out"), "{}", stderr);
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);

    let (ctr, out) = run_attached(&env, "yes", &["sh", "-c", &yes_command(4_194_304)]);
    assert!(
        out.stdout() == yes_output(4_194_304),
        "4 MiB of yes output differs"
    );
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
}

#[test]
fn stdin_eof_reaches_container() {
    let env = TestEnv::new();
    let ctr = with_stdin(&env, "cat", &["cat"]);
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);
    assert_eq!(session.write(b"hello\n").unwrap(), WriteOutcome::Written);
    session.close_stdin().unwrap();
    let closed = Instant::now();

    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
    // A generous bound that only detects an EOF that never reached cat.
    assert!(
        closed.elapsed() < Duration::from_secs(5),
        "{:?}",
        closed.elapsed()
    );
    assert_eq!(out.stdout(), b"hello\n");

    let err = session.write(b"late").unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );
}

#[test]
fn large_stdin_is_split_and_delivered() {
    let env = TestEnv::new();
    let ctr = with_stdin(&env, "bigin", &["sh", "-c", "wc -c"]);
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);

    // Much larger than the 32768 bytes that conmon reads from the attach socket at once.
    let data = vec![b'x'; 1_000_000];
    session.write(&data).unwrap();
    session.close_stdin().unwrap();
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(String::from_utf8_lossy(&out.stdout()).trim(), "1000000");
}

#[test]
fn detach_keys_in_one_write_with_terminal() {
    let env = TestEnv::new();
    let ctr = created_terminal(&env, "ttydetach", &["sleep", "1000"]);
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);

    // The default detach keys are ctrl-p,ctrl-q.
    let sent = Instant::now();
    assert_eq!(session.write(b"\x10\x11").unwrap(), WriteOutcome::Detached);
    assert_eq!(ended(&session), AttachOutcome::Detached);
    // A generous bound that only detects a session that keeps running after the detach.
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);

    // A new attach works and detaches again, this time with the keys in separate writes.
    let again = attach(&env, &ctr, json!({"stdin": true}), &Collected::default());
    assert_eq!(again.write(b"\x10").unwrap(), WriteOutcome::Written);
    assert_eq!(again.write(b"\x11").unwrap(), WriteOutcome::Detached);
    assert_eq!(ended(&again), AttachOutcome::Detached);
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn detach_keys_after_input_without_terminal() {
    let env = TestEnv::new();
    let ctr = with_stdin(
        &env,
        "readdetach",
        &["sh", "-c", "read x; echo got:$x; sleep 1000"],
    );
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);
    assert_eq!(
        session.write(b"xyz\n\x10\x11").unwrap(),
        WriteOutcome::Detached
    );
    assert_eq!(ended(&session), AttachOutcome::Detached);

    // The session may end before the container's reply reaches it, so look for the reply
    // in the log. It shows that the input before the detach keys reached the container.
    assert!(
        eventually(Duration::from_secs(5), || log_contains(&ctr, "got:xyz")),
        "container never printed got:xyz: {}",
        log_text(&ctr)
    );
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn partial_detach_sequence_is_forwarded() {
    let env = TestEnv::new();
    let ctr = with_stdin(&env, "partial", &["cat"]);
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);
    assert_eq!(session.write(b"\x10a\n").unwrap(), WriteOutcome::Written);
    session.close_stdin().unwrap();
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(out.stdout(), b"\x10a\n");
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
}

#[test]
fn disabled_detach_keys_pass_through() {
    let env = TestEnv::new();
    let ctr = with_stdin(&env, "nokeys", &["cat"]);
    let out = Collected::default();
    let session = attach(
        &env,
        &ctr,
        json!({"stdin": true, "start": true, "detach_keys": ""}),
        &out,
    );
    assert_eq!(session.write(b"\x10\x11\n").unwrap(), WriteOutcome::Written);
    session.close_stdin().unwrap();
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(out.stdout(), b"\x10\x11\n");
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
}

#[test]
fn invalid_detach_keys_rejected_before_attach() {
    let env = TestEnv::new();
    let ctr = env.running("badkeys", &["sleep", "1000"]);

    let err = AttachOptions::from_json(Some(r#"{"detach_keys": "ctrl-C"}"#)).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
    assert!(err.message().contains("ctrl-C"), "{}", err);

    // Options built in code skip from_json, so attach checks the keys again.
    let raw = AttachOptions {
        detach_keys: Some("ctrl-C".to_string()),
        ..AttachOptions::default()
    };
    let err = env
        .runtime
        .attach(&ctr, &raw, Collected::default().sink())
        .unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
}

#[test]
fn resize_before_start_is_kept() {
    let env = TestEnv::new();
    let ctr = created_terminal(&env, "resize", &["sh", "-c", "sleep 1; stty size"]);
    env.runtime.attach_resize(&ctr, 120, 40).unwrap();

    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(out.stdout(), b"40 120\r\n");
}

#[test]
fn initial_size_option_and_live_resize() {
    let env = TestEnv::new();
    let ctr = created_terminal(
        &env,
        "resize2",
        &["sh", "-c", "stty size; read x; stty size"],
    );
    let out = Collected::default();
    let session = attach(
        &env,
        &ctr,
        json!({"start": true, "stdin": true, "width": 100, "height": 30}),
        &out,
    );
    out.expect_stdout(b"30 100\r\n");

    // The shell prints the size again only after the newline, so after the resize.
    env.runtime.attach_resize(&ctr, 160, 50).unwrap();
    session.write(b"\n").unwrap();
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert!(
        out.stdout().ends_with(b"50 160\r\n"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout())
    );
}

#[test]
fn resize_without_terminal_is_state_invalid() {
    let env = TestEnv::new();
    let ctr = env.running("notty", &["sleep", "1000"]);

    let err = env.runtime.attach_resize(&ctr, 80, 24).unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );

    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn stop_while_attached_delivers_trap_output() {
    let env = TestEnv::new();
    let ctr = env.created(
        "trap",
        &[
            "sh",
            "-c",
            "trap 'echo got-term' TERM; echo ready; while :; do sleep 1; done",
        ],
    );
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    out.expect_stdout(b"ready");

    // The shell survives SIGTERM, so stop waits out most of the 3 s grace period.
    let started = Instant::now();
    env.runtime.stop_container(&ctr, 3, false).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ended(&session), AttachOutcome::Ended);
    let stdout = String::from_utf8_lossy(&out.stdout()).into_owned();
    assert!(stdout.contains("got-term"), "{:?}", stdout);
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(137));
}

#[test]
fn binary_output_is_byte_exact() {
    let env = TestEnv::new();

    let (_, out) = run_attached(&env, "binary", &["cat", "/bin/busybox"]);
    let original = std::fs::read(rootfs().join("bin/busybox")).unwrap();
    assert_eq!(out.stdout().len(), original.len());
    assert!(out.stdout() == original, "busybox bytes differ");

    let (_, out) = run_attached(&env, "nul", &["printf", "a\\000b\\000\\n\\377"]);
    assert_eq!(out.stdout(), b"a\x00b\x00\n\xff");

    // A terminal turns "\n" into "\r\n".
    let ctr = created_terminal(&env, "ttyecho", &["echo", "a"]);
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(out.stdout(), b"a\r\n");
}

#[test]
fn several_sessions_each_get_all_output() {
    let env = TestEnv::new();
    let ctr = with_stdin(&env, "fanout", &["sh", "-c", "read x; seq 1 2000"]);
    let outputs: Vec<Collected> = (0..3).map(|_| Collected::default()).collect();
    let sessions: Vec<AttachSession> = outputs
        .iter()
        .enumerate()
        .map(|(index, out)| {
            attach(
                &env,
                &ctr,
                json!({"stdin": index == 0, "start": index == 2}),
                out,
            )
        })
        .collect();

    // The last session starts the container, so all three are attached before it prints.
    // Only the first session forwards stdin, and the container prints once it reads a line.
    sessions[0].write(b"go\n").unwrap();
    let expected: String = (1..=2000).map(|n| format!("{}\n", n)).collect();
    for (session, out) in sessions.iter().zip(&outputs) {
        assert_eq!(ended(session), AttachOutcome::Ended);
        assert_eq!(String::from_utf8(out.stdout()).unwrap(), expected);
    }
}

#[test]
fn slow_callback_gets_every_byte() {
    let env = TestEnv::new();
    let ctr = env.created(
        "slow",
        &["sh", "-c", "head -c 1048576 /dev/zero | tr '\\000' x"],
    );
    let out = Collected::default();
    let session = env
        .runtime
        .attach(
            &ctr,
            &options(json!({"start": true})),
            out.slow_sink(Duration::from_millis(50)),
        )
        .unwrap();

    // The container exits and conmon writes the complete log while the callback still lags,
    // so a slow reader does not stall conmon.
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
    let behind = out.stdout().len();
    let log = std::fs::read_to_string(ctr.log_path()).unwrap();
    // Each log line reads "<time> <stream> <P|F> <content>".
    let logged: usize = log
        .lines()
        .map(|line| line.splitn(4, ' ').nth(3).unwrap_or("").len())
        .sum();
    assert_eq!(logged, 1_048_576, "log incomplete while the callback lags");
    assert!(
        behind < 1_048_576,
        "the callback was not behind ({} bytes)",
        behind
    );

    assert_eq!(ended(&session), AttachOutcome::Ended);
    let stdout = out.stdout();
    assert_eq!(stdout.len(), 1_048_576);
    assert!(
        stdout.iter().all(|b| *b == b'x'),
        "output has a byte other than x"
    );
}

#[test]
fn tight_buffer_limit_loses_nothing() {
    let env = TestEnv::new();
    let ctr = env.created(
        "tight",
        &[
            "sh",
            "-c",
            "head -c 2000000 /dev/urandom | od -An -v | head -c 3000000",
        ],
    );
    let out = Collected::default();
    let session = env
        .runtime
        .attach(
            &ctr,
            &options(json!({"start": true, "buffer_limit": 16384})),
            out.slow_sink(Duration::from_millis(1)),
        )
        .unwrap();
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(out.stdout().len(), 3_000_000);
}

#[test]
fn detach_from_host_keeps_container_running() {
    let env = TestEnv::new();
    let ctr = env.running(
        "hostdetach",
        &["sh", "-c", "while :; do echo tick; sleep 0.2; done"],
    );
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({}), &out);
    out.expect_stdout(b"tick");

    session.detach();
    assert_eq!(ended(&session), AttachOutcome::Detached);
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn dropping_session_cancels_it() {
    let env = TestEnv::new();
    let ctr = env.running("dropped", &["sleep", "1000"]);
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({}), &out);
    drop(session);
    let finished = out
        .with(|o| o.finished.clone())
        .expect("finish ran before drop returned");
    assert_eq!(
        finished.0.unwrap_err().kind(),
        ocirt_result::OCIRT_ERR_CANCELLED
    );
}

#[test]
fn attach_checks_state_and_stdin() {
    let env = TestEnv::new();
    let ctr = env.container("configured", &["true"]);

    // A configured container has no conmon to attach to.
    let err = env
        .runtime
        .attach(&ctr, &AttachOptions::default(), Collected::default().sink())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );

    // A created container with neither a terminal nor "stdin": true in its config cannot
    // take stdin, and without a terminal it has no size to set.
    env.runtime.create_container(&ctr, None).unwrap();
    let err = env
        .runtime
        .attach(
            &ctr,
            &options(json!({"stdin": true})),
            Collected::default().sink(),
        )
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
        "{}",
        err
    );
    assert!(err.message().contains("stdin"), "{}", err);
    let err = env
        .runtime
        .attach(
            &ctr,
            &options(json!({"width": 80, "height": 24})),
            Collected::default().sink(),
        )
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );

    // An exited container cannot be attached to.
    env.runtime.start_container(&ctr).unwrap();
    env.runtime.wait_container(&ctr, WAIT).unwrap();
    let err = env
        .runtime
        .attach(&ctr, &AttachOptions::default(), Collected::default().sink())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
        "{}",
        err
    );
}

// ---- HTTP attach -------------------------------------------------------------------------

/// Runs an HTTP attach on one end of a socket pair in a thread and returns the client end
/// and the thread.
fn http_attach(
    env: &TestEnv,
    ctr: &Arc<Container>,
    json: serde_json::Value,
    buffered: &[u8],
    cancel: Option<Arc<ocirt::cancel::Cancel>>,
) -> (
    UnixStream,
    std::thread::JoinHandle<Result<AttachOutcome, ocirt::Error>>,
) {
    let (client, server) = UnixStream::pair().unwrap();
    let runtime = Arc::clone(&env.runtime);
    let ctr = Arc::clone(ctr);
    let options = HttpAttachOptions::from_json(Some(&json.to_string())).unwrap();
    let buffered = buffered.to_vec();
    let handle = std::thread::spawn(move || {
        let conn = OwnedFd::from(server);
        runtime.http_attach(&ctr, conn, &options, &buffered, cancel.as_deref())
    });
    (client, handle)
}

/// Reads everything the server sends until it closes the connection.
fn read_all(client: &mut UnixStream) -> Vec<u8> {
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    data
}

#[test]
fn http_attach_frames_streams() {
    let env = TestEnv::new();
    let script = ["sh", "-c", "echo out; echo err >&2; echo out2"];

    let ctr = env.created("httpframes", &script);
    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "start": true}),
        b"",
        None,
    );
    let data = read_all(&mut client);
    assert_eq!(handle.join().unwrap().unwrap(), AttachOutcome::Ended);
    let frames = demux(&data);
    assert_eq!(payload(&frames, 1), b"out\nout2\n");
    assert_eq!(payload(&frames, 2), b"err\n");
    assert!(
        frames.iter().all(|(s, _)| *s == 1 || *s == 2),
        "{:?}",
        frames
    );

    // Without stderr, only stdout frames arrive.
    let ctr = env.created("httpstdout", &script);
    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "stderr": false, "start": true}),
        b"",
        None,
    );
    let data = read_all(&mut client);
    handle.join().unwrap().unwrap();
    let frames = demux(&data);
    assert!(frames.iter().all(|(s, _)| *s == 1), "{:?}", frames);
    assert_eq!(payload(&frames, 1), b"out\nout2\n");
}

#[test]
fn http_attach_terminal_is_raw() {
    let env = TestEnv::new();
    let ctr = created_terminal(&env, "httptty", &["echo", "tty"]);
    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "start": true, "hijack_header": true}),
        b"",
        None,
    );
    let data = read_all(&mut client);
    handle.join().unwrap().unwrap();

    // A terminal's output is not multiplexed into frames.
    let header = ocirt::attach::http::HIJACK_HEADER;
    assert!(
        data.starts_with(header),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    assert_eq!(&data[header.len()..], b"tty\r\n");
}

#[test]
fn http_attach_large_output_and_binary() {
    let env = TestEnv::new();
    let script = format!("{}; printf '\\000\\377'", yes_command(4_194_304));
    let ctr = env.created("httpbig", &["sh", "-c", &script]);

    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "start": true}),
        b"",
        None,
    );
    let data = read_all(&mut client);
    handle.join().unwrap().unwrap();

    let mut expected = yes_output(4_194_304);
    expected.extend_from_slice(b"\x00\xff");
    assert!(
        payload(&demux(&data), 1) == expected,
        "stdout payload differs"
    );
}

#[test]
fn http_attach_stdin_eof_keeps_output_flowing() {
    let env = TestEnv::new();
    let ctr = with_stdin(&env, "httpcat", &["sh", "-c", "cat; echo after-eof"]);
    let (mut client, handle) = http_attach(&env, &ctr, json!({"start": true}), b"pre-", None);

    // The buffered bytes reach stdin before what the client sends.
    client.write_all(b"hello\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let data = read_all(&mut client);
    assert_eq!(handle.join().unwrap().unwrap(), AttachOutcome::Ended);
    assert_eq!(payload(&demux(&data), 1), b"pre-hello\nafter-eof\n");
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
}

#[test]
fn http_attach_detach_and_cancel() {
    let env = TestEnv::new();
    let ctr = created_terminal(&env, "httpdetach", &["sleep", "1000"]);

    let (mut client, handle) = http_attach(&env, &ctr, json!({"start": true}), b"", None);
    client.write_all(b"\x10\x11").unwrap();
    assert_eq!(handle.join().unwrap().unwrap(), AttachOutcome::Detached);
    read_all(&mut client);

    // The hijack header goes out once the attach has connected to conmon, so reading it
    // first makes the cancel arrive while the session runs.
    let cancel = Arc::new(ocirt::cancel::Cancel::new().unwrap());
    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"hijack_header": true}),
        b"",
        Some(Arc::clone(&cancel)),
    );
    let header = ocirt::attach::http::HIJACK_HEADER;
    let mut received = vec![0; header.len()];
    client.read_exact(&mut received).unwrap();
    assert_eq!(received, header);
    let fired = Instant::now();
    cancel.trigger().unwrap();
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_CANCELLED, "{}", err);
    // A generous bound that only detects a session that ignores the cancel.
    assert!(
        fired.elapsed() < Duration::from_secs(2),
        "{:?}",
        fired.elapsed()
    );

    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn http_attach_survives_gone_client() {
    let env = TestEnv::new();
    let ctr = env.created("gone", &["sh", "-c", "sleep 0.5; yes | head -c 1000000"]);

    let (client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "start": true}),
        b"",
        None,
    );
    drop(client);

    // The test process survives, although SIGPIPE would kill it, and the call reports the
    // I/O failure.
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_IO, "{}", err);
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
}

#[test]
fn http_attach_ends_after_self_exit() {
    let env = TestEnv::new();
    let ctr = env.running("httpend", &["sh", "-c", "sleep 2; echo end"]);
    let started = Instant::now();

    let (mut client, handle) = http_attach(&env, &ctr, json!({"stdin": false}), b"", None);
    let data = read_all(&mut client);
    assert_eq!(handle.join().unwrap().unwrap(), AttachOutcome::Ended);
    // The container runs for 2 s, so the bound detects a session that outlives it.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(payload(&demux(&data), 1), b"end\n");
}

#[test]
fn resize_through_conmon_fifo_before_start() {
    // The library normally sets the size on the pty itself. This test drives conmon's control
    // FIFO before the process starts, which is the path used when the pty cannot be opened.
    let env = TestEnv::new();
    let ctr = created_terminal(&env, "fiforesize", &["sh", "-c", "sleep 1; stty size"]);
    // conmon applies the message asynchronously, which the 1 s sleep before stty allows for.
    ocirt::attach::resize::resize(&ctr.file("ctl"), 120, 40, "test").unwrap();
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(out.stdout(), b"40 120\r\n");
}

#[test]
fn detach_closes_stdin_unless_left_open() {
    let env = TestEnv::new();
    let script = "while read line; do echo got:$line; done; echo eof; sleep 1000";

    // conmon closes a non-terminal container's stdin when a session with stdin goes away.
    let ctr = with_stdin(&env, "closes", &["sh", "-c", script]);
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);
    session.write(b"a\n").unwrap();
    out.expect_stdout(b"got:a");
    session.detach();
    assert_eq!(ended(&session), AttachOutcome::Detached);
    assert!(
        eventually(Duration::from_secs(10), || log_contains(&ctr, "eof")),
        "stdin stayed open: {}",
        log_text(&ctr)
    );

    // With leave_stdin_open, the next session goes on writing.
    let ctr = env.created_with(
        "leftopen",
        spec(&["sh", "-c", script]),
        json!({"stdin": true, "leave_stdin_open": true}),
    );
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);
    session.write(b"a\n").unwrap();
    out.expect_stdout(b"got:a");
    session.detach();
    assert_eq!(ended(&session), AttachOutcome::Detached);

    let out = Collected::default();
    let again = attach(&env, &ctr, json!({"stdin": true}), &out);
    again.write(b"b\n").unwrap();
    out.expect_stdout(b"got:b");
    assert!(
        !log_contains(&ctr, "eof"),
        "stdin closed: {}",
        log_text(&ctr)
    );

    // After a detach, a write fails, and its message asks the caller to attach again.
    again.write(b"c\n").unwrap();
    again.detach();
    let err = again.write(b"d\n").unwrap_err();
    assert!(err.message().contains("attach again"), "{}", err);
}

#[test]
fn attach_options_reject_bad_values() {
    let err = AttachOptions::from_json(Some(r#"{"stdout": false, "stderr": false}"#)).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
    assert!(err.message().contains("at least one"), "{}", err);

    // A width needs a height.
    let err = AttachOptions::from_json(Some(r#"{"width": 80}"#)).unwrap_err();
    assert!(err.message().contains("height none"), "{}", err);
}
