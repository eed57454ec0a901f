//! Attach sessions: a container's (or exec session's) standard streams through conmon's attach
//! socket.
//!
//! conmon sends each chunk of output as one SEQPACKET message: a stream byte (2 stdout, 3
//! stderr) and up to 8192 bytes of payload. It writes to every client with a blocking write,
//! so a client that stops reading stalls the container's output and its log. A session
//! therefore has two library threads. A reader drains the socket into a queue bounded by
//! `buffer_limit` bytes: it blocks conmon only past that bound, and it never drops a byte of
//! a stream the session delivers. A delivery thread hands the queued bytes, in order, to the
//! host's sink. A slow sink delays only its own session.

pub mod detach;
pub mod http;
pub mod resize;

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{self, AddressFamily, MsgFlags, Shutdown, SockFlag, SockType, UnixAddr};
use serde::Deserialize;

use crate::error::{ocirt_result, Error, Result};
use detach::{DetachKeys, DetachMatcher};

/// Maximum size of a stdin message that conmon reads whole. conmon silently drops the rest of
/// a longer message, so `ocirt_attach_write` splits writes into messages of this size.
pub const OCIRT_STDIN_CHUNK: usize = 32 * 1024;

/// Receive buffer size. conmon's packets are at most 8193 bytes (stream byte plus 8192), and
/// a shorter read would silently lose the end of a packet.
const PACKET_BUFFER: usize = 64 * 1024;

/// Maximum bytes of one stream handed to the sink in one call when more are queued.
const MAX_DELIVERY: usize = 1024 * 1024;

/// Default `buffer_limit` of a session's output queue, in bytes.
pub const OCIRT_DEFAULT_BUFFER_LIMIT: usize = 8 * 1024 * 1024;

/// An output stream of the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (everything, for a terminal).
    Stdout,
    /// Standard error.
    Stderr,
}

/// The end of an attach session that did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachOutcome {
    /// The streams ended: the process exited (or closed its output).
    Ended,
    /// The detach keys were typed or the host detached; the process keeps running.
    Detached,
}

/// Options of a local attach, from JSON. Unknown fields are rejected.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachOptions {
    /// Deliver standard output (default true).
    #[serde(default = "default_true")]
    pub stdout: bool,
    /// Deliver standard error (default true).
    #[serde(default = "default_true")]
    pub stderr: bool,
    /// Accept stdin writes (default false). The container needs a terminal or `stdin: true`.
    #[serde(default)]
    pub stdin: bool,
    /// Detach sequence; absent means `ctrl-p,ctrl-q`, `""` disables detaching.
    #[serde(default)]
    pub detach_keys: Option<String>,
    /// Start the created container once attached, so no early output is lost.
    #[serde(default)]
    pub start: bool,
    /// Initial terminal width in columns (terminal containers only; needs `height`).
    #[serde(default)]
    pub width: Option<u16>,
    /// Initial terminal height in rows.
    #[serde(default)]
    pub height: Option<u16>,
    /// Bytes of output the library buffers while the host's callbacks lag, before it stops
    /// reading from conmon. Default 8 MiB.
    #[serde(default = "default_buffer_limit")]
    pub buffer_limit: usize,
}

fn default_true() -> bool {
    true
}

fn default_buffer_limit() -> usize {
    OCIRT_DEFAULT_BUFFER_LIMIT
}

impl Default for AttachOptions {
    fn default() -> Self {
        serde_json::from_str("{}").expect("an empty object is valid attach options")
    }
}

impl AttachOptions {
    /// Parses the options JSON; NULL (None) gives the defaults.
    pub fn from_json(text: Option<&str>) -> Result<AttachOptions> {
        let options: AttachOptions = match text {
            Some(text) => crate::json::parse(text, "attach options")?,
            None => AttachOptions::default(),
        };
        options.validate()?;
        Ok(options)
    }

    /// Checks the values serde cannot check.
    pub fn validate(&self) -> Result<()> {
        DetachKeys::parse_or_default(self.detach_keys.as_deref())?;
        if !(self.stdin || self.stdout || self.stderr) {
            return Err(Error::invalid(
                "attach options: at least one of \"stdin\", \"stdout\" and \"stderr\" must be true",
            ));
        }
        self.size()?;
        if self.buffer_limit == 0 {
            return Err(Error::invalid(
                "attach options: \"buffer_limit\" must be greater than 0",
            ));
        }
        Ok(())
    }

