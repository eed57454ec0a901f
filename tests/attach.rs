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

fn attach(
    env: &TestEnv,
    ctr: &Container,
    json: serde_json::Value,
    out: &Collected,
) -> AttachSession {
    env.runtime.attach(ctr, &options(json), out.sink()).unwrap()
}

fn ended(session: &AttachSession) -> AttachOutcome {
    let (result, _) = session.wait(WAIT).expect("session ended in time");
    result.unwrap()
}

fn with_stdin(env: &TestEnv, name: &str, args: &[&str]) -> Arc<Container> {
    let ctr = env.container_with(name, spec(args), json!({"stdin": true}));
    env.runtime.create_container(&ctr, None).unwrap();
    ctr
}

fn created_terminal(env: &TestEnv, name: &str, args: &[&str]) -> Arc<Container> {
    let ctr = env.container_with(name, terminal_spec(args), json!({}));
    env.runtime.create_container(&ctr, None).unwrap();
    ctr
}

#[test]
fn start_after_attach_loses_no_output() {
    let env = TestEnv::new();
    for iteration in 0..100 {
        let ctr = env.container("early", &["echo", "hi"]);
        env.runtime.create_container(&ctr, None).unwrap();
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
    let yes_4mib = "yes 0123456789abcdef | head -c 4194304";
    let expected: Vec<u8> = b"0123456789abcdef\n"
        .iter()
        .copied()
        .cycle()
        .take(4_194_304)
        .collect();

    let ctr = env.container("dd", &["dd", "if=/dev/zero", "bs=1", "count=500000"]);
    env.runtime.create_container(&ctr, None).unwrap();
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    let stdout = out.stdout();
    assert_eq!(stdout.len(), 500_000);
    assert!(stdout.iter().all(|b| *b == 0));
    assert!(String::from_utf8_lossy(&out.stderr()).contains("500000+0 records out"));
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);

    let ctr = env.container("yes", &["sh", "-c", yes_4mib]);
    env.runtime.create_container(&ctr, None).unwrap();
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert!(out.stdout() == expected, "4 MiB of yes output differs");
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
    // Larger than the 32768-byte message conmon reads at once.
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
    let sent = Instant::now();
    assert_eq!(session.write(b"\x10\x11").unwrap(), WriteOutcome::Detached);
    assert_eq!(ended(&session), AttachOutcome::Detached);
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
    // The output produced before the detach may still be on its way; attach again to see it
    // is the container that answered, and that it still runs.
    assert!(
        eventually(Duration::from_secs(5), || String::from_utf8_lossy(
            &std::fs::read(ctr.log_path()).unwrap_or_default()
        )
        .contains("got:xyz")),
        "container never printed got:xyz"
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
    let mut raw = AttachOptions::default();
    raw.detach_keys = Some("ctrl-C".to_string());
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
    assert!(
        out.wait_for_stdout(b"30 100\r\n", Duration::from_secs(10)),
        "{:?}",
        String::from_utf8_lossy(&out.stdout())
    );
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
    let ctr = env.container(
        "trap",
        &[
            "sh",
            "-c",
            "trap 'echo got-term' TERM; echo ready; while :; do sleep 1; done",
        ],
    );
    env.runtime.create_container(&ctr, None).unwrap();
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert!(out.wait_for_stdout(b"ready", Duration::from_secs(10)));
    let started = Instant::now();
    env.runtime.stop_container(&ctr, 3, false).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert!(String::from_utf8_lossy(&out.stdout()).contains("got-term"));
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(137));
}

