//! Exec sessions: commands run inside a running container, each supervised by its own conmon.
//!
//! A session lives in `<container dir>/exec/<session id>/`, which is its conmon's bundle:
//!
//! | file | written by | content |
//! |---|---|---|
//! | `session.json` | library | [`ExecRecord`], replaced atomically |
//! | `process.json` | library | the OCI process spec of the command |
//! | `exec_pid`, `conmon.pid` | runtime, conmon | the command's pid, conmon's pid |
//! | `attach`, `ctl`, `winsz` | conmon | attach socket, control and resize FIFOs |
//! | `exit/<container id>` | conmon | the exit code |
//! | `oci-log` | runtime | JSON runtime errors |
//!
//! The start follows conmon's exec handshake. The first start byte makes conmon fork its
//! monitor, which reports on the attach pipe once its socket exists. The library connects to
//! that socket, and then the second start byte makes conmon run `runtime exec`. The sync pipe
//! then carries the command's pid (or the runtime's error) and, when the command exits, its
//! exit code.

pub mod options;
pub mod process_spec;
pub mod user;

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::attach::http::{self, HttpAttachOptions, HttpSink};
use crate::attach::{
    AttachOutcome, AttachSession, ExitCodeSource, OutputSink, SessionConfig, SessionHandle,
    WriteOutcome,
};
use crate::cancel::Cancel;
use crate::conmon::{self, ConmonCommand};
use crate::container::{Container, Status};
use crate::error::{ocirt_result, Error, Result};
use crate::ids;
use crate::process::{self, ProcessId};
use crate::runtime::conmon_args;
use crate::runtime::ConmonRuntime;
use crate::runtime_cli;
use crate::state;

pub use options::ExecOptions;

/// How long to wait for the exit file once the command is gone: conmon drains the output
/// first.
const EXIT_FILE_GRACE: Duration = Duration::from_secs(5);

/// How long exec stop waits for the command to die after SIGKILL.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// Exit code recorded for a command the runtime could not find (as a shell reports it).
pub const OCIRT_EXIT_NOT_FOUND: i32 = 127;

/// Exit code recorded for a command the runtime could not execute.
pub const OCIRT_EXIT_PERMISSION_DENIED: i32 = 126;

/// Exit code recorded for any other failure to start the command (the runtime's error is
/// neither "not found" nor "permission denied"; the call returns `OCIRT_ERR_OCI_RUNTIME`).
pub const OCIRT_EXIT_START_FAILED: i32 = 125;

/// Returns conmon's `-u` value for a session, which names its link in the socket directory:
/// `<container id>@<session id>`. No id contains `@`, so the name can clash neither with a
/// container's nor with a session of another container. When it would exceed the 255 bytes
/// a file name may have, the session part is replaced by a 64-bit FNV-1a hash of it.
pub fn conmon_uuid(container_id: &str, session_id: &str) -> String {
    let full = format!("{}@{}", container_id, session_id);
    if full.len() <= 255 {
        return full;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in session_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}@{:016x}", container_id, hash)
}

/// Returns the capability name in upper case with the `CAP_` prefix (`net_admin` becomes
/// `CAP_NET_ADMIN`).
pub fn normalize_capability(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{}", upper)
    }
}

/// The persisted state of a session, in `session.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecRecord {
    /// Session id.
    pub id: String,
    /// Host pid of the command; 0 when it never started.
    pub pid: i32,
    /// Start time of `pid`, to detect pid reuse.
    #[serde(default)]
    pub pid_start_time: Option<u64>,
    /// pid of the session's conmon.
    pub conmon_pid: i32,
    /// Start time of `conmon_pid`.
    #[serde(default)]
    pub conmon_start_time: Option<u64>,
    /// Whether the command has a terminal.
    pub terminal: bool,
    /// RFC 3339 time of the start.
    pub started_at: String,
    /// The exit code, once known: 0-255, 128+N after signal N, 125-127 when the command did
    /// not start, -1 when conmon could not record it.
    #[serde(default)]
    pub exit_code: Option<i32>,
}

