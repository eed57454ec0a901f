//! The C ABI. Every exported function is a thin translation onto the Rust API: it checks and
//! converts its arguments, calls the [`crate::oci_runtime::OciRuntime`] method (or a
//! container method), and writes outputs only on success.
//!
//! Conventions for every function:
//! * Fallible functions return `ocirt_result`; `OCIRT_OK` (0) is success. On failure the
//!   message is available from `ocirt_last_error_message()` on the same thread.
//! * Output pointers come last and are written only on success.
//! * Strings returned through `char **` are owned by the caller and freed with
//!   `ocirt_string_free`. Strings returned through `const char **` are borrowed, for the
//!   lifetime documented on each function.
//! * No panic crosses the boundary: each body runs inside one catcher, which turns a panic
//!   into `OCIRT_ERR_PANIC`.

// The exported bodies are unsafe contexts on purpose: each raw pointer argument goes through
// one of the checked helpers in `boundary` before it is used.
#![allow(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

pub mod attach;
pub(crate) mod boundary;
pub mod container;
pub mod exec;
pub mod runtime;

use std::ffi::{c_char, c_void, CString};

use crate::error::ocirt_result;
use crate::logging::{self, ocirt_log_callback};
use boundary::{guard, guard_value};

/// Returns the library version as a static NUL-terminated string ("0.1.0").
///
/// The string is static: never free it. Safe to call from any thread.
#[no_mangle]
pub extern "C" fn ocirt_version() -> *const c_char {
    guard_value(std::ptr::null(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// Returns the name of a result code ("OCIRT_ERR_NO_SUCH_CONTAINER" for 3), or
/// "OCIRT_UNKNOWN_RESULT" for a number that is not a result code.
///
/// The string is static: never free it. Safe to call from any thread.
#[no_mangle]
pub extern "C" fn ocirt_result_name(code: i32) -> *const c_char {
    guard_value(std::ptr::null(), || match ocirt_result::from_i32(code) {
        Some(result) => result.name_cstr().as_ptr(),
        None => c"OCIRT_UNKNOWN_RESULT".as_ptr(),
    })
}

/// Returns the message of the last failure on the calling thread.
///
/// Never NULL: an empty string when nothing failed yet on this thread. The pointer is owned by
/// the library and stays valid until the next failing ocirt call on the same thread, so copy
/// the text to keep it. Each thread has its own message.
#[no_mangle]
pub extern "C" fn ocirt_last_error_message() -> *const c_char {
    guard_value(c"".as_ptr(), boundary::last_error_ptr)
}

/// Frees a string that the library returned through a `char **` output. NULL is ignored.
///
/// # Safety
/// `text` is NULL or a pointer returned by this library through a `char **` output that has
/// not been freed yet. Never pass it to `free()`.
#[no_mangle]
pub unsafe extern "C" fn ocirt_string_free(text: *mut c_char) {
    guard_value((), || {
        if !text.is_null() {
            // SAFETY: the caller passes a pointer made by `CString::into_raw` in this library.
            drop(unsafe { CString::from_raw(text) });
        }
    })
}

/// Installs a log callback for the whole process and sets the most verbose level it receives.
/// A NULL callback turns logging off. Nothing is logged by default.
///
/// `level` is an `ocirt_log_level` value. `userdata` is passed to every call unchanged. The
/// library never frees it, and it must stay valid until the callback is replaced: the
/// replacing call returns only after every running call of the old callback has returned.
/// The callback runs on whichever thread logs, possibly several at once, and must not call
/// back into the library. Returns `OCIRT_ERR_INVALID_ARGUMENT` for a level outside 0 to 5,
/// and `OCIRT_ERR_NOT_SUPPORTED` when a Rust host already installed its own `log` logger,
/// which then receives the records instead.
///
/// # Safety
/// `callback`, when not NULL, must be safe to call from any thread with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn ocirt_set_log_callback(
    level: i32,
    callback: ocirt_log_callback,
    userdata: *mut c_void,
) -> ocirt_result {
    guard(|| {
        let level = logging::level_from_i32(level).ok_or_else(|| {
            crate::error::Error::invalid(format!(
                "log level {} is invalid; use an ocirt_log_level from 0 (off) to 5 (trace)",
                level
            ))
        })?;
        if logging::set_callback(level, callback, userdata) {
            Ok(())
        } else {
            Err(crate::error::Error::new(
                ocirt_result::OCIRT_ERR_NOT_SUPPORTED,
                "another Rust `log` logger is already installed in this process, so it receives \
                 the library's records instead of the callback",
            ))
        }
    })
}
