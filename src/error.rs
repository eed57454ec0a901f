//! Error kinds and the crate's error type.
//!
//! Every failure inside the library is an [`Error`]: an [`ErrorKind`] that callers branch on and
//! a message for humans. At the C boundary the kind becomes the returned `ocirt_result` and the
//! message becomes `ocirt_last_error_message()`.

use std::fmt;
use std::io;

/// Result codes of the C ABI.
///
/// Each variant has an explicit number that is never reused: when a variant is removed, its
/// number stays reserved in a comment here. `OCIRT_OK` is 0; every other value is a failure
/// (or, for `OCIRT_DETACHED`, a distinct outcome that is not an error for the caller).
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ocirt_result {
    /// The call succeeded.
    OCIRT_OK = 0,
    /// An argument has an invalid value: malformed JSON, an unknown JSON field, invalid UTF-8,
    /// an invalid container or session id, a signal out of range, and so on.
    OCIRT_ERR_INVALID_ARGUMENT = 1,
    /// A pointer argument that must not be NULL was NULL.
    OCIRT_ERR_NULL_ARGUMENT = 2,
    /// No container with that id exists in the runtime's state directory (never created, or
    /// deleted by this or another process).
    OCIRT_ERR_NO_SUCH_CONTAINER = 3,
    /// No exec session with that id exists in the container.
    OCIRT_ERR_NO_SUCH_EXEC_SESSION = 4,
    /// The container's state does not allow the operation: a kill of a stopped container, a
    /// start of a running one, a resize of a container without a terminal.
    OCIRT_ERR_CONTAINER_STATE_INVALID = 5,
    /// The exec session's state does not allow the operation.
    OCIRT_ERR_EXEC_STATE_INVALID = 6,
    /// The container has stopped, so the operation cannot go on.
    OCIRT_ERR_CONTAINER_STOPPED = 7,
    /// The OCI runtime failed; the message carries the runtime's own error text.
    OCIRT_ERR_OCI_RUNTIME = 8,
    /// The OCI runtime reported that a file or executable was not found (the 127 class).
    OCIRT_ERR_RUNTIME_NOT_FOUND = 9,
    /// The OCI runtime reported permission denied or operation not permitted (the 126 class).
    OCIRT_ERR_RUNTIME_PERMISSION_DENIED = 10,
    /// No usable OCI runtime binary was found, or it could not be run.
    OCIRT_ERR_RUNTIME_UNAVAILABLE = 11,
    /// conmon could not be found, rejected its arguments, or died without reporting.
    OCIRT_ERR_CONMON = 12,
    /// Every conmon binary found is older than the oldest supported version.
    OCIRT_ERR_CONMON_TOO_OLD = 13,
    /// The attach session ended because the detach keys were typed. Not an error: the
    /// container keeps running.
    OCIRT_DETACHED = 14,
    /// The operation was cancelled through an `ocirt_cancel` token.
    OCIRT_ERR_CANCELLED = 15,
    /// The operation did not finish within its timeout.
    OCIRT_ERR_TIMED_OUT = 16,
    /// The runtime or this build does not support the operation.
    OCIRT_ERR_NOT_SUPPORTED = 17,
    /// A system call or file operation failed.
    OCIRT_ERR_IO = 18,
    /// A bug: the library panicked. The panic was caught at the C boundary.
    OCIRT_ERR_PANIC = 19,
    /// A host callback returned non-zero and so stopped the session.
    OCIRT_ERR_CALLBACK_ABORTED = 20,
    /// A container with that id already exists in the runtime's state directory.
    OCIRT_ERR_CONTAINER_EXISTS = 21,
    /// An exec session with that id already exists in the container.
    OCIRT_ERR_EXEC_SESSION_EXISTS = 22,
}

/// Every result code, in numeric order.
const ALL_RESULTS: [ocirt_result; 23] = [
    ocirt_result::OCIRT_OK,
    ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
    ocirt_result::OCIRT_ERR_NULL_ARGUMENT,
    ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER,
    ocirt_result::OCIRT_ERR_NO_SUCH_EXEC_SESSION,
    ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID,
    ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID,
    ocirt_result::OCIRT_ERR_CONTAINER_STOPPED,
    ocirt_result::OCIRT_ERR_OCI_RUNTIME,
    ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND,
    ocirt_result::OCIRT_ERR_RUNTIME_PERMISSION_DENIED,
    ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE,
    ocirt_result::OCIRT_ERR_CONMON,
    ocirt_result::OCIRT_ERR_CONMON_TOO_OLD,
    ocirt_result::OCIRT_DETACHED,
    ocirt_result::OCIRT_ERR_CANCELLED,
    ocirt_result::OCIRT_ERR_TIMED_OUT,
    ocirt_result::OCIRT_ERR_NOT_SUPPORTED,
    ocirt_result::OCIRT_ERR_IO,
    ocirt_result::OCIRT_ERR_PANIC,
    ocirt_result::OCIRT_ERR_CALLBACK_ABORTED,
    ocirt_result::OCIRT_ERR_CONTAINER_EXISTS,
    ocirt_result::OCIRT_ERR_EXEC_SESSION_EXISTS,
];

/// The error kind; the same enum as the C result codes.
pub type ErrorKind = ocirt_result;