impl ExecRecord {
    fn process(&self) -> ProcessId {
        ProcessId {
            pid: self.pid,
            start_time: self.pid_start_time,
        }
    }

    fn conmon(&self) -> ProcessId {
        ProcessId {
            pid: self.conmon_pid,
            start_time: self.conmon_start_time,
        }
    }
}

/// Paths of one session.
#[derive(Clone, Debug)]
pub struct ExecPaths {
    /// The session's directory (conmon's bundle).
    pub dir: PathBuf,
    /// Directory in which conmon writes the exit file, named after the container id.
    pub exit_dir: PathBuf,
    /// The exit file.
    pub exit_file: PathBuf,
}

impl ExecPaths {
    /// Returns the paths of session `id` of `ctr`.
    pub fn new(ctr: &Container, id: &str) -> ExecPaths {
        let dir = ctr.file("exec").join(id);
        let exit_dir = dir.join("exit");
        let exit_file = exit_dir.join(ctr.id());
        ExecPaths {
            dir,
            exit_dir,
            exit_file,
        }
    }

    /// Returns a file of the session's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn no_such_session(ctr: &Container, id: &str) -> Error {
    Error::new(
        ocirt_result::OCIRT_ERR_NO_SUCH_EXEC_SESSION,
        format!("container {} has no exec session \"{}\"", ctr.id(), id),
    )
}

/// Reads a session's record; `OCIRT_ERR_NO_SUCH_EXEC_SESSION` when it does not exist.
pub fn load_record(ctr: &Container, id: &str) -> Result<(ExecPaths, ExecRecord)> {
    ids::validate(id, "exec session id")?;
    ctr.load_state()?;
    let paths = ExecPaths::new(ctr, id);
    let text = match fs::read(paths.file("session.json")) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(no_such_session(ctr, id)),
        Err(err) => return Err(Error::io(format!("cannot read exec session {}", id), err)),
    };
    let record = serde_json::from_slice(&text).map_err(|err| {
        Error::new(
            ocirt_result::OCIRT_ERR_IO,
            format!(
                "exec session file {} is corrupt: {}",
                paths.file("session.json").display(),
                err
            ),
        )
    })?;
    Ok((paths, record))
}

/// Writes the record without fsyncs: everything in it is also in files of the runtime and
/// conmon (`exec_pid`, `conmon.pid`, the exit file), which a later status update reads.
fn save_record(paths: &ExecPaths, record: &ExecRecord) -> Result<()> {
    let text = serde_json::to_vec(record)
        .map_err(|err| Error::invalid(format!("cannot serialize exec session state: {}", err)))?;
    state::write_atomic(
        &paths.file("session.json"),
        &text,
        0o640,
        state::Durability::Atomic,
    )
}

/// Records the exit code of a session, unless one is recorded already.
fn record_exit(paths: &ExecPaths, code: i32) {
    let Ok(text) = fs::read(paths.file("session.json")) else {
        return;
    };
    let Ok(mut record) = serde_json::from_slice::<ExecRecord>(&text) else {
        return;
    };
    if record.exit_code.is_none() {
        record.exit_code = Some(code);
        if let Err(err) = save_record(paths, &record) {
            log::warn!(
                "exec session {}: cannot record exit code {}: {}",
                record.id,
                code,
                err.message()
            );
        }
    }
}

/// Reads the exit file; `None` when it does not exist (yet).
fn read_exit_file(paths: &ExecPaths) -> Result<Option<i32>> {
    match fs::read_to_string(&paths.exit_file) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            Error::new(
                ocirt_result::OCIRT_ERR_CONMON,
                format!(
                    "exit file {} contains {:?}, which is not an exit code",
                    paths.exit_file.display(),
                    text
                ),
            )
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::io(
            format!("cannot read exit file {}", paths.exit_file.display()),
            err,
        )),
    }
}