#[test]
fn binary_output_is_byte_exact() {
    let env = TestEnv::new();
    let ctr = env.container("binary", &["cat", "/bin/busybox"]);
    env.runtime.create_container(&ctr, None).unwrap();
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    let original = std::fs::read(rootfs().join("bin/busybox")).unwrap();
    assert_eq!(out.stdout().len(), original.len());
    assert!(out.stdout() == original, "busybox bytes differ");

    let ctr = env.container("nul", &["printf", "a\\000b\\000\\n\\377"]);
    env.runtime.create_container(&ctr, None).unwrap();
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"start": true}), &out);
    assert_eq!(ended(&session), AttachOutcome::Ended);
    assert_eq!(out.stdout(), b"a\x00b\x00\n\xff");

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
    sessions[0].write(b"go\n").unwrap();
    let expected: String = (1..=2000).map(|n| format!("{}\n", n)).collect();
    for (session, out) in sessions.iter().zip(&outputs) {
        assert_eq!(ended(session), AttachOutcome::Ended);
        assert_eq!(String::from_utf8(out.stdout()).unwrap(), expected);
    }
}

#[test]
fn slow_callback_gets_every_byte_without_stalling_conmon() {
    let env = TestEnv::new();
    let ctr = env.container(
        "slow",
        &["sh", "-c", "head -c 1048576 /dev/zero | tr '\\000' x"],
    );
    env.runtime.create_container(&ctr, None).unwrap();
    let out = Collected::default();
    let session = env
        .runtime
        .attach(
            &ctr,
            &options(json!({"start": true})),
            out.slow_sink(Duration::from_millis(50)),
        )
        .unwrap();
    // The container exits and conmon writes the complete log while the callback still lags.
    assert_eq!(env.runtime.wait_container(&ctr, WAIT).unwrap(), 0);
    let behind = out.stdout().len();
    let log = std::fs::read_to_string(ctr.log_path()).unwrap();
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
    assert!(stdout.iter().all(|b| *b == b'x'));
}

#[test]
fn tight_buffer_limit_holds_conmon_back_without_loss() {
    let env = TestEnv::new();
    let ctr = env.container(
        "tight",
        &[
            "sh",
            "-c",
            "head -c 2000000 /dev/urandom | od -An -v | head -c 3000000",
        ],
    );
    env.runtime.create_container(&ctr, None).unwrap();
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
    assert!(out.wait_for_stdout(b"tick", Duration::from_secs(10)));
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

/// Runs an HTTP attach on one end of a socket pair in a thread; returns the client end.
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

/// Splits a multiplexed stream into (stream id, payload) frames.
fn demux(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 8, "truncated header: {:?}", data);
        assert_eq!(&data[1..4], &[0, 0, 0], "header bytes 1-3 must be zero");
        let len = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        assert!(len > 0, "empty frame");
        frames.push((data[0], data[8..8 + len].to_vec()));
        data = &data[8 + len..];
    }
    frames
}

fn payload(frames: &[(u8, Vec<u8>)], stream: u8) -> Vec<u8> {
    frames
        .iter()
        .filter(|(s, _)| *s == stream)
        .flat_map(|(_, p)| p.clone())
        .collect()
}

#[test]
fn http_attach_frames_streams() {
    let env = TestEnv::new();
    let ctr = env.container(
        "httpframes",
        &["sh", "-c", "echo out; echo err >&2; echo out2"],
    );
    env.runtime.create_container(&ctr, None).unwrap();
    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "start": true}),
        b"",
        None,
    );
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    assert_eq!(handle.join().unwrap().unwrap(), AttachOutcome::Ended);
    let frames = demux(&data);
    assert_eq!(payload(&frames, 1), b"out\nout2\n");
    assert_eq!(payload(&frames, 2), b"err\n");
    assert!(frames.iter().all(|(s, _)| *s == 1 || *s == 2));

    let ctr = env.container(
        "httpstdout",
        &["sh", "-c", "echo out; echo err >&2; echo out2"],
    );
    env.runtime.create_container(&ctr, None).unwrap();
    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "stderr": false, "start": true}),
        b"",
        None,
    );
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
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
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    handle.join().unwrap().unwrap();
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
    let ctr = env.container(
        "httpbig",
        &[
            "sh",
            "-c",
            "yes 0123456789abcdef | head -c 4194304; printf '\\000\\377'",
        ],
    );
    env.runtime.create_container(&ctr, None).unwrap();
    let (mut client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "start": true}),
        b"",
        None,
    );
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    handle.join().unwrap().unwrap();
    let mut expected: Vec<u8> = b"0123456789abcdef\n"
        .iter()
        .copied()
        .cycle()
        .take(4_194_304)
        .collect();
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
    client.write_all(b"hello\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
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
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();

    let cancel = Arc::new(ocirt::cancel::Cancel::new().unwrap());
    let (_client, handle) = http_attach(&env, &ctr, json!({}), b"", Some(Arc::clone(&cancel)));
    std::thread::sleep(Duration::from_millis(200));
    let fired = Instant::now();
    cancel.trigger().unwrap();
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_CANCELLED);
    assert!(
        fired.elapsed() < Duration::from_secs(2),
        "{:?}",
        fired.elapsed()
    );
    env.runtime.update_container_status(&ctr).unwrap();
    assert_eq!(ctr.load_state().unwrap().status, Status::Running);
}

