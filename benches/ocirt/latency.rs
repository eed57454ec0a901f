//! Exit notification latency: from the moment the container's process is killed to the
//! moment `ocirt_container_wait` returns, next to the moment conmon's exit file appears.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::capi::Ctr;
use crate::report::Row;
use crate::Env;

pub const EXIT_FILE: &str = "conmon's exit file appears (inotify)";
pub const WAIT: &str = "ocirt_container_wait returns";

/// Runs `rounds` rounds, each killing a fresh `sleep` container, and returns both rows.
pub fn run(env: &Env, rounds: usize) -> Vec<Row> {
    let section = "Exit notification latency (SIGKILL to notification)";
    let mut exit_file = Row::new(section, EXIT_FILE, "ms", false);
    let mut wait = Row::new(section, WAIT, "ms", false);
    wait.reference = Some(EXIT_FILE.to_string());
    wait.note = Some("target: under 2 ms".to_string());
    let exits = env.runtime.exit_dir().to_path_buf();
    for _ in 0..rounds {
        let id = env.unique_id("latency");
        let config = serde_json::json!({"id": id, "spec": env.spec(&["sleep", "1000"]), "rootfs": env.rootfs(), "log_driver": "none"});
        let ctr = std::sync::Arc::new(Ctr::new(env.c_runtime, &config));
        ctr.create();
        ctr.start();
        let pid = ctr.state()["pid"].as_i64().unwrap() as i32;

        let inotify = Inotify::init(InitFlags::IN_CLOEXEC).unwrap();
        inotify
            .add_watch(
                &exits,
                AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .unwrap();
        let (file_tx, file_rx) = mpsc::channel();
        let watched = id.clone();
        let file_thread = std::thread::spawn(move || loop {
            let events = inotify.read_events().unwrap();
            if events
                .iter()
                .any(|e| e.name.as_deref() == Some(std::ffi::OsStr::new(&watched)))
            {
                file_tx.send(Instant::now()).unwrap();
                return;
            }
        });
        let (wait_tx, wait_rx) = mpsc::channel();
        let waiter_ctr = std::sync::Arc::clone(&ctr);
        let wait_thread = std::thread::spawn(move || {
            let code = waiter_ctr.wait();
            wait_tx.send((Instant::now(), code)).unwrap();
        });
        // Let the waiter block in the library before the kill.
        std::thread::sleep(Duration::from_millis(100));
        let killed = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let file_seen = file_rx.recv().unwrap();
        let (returned, code) = wait_rx.recv().unwrap();
        assert_eq!(code, 137);
        file_thread.join().unwrap();
        wait_thread.join().unwrap();
        exit_file
            .samples
            .push(file_seen.duration_since(killed).as_secs_f64() * 1000.0);
        wait.samples
            .push(returned.duration_since(killed).as_secs_f64() * 1000.0);
        drop(ctr);
    }
    vec![exit_file, wait]
}