/// Waits for the exit file of a command that is gone: conmon writes it after draining the
/// output, then exits, so waiting for conmon's exit (at most `grace`) is enough.
fn exit_code_after_exit(paths: &ExecPaths, record: &ExecRecord, grace: Duration) -> Result<i32> {
    if let Some(code) = read_exit_file(paths)? {
        return Ok(code);
    }
    if let Some(conmon) = record.conmon().open() {
        let _ = process::wait_readable(&[conmon.as_fd()], Some(grace));
    }
    Ok(read_exit_file(paths)?.unwrap_or_else(|| {
        log::warn!(
            "exec session {}: no exit file; exit code unknown (-1)",
            record.id
        );
        -1
    }))
}

/// Reads the exit code that conmon sends on the sync pipe when the command exits. Falls back
/// to the exit file when conmon went away without sending it.
fn exit_code_from_sync(sync: &OwnedFd, paths: &ExecPaths, record: &ExecRecord) -> i32 {
    match conmon::read_message(sync, None, "exit message") {
        Ok(message) if message.data >= 0 => message.data as i32,
        Ok(message) => {
            log::warn!(
                "exec session {}: conmon reported {} ({})",
                record.id,
                message.data,
                message.message.unwrap_or_default()
            );
            -1
        }
        Err(err) => {
            log::debug!(
                "exec session {}: {}; reading the exit file",
                record.id,
                err.message()
            );
            exit_code_after_exit(paths, record, EXIT_FILE_GRACE).unwrap_or(-1)
        }
    }
}

/// Destination of a session's streams.
pub enum Streams {
    /// No streams: the session runs detached.
    Detached,
    /// Output to a sink, stdin through the session handle.
    Sink(Box<dyn OutputSink>),
    /// Everything over a hijacked HTTP connection, which the session owns.
    Http {
        /// The connection.
        conn: Arc<OwnedFd>,
        /// Streams and detach keys of the connection.
        options: HttpAttachOptions,
        /// Bytes the host's HTTP parser already read from the connection.
        buffered: Vec<u8>,
        /// Ends the session early when triggered.
        cancel: Option<Cancel>,
    },
}

/// Checks that descriptors 3 to 3+count-1 are open in this process.
fn check_preserved_fds(count: u32) -> Result<()> {
    for fd in 3..3 + count as i32 {
        // SAFETY: F_GETFD on any number is harmless; it fails with EBADF when not open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::invalid(format!(
                "exec options: \"preserve_fds\" is {} but descriptor {} is not open in this process",
                count, fd
            )));
        }
    }
    Ok(())
}

/// Creates the session's directory; fails when the id is taken.
fn create_session_dir(ctr: &Container, id: &str, paths: &ExecPaths) -> Result<()> {
    state::create_dir_all(&ctr.file("exec"))?;
    match fs::create_dir(&paths.dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_EXEC_SESSION_EXISTS,
                format!(
                "container {} already has an exec session \"{}\"; clean it up or choose another id",
                ctr.id(),
                id
            ),
            ))
        }
        Err(err) => {
            return Err(Error::io(
                format!("cannot create {}", paths.dir.display()),
                err,
            ))
        }
    }
    fs::create_dir(&paths.exit_dir)
        .map_err(|err| Error::io(format!("cannot create {}", paths.exit_dir.display()), err))
}

/// Builds the conmon command of session `id`: conmon runs `runtime exec` with the session's
/// `process.json` and serves the session's attach socket from its directory.
fn exec_command(
    runtime: &ConmonRuntime,
    ctr: &Container,
    id: &str,
    options: &ExecOptions,
    paths: &ExecPaths,
    stdin: bool,
) -> ConmonCommand {
    let pidfile = paths.file("exec_pid");
    let oci_log = paths.file("oci-log");
    let cuuid = conmon_uuid(ctr.id(), id);

    let target = conmon_args::Target {
        cuuid: &cuuid,
        bundle: &paths.dir,
        pidfile: &pidfile,
        exit_dir: &paths.exit_dir,
        log: "none".to_string(),
        oci_log: &oci_log,
    };
    let mut args = conmon_args::shared(runtime, ctr, &target);

    // Options that conmon passes on to `runtime exec`.
    if options.preserve_fds > 0 {
        args.push(&[
            "--runtime-opt",
            "--preserve-fds",
            "--runtime-opt",
            &options.preserve_fds.to_string(),
        ]);
    }
    for cap in &options.cap_add {
        args.push(&[
            "--runtime-opt",
            "--cap",
            "--runtime-opt",
            &normalize_capability(cap),
        ]);
    }

    // conmon's own options for the session.
    if options.terminal {
        args.push(&["-t"]);
    }
    if stdin {
        args.push(&["-i"]);
    }
    args.push_path("--conmon-pidfile", &paths.file("conmon.pid"));
    args.push(&["-e", "--exec-attach"]);
    args.push_path("--exec-process-spec", &paths.file("process.json"));
    conmon_args::exit_command(&mut args, &options.exit_command, options.exit_command_delay);

    ConmonCommand {
        binary: runtime.conmon_path().to_path_buf(),
        args: args.0,
        env: conmon_args::environment(runtime),
        cwd: paths.dir.clone(),
        preserved_fds: (3..3 + options.preserve_fds as i32).collect(),
        attach_pipe: true,
    }
}

