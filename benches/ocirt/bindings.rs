//! Stream readers of the Go and Python bindings, run as separate programs that print one
//! JSON line `{"mib_per_second": X, "bytes": B}`. A binding whose program or tool is missing
//! gets no row.

use std::path::PathBuf;
use std::process::Command;

use crate::streams::{ExtraReader, Sample};
use crate::Env;

pub const GO: &str = "Go binding, io.Writer";
pub const PYTHON: &str = "Python binding, callback";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the sample in the last JSON line of a reader's output, or None after printing
/// why there is none.
fn parse_sample(output: std::process::Output, binding: &str) -> Option<Sample> {
    if !output.status.success() {
        eprintln!(
            "{} stream reader failed ({}): {}",
            binding,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(line) = text.lines().rev().find(|l| l.trim_start().starts_with('{')) else {
        eprintln!("{} stream reader printed no JSON line", binding);
        return None;
    };
    let Some(mib_per_second) = serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|value| value["mib_per_second"].as_f64())
    else {
        eprintln!(
            "{} stream reader printed no mib_per_second: {}",
            binding, line
        );
        return None;
    };
    // The reader's CPU time is not measured for the bindings.
    Some(Sample {
        mib_per_second,
        cpu_ms_per_gib: 0.0,
    })
}

/// Builds the Go reader and returns the readers whose programs exist in this tree and, for
/// Go, build.
pub fn stream_readers(env: &Env) -> Vec<ExtraReader> {
    let mut readers: Vec<ExtraReader> = Vec::new();
    let go_dir = repo().join("bindings/go");
    let go_binary = env.dir.path().join("ocirt-stream-bench");
    if go_dir.join("cmd/ocirt-stream-bench").exists() {
        let built = Command::new("go")
            .args(["build", "-o"])
            .arg(&go_binary)
            .arg("./cmd/ocirt-stream-bench")
            .current_dir(&go_dir)
            .status()
            .is_ok_and(|s| s.success());
        if built {
            let rootfs = env.rootfs();
            let base = env.dir.path().join("go-streams");
            readers.push((
                GO.to_string(),
                Box::new(move |_env: &Env, bytes: usize| {
                    let output = Command::new(&go_binary)
                        .arg("-rootfs")
                        .arg(&rootfs)
                        .arg("-run-dir")
                        .arg(base.join("run"))
                        .arg("-runtime-root")
                        .arg(base.join("runc"))
                        .arg("-mib")
                        .arg((bytes / (1024 * 1024)).to_string())
                        .output()
                        .ok()?;
                    parse_sample(output, "Go")
                }),
            ));
        } else {
            eprintln!("skipping the Go stream reader: go build failed or go is not on PATH");
        }
    }
    let python_script = repo().join("bindings/python/benchmarks/stream.py");
    if python_script.exists() {
        let rootfs = env.rootfs();
        let base = env.dir.path().join("python-streams");
        let library = repo().join("target/release/libocirt.so");
        readers.push((
            PYTHON.to_string(),
            Box::new(move |_env: &Env, bytes: usize| {
                let output = Command::new("python3")
                    .arg(&python_script)
                    .arg("--rootfs")
                    .arg(&rootfs)
                    .arg("--run-dir")
                    .arg(base.join("run"))
                    .arg("--runtime-root")
                    .arg(base.join("runc"))
                    .arg("--mib")
                    .arg((bytes / (1024 * 1024)).to_string())
                    .arg("--library")
                    .arg(&library)
                    .env("PYTHONPATH", repo().join("bindings/python/src"))
                    .output()
                    .ok()?;
                parse_sample(output, "Python")
            }),
        ));
    }
    readers
}
