//! Containers outlive the process that created them and can be driven from another process.
//! No descriptor of the host process leaks into conmon or the container.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ocirt::{ConmonRuntime, Container, OciRuntime, RuntimeConfig, Status};

const RUNTIME_CONFIG_VAR: &str = "OCIRT_TEST_CHILD_RUNTIME_CONFIG";
const CONTAINER_ID_VAR: &str = "OCIRT_TEST_CHILD_CONTAINER_ID";
const ACTION_VAR: &str = "OCIRT_TEST_CHILD_ACTION";

/// Runs this test binary again as a child process that performs `action` on the container.
fn run_child(env: &TestEnv, id: &str, action: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RUNTIME_CONFIG_VAR, env.runtime_config_json())
        .env(CONTAINER_ID_VAR, id)
        .env(ACTION_VAR, action)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Performs the child side of the tests below. Does nothing unless a parent test set the
/// variables.
#[test]
#[ignore = "runs only as the child process of the tests in this file"]
fn child_process_entry() {
    let (Ok(config), Ok(id), Ok(action)) = (
        std::env::var(RUNTIME_CONFIG_VAR),
        std::env::var(CONTAINER_ID_VAR),
        std::env::var(ACTION_VAR),
    ) else {
        return;
    };
    let runtime = Arc::new(ConmonRuntime::new(RuntimeConfig::from_json(&config).unwrap()).unwrap());
    match action.as_str() {
        "kill-and-wait" => {
            let ctr = Container::open(Arc::clone(&runtime), &id).unwrap();
            runtime.kill_container(&ctr, libc::SIGKILL, false).unwrap();
            let code = runtime
                .wait_container(&ctr, Some(Duration::from_secs(30)))
                .unwrap();
            println!("exit code: {}", code);
        }
        "create-and-start" => {
            let config =
                serde_json::json!({"id": id, "spec": spec(&["sleep", "1000"]), "rootfs": rootfs()});
            let ctr = Container::new(
                Arc::clone(&runtime),
                ocirt::ContainerConfig::from_json(&config.to_string()).unwrap(),
            )
            .unwrap();
            runtime.create_container(&ctr, None).unwrap();
            runtime.start_container(&ctr).unwrap();
            println!("started pid: {}", ctr.load_state().unwrap().pid);
        }
        other => panic!("unknown child action {:?}", other),
    }
}

#[test]
fn second_process_kills_and_reads_137() {
    let env = TestEnv::new();
    let ctr = env.running("reopen", &["sleep", "1000"]);

    let stdout = run_child(&env, ctr.id(), "kill-and-wait");
    assert!(stdout.contains("exit code: 137"), "{}", stdout);

    // This process gets the same outcome through its own handle.
    assert_eq!(
        env.runtime
            .wait_container(&ctr, Some(Duration::from_secs(30)))
            .unwrap(),
        137
    );
    assert_eq!(ctr.load_state().unwrap().status, Status::Stopped);
}

#[test]
fn container_outlives_its_creator() {
    let env = TestEnv::new();
    let id = unique_id("outlive");
    let stdout = run_child(&env, &id, "create-and-start");
    assert!(stdout.contains("started pid: "), "{}", stdout);

    let ctr = Container::open(Arc::clone(&env.runtime), &id).unwrap();
    env.track(Arc::clone(&ctr));
    env.runtime.update_container_status(&ctr).unwrap();
    let state = ctr.load_state().unwrap();
    assert_eq!(state.status, Status::Running);
    assert!(pid_alive(state.pid), "container pid {} is gone", state.pid);
    assert!(pid_alive(state.conmon_pid), "conmon died with its creator");

    env.runtime.stop_container(&ctr, 0, false).unwrap();
    assert_eq!(ctr.load_state().unwrap().exit_code, Some(137));
}

/// Returns the targets of a process's open descriptors, by descriptor number.
fn fd_targets(pid: i32) -> Vec<(i32, String)> {
    let mut targets = Vec::new();
    for entry in fs::read_dir(format!("/proc/{}/fd", pid)).unwrap() {
        let entry = entry.unwrap();
        let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap();
        let target = fs::read_link(entry.path())
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        targets.push((fd, target));
    }
    targets.sort();
    targets
}

#[test]
fn host_descriptors_do_not_leak() {
    // Descriptors without FD_CLOEXEC, as a careless host would have them.
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two descriptors that pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: pipe(2) succeeded, so both descriptors are open and owned by nothing else.
    let pipe_read = unsafe { OwnedFd::from_raw_fd(pipe[0]) };
    let pipe_write = unsafe { OwnedFd::from_raw_fd(pipe[1]) };
    let marker_file = tempfile::NamedTempFile::new().unwrap();
    let marker_path = std::ffi::CString::new(marker_file.path().as_os_str().as_bytes()).unwrap();
    // SAFETY: `marker_path` is a NUL-terminated path.
    let marker_raw = unsafe { libc::open(marker_path.as_ptr(), libc::O_RDONLY) };
    assert!(
        marker_raw >= 0,
        "open {:?} failed: {}",
        marker_file.path(),
        std::io::Error::last_os_error()
    );
    // SAFETY: open(2) succeeded, so the descriptor is open and owned by nothing else.
    let marker = unsafe { OwnedFd::from_raw_fd(marker_raw) };
    let leaky: BTreeSet<String> = [&pipe_read, &pipe_write, &marker]
        .iter()
        .map(|fd| {
            fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();

    let env = TestEnv::new();
    let ctr = env.running("fds", &["sleep", "1000"]);
    let state = ctr.load_state().unwrap();

    let conmon_fds = fd_targets(state.conmon_pid);
    for (fd, target) in &conmon_fds {
        assert!(
            !leaky.contains(target),
            "conmon inherited host fd {} -> {}",
            fd,
            target
        );
    }

    // `runc start` can return while runc's init still has its own descriptors open, just
    // before it executes the container's command. So look only once the command runs.
    let comm = format!("/proc/{}/comm", state.pid);
    assert!(
        eventually(Duration::from_secs(10), || {
            fs::read_to_string(&comm).is_ok_and(|name| name.trim() == "sleep")
        }),
        "the container's process never became sleep"
    );
    let container_fds = fd_targets(state.pid);
    let numbers: Vec<i32> = container_fds.iter().map(|(fd, _)| *fd).collect();
    assert_eq!(
        numbers,
        vec![0, 1, 2],
        "container descriptors: {:?}",
        container_fds
    );
    for (fd, target) in &container_fds {
        assert!(
            !leaky.contains(target),
            "container inherited host fd {} -> {}",
            fd,
            target
        );
    }
    drop(marker);
}