/// Classifies the runtime's failure to start the command and records its exit code.
fn start_failure(ctr: &Container, id: &str, paths: &ExecPaths, message: Option<&str>) -> Error {
    let from_log = fs::read_to_string(paths.file("oci-log"))
        .ok()
        .and_then(|text| {
            text.lines().rev().find_map(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .ok()?
                    .get("msg")?
                    .as_str()
                    .map(str::to_string)
            })
        });
    let text = from_log
        .filter(|t| !t.is_empty())
        .or_else(|| {
            message
                .map(runtime_cli::runtime_message)
                .filter(|t| !t.is_empty())
        })
        .unwrap_or_else(|| "exec failed".to_string());
    let kind = runtime_cli::classify_message(&text);
    let code = match kind {
        ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND => OCIRT_EXIT_NOT_FOUND,
        ocirt_result::OCIRT_ERR_RUNTIME_PERMISSION_DENIED => OCIRT_EXIT_PERMISSION_DENIED,
        _ => OCIRT_EXIT_START_FAILED,
    };
    record_exit(paths, code);
    Error::new(
        kind,
        format!(
            "container {}: exec session {} did not start (exit code {}): {}",
            ctr.id(),
            id,
            code,
            text
        ),
    )
}

/// Starts an exec session. Returns the command's host pid and the handle to follow it. A
/// session streamed over HTTP that fails to start reports the failure on its connection.
pub fn start(
    runtime: &ConmonRuntime,
    ctr: &Container,
    id: &str,
    options: &ExecOptions,
    streams: Streams,
) -> Result<(i32, Box<dyn SessionHandle>)> {
    let http = match &streams {
        Streams::Http {
            conn,
            options: http,
            ..
        } => Some((Arc::clone(conn), http.hijack_header)),
        _ => None,
    };
    let mut progress = http::Progress::Nothing;
    let started = start_inner(runtime, ctr, id, options, streams, &mut progress);
    if let (Err(err), Some((conn, hijack_header))) = (&started, &http) {
        http::report_failure(conn, *hijack_header, options.terminal, progress, err);
    }
    started
}

fn start_inner(
    runtime: &ConmonRuntime,
    ctr: &Container,
    id: &str,
    options: &ExecOptions,
    streams: Streams,
    progress: &mut http::Progress,
) -> Result<(i32, Box<dyn SessionHandle>)> {
    ids::validate(id, "exec session id")?;
    options.validate()?;
    // Streams over HTTP take the connection's detach keys when it names any.
    let key_text = match &streams {
        Streams::Http { options: http, .. } => http
            .detach_keys
            .as_deref()
            .or(options.detach_keys.as_deref()),
        _ => options.detach_keys.as_deref(),
    };
    let keys = crate::attach::detach::DetachKeys::parse_or_default(key_text)?;
    check_preserved_fds(options.preserve_fds)?;
    let status = ctr.load_state()?.status;
    if status != Status::Running {
        return Err(Error::state_invalid(format!(
            "container {} is {}; exec needs a running container",
            ctr.id(),
            status
        )));
    }
    let stdin = match &streams {
        Streams::Detached => false,
        Streams::Sink(_) => options.stdin,
        Streams::Http { options: http, .. } => http.stdin,
    };
    if options.stdin && matches!(streams, Streams::Detached) {
        return Err(Error::invalid(
            "exec options: \"stdin\" needs attached streams (callbacks)",
        ));
    }

    let process = process_spec::build(ctr, options)?;
    let paths = ExecPaths::new(ctr, id);
    create_session_dir(ctr, id, &paths)?;
    let started = start_in_dir(
        runtime, ctr, id, options, streams, stdin, keys, &paths, &process, progress,
    );
    if started.is_err() && !paths.file("session.json").exists() {
        let _ = fs::remove_dir_all(&paths.dir);
        let _ = fs::remove_file(runtime.socket_link_for(&conmon_uuid(ctr.id(), id)));
    }
    started
}