#[test]
fn http_attach_to_gone_client_does_not_raise_sigpipe() {
    let env = TestEnv::new();
    let ctr = env.container("gone", &["sh", "-c", "sleep 0.5; yes | head -c 1000000"]);
    env.runtime.create_container(&ctr, None).unwrap();
    let (client, handle) = http_attach(
        &env,
        &ctr,
        json!({"stdin": false, "start": true}),
        b"",
        None,
    );
    drop(client);
    // The process survives (SIGPIPE would kill the test binary) and the call reports the I/O
    // failure.
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
    let mut data = Vec::new();
    client.read_to_end(&mut data).unwrap();
    assert_eq!(handle.join().unwrap().unwrap(), AttachOutcome::Ended);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(payload(&demux(&data), 1), b"end\n");
}

#[test]
fn resize_through_conmon_fifo_before_start() {
    // The library normally sets the size on the pty itself; this drives conmon's control FIFO,
    // the path used when the pty cannot be opened, before the process starts.
    let env = TestEnv::new();
    let ctr = created_terminal(&env, "fiforesize", &["sh", "-c", "sleep 1; stty size"]);
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
    assert!(out.wait_for_stdout(b"got:a", Duration::from_secs(10)));
    session.detach();
    assert_eq!(ended(&session), AttachOutcome::Detached);
    assert!(eventually(Duration::from_secs(10), || {
        String::from_utf8_lossy(&std::fs::read(ctr.log_path()).unwrap_or_default()).contains("eof")
    }));

    // With leave_stdin_open the next session goes on writing.
    let ctr = env.container_with(
        "leftopen",
        spec(&["sh", "-c", script]),
        json!({"stdin": true, "leave_stdin_open": true}),
    );
    env.runtime.create_container(&ctr, None).unwrap();
    let out = Collected::default();
    let session = attach(&env, &ctr, json!({"stdin": true, "start": true}), &out);
    session.write(b"a\n").unwrap();
    assert!(out.wait_for_stdout(b"got:a", Duration::from_secs(10)));
    session.detach();
    assert_eq!(ended(&session), AttachOutcome::Detached);
    let out = Collected::default();
    let again = attach(&env, &ctr, json!({"stdin": true}), &out);
    again.write(b"b\n").unwrap();
    assert!(out.wait_for_stdout(b"got:b", Duration::from_secs(10)));
    assert!(!String::from_utf8_lossy(&std::fs::read(ctr.log_path()).unwrap()).contains("eof"));
    let err = again.write(b"c\n").and_then(|_| {
        again.detach();
        again.write(b"d\n")
    });
    assert!(err.unwrap_err().message().contains("attach again"));
}

#[test]
fn attach_needs_a_stream() {
    let err = AttachOptions::from_json(Some(r#"{"stdout": false, "stderr": false}"#)).unwrap_err();
    assert_eq!(err.kind(), ocirt_result::OCIRT_ERR_INVALID_ARGUMENT);
    assert!(err.message().contains("at least one"), "{}", err);
    let err = AttachOptions::from_json(Some(r#"{"width": 80}"#)).unwrap_err();
    assert!(err.message().contains("height none"), "{}", err);
}