    /// Returns the initial terminal size as (width, height), when given.
    pub fn size(&self) -> Result<Option<(u16, u16)>> {
        match (self.width, self.height) {
            (None, None) => Ok(None),
            (Some(w), Some(h)) if w > 0 && h > 0 => Ok(Some((w, h))),
            (w, h) => Err(Error::invalid(format!(
                "attach options: give both \"width\" and \"height\", each at least 1 (got width {}, height {})",
                describe_size(w),
                describe_size(h)
            ))),
        }
    }
}

/// Formats an optional terminal dimension for messages: the number, or "none".
pub fn describe_size(value: Option<u16>) -> String {
    value
        .map(|v| v.to_string())
        .unwrap_or_else(|| "none".to_string())
}

/// Receives a session's output. Called on the session's delivery thread, one call at a time,
/// in the order conmon sent the bytes.
pub trait OutputSink: Send + 'static {
    /// Takes a chunk of one stream. An error ends the session with that error.
    fn output(&mut self, stream: Stream, data: &[u8]) -> Result<()>;

    /// Receives the end of the session, once, after the last `output`: the result and the
    /// exit code (-1 when the session has none, as for a container attach).
    fn finish(&mut self, result: &Result<AttachOutcome>, exit_code: i32);
}

/// Computes the exit code once the output ended (exec sessions wait for their exit file).
pub type ExitCodeSource = Box<dyn FnOnce(&Result<AttachOutcome>) -> i32 + Send>;

/// Connects to an attach socket. The path may be longer than `sun_path` (108 bytes): the
/// socket is opened with `O_PATH` and reached through `/proc/self/fd/<n>`.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let handle = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|err| {
        let kind = if err == nix::errno::Errno::ENOENT {
            ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID
        } else {
            ocirt_result::OCIRT_ERR_IO
        };
        Error::new(
            kind,
            format!(
                "cannot open attach socket {}: {} (is the container created and conmon alive?)",
                path.display(),
                err
            ),
        )
    })?;
    let socket = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|err| Error::errno("cannot create a SEQPACKET socket", err))?;
    let proc_path = format!("/proc/self/fd/{}", handle.as_raw_fd());
    let address = UnixAddr::new(proc_path.as_str())
        .map_err(|err| Error::errno(format!("invalid socket address {}", proc_path), err))?;
    loop {
        match socket::connect(socket.as_raw_fd(), &address) {
            Ok(()) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => {
                let kind = if err == nix::errno::Errno::ECONNREFUSED {
                    ocirt_result::OCIRT_ERR_CONTAINER_STOPPED
                } else {
                    ocirt_result::OCIRT_ERR_IO
                };
                return Err(Error::new(
                    kind,
                    format!(
                        "cannot connect to attach socket {}: {}",
                        path.display(),
                        err
                    ),
                ));
            }
        }
    }
    drop(handle);
    Ok(socket)
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<(Stream, Vec<u8>)>,
    bytes: usize,
    reader_done: bool,
    reader_error: Option<Error>,
    abort: Option<Error>,
    /// The delivery thread sleeps on `data_ready`.
    delivery_waiting: bool,
    /// The reader sleeps on `space_ready` because the queue is full.
    reader_waiting: bool,
}

struct Input {
    matcher: DetachMatcher,
    closed: bool,
}

/// Settings of a session, besides its socket and sink.
pub struct SessionConfig {
    /// Names the session in messages ("container c1", "exec session s1").
    pub description: String,
    /// Deliver stdout.
    pub stdout: bool,
    /// Deliver stderr.
    pub stderr: bool,
    /// Accept stdin writes.
    pub stdin: bool,
    /// Detach sequence.
    pub detach_keys: DetachKeys,
    /// Bound of the output queue in bytes.
    pub buffer_limit: usize,
}

struct Shared {
    socket: OwnedFd,
    config: SessionConfig,
    queue: Mutex<Queue>,
    /// Signals the delivery thread: bytes queued, reader done, or abort.
    data_ready: Condvar,
    /// Signals the reader: room in the queue, or abort.
    space_ready: Condvar,
    input: Mutex<Input>,
    detached: AtomicBool,
    result: Mutex<Option<(Result<AttachOutcome>, i32)>>,
    result_ready: Condvar,
    done: EventFd,
    delivery_thread: Mutex<Option<ThreadId>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Result of writing stdin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The bytes (minus any held-back start of the detach sequence) were sent.
    Written,
    /// The detach sequence completed; the session is detaching.
    Detached,
}