#[allow(clippy::too_many_arguments)]
fn start_in_dir(
    runtime: &ConmonRuntime,
    ctr: &Container,
    id: &str,
    options: &ExecOptions,
    streams: Streams,
    stdin: bool,
    keys: crate::attach::detach::DetachKeys,
    paths: &ExecPaths,
    process: &oci_spec::runtime::Process,
    progress: &mut http::Progress,
) -> Result<(i32, Box<dyn SessionHandle>)> {
    let spec_text = serde_json::to_vec_pretty(process).map_err(|err| {
        Error::invalid(format!("cannot serialize the exec process spec: {}", err))
    })?;
    state::write_atomic(
        &paths.file("process.json"),
        &spec_text,
        0o644,
        state::Durability::Atomic,
    )?;

    let command = exec_command(runtime, ctr, id, options, paths, stdin);
    let mut conmon = conmon::spawn(&command)?;
    let timeout = Some(Duration::from_millis(runtime.config().create_timeout_ms));
    conmon.release()?;
    conmon.wait_first_stage()?;
    let attach_pipe = conmon
        .attach
        .take()
        .expect("exec conmon has an attach pipe");
    let ready = conmon::read_message(&attach_pipe, timeout, "attach pipe message")?;
    if ready.data < 0 {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_CONMON,
            format!(
                "exec session {}: conmon could not set up the attach socket: {}",
                id,
                ready.message.unwrap_or_default()
            ),
        ));
    }
    // Connect before the second start byte, so the first output reaches this client.
    let socket = match &streams {
        Streams::Detached => None,
        _ => Some(crate::attach::connect(&paths.file("attach"))?),
    };
    conmon.release()?;
    let first = conmon::read_message(&conmon.sync, timeout, "sync message")?;
    if first.data < 0 {
        let record = ExecRecord {
            id: id.to_string(),
            pid: 0,
            pid_start_time: None,
            conmon_pid: 0,
            conmon_start_time: None,
            terminal: options.terminal,
            started_at: state::now(),
            exit_code: None,
        };
        save_record(paths, &record)?;
        return Err(start_failure(ctr, id, paths, first.message.as_deref()));
    }

    let pid = first.data as i32;
    let conmon_pid = fs::read_to_string(paths.file("conmon.pid"))
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
        .unwrap_or(0);
    let record = ExecRecord {
        id: id.to_string(),
        pid,
        pid_start_time: process::start_time(pid),
        conmon_pid,
        conmon_start_time: process::start_time(conmon_pid),
        terminal: options.terminal,
        started_at: state::now(),
        exit_code: None,
    };
    save_record(paths, &record)?;
    log::info!(
        "container {}: exec session {} started (pid {})",
        ctr.id(),
        id,
        pid
    );

    let sync = conmon.sync;
    let handle: Box<dyn SessionHandle> = match (streams, socket) {
        (Streams::Detached, _) | (_, None) => {
            Box::new(DetachedExec::new(sync, paths.clone(), record))
        }
        (Streams::Sink(sink), Some(socket)) => {
            let config = SessionConfig {
                description: format!("exec session {}", id),
                stdout: options.stdout,
                stderr: options.stderr,
                stdin,
                detach_keys: keys,
                buffer_limit: options.buffer_limit,
            };
            let exit_code = exit_code_source(sync, paths.clone(), record);
            Box::new(AttachSession::start(socket, config, sink, Some(exit_code))?)
        }
        (
            Streams::Http {
                conn,
                options: http_options,
                buffered,
                cancel,
            },
            Some(socket),
        ) => {
            if http_options.hijack_header {
                http::write_all(&conn, http::HIJACK_HEADER)?;
                *progress = http::Progress::Header;
            }
            let config = SessionConfig {
                description: format!("exec session {}", id),
                stdout: http_options.stdout,
                stderr: http_options.stderr,
                stdin,
                detach_keys: keys,
                buffer_limit: http_options.buffer_limit,
            };
            let sink = Box::new(HttpSink::new(Arc::clone(&conn), options.terminal));
            let exit_code = exit_code_source(sync, paths.clone(), record);
            let session = Arc::new(AttachSession::start(socket, config, sink, Some(exit_code))?);
            *progress = http::Progress::Streaming;
            Box::new(HttpExec::start(session, conn, stdin, buffered, cancel)?)
        }
    };
    Ok((pid, handle))
}

