//! Shared setup of the integration tests: a busybox bundle built once per test binary, and a
//! test environment with its own state directory and runtime root, so tests run in parallel.
//! Dropping the environment deletes every container it created, also when the test panics.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ocirt::{ConmonRuntime, Container, ContainerConfig, OciRuntime, RuntimeConfig};
use serde_json::Value;

/// Returns the repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the shared busybox bundle (rootfs and default config.json), which
/// `scripts/make-bundle.sh` builds on first use.
pub fn bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("busybox-bundle");
        let status = Command::new(repo_root().join("scripts/make-bundle.sh"))
            .arg(&dir)
            .status()
            .expect("scripts/make-bundle.sh runs");
        assert!(
            status.success(),
            "scripts/make-bundle.sh failed: {}",
            status
        );
        dir
    })
}

/// Returns the shared busybox root filesystem.
pub fn rootfs() -> PathBuf {
    bundle().join("rootfs")
}

/// Returns the bundle's default spec with `process.args` set to `args`.
pub fn spec(args: &[&str]) -> Value {
    let text = std::fs::read_to_string(bundle().join("config.json")).expect("bundle config.json");
    let mut spec: Value = serde_json::from_str(&text).expect("bundle config.json is JSON");
    spec["process"]["args"] = Value::from(args.to_vec());
    spec
}

/// Returns a spec with a terminal.
pub fn terminal_spec(args: &[&str]) -> Value {
    let mut spec = spec(args);
    spec["process"]["terminal"] = Value::Bool(true);
    spec
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Returns an id unique across concurrently running tests and test binaries (runc names the
/// container's cgroups after it, and those are global).
pub fn unique_id(name: &str) -> String {
    format!(
        "{}-{}-{}",
        name,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's runtime: a temporary run directory and runtime root of its own.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub runtime: Arc<ConmonRuntime>,
    pub runtime_root: PathBuf,
    containers: Mutex<Vec<Arc<Container>>>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv::with_config(serde_json::json!({}))
    }

    /// Creates a runtime whose config is `extra` plus the test's own directories.
    pub fn with_config(extra: Value) -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("ocirt-test-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let mut config = serde_json::json!({
            "run_dir": dir.path().join("run"),
            "runtime_root": dir.path().join("runc"),
        });
        for (key, value) in extra.as_object().expect("extra config is an object") {
            config[key] = value.clone();
        }
        let runtime = ConmonRuntime::new(
            RuntimeConfig::from_json(&config.to_string()).expect("runtime config"),
        )
        .expect("runtime starts");
        let runtime_root = PathBuf::from(
            config["runtime_root"]
                .as_str()
                .expect("runtime_root is a string"),
        );
        TestEnv {
            dir,
            runtime: Arc::new(runtime),
            runtime_root,
            containers: Mutex::new(Vec::new()),
        }
    }

    /// Returns the JSON config of `runtime` as the test built it, for other processes.
    pub fn runtime_config_json(&self) -> String {
        serde_json::json!({
            "run_dir": self.dir.path().join("run"),
            "runtime_root": self.runtime_root,
        })
        .to_string()
    }

    /// Configures a container with an inline spec and the shared rootfs. `extra` adds fields
    /// to the container config.
    pub fn container_with(&self, name: &str, spec: Value, extra: Value) -> Arc<Container> {
        let mut config = serde_json::json!({
            "id": unique_id(name),
            "spec": spec,
            "rootfs": rootfs(),
        });
        for (key, value) in extra.as_object().expect("extra config is an object") {
            config[key] = value.clone();
        }
        let config = ContainerConfig::from_json(&config.to_string()).expect("container config");
        let container =
            Container::new(Arc::clone(&self.runtime), config).expect("container configured");
        self.track(Arc::clone(&container));
        container
    }

    /// Configures a container running `args`.
    pub fn container(&self, name: &str, args: &[&str]) -> Arc<Container> {
        self.container_with(name, spec(args), serde_json::json!({}))
    }

    /// Configures, creates and starts a container running `args`.
    pub fn running(&self, name: &str, args: &[&str]) -> Arc<Container> {
        let container = self.container(name, args);
        self.runtime
            .create_container(&container, None)
            .expect("create");
        self.runtime.start_container(&container).expect("start");
        container
    }

    /// Registers a container for deletion when the environment drops.
    pub fn track(&self, container: Arc<Container>) {
        self.containers.lock().unwrap().push(container);
    }

    /// Returns the ids the runtime's `list` reports in the test's runtime root.
    pub fn runc_ids(&self) -> Vec<String> {
        let output = Command::new(self.runtime.path())
            .arg("--root")
            .arg(&self.runtime_root)
            .args(["list", "-q"])
            .output()
            .expect("runc list");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let containers =
            std::mem::take(&mut *self.containers.lock().unwrap_or_else(|p| p.into_inner()));
        for container in containers {
            let _ = self.runtime.delete_container(&container);
        }
        // Anything the library lost track of (a failed test may leave it in any state).
        for id in self.runc_ids() {
            let _ = Command::new(self.runtime.path())
                .arg("--root")
                .arg(&self.runtime_root)
                .args(["delete", "--force", &id])
                .status();
        }
    }
}

