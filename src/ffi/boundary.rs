//! Plumbing shared by every exported function: the panic catcher, the thread-local last error,
//! pointer and string checks, and output writing. Nothing here is exported.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{ocirt_result, Error, Result};

thread_local! {
    /// The message of the last failure on this thread, NUL-terminated. Starts empty.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Stores `message` as this thread's last error message. Interior NUL bytes become U+FFFD so
/// the message is never cut short.
pub(crate) fn set_last_error(message: &str) {
    let cleaned = message.replace('\0', "\u{FFFD}");
    let owned = CString::new(cleaned).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = owned);
}

/// Returns a pointer to this thread's last error message. It stays valid until the next
/// failure is recorded on this thread.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs the body of an exported function that returns `ocirt_result`.
///
/// This is the library's one panic catcher: every exported function body runs inside `guard`
/// or [`guard_value`], so no panic unwinds into C. An `Err` or a panic records the message as
/// the thread's last error and returns the matching code.
pub(crate) fn guard<F>(body: F) -> ocirt_result
where
    F: FnOnce() -> Result<()>,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ocirt_result::OCIRT_OK,
        Ok(Err(err)) => {
            log::debug!("call failed: {}", err);
            set_last_error(err.message());
            err.kind()
        }
        Err(payload) => {
            let message = format!(
                "internal error (panic): {}",
                panic_message(payload.as_ref())
            );
            log::error!("{}", message);
            set_last_error(&message);
            ocirt_result::OCIRT_ERR_PANIC
        }
    }
}

/// Runs the body of an exported function that returns a plain value (a pointer, a name, or
/// nothing); a panic yields `on_panic` and records the message as the last error.
pub(crate) fn guard_value<T, F>(on_panic: T, body: F) -> T
where
    F: FnOnce() -> T,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let message = format!(
                "internal error (panic): {}",
                panic_message(payload.as_ref())
            );
            log::error!("{}", message);
            set_last_error(&message);
            on_panic
        }
    }
}

/// Returns `Err(OCIRT_ERR_NULL_ARGUMENT)` naming `name` when `ptr` is NULL.
pub(crate) fn check_not_null<T>(ptr: *const T, name: &str) -> Result<()> {
    if ptr.is_null() {
        return Err(Error::new(
            ocirt_result::OCIRT_ERR_NULL_ARGUMENT,
            format!("argument \"{}\" must not be NULL", name),
        ));
    }
    Ok(())
}

/// Borrows a handle argument, failing with `OCIRT_ERR_NULL_ARGUMENT` when it is NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` created by this library.
pub(crate) unsafe fn handle_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    check_not_null(ptr, name)?;
    Ok(&*ptr)
}

/// Reads a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid during the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    check_not_null(ptr, name)?;
    let bytes = CStr::from_ptr(ptr).to_bytes();
    std::str::from_utf8(bytes).map_err(|err| {
        Error::invalid(format!(
            "argument \"{}\" is not valid UTF-8 ({}): {}",
            name,
            err,
            String::from_utf8_lossy(bytes).escape_debug()
        ))
    })
}

/// Reads an optional string argument: NULL gives `None`.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    str_arg(ptr, name).map(Some)
}

/// Writes `value` through the output pointer `out`, which was checked not to be NULL.
///
/// # Safety
/// `out` is a valid, writable pointer.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    out.write(value);
}

/// Converts `text` into a caller-owned C string, freed with `ocirt_string_free`.
pub(crate) fn owned_c_string(text: &str, what: &str) -> Result<*mut c_char> {
    let owned = CString::new(text)
        .map_err(|_| Error::invalid(format!("{} contains a NUL byte: {:?}", what, text)))?;
    Ok(owned.into_raw())
}