/// Takes the exit code from the sync pipe once the streams ended. A detached or failed
/// session does not wait for the command: it may run on.
fn exit_code_source(sync: OwnedFd, paths: ExecPaths, record: ExecRecord) -> ExitCodeSource {
    Box::new(move |result| match result {
        Ok(AttachOutcome::Ended) => {
            let code = exit_code_from_sync(&sync, &paths, &record);
            record_exit(&paths, code);
            code
        }
        _ => -1,
    })
}

/// The handle of a session without attached streams: waiting reads the exit code from the
/// sync pipe.
struct DetachedExec {
    sync: OwnedFd,
    paths: ExecPaths,
    record: ExecRecord,
    result: Mutex<Option<i32>>,
}

impl DetachedExec {
    fn new(sync: OwnedFd, paths: ExecPaths, record: ExecRecord) -> DetachedExec {
        DetachedExec {
            sync,
            paths,
            record,
            result: Mutex::new(None),
        }
    }
}

impl SessionHandle for DetachedExec {
    fn write(&self, _data: &[u8]) -> Result<WriteOutcome> {
        Err(Error::new(
            ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID,
            format!(
                "exec session {} runs detached; it has no stdin",
                self.record.id
            ),
        ))
    }

    fn close_stdin(&self) -> Result<()> {
        self.write(&[]).map(|_| ())
    }

    fn detach(&self) {}

    fn wait(&self, timeout: Option<Duration>) -> Option<(Result<AttachOutcome>, i32)> {
        if let Some(code) = *self.result.lock().unwrap_or_else(|p| p.into_inner()) {
            return Some((Ok(AttachOutcome::Ended), code));
        }

        // Block without the lock, so that a concurrent wait with a shorter timeout still
        // returns on time.
        match process::wait_readable(&[self.sync.as_fd()], timeout) {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(err) => {
                return Some((Err(Error::io("cannot wait for the exec session", err)), -1));
            }
        }

        // The first waiter to take the lock reads the exit message; the others find its result.
        let mut result = self.result.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(code) = *result {
            return Some((Ok(AttachOutcome::Ended), code));
        }
        let code = exit_code_from_sync(&self.sync, &self.paths, &self.record);
        record_exit(&self.paths, code);
        *result = Some(code);
        Some((Ok(AttachOutcome::Ended), code))
    }
}

/// The handle of a session streamed over HTTP: a library thread runs the connection.
struct HttpExec {
    session: Arc<AttachSession>,
    outcome: Arc<(Mutex<Option<Result<AttachOutcome>>>, Condvar)>,
    /// The streaming thread; `None` once [`SessionHandle::release`] let it run on alone.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl HttpExec {
    fn start(
        session: Arc<AttachSession>,
        conn: Arc<OwnedFd>,
        stdin: bool,
        buffered: Vec<u8>,
        cancel: Option<Cancel>,
    ) -> Result<HttpExec> {
        let outcome = Arc::new((Mutex::new(None), Condvar::new()));
        let thread_session = Arc::clone(&session);
        let thread_outcome = Arc::clone(&outcome);
        let thread = crate::cancel::spawn_thread("ocirt-exec-http", move || {
            let result = http::run(thread_session, conn, stdin, &buffered, cancel.as_ref());
            let (slot, ready) = &*thread_outcome;
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            ready.notify_all();
        })?;
        Ok(HttpExec {
            session,
            outcome,
            thread: Mutex::new(Some(thread)),
        })
    }
}