/// A session behind a host handle: an attach session, or an exec session with or without
/// attached streams. Every method may be called from any thread.
pub trait SessionHandle: Send + Sync {
    /// Writes stdin bytes (see [`AttachSession::write`]).
    fn write(&self, data: &[u8]) -> Result<WriteOutcome>;
    /// Ends stdin.
    fn close_stdin(&self) -> Result<()>;
    /// Detaches from the streams; the process keeps running.
    fn detach(&self);
    /// Waits until the session is over; `None` when `timeout` passed first.
    fn wait(&self, timeout: Option<Duration>) -> Option<(Result<AttachOutcome>, i32)>;
    /// Gives up the handle and lets the session run to its end on its own. The default
    /// implementation drops the handle, which suits types whose drop leaves the session
    /// running. Dropping an [`AttachSession`] stops it instead.
    fn release(self: Box<Self>) {
        drop(self)
    }
}

impl SessionHandle for AttachSession {
    fn write(&self, data: &[u8]) -> Result<WriteOutcome> {
        AttachSession::write(self, data)
    }

    fn close_stdin(&self) -> Result<()> {
        AttachSession::close_stdin(self)
    }

    fn detach(&self) {
        AttachSession::detach(self)
    }

    fn wait(&self, timeout: Option<Duration>) -> Option<(Result<AttachOutcome>, i32)> {
        AttachSession::wait(self, timeout)
    }
}

/// A running attach session. Dropping it stops the session and waits for its threads (the
/// sink's `finish` has run when the drop returns).
pub struct AttachSession {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for AttachSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachSession")
            .field("description", &self.shared.config.description)
            .finish()
    }
}

impl AttachSession {
    /// Starts the reader and delivery threads on a connected attach socket.
    ///
    /// If this fails, `sink` was never called and its `finish` never runs.
    pub fn start(
        socket: OwnedFd,
        config: SessionConfig,
        sink: Box<dyn OutputSink>,
        exit_code: Option<ExitCodeSource>,
    ) -> Result<AttachSession> {
        let done = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|err| Error::errno("cannot create an eventfd", err))?;
        let matcher = DetachMatcher::new(&config.detach_keys);
        let shared = Arc::new(Shared {
            socket,
            config,
            queue: Mutex::new(Queue::default()),
            data_ready: Condvar::new(),
            space_ready: Condvar::new(),
            input: Mutex::new(Input {
                matcher,
                closed: false,
            }),
            detached: AtomicBool::new(false),
            result: Mutex::new(None),
            result_ready: Condvar::new(),
            done,
            delivery_thread: Mutex::new(None),
        });

