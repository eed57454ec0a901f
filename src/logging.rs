//! Forwards the library's `log` records to a host callback.
//!
//! Nothing is printed by default. `ocirt_set_log_callback` installs a callback and a maximum
//! level; records above that level are dropped before they are formatted.

use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use once_cell::sync::Lazy;

/// Log levels of the C ABI, from least to most verbose.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ocirt_log_level {
    /// Logging is off.
    OCIRT_LOG_OFF = 0,
    /// Failures the library could not recover from inside the call.
    OCIRT_LOG_ERROR = 1,
    /// Failures the library worked around, such as a cleanup step that failed.
    OCIRT_LOG_WARN = 2,
    /// Container and session starts and stops.
    OCIRT_LOG_INFO = 3,
    /// Commands run, files written, protocol messages.
    OCIRT_LOG_DEBUG = 4,
    /// The most verbose level. The library logs nothing at this level beyond what
    /// `OCIRT_LOG_DEBUG` shows.
    OCIRT_LOG_TRACE = 5,
}

/// A host log sink. `userdata` is the pointer given to `ocirt_set_log_callback`; `message` is
/// a NUL-terminated UTF-8 string borrowed for the duration of the call.
///
/// Called on whichever thread logs (the caller's or a library thread); calls may overlap, so
/// the callback must be thread-safe.
#[allow(non_camel_case_types)]
pub type ocirt_log_callback = Option<
    unsafe extern "C" fn(userdata: *mut c_void, level: ocirt_log_level, message: *const c_char),
>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, ocirt_log_level, *const c_char),
    userdata: usize,
}

static SINK: Lazy<RwLock<Option<Sink>>> = Lazy::new(|| RwLock::new(None));

struct Forwarder;

static FORWARDER: Forwarder = Forwarder;

/// True once `FORWARDER` is this process's `log` logger.
static FORWARDER_INSTALLED: AtomicBool = AtomicBool::new(false);

fn to_c_level(level: log::Level) -> ocirt_log_level {
    match level {
        log::Level::Error => ocirt_log_level::OCIRT_LOG_ERROR,
        log::Level::Warn => ocirt_log_level::OCIRT_LOG_WARN,
        log::Level::Info => ocirt_log_level::OCIRT_LOG_INFO,
        log::Level::Debug => ocirt_log_level::OCIRT_LOG_DEBUG,
        log::Level::Trace => ocirt_log_level::OCIRT_LOG_TRACE,
    }
}

fn to_filter(level: ocirt_log_level) -> log::LevelFilter {
    match level {
        ocirt_log_level::OCIRT_LOG_OFF => log::LevelFilter::Off,
        ocirt_log_level::OCIRT_LOG_ERROR => log::LevelFilter::Error,
        ocirt_log_level::OCIRT_LOG_WARN => log::LevelFilter::Warn,
        ocirt_log_level::OCIRT_LOG_INFO => log::LevelFilter::Info,
        ocirt_log_level::OCIRT_LOG_DEBUG => log::LevelFilter::Debug,
        ocirt_log_level::OCIRT_LOG_TRACE => log::LevelFilter::Trace,
    }
}

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target().starts_with("ocirt")
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let guard = match SINK.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(sink) = guard.as_ref() else {
            return;
        };
        let text = format!("{}", record.args()).replace('\0', "\u{FFFD}");
        let Ok(message) = CString::new(text) else {
            return;
        };
        // SAFETY: the host promised the callback is callable with its userdata from any
        // thread; `message` outlives the call.
        unsafe {
            (sink.callback)(
                sink.userdata as *mut c_void,
                to_c_level(record.level()),
                message.as_ptr(),
            )
        };
    }

    fn flush(&self) {}
}

/// Installs (or, with `None`, removes) the host log callback and sets the maximum level.
///
/// Returns false when another `log` logger was installed in this process first, as by a Rust
/// host that set up its own logger. The library's records then go to that logger.
pub fn set_callback(
    level: ocirt_log_level,
    callback: ocirt_log_callback,
    userdata: *mut c_void,
) -> bool {
    if log::set_logger(&FORWARDER).is_ok() {
        FORWARDER_INSTALLED.store(true, Ordering::SeqCst);
    }
    let installed = FORWARDER_INSTALLED.load(Ordering::SeqCst);
    let mut guard = match SINK.write() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    *guard = callback.map(|callback| Sink {
        callback,
        userdata: userdata as usize,
    });
    if installed {
        let filter = if guard.is_some() {
            to_filter(level)
        } else {
            log::LevelFilter::Off
        };
        log::set_max_level(filter);
    }
    installed
}

/// Returns the C level for a level number, if valid.
pub fn level_from_i32(value: i32) -> Option<ocirt_log_level> {
    use ocirt_log_level::*;
    [
        OCIRT_LOG_OFF,
        OCIRT_LOG_ERROR,
        OCIRT_LOG_WARN,
        OCIRT_LOG_INFO,
        OCIRT_LOG_DEBUG,
        OCIRT_LOG_TRACE,
    ]
    .into_iter()
    .find(|level| *level as i32 == value)
}