/// Reports a skipped part of a test on the real stderr, which the test runner does not
/// capture, so the reason shows in every run.
pub fn skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {}: {}\n", test, reason);
    // SAFETY: writes a buffer to descriptor 2, which the process owns for its whole life.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// Waits until `condition` holds, checking every 10 ms, for at most `limit`.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// True when a process with this pid exists (and is not a zombie).
pub fn pid_alive(pid: i32) -> bool {
    match ocirt::process::state_letter(pid) {
        Some('Z') | None => false,
        Some(_) => true,
    }
}

/// Output collected from an attach or exec session, shared with the test.
#[derive(Clone, Default)]
pub struct Collected {
    inner: Arc<(Mutex<CollectedOutput>, std::sync::Condvar)>,
}

#[derive(Default)]
pub struct CollectedOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub calls: usize,
    pub finished: Option<(Result<ocirt::attach::AttachOutcome, ocirt::Error>, i32)>,
}

struct CollectingSink {
    shared: Collected,
    delay: Duration,
}

impl ocirt::attach::OutputSink for CollectingSink {
    fn output(&mut self, stream: ocirt::attach::Stream, data: &[u8]) -> Result<(), ocirt::Error> {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let (lock, changed) = &*self.shared.inner;
        let mut output = lock.lock().unwrap();
        match stream {
            ocirt::attach::Stream::Stdout => output.stdout.extend_from_slice(data),
            ocirt::attach::Stream::Stderr => output.stderr.extend_from_slice(data),
        }
        output.calls += 1;
        changed.notify_all();
        Ok(())
    }

    fn finish(
        &mut self,
        result: &Result<ocirt::attach::AttachOutcome, ocirt::Error>,
        exit_code: i32,
    ) {
        let (lock, changed) = &*self.shared.inner;
        lock.lock().unwrap().finished = Some((result.clone(), exit_code));
        changed.notify_all();
    }
}

impl Collected {
    /// Returns a sink that appends to this collection.
    pub fn sink(&self) -> Box<dyn ocirt::attach::OutputSink> {
        self.slow_sink(Duration::ZERO)
    }

    /// Returns a sink that sleeps `delay` in every call before it appends.
    pub fn slow_sink(&self, delay: Duration) -> Box<dyn ocirt::attach::OutputSink> {
        Box::new(CollectingSink {
            shared: self.clone(),
            delay,
        })
    }

    /// Runs `f` on the collected output.
    pub fn with<T>(&self, f: impl FnOnce(&CollectedOutput) -> T) -> T {
        f(&self.inner.0.lock().unwrap())
    }

    pub fn stdout(&self) -> Vec<u8> {
        self.with(|o| o.stdout.clone())
    }

    pub fn stderr(&self) -> Vec<u8> {
        self.with(|o| o.stderr.clone())
    }

    /// Waits until stdout contains `needle`; returns false after `limit`.
    pub fn wait_for_stdout(&self, needle: &[u8], limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let (lock, changed) = &*self.inner;
        let mut output = lock.lock().unwrap();
        loop {
            if output.stdout.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            output = changed.wait_timeout(output, left).unwrap().0;
        }
    }
}