impl SessionHandle for HttpExec {
    fn write(&self, _data: &[u8]) -> Result<WriteOutcome> {
        Err(Error::new(
            ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID,
            "this exec session reads stdin from its HTTP connection",
        ))
    }

    fn close_stdin(&self) -> Result<()> {
        self.write(&[]).map(|_| ())
    }

    fn detach(&self) {
        self.session.detach();
    }

    fn release(self: Box<Self>) {
        // The thread owns the session and the connection, so it streams to the end and
        // closes the connection without this handle. Dropping its `JoinHandle` detaches it.
        drop(self.thread.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    fn wait(&self, timeout: Option<Duration>) -> Option<(Result<AttachOutcome>, i32)> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let (slot, ready) = &*self.outcome;
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        while guard.is_none() {
            match deadline {
                None => guard = ready.wait(guard).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    guard = ready
                        .wait_timeout(guard, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        let result = guard.clone().expect("checked above");
        drop(guard);
        let code = self.session.wait(None).map(|(_, code)| code).unwrap_or(-1);
        Some((result, code))
    }
}

impl Drop for HttpExec {
    fn drop(&mut self) {
        let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            // Released: the thread streams on alone.
            return;
        };
        if !self.session.is_finished() {
            self.session.abort(Error::new(
                ocirt_result::OCIRT_ERR_CANCELLED,
                "the exec session's handle was closed",
            ));
        }
        let _ = thread.join();
    }
}

/// Returns whether the session's command runs, and its exit code once it exited.
pub fn update_status(ctr: &Container, id: &str) -> Result<(bool, Option<i32>)> {
    let (paths, record) = load_record(ctr, id)?;
    if let Some(code) = record.exit_code {
        return Ok((false, Some(code)));
    }
    if record.process().is_alive() {
        return Ok((true, None));
    }
    let code = exit_code_after_exit(&paths, &record, EXIT_FILE_GRACE)?;
    record_exit(&paths, code);
    Ok((false, Some(code)))
}

/// Stops the session's command: SIGTERM, then SIGKILL after `timeout_s` seconds (at once for
/// 0). Returns when the command is gone, with its exit code recorded.
pub fn stop(ctr: &Container, id: &str, timeout_s: u32) -> Result<()> {
    let (paths, record) = load_record(ctr, id)?;
    let Some(handle) = record.process().open() else {
        update_status(ctr, id)?;
        return Ok(());
    };
    let signal = |number: i32| -> Result<()> {
        let sent = if handle.is_pidfd() {
            process::pidfd_send_signal(handle.as_fd(), number)
        } else {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(record.pid),
                nix::sys::signal::Signal::try_from(number).ok(),
            )
            .map_err(|err| io::Error::from_raw_os_error(err as i32))
        };
        match sent {
            Ok(()) => Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(err) => Err(Error::io(
                format!(
                    "exec session {}: cannot send {}",
                    id,
                    process::signal_name(number)
                ),
                err,
            )),
        }
    };
    let gone = |limit: Duration| -> Result<bool> {
        process::wait_readable(&[handle.as_fd()], Some(limit))
            .map(|ready| ready.is_some())
            .map_err(|err| Error::io("cannot wait for the exec session", err))
    };
    let mut stopped = false;
    if timeout_s > 0 {
        signal(libc::SIGTERM)?;
        stopped = gone(Duration::from_secs(u64::from(timeout_s)))?;
    }
    if !stopped {
        signal(libc::SIGKILL)?;
        if !gone(KILL_TIMEOUT)? {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_TIMED_OUT,
                format!(
                    "exec session {} (pid {}) did not exit within {} s of SIGKILL",
                    id,
                    record.pid,
                    KILL_TIMEOUT.as_secs()
                ),
            ));
        }
    }
    let code = exit_code_after_exit(&paths, &record, EXIT_FILE_GRACE)?;
    record_exit(&paths, code);
    log::info!(
        "container {}: exec session {} stopped (exit code {})",
        ctr.id(),
        id,
        code
    );
    Ok(())
}

