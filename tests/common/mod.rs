//! Shared setup of the integration tests: a busybox bundle built once per test binary, and a
//! test environment with its own state directory and runtime root, so tests run in parallel.
//! Dropping the environment deletes every container it created, also when the test panics.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
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

/// Returns a spec without a PID namespace, so the container's processes share the host's
/// PID namespace and can outlive the container's init.
pub fn spec_without_pid_namespace(args: &[&str]) -> Value {
    let mut spec = spec(args);
    let namespaces = spec["linux"]["namespaces"]
        .as_array_mut()
        .expect("bundle config.json lists namespaces");
    namespaces.retain(|namespace| namespace["type"] != "pid");
    spec
}

/// Returns a shell command that prints `len` bytes of repeated "0123456789abcdef\n" lines.
pub fn yes_command(len: usize) -> String {
    format!("yes 0123456789abcdef | head -c {}", len)
}

/// Returns the output of [`yes_command`] for `len` bytes.
pub fn yes_output(len: usize) -> Vec<u8> {
    b"0123456789abcdef\n"
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

/// Returns the container's log file, or an empty string while conmon has not created it.
pub fn log_text(container: &Container) -> String {
    std::fs::read_to_string(container.log_path()).unwrap_or_default()
}

/// Returns a container config with the id, an inline spec and the shared rootfs. `extra`
/// adds fields.
pub fn container_config(id: &str, spec: Value, extra: Value) -> ContainerConfig {
    let mut config = serde_json::json!({
        "id": id,
        "spec": spec,
        "rootfs": rootfs(),
    });
    for (key, value) in extra.as_object().expect("extra config is an object") {
        config[key] = value.clone();
    }
    ContainerConfig::from_json(&config.to_string()).expect("container config")
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
        let config = container_config(&unique_id(name), spec, extra);
        let container =
            Container::new(Arc::clone(&self.runtime), config).expect("container configured");
        self.track(Arc::clone(&container));
        container
    }

    /// Configures a container running `args`.
    pub fn container(&self, name: &str, args: &[&str]) -> Arc<Container> {
        self.container_with(name, spec(args), serde_json::json!({}))
    }

    /// Configures and creates a container like [`TestEnv::container_with`].
    pub fn created_with(&self, name: &str, spec: Value, extra: Value) -> Arc<Container> {
        let container = self.container_with(name, spec, extra);
        self.runtime
            .create_container(&container, None)
            .expect("create");
        container
    }

    /// Configures and creates a container running `args`.
    pub fn created(&self, name: &str, args: &[&str]) -> Arc<Container> {
        self.created_with(name, spec(args), serde_json::json!({}))
    }

    /// Configures, creates and starts a container like [`TestEnv::container_with`].
    pub fn running_with(&self, name: &str, spec: Value, extra: Value) -> Arc<Container> {
        let container = self.created_with(name, spec, extra);
        self.runtime.start_container(&container).expect("start");
        container
    }

    /// Configures, creates and starts a container running `args`.
    pub fn running(&self, name: &str, args: &[&str]) -> Arc<Container> {
        self.running_with(name, spec(args), serde_json::json!({}))
    }

    /// Registers a container for deletion when the environment drops.
    pub fn track(&self, container: Arc<Container>) {
        self.containers.lock().unwrap().push(container);
    }

    /// Returns the ids that the runtime's `list` command prints for the test's runtime root.
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

    /// Runs `runc delete --force` on `id` in the test's runtime root, behind the library's
    /// back. Returns an error only when the runtime cannot be run.
    pub fn runc_force_delete(&self, id: &str) -> std::io::Result<ExitStatus> {
        Command::new(self.runtime.path())
            .arg("--root")
            .arg(&self.runtime_root)
            .args(["delete", "--force", id])
            .status()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let containers =
            std::mem::take(&mut *self.containers.lock().unwrap_or_else(|p| p.into_inner()));
        for container in containers {
            let _ = self.runtime.delete_container(&container);
        }
        // A failed test may leave containers that the library no longer tracks, so remove
        // whatever runc still lists.
        for id in self.runc_ids() {
            let _ = self.runc_force_delete(&id);
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

/// Calls `condition` every 10 ms until it returns true or `limit` has passed, and returns
/// its last result.
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

/// Returns whether a process with this pid exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match ocirt::process::state_letter(pid) {
        Some('Z') | None => false,
        Some(_) => true,
    }
}

/// Waits until the container's process has executed its command or is gone, so that it is
/// no longer runc's init. `runc start` can return before that. A SIGTERM that reaches runc's
/// init ends it with exit code 2 (seen with runc 1.1.5), whatever the command would do.
pub fn wait_for_command(container: &Container) {
    let pid = container.load_state().expect("container state").pid;
    let in_runc_init = || {
        std::fs::read_to_string(format!("/proc/{}/comm", pid))
            .is_ok_and(|name| name.trim() == "runc:[2:INIT]")
    };
    assert!(
        eventually(Duration::from_secs(10), || !in_runc_init()),
        "container pid {} never left runc's init",
        pid
    );
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

    /// Waits up to 10 s until stdout contains `needle`, and panics with the output otherwise.
    pub fn expect_stdout(&self, needle: &[u8]) {
        assert!(
            self.wait_for_stdout(needle, Duration::from_secs(10)),
            "stdout never contained {:?}: {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(&self.stdout())
        );
    }

    /// Waits until stdout contains `needle`, and returns false once `limit` has passed.
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

/// Splits a multiplexed HTTP attach stream into (stream id, payload) frames. Each frame has
/// an 8-byte header: the stream id, three zero bytes and the big-endian payload length.
pub fn demux(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 8, "truncated header: {:?}", data);
        assert_eq!(&data[1..4], &[0, 0, 0], "header bytes 1-3 must be zero");
        let len = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        assert!(len > 0, "empty frame");
        assert!(
            data.len() >= 8 + len,
            "frame of {} bytes truncated to {}",
            len,
            data.len() - 8
        );
        frames.push((data[0], data[8..8 + len].to_vec()));
        data = &data[8 + len..];
    }
    frames
}

/// Returns the concatenated payloads of the frames of one stream (1 stdout, 2 stderr).
pub fn payload(frames: &[(u8, Vec<u8>)], stream: u8) -> Vec<u8> {
    frames
        .iter()
        .filter(|(id, _)| *id == stream)
        .flat_map(|(_, data)| data.clone())
        .collect()
}

/// Returns the calling thread's last error message from the C functions.
pub fn ffi_last_error() -> String {
    // SAFETY: the library returns a NUL-terminated string that stays valid until the
    // thread's next failing call, and this copies it at once.
    unsafe { std::ffi::CStr::from_ptr(ocirt::ffi::ocirt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}
