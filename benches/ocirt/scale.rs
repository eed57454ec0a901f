//! Scale: many `sleep` containers are created and started through one runtime handle from
//! four host threads, then stopped and deleted. The rows give the time per container and
//! the host memory and threads per idle container.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::capi::Ctr;
use crate::report::Row;
use crate::Env;

const THREADS: usize = 4;

/// Returns a field of /proc/<pid>/status in KiB or as a count.
fn status_field(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{}/status", pid)).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A C runtime handle that the worker threads share.
struct SendPtr(*mut ocirt::ffi::runtime::ocirt_runtime);
// SAFETY: runtime handles are thread-safe by the library's contract.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// Creates and starts `count` containers, measures the host process and conmon while they
/// idle, then stops and deletes them, and returns the section's rows.
pub fn run(env: &Env, count: usize) -> Vec<Row> {
    let section = "Scale (sleep containers through one runtime handle, 4 host threads)";
    let threads_before = status_field("self", "Threads:").unwrap_or(0);
    let rss_before = status_field("self", "VmRSS:").unwrap_or(0);
    let runtime = Arc::new(SendPtr(env.c_runtime));
    let containers: Arc<Mutex<Vec<Ctr>>> = Arc::new(Mutex::new(Vec::new()));
    let configs: Vec<serde_json::Value> = (0..count)
        .map(|_| serde_json::json!({"id": env.unique_id("scale"), "spec": env.spec(&["sleep", "1000"]), "rootfs": env.rootfs(), "log_driver": "none"}))
        .collect();
    let configs = Arc::new(Mutex::new(configs));

    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let runtime = Arc::clone(&runtime);
            let containers = Arc::clone(&containers);
            let configs = Arc::clone(&configs);
            std::thread::spawn(move || loop {
                let Some(config) = configs.lock().unwrap().pop() else {
                    return;
                };
                let ctr = Ctr::new(runtime.0, &config);
                ctr.create();
                ctr.start();
                containers.lock().unwrap().push(ctr);
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let start_ms = started.elapsed().as_secs_f64() * 1000.0;

    let threads_idle = status_field("self", "Threads:").unwrap_or(0);
    let rss_idle = status_field("self", "VmRSS:").unwrap_or(0);
    let conmon_rss: u64 = containers
        .lock()
        .unwrap()
        .iter()
        .filter_map(|ctr| {
            let pid = ctr.state()["conmon_pid"].as_i64()?;
            status_field(&pid.to_string(), "VmRSS:")
        })
        .sum();

    let stopping = Instant::now();
    let all: Vec<Ctr> = std::mem::take(&mut *containers.lock().unwrap());
    let all = Arc::new(Mutex::new(all));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let all = Arc::clone(&all);
            std::thread::spawn(move || loop {
                let Some(ctr) = all.lock().unwrap().pop() else {
                    return;
                };
                ctr.stop(0);
                drop(ctr);
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let stop_ms = stopping.elapsed().as_secs_f64() * 1000.0;

    let per = |value: f64| value / count as f64;
    let mut rows = Vec::new();
    let mut add = |name: &str, unit: &'static str, value: f64, note: Option<&str>| {
        let mut row = Row::new(section, name, unit, false);
        row.samples.push(value);
        row.note = note.map(str::to_string);
        rows.push(row);
    };
    add(
        &format!("create and start {} containers, per container", count),
        "ms",
        per(start_ms),
        None,
    );
    add(
        &format!("stop and delete {} containers, per container", count),
        "ms",
        per(stop_ms),
        None,
    );
    add(
        "library threads per idle container",
        "threads",
        per(threads_idle.saturating_sub(threads_before) as f64),
        Some("target: 0 (the runtime's one exit watcher thread is shared)"),
    );
    add(
        "host process memory per idle container",
        "KiB",
        per(rss_idle.saturating_sub(rss_before) as f64),
        None,
    );
    add(
        "conmon memory per container",
        "KiB",
        per(conmon_rss as f64),
        None,
    );
    rows
}