        let reader_shared = Arc::clone(&shared);
        let reader =
            crate::cancel::spawn_thread("ocirt-attach-read", move || run_reader(&reader_shared))?;
        let delivery_shared = Arc::clone(&shared);
        let delivery = crate::cancel::spawn_thread("ocirt-attach-out", move || {
            run_delivery(&delivery_shared, sink, exit_code)
        });
        let delivery = match delivery {
            Ok(handle) => handle,
            Err(err) => {
                shared.abort(err.clone());
                let _ = reader.join();
                return Err(err);
            }
        };
        Ok(AttachSession {
            shared,
            threads: Mutex::new(vec![reader, delivery]),
        })
    }

    /// Writes stdin bytes, split into messages of at most 32768 bytes. The detach sequence
    /// is matched across calls; when it completes, the bytes before it are sent and the
    /// session detaches.
    pub fn write(&self, data: &[u8]) -> Result<WriteOutcome> {
        let shared = &self.shared;
        if !shared.config.stdin {
            return Err(Error::state_invalid(format!(
                "{}: the attach session was opened without stdin",
                shared.config.description
            )));
        }
        let mut input = lock(&shared.input);
        if shared.detached.load(Ordering::SeqCst) {
            return Err(Error::state_invalid(format!(
                "{}: the attach session detached, which closed its stdin; attach again to send input",
                shared.config.description
            )));
        }
        if input.closed {
            return Err(Error::state_invalid(format!(
                "{}: stdin of this attach session was closed with close_stdin",
                shared.config.description
            )));
        }
        if self.is_finished() || shared.detached.load(Ordering::SeqCst) {
            return Err(Error::new(
                ocirt_result::OCIRT_ERR_CONTAINER_STOPPED,
                format!(
                    "{}: the attach session has ended",
                    shared.config.description
                ),
            ));
        }
        let mut forward = Vec::with_capacity(data.len());
        let detached = input.matcher.feed(data, &mut forward);
        shared.send_all(&forward)?;
        if detached {
            input.closed = true;
            drop(input);
            self.detach();
            return Ok(WriteOutcome::Detached);
        }
        Ok(WriteOutcome::Written)
    }

    /// Ends stdin: sends any bytes held back as a possible detach sequence, then half-closes
    /// the socket while output keeps flowing. For a process without a terminal, conmon then
    /// closes its stdin for every client, unless conmon runs with `--leave-stdin-open`.
    pub fn close_stdin(&self) -> Result<()> {
        let shared = &self.shared;
        let mut input = lock(&shared.input);
        if input.closed {
            return Ok(());
        }
        let pending = input.matcher.flush();
        input.closed = true;
        shared.send_all(&pending)?;
        match socket::shutdown(shared.socket.as_raw_fd(), Shutdown::Write) {
            Ok(()) | Err(nix::errno::Errno::ENOTCONN) => Ok(()),
            Err(err) => Err(Error::errno(
                format!("{}: cannot close stdin", shared.config.description),
                err,
            )),
        }
    }

    /// Detaches: closes the connection to conmon. Output already received is still
    /// delivered; the process keeps running.
    pub fn detach(&self) {
        self.shared.detached.store(true, Ordering::SeqCst);
        let _ = socket::shutdown(self.shared.socket.as_raw_fd(), Shutdown::Both);
    }

    /// Stops the session with `error` as its result, unless it is over already.
    pub fn abort(&self, error: Error) {
        self.shared.abort(error);
    }

    /// Returns whether the session is over.
    pub fn is_finished(&self) -> bool {
        lock(&self.shared.result).is_some()
    }

    /// Waits until the session is over; `None` waits forever. Returns the result and exit
    /// code, or `None` when the timeout passed first.
    pub fn wait(&self, timeout: Option<Duration>) -> Option<(Result<AttachOutcome>, i32)> {
        if *lock(&self.shared.delivery_thread) == Some(std::thread::current().id())
            && !self.is_finished()
        {
            // The session ends only after its callbacks return, so waiting here would block
            // forever.
            return Some((
                Err(Error::invalid(format!(
                    "{}: cannot wait for the session from inside its own callback",
                    self.shared.config.description
                ))),
                -1,
            ));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut result = lock(&self.shared.result);
        loop {
            if let Some(done) = result.as_ref() {
                return Some(done.clone());
            }
            match deadline {
                None => {
                    result = self
                        .shared
                        .result_ready
                        .wait(result)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    result = self
                        .shared
                        .result_ready
                        .wait_timeout(result, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0;
                }
            }
        }
    }

    /// Returns a descriptor that becomes readable when the session is over.
    pub fn done_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.shared.done.as_fd()
    }
}

