//! Container lifecycle and exec, interleaved: bare runc, conmon driven by hand, ocirt through
//! the C ABI, and podman when it is installed.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::capi::Ctr;
use crate::hand::{which, HandDriver};
use crate::report::Row;
use crate::Env;

pub const HAND: &str = "conmon driven by hand";
pub const OCIRT: &str = "ocirt, C ABI";
pub const PODMAN: &str = "podman";

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Runs `cmd` with no input and its output discarded, and panics unless it succeeds.
/// `name` names the command in the panic message.
fn run_quiet(cmd: &mut Command, name: &str) {
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|err| panic!("{} could not be started: {}", name, err));
    assert!(status.success(), "{} failed: {}", name, status);
}

/// Returns a podman command with the global options that the benchmark needs, or None when
/// podman is not installed.
pub fn podman() -> Option<Command> {
    let path = which("podman");
    if !path.exists() {
        return None;
    }
    let mut cmd = Command::new(path);
    // podman runs on runc like the other rows. Its default runtime on the benchmark machine,
    // crun, does not run on that machine's hybrid cgroup layout.
    cmd.args(["--cgroup-manager", "cgroupfs", "--runtime", "runc"]);
    Some(cmd)
}

/// Options of `podman run` that keep its container close to the others: the bundle's
/// rlimits, no network, and the k8s-file log that ocirt writes by default.
const PODMAN_RUN_FLAGS: [&str; 7] = [
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=4096:4096",
    "--network",
    "none",
    "--log-driver=k8s-file",
];

/// Returns the `podman run` arguments before the command: the common options, then
/// `--rootfs` and the root filesystem to run.
fn podman_run_args(rootfs: &Path) -> Vec<String> {
    let mut args: Vec<String> = PODMAN_RUN_FLAGS.iter().map(|s| s.to_string()).collect();
    args.push("--rootfs".to_string());
    args.push(rootfs.display().to_string());
    args
}

/// Writes a bundle directory with `spec` and returns it.
fn bundle_dir(env: &Env, id: &str, spec: &serde_json::Value) -> std::path::PathBuf {
    let dir = env.dir.path().join("bundles").join(id);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.json"), serde_json::to_vec(spec).unwrap()).unwrap();
    dir
}

/// Returns the bundle's spec running `args`, with the root filesystem as an absolute path.
fn spec_with_root(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut spec = env.spec(args);
    spec["root"]["path"] = serde_json::Value::String(env.rootfs().display().to_string());
    spec
}

fn runc(env: &Env) -> Command {
    let mut cmd = Command::new(which("runc"));
    cmd.arg("--root").arg(env.dir.path().join("runc"));
    cmd
}

fn runc_run(env: &Env) -> f64 {
    let id = env.unique_id("runc-run");
    let start = Instant::now();
    let dir = bundle_dir(env, &id, &spec_with_root(env, &["true"]));
    run_quiet(
        runc(env).args(["run", "--bundle"]).arg(&dir).arg(&id),
        "runc run",
    );
    let elapsed = millis(start);
    let _ = fs::remove_dir_all(dir);
    elapsed
}

fn runc_split(env: &Env) -> f64 {
    let id = env.unique_id("runc-split");
    let start = Instant::now();
    let dir = bundle_dir(env, &id, &spec_with_root(env, &["true"]));
    let pidfile = dir.join("pid");
    run_quiet(
        runc(env)
            .args(["create", "--bundle"])
            .arg(&dir)
            .arg("--pid-file")
            .arg(&pidfile)
            .arg(&id),
        "runc create",
    );
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pidfd = ocirt::process::pidfd_open(pid).expect("pidfd of the container");
    run_quiet(runc(env).args(["start", &id]), "runc start");
    ocirt::process::wait_readable(&[std::os::fd::AsFd::as_fd(&pidfd)], None).unwrap();
    run_quiet(runc(env).args(["delete", "--force", &id]), "runc delete");
    let elapsed = millis(start);
    let _ = fs::remove_dir_all(dir);
    elapsed
}

fn hand_lifecycle(env: &Env, hand: &HandDriver) -> f64 {
    let id = env.unique_id("hand");
    let spec = spec_with_root(env, &["true"]);
    let start = Instant::now();
    assert_eq!(hand.lifecycle(&id, &spec), 0);
    millis(start)
}

fn ocirt_lifecycle(env: &Env) -> f64 {
    let config = serde_json::json!({"id": env.unique_id("ocirt"), "spec": env.spec(&["true"]), "rootfs": env.rootfs()});
    let start = Instant::now();
    let ctr = Ctr::new(env.c_runtime, &config);
    ctr.create();
    ctr.start();
    assert_eq!(ctr.wait(), 0);
    drop(ctr);
    millis(start)
}

fn podman_lifecycle(env: &Env) -> Option<f64> {
    let mut cmd = podman()?;
    cmd.args(["run", "--rm"])
        .args(podman_run_args(&env.rootfs()))
        .arg("true");
    let start = Instant::now();
    let output = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "podman run failed ({}), sample skipped: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    Some(millis(start))
}