/// Sets the terminal size of a running terminal session.
pub fn resize(ctr: &Container, id: &str, width: u16, height: u16) -> Result<()> {
    let (paths, record) = load_record(ctr, id)?;
    if !record.terminal {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID,
            format!(
                "exec session {} has no terminal, so it cannot be resized",
                id
            ),
        ));
    }
    if record.exit_code.is_some() || !record.process().is_alive() {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID,
            format!("exec session {} has exited, so it cannot be resized", id),
        ));
    }
    crate::attach::resize::resize_terminal(
        &paths.file("ctl"),
        record.process(),
        width,
        height,
        &format!("exec session {}", id),
    )
}

/// Removes every file of an exited session, its socket link included.
pub fn cleanup(runtime: &ConmonRuntime, ctr: &Container, id: &str) -> Result<()> {
    let (running, _) = update_status(ctr, id)?;
    if running {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID,
            format!(
                "exec session {} is still running; stop it before cleaning it up",
                id
            ),
        ));
    }
    let paths = ExecPaths::new(ctr, id);
    let link = runtime.socket_link_for(&conmon_uuid(ctr.id(), id));
    if let Err(err) = fs::remove_file(&link) {
        if err.kind() != io::ErrorKind::NotFound {
            return Err(Error::io(format!("cannot remove {}", link.display()), err));
        }
    }
    fs::remove_dir_all(&paths.dir)
        .map_err(|err| Error::io(format!("cannot remove {}", paths.dir.display()), err))?;
    log::debug!("container {}: exec session {} cleaned up", ctr.id(), id);
    Ok(())
}

/// Lists the ids of the container's exec sessions.
pub fn session_ids(ctr: &Container) -> Vec<String> {
    fs::read_dir(ctr.file("exec"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detached_session(sync: OwnedFd, dir: &std::path::Path) -> DetachedExec {
        let paths = ExecPaths {
            dir: dir.to_path_buf(),
            exit_dir: dir.join("exit"),
            exit_file: dir.join("exit").join("c1"),
        };
        let record = ExecRecord {
            id: "s1".to_string(),
            pid: 0,
            pid_start_time: None,
            conmon_pid: 0,
            conmon_start_time: None,
            terminal: false,
            started_at: state::now(),
            exit_code: None,
        };
        DetachedExec::new(sync, paths, record)
    }

    #[test]
    fn detached_wait_timeout_holds_beside_endless_wait() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, conmon_end) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let session = Arc::new(detached_session(ours, dir.path()));

        let endless = {
            let session = Arc::clone(&session);
            std::thread::spawn(move || session.wait(None))
        };
        std::thread::sleep(Duration::from_millis(50));
        let (sender, receiver) = std::sync::mpsc::channel();
        {
            let session = Arc::clone(&session);
            std::thread::spawn(move || {
                let _ = sender.send(session.wait(Some(Duration::from_millis(50))).is_none());
            });
        }
        let timed = receiver.recv_timeout(Duration::from_secs(5));

        // The exit message ends the endless wait, and a timed wait stuck behind it too.
        nix::sys::socket::send(
            std::os::fd::AsRawFd::as_raw_fd(&conmon_end),
            b"{\"data\": 3}\n",
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        assert_eq!(
            timed,
            Ok(true),
            "a timed wait must time out while another thread waits without a timeout"
        );
        let (result, code) = endless.join().unwrap().unwrap();
        assert_eq!(result.unwrap(), AttachOutcome::Ended);
        assert_eq!(code, 3);
        let (result, code) = session.wait(Some(Duration::ZERO)).unwrap();
        assert_eq!(result.unwrap(), AttachOutcome::Ended);
        assert_eq!(code, 3);
    }
}