impl Shared {
    fn send_all(&self, data: &[u8]) -> Result<()> {
        for chunk in data.chunks(OCIRT_STDIN_CHUNK) {
            loop {
                match socket::send(self.socket.as_raw_fd(), chunk, MsgFlags::MSG_NOSIGNAL) {
                    Ok(_) => break,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(nix::errno::Errno::EPIPE) | Err(nix::errno::Errno::ECONNRESET) => {
                        return Err(Error::new(
                            ocirt_result::OCIRT_ERR_CONTAINER_STOPPED,
                            format!(
                                "{}: conmon closed the attach connection",
                                self.config.description
                            ),
                        ))
                    }
                    Err(err) => {
                        return Err(Error::errno(
                            format!("{}: cannot write stdin", self.config.description),
                            err,
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    fn abort(&self, error: Error) {
        {
            let mut queue = lock(&self.queue);
            if queue.abort.is_none() {
                queue.abort = Some(error);
            }
        }
        self.data_ready.notify_all();
        self.space_ready.notify_all();
        let _ = socket::shutdown(self.socket.as_raw_fd(), Shutdown::Both);
    }
}

/// Maximum bytes the reader collects without the queue's lock before it hands them over.
const READ_BATCH: usize = 256 * 1024;

/// How long the reader waits for more output before it hands a batch over, while output
/// streams in bulk. Handing every packet over on its own costs a thread wake-up per 8 KiB;
/// waiting for the next packet lets a fast stream travel in large batches. Output that
/// trickles (the last batch was small) is handed over at once, with no added latency.
const COALESCE_WAIT: Duration = Duration::from_millis(2);

/// Minimum size of the previous batch at which the reader treats output as bulk.
const BULK_BATCH: usize = 64 * 1024;

/// Appends `data` of `stream` to `chunks`, extending the last chunk while it is of the same
/// stream and below [`MAX_DELIVERY`], so the delivery thread can hand over large runs.
fn append_chunk(chunks: &mut VecDeque<(Stream, Vec<u8>)>, stream: Stream, data: &[u8]) {
    if let Some((last_stream, last)) = chunks.back_mut() {
        if *last_stream == stream && last.len() + data.len() <= MAX_DELIVERY {
            last.extend_from_slice(data);
            return;
        }
    }
    let mut chunk = Vec::with_capacity(data.len().max(64 * 1024).min(MAX_DELIVERY));
    chunk.extend_from_slice(data);
    chunks.push_back((stream, chunk));
}

/// The result of one receive.
enum Received {
    Packet(usize),
    WouldBlock,
    Eof,
    Failed(Error),
}

fn receive(shared: &Shared, buffer: &mut [u8], flags: MsgFlags) -> Received {
    loop {
        return match socket::recv(shared.socket.as_raw_fd(), buffer, flags) {
            Ok(0) => Received::Eof,
            Ok(n) => Received::Packet(n),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) => Received::WouldBlock,
            Err(nix::errno::Errno::ECONNRESET) => Received::Eof,
            Err(err) => Received::Failed(Error::errno(
                format!(
                    "{}: cannot read the attach socket",
                    shared.config.description
                ),
                err,
            )),
        };
    }
}

/// Moves the staged chunks into the queue and wakes the delivery thread if it waits.
fn hand_over(shared: &Shared, staged: &mut VecDeque<(Stream, Vec<u8>)>, staged_bytes: &mut usize) {
    if staged.is_empty() {
        return;
    }
    let mut queue = lock(&shared.queue);
    queue.bytes += *staged_bytes;
    for (stream, data) in staged.drain(..) {
        append_chunk(&mut queue.chunks, stream, &data);
    }
    *staged_bytes = 0;
    let wake = queue.delivery_waiting;
    drop(queue);
    if wake {
        shared.data_ready.notify_one();
    }
}

/// Sets how long a receive on the attach socket may block: `None` for no limit.
fn set_receive_timeout(shared: &Shared, timeout: Option<Duration>) {
    let value = nix::sys::time::TimeVal::from(
        timeout
            .map(|t| libc::timeval {
                tv_sec: t.as_secs() as libc::time_t,
                tv_usec: t.subsec_micros() as libc::suseconds_t,
            })
            .unwrap_or(libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            }),
    );
    if let Err(err) = socket::setsockopt(&shared.socket, socket::sockopt::ReceiveTimeout, &value) {
        log::debug!(
            "{}: cannot set the receive timeout: {}",
            shared.config.description,
            err
        );
    }
}

fn run_reader(shared: &Shared) {
    let mut buffer = vec![0u8; PACKET_BUFFER];
    let mut staged: VecDeque<(Stream, Vec<u8>)> = VecDeque::new();
    let mut staged_bytes = 0usize;
    let batch_limit = READ_BATCH.min(shared.config.buffer_limit);
    let mut bulk = false;
    'read: loop {
        {
            let mut queue = lock(&shared.queue);
            while queue.bytes >= shared.config.buffer_limit && queue.abort.is_none() {
                queue.reader_waiting = true;
                queue = shared
                    .space_ready
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                queue.reader_waiting = false;
            }
            if queue.abort.is_some() {
                break;
            }
        }
        // One blocking receive, then whatever else is ready without blocking, up to a batch:
        // the queue's lock is taken once per batch rather than once per packet.
        // The first receive of a batch blocks without limit. In bulk, the following ones block
        // for at most COALESCE_WAIT, so a batch grows while packets keep coming; otherwise
        // they do not block at all.
        let mut timed = false;
        let mut flags = MsgFlags::empty();
        loop {
            let received = match receive(shared, &mut buffer, flags) {
                Received::Packet(n) => n,
                Received::WouldBlock => break,
                Received::Eof => {
                    hand_over(shared, &mut staged, &mut staged_bytes);
                    break 'read;
                }
                Received::Failed(err) => {
                    hand_over(shared, &mut staged, &mut staged_bytes);
                    lock(&shared.queue).reader_error = Some(err);
                    break 'read;
                }
            };
            if bulk && !timed {
                set_receive_timeout(shared, Some(COALESCE_WAIT));
                timed = true;
            } else if !bulk {
                flags = MsgFlags::MSG_DONTWAIT;
            }
            let stream = match buffer[0] {
                2 => Stream::Stdout,
                3 => Stream::Stderr,
                other => {
                    log::warn!(
                        "{}: ignoring attach packet of unknown stream {}",
                        shared.config.description,
                        other
                    );
                    continue;
                }
            };
            let delivered = match stream {
                Stream::Stdout => shared.config.stdout,
                Stream::Stderr => shared.config.stderr,
            };
            if delivered && received > 1 {
                append_chunk(&mut staged, stream, &buffer[1..received]);
                staged_bytes += received - 1;
            }
            if staged_bytes >= batch_limit {
                break;
            }
        }
        if timed {
            set_receive_timeout(shared, None);
        }
        bulk = staged_bytes >= BULK_BATCH;
        hand_over(shared, &mut staged, &mut staged_bytes);
    }
    lock(&shared.queue).reader_done = true;
    shared.data_ready.notify_all();
}

/// Takes the next run of queued bytes of one stream, or `None` when the session is over.
fn next_delivery(shared: &Shared) -> Option<(Stream, Vec<u8>)> {
    let mut queue = lock(&shared.queue);
    loop {
        if queue.abort.is_some() {
            return None;
        }
        if let Some((stream, data)) = queue.chunks.pop_front() {
            queue.bytes -= data.len();
            let wake = queue.reader_waiting && queue.bytes < shared.config.buffer_limit;
            drop(queue);
            if wake {
                shared.space_ready.notify_one();
            }
            return Some((stream, data));
        }
        if queue.reader_done {
            return None;
        }
        queue.delivery_waiting = true;
        queue = shared
            .data_ready
            .wait(queue)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.delivery_waiting = false;
    }
}

fn run_delivery(shared: &Shared, mut sink: Box<dyn OutputSink>, exit_code: Option<ExitCodeSource>) {
    *lock(&shared.delivery_thread) = Some(std::thread::current().id());
    while let Some((stream, data)) = next_delivery(shared) {
        if let Err(err) = sink.output(stream, &data) {
            shared.abort(err);
            break;
        }
    }
    let result = {
        let mut queue = lock(&shared.queue);
        if let Some(err) = queue.abort.clone() {
            Err(err)
        } else if let Some(err) = queue.reader_error.take() {
            Err(err)
        } else if shared.detached.load(Ordering::SeqCst) {
            Ok(AttachOutcome::Detached)
        } else {
            Ok(AttachOutcome::Ended)
        }
    };
    let code = match exit_code {
        Some(source) => source(&result),
        None => -1,
    };
    sink.finish(&result, code);
    *lock(&shared.result) = Some((result, code));
    shared.result_ready.notify_all();
    let _ = shared.done.write(1);
}

impl Drop for AttachSession {
    fn drop(&mut self) {
        if !self.is_finished() {
            self.shared.abort(Error::new(
                ocirt_result::OCIRT_ERR_CANCELLED,
                format!(
                    "{}: the attach session was closed",
                    self.shared.config.description
                ),
            ));
        }
        let on_delivery_thread =
            *lock(&self.shared.delivery_thread) == Some(std::thread::current().id());
        for handle in lock(&self.threads).drain(..) {
            if on_delivery_thread && handle.thread().id() == std::thread::current().id() {
                continue;
            }
            let _ = handle.join();
        }
    }
}