/// Returns the order of the rows in a round: rows `0..rotated` in a balanced order, then the
/// podman row (`rotated`) last.
///
/// The orders form a Williams design. Over `rotated` rounds (twice as many when `rotated` is
/// odd), each row runs once in each position and directly after each other row equally often.
/// podman leaves cleanup processes running after it returns, which would slow whatever row
/// came next, so podman runs last and the round ends with a pause after it.
fn round_order(round: usize, rotated: usize) -> Vec<usize> {
    // Base sequence 0, 1, n-1, 2, n-2, ..., shifted by the round number modulo n.
    let n = rotated;
    let base = (0..n).map(|i| {
        if i % 2 == 1 {
            i / 2 + 1
        } else {
            (n - i / 2) % n
        }
    });
    let mut order: Vec<usize> = base.map(|row| (row + round) % n).collect();
    if n % 2 == 1 && (round / n) % 2 == 1 {
        order.reverse();
    }
    order.push(rotated);
    order
}

/// How long a round waits after podman's sample for its cleanup processes to finish.
const PODMAN_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Runs `rounds` interleaved rounds of every lifecycle row.
pub fn run_lifecycle(env: &Env, rounds: usize) -> Vec<Row> {
    let section = "Container lifecycle (busybox `true`: create, start, wait, delete)";
    let hand = HandDriver::new(&env.dir.path().join("hand"), &env.dir.path().join("runc"));
    let mut rows = vec![
        Row::new(section, "runc run", "ms", false),
        Row::new(section, "runc create, start, delete", "ms", false),
        Row::new(section, HAND, "ms", false),
        Row::new(section, OCIRT, "ms", false),
        Row::new(section, PODMAN, "ms", false),
    ];
    rows[0].reference = Some(HAND.to_string());
    rows[1].reference = Some(HAND.to_string());
    rows[3].reference = Some(HAND.to_string());
    rows[3].note = Some("target: at most 1.05 times conmon driven by hand".to_string());
    rows[4].reference = Some(OCIRT.to_string());
    rows[4].note = Some(if podman().is_some() {
        "target: ocirt at least 4 times faster (ratio at least 4)".to_string()
    } else {
        "skipped: podman is not installed".to_string()
    });
    for round in 0..rounds {
        let order = round_order(round, 4);
        for index in order {
            let sample = match index {
                0 => Some(runc_run(env)),
                1 => Some(runc_split(env)),
                2 => Some(hand_lifecycle(env, &hand)),
                3 => Some(ocirt_lifecycle(env)),
                _ => podman_lifecycle(env),
            };
            if let Some(sample) = sample {
                rows[index].samples.push(sample);
            }
        }
        std::thread::sleep(PODMAN_SETTLE);
        eprintln!("lifecycle: round {} of {} done", round + 1, rounds);
    }
    rows
}

/// Runs `rounds` interleaved rounds of an exec of `true` in a running container.
pub fn run_exec(env: &Env, rounds: usize) -> Vec<Row> {
    let section = "Exec (`true` in a running container, output attached)";
    let hand = HandDriver::new(
        &env.dir.path().join("hand-exec"),
        &env.dir.path().join("runc"),
    );
    let hand_id = env.unique_id("hand-exec");
    hand.start_container(&hand_id, &spec_with_root(env, &["sleep", "1000"]));
    let process = {
        let mut process = env.spec(&["true"])["process"].clone();
        process["terminal"] = serde_json::Value::Bool(false);
        process
    };
    let config = serde_json::json!({"id": env.unique_id("exec"), "spec": env.spec(&["sleep", "1000"]), "rootfs": env.rootfs()});
    let ctr = Ctr::new(env.c_runtime, &config);
    ctr.create();
    ctr.start();
    let ctr_id = ctr.state()["id"].as_str().unwrap().to_string();
    let podman_name = env.unique_id("podman-exec");
    let podman_ready = podman().is_some_and(|mut cmd| {
        cmd.args(["run", "-d", "--name", &podman_name])
            .args(podman_run_args(&env.rootfs()))
            .args(["sleep", "1000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });

    let mut rows = vec![
        Row::new(section, "runc exec", "ms", false),
        Row::new(section, HAND, "ms", false),
        Row::new(section, OCIRT, "ms", false),
        Row::new(section, PODMAN, "ms", false),
    ];
    rows[0].reference = Some(HAND.to_string());
    rows[2].reference = Some(HAND.to_string());
    rows[2].note = Some("target: at most 1.1 times conmon driven by hand".to_string());
    rows[3].reference = Some(OCIRT.to_string());
    if !podman_ready {
        rows[3].note =
            Some("skipped: podman is not installed or could not start its container".to_string());
    }
    for round in 0..rounds {
        let order = round_order(round, 3);
        for index in order {
            let start = Instant::now();
            let ran = match index {
                0 => {
                    run_quiet(runc(env).args(["exec", &ctr_id, "true"]), "runc exec");
                    true
                }
                1 => hand.exec(&hand_id, &env.unique_id("session"), &process) == 0,
                2 => ctr.exec(&env.unique_id("session"), &["true"]) == 0,
                _ => {
                    podman_ready
                        && podman().is_some_and(|mut cmd| {
                            cmd.args(["exec", &podman_name, "true"])
                                .stdout(Stdio::null())
                                .status()
                                .is_ok_and(|s| s.success())
                        })
                }
            };
            if ran {
                rows[index].samples.push(millis(start));
            }
        }
        std::thread::sleep(PODMAN_SETTLE);
        eprintln!("exec: round {} of {} done", round + 1, rounds);
    }
    // Remove podman's container even when `podman run` failed, because it may have left the
    // container created.
    if let Some(mut cmd) = podman() {
        let _ = cmd
            .args(["rm", "-f", "-t", "0", "--ignore", &podman_name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    ctr.stop(0);
    drop(ctr);
    hand.delete_container(&hand_id);
    rows
}