impl ocirt_result {
    /// Returns every variant, in numeric order.
    pub fn all() -> &'static [ocirt_result] {
        &ALL_RESULTS
    }

    /// Returns the variant's C name as a NUL-terminated static string.
    pub fn name_cstr(self) -> &'static std::ffi::CStr {
        let bytes: &'static [u8] = match self {
            ocirt_result::OCIRT_OK => b"OCIRT_OK\0",
            ocirt_result::OCIRT_ERR_INVALID_ARGUMENT => b"OCIRT_ERR_INVALID_ARGUMENT\0",
            ocirt_result::OCIRT_ERR_NULL_ARGUMENT => b"OCIRT_ERR_NULL_ARGUMENT\0",
            ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER => b"OCIRT_ERR_NO_SUCH_CONTAINER\0",
            ocirt_result::OCIRT_ERR_NO_SUCH_EXEC_SESSION => b"OCIRT_ERR_NO_SUCH_EXEC_SESSION\0",
            ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID => {
                b"OCIRT_ERR_CONTAINER_STATE_INVALID\0"
            }
            ocirt_result::OCIRT_ERR_EXEC_STATE_INVALID => b"OCIRT_ERR_EXEC_STATE_INVALID\0",
            ocirt_result::OCIRT_ERR_CONTAINER_STOPPED => b"OCIRT_ERR_CONTAINER_STOPPED\0",
            ocirt_result::OCIRT_ERR_OCI_RUNTIME => b"OCIRT_ERR_OCI_RUNTIME\0",
            ocirt_result::OCIRT_ERR_RUNTIME_NOT_FOUND => b"OCIRT_ERR_RUNTIME_NOT_FOUND\0",
            ocirt_result::OCIRT_ERR_RUNTIME_PERMISSION_DENIED => {
                b"OCIRT_ERR_RUNTIME_PERMISSION_DENIED\0"
            }
            ocirt_result::OCIRT_ERR_RUNTIME_UNAVAILABLE => b"OCIRT_ERR_RUNTIME_UNAVAILABLE\0",
            ocirt_result::OCIRT_ERR_CONMON => b"OCIRT_ERR_CONMON\0",
            ocirt_result::OCIRT_ERR_CONMON_TOO_OLD => b"OCIRT_ERR_CONMON_TOO_OLD\0",
            ocirt_result::OCIRT_DETACHED => b"OCIRT_DETACHED\0",
            ocirt_result::OCIRT_ERR_CANCELLED => b"OCIRT_ERR_CANCELLED\0",
            ocirt_result::OCIRT_ERR_TIMED_OUT => b"OCIRT_ERR_TIMED_OUT\0",
            ocirt_result::OCIRT_ERR_NOT_SUPPORTED => b"OCIRT_ERR_NOT_SUPPORTED\0",
            ocirt_result::OCIRT_ERR_IO => b"OCIRT_ERR_IO\0",
            ocirt_result::OCIRT_ERR_PANIC => b"OCIRT_ERR_PANIC\0",
            ocirt_result::OCIRT_ERR_CALLBACK_ABORTED => b"OCIRT_ERR_CALLBACK_ABORTED\0",
            ocirt_result::OCIRT_ERR_CONTAINER_EXISTS => b"OCIRT_ERR_CONTAINER_EXISTS\0",
            ocirt_result::OCIRT_ERR_EXEC_SESSION_EXISTS => b"OCIRT_ERR_EXEC_SESSION_EXISTS\0",
        };
        // The literals above all end in exactly one NUL.
        std::ffi::CStr::from_bytes_with_nul(bytes).expect("result names end in one NUL")
    }

    /// Returns the variant with this number, if there is one.
    pub fn from_i32(code: i32) -> Option<ocirt_result> {
        ocirt_result::all()
            .iter()
            .copied()
            .find(|r| *r as i32 == code)
    }
}

/// An error of the library: a kind that callers branch on and a message for humans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Creates an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// Returns the kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Returns the message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns the error with `context` and ": " put before its message.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{}: {}", context, self.message);
        self
    }

    /// Appends a second failure (for example of a cleanup step) to the message while keeping
    /// this error's kind, so the first failure stays the one callers branch on.
    pub fn also(mut self, later: &Error) -> Error {
        self.message = format!("{} (and then: {})", self.message, later.message);
        self
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ocirt_result::OCIRT_ERR_INVALID_ARGUMENT, message)
    }

    pub(crate) fn io(context: impl fmt::Display, err: io::Error) -> Error {
        Error::new(ocirt_result::OCIRT_ERR_IO, format!("{}: {}", context, err))
    }

    pub(crate) fn errno(context: impl fmt::Display, err: nix::errno::Errno) -> Error {
        Error::io(context, io::Error::from_raw_os_error(err as i32))
    }

    pub(crate) fn no_such_container_detail(id: &str, detail: &str) -> Error {
        Error::new(
            ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER,
            format!("no such container \"{}\": {}", id, detail),
        )
    }

    pub(crate) fn state_invalid(message: impl Into<String>) -> Error {
        Error::new(ocirt_result::OCIRT_ERR_CONTAINER_STATE_INVALID, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.message,
            self.kind.name_cstr().to_string_lossy()
        )
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_numbers_are_dense_and_named() {
        for (index, code) in ocirt_result::all().iter().enumerate() {
            assert_eq!(*code as i32, index as i32, "{:?} is out of order", code);
            let name = code.name_cstr().to_str().unwrap();
            assert_eq!(name, format!("{:?}", code));
            assert_eq!(ocirt_result::from_i32(*code as i32), Some(*code));
        }
        assert_eq!(ocirt_result::from_i32(-1), None);
        assert_eq!(
            ocirt_result::from_i32(ocirt_result::all().len() as i32),
            None
        );
    }

    #[test]
    fn also_keeps_first_kind() {
        let first = Error::new(ocirt_result::OCIRT_ERR_OCI_RUNTIME, "create failed");
        let second = Error::new(ocirt_result::OCIRT_ERR_IO, "cleanup failed");
        let combined = first.also(&second);
        assert_eq!(combined.kind(), ocirt_result::OCIRT_ERR_OCI_RUNTIME);
        assert!(combined.message().contains("create failed"));
        assert!(combined.message().contains("cleanup failed"));
    }
}
