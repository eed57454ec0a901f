package ocirt

// #include "ocirt.h"
import "C"

import (
	"errors"
	"runtime"
)

// Code is a result code of the C library (ocirt_result). Its String method returns the C
// name, such as "OCIRT_ERR_NO_SUCH_CONTAINER".
type Code int32

// The result codes of include/ocirt.h. The values come from the header at build time.
const (
	CodeOK                      Code = C.OCIRT_OK
	CodeInvalidArgument         Code = C.OCIRT_ERR_INVALID_ARGUMENT
	CodeNullArgument            Code = C.OCIRT_ERR_NULL_ARGUMENT
	CodeNoSuchContainer         Code = C.OCIRT_ERR_NO_SUCH_CONTAINER
	CodeNoSuchExecSession       Code = C.OCIRT_ERR_NO_SUCH_EXEC_SESSION
	CodeContainerStateInvalid   Code = C.OCIRT_ERR_CONTAINER_STATE_INVALID
	CodeExecStateInvalid        Code = C.OCIRT_ERR_EXEC_STATE_INVALID
	CodeContainerStopped        Code = C.OCIRT_ERR_CONTAINER_STOPPED
	CodeOCIRuntime              Code = C.OCIRT_ERR_OCI_RUNTIME
	CodeRuntimeNotFound         Code = C.OCIRT_ERR_RUNTIME_NOT_FOUND
	CodeRuntimePermissionDenied Code = C.OCIRT_ERR_RUNTIME_PERMISSION_DENIED
	CodeRuntimeUnavailable      Code = C.OCIRT_ERR_RUNTIME_UNAVAILABLE
	CodeConmon                  Code = C.OCIRT_ERR_CONMON
	CodeConmonTooOld            Code = C.OCIRT_ERR_CONMON_TOO_OLD
	CodeDetached                Code = C.OCIRT_DETACHED
	CodeCanceled                Code = C.OCIRT_ERR_CANCELLED
	CodeTimedOut                Code = C.OCIRT_ERR_TIMED_OUT
	CodeNotSupported            Code = C.OCIRT_ERR_NOT_SUPPORTED
	CodeIO                      Code = C.OCIRT_ERR_IO
	CodePanic                   Code = C.OCIRT_ERR_PANIC
	CodeCallbackAborted         Code = C.OCIRT_ERR_CALLBACK_ABORTED
	CodeContainerExists         Code = C.OCIRT_ERR_CONTAINER_EXISTS
	CodeExecSessionExists       Code = C.OCIRT_ERR_EXEC_SESSION_EXISTS
)

// String returns the code's C name, or "OCIRT_UNKNOWN_RESULT" for a number the library does
// not define.
func (c Code) String() string {
	return C.GoString(C.ocirt_result_name(C.int32_t(c)))
}

// Error is a failure reported by the library: its result code and the message that
// ocirt_last_error_message returned for the failed call. Compare it with the Err sentinels
// through errors.Is, which matches on Code alone.
type Error struct {
	Code    Code
	Message string
	// cause is the Go error behind the failure: the context's error for a canceled call, or
	// the io.Writer's error for a session that a writer stopped.
	cause error
}

// Error returns the library's message, prefixed with "ocirt: ". A call that a context
// ended also names the context's error, such as "context deadline exceeded".
func (e *Error) Error() string {
	text := "ocirt: " + e.Message
	if e.Message == "" {
		text = "ocirt: " + e.Code.String()
	}
	if e.Code == CodeCanceled && e.cause != nil {
		text += " (" + e.cause.Error() + ")"
	}
	return text
}

// Is reports whether target is an *Error with the same Code, which makes every sentinel
// below match the failures of its kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the Go error that caused the failure, if any: context.Canceled or
// context.DeadlineExceeded for a canceled call, or the error an output writer returned.
func (e *Error) Unwrap() error {
	return e.cause
}

// sentinel returns the *Error that errors.Is matches against every failure with code.
func sentinel(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Sentinels for errors.Is, one per result code other than CodeOK.
var (
	ErrInvalidArgument         = sentinel(CodeInvalidArgument, "invalid argument")
	ErrNullArgument            = sentinel(CodeNullArgument, "NULL argument")
	ErrNoSuchContainer         = sentinel(CodeNoSuchContainer, "no such container")
	ErrNoSuchExecSession       = sentinel(CodeNoSuchExecSession, "no such exec session")
	ErrContainerStateInvalid   = sentinel(CodeContainerStateInvalid, "container state does not allow the operation")
	ErrExecStateInvalid        = sentinel(CodeExecStateInvalid, "exec session state does not allow the operation")
	ErrContainerStopped        = sentinel(CodeContainerStopped, "container has stopped")
	ErrOCIRuntime              = sentinel(CodeOCIRuntime, "OCI runtime failed")
	ErrRuntimeNotFound         = sentinel(CodeRuntimeNotFound, "OCI runtime: file or executable not found")
	ErrRuntimePermissionDenied = sentinel(CodeRuntimePermissionDenied, "OCI runtime: permission denied")
	ErrRuntimeUnavailable      = sentinel(CodeRuntimeUnavailable, "no usable OCI runtime binary")
	ErrConmon                  = sentinel(CodeConmon, "conmon failed")
	ErrConmonTooOld            = sentinel(CodeConmonTooOld, "conmon is too old")
	// ErrDetached is not a failure: the session ended because of the detach keys, and the
	// process keeps running.
	ErrDetached          = sentinel(CodeDetached, "detached")
	ErrCanceled          = sentinel(CodeCanceled, "canceled")
	ErrTimedOut          = sentinel(CodeTimedOut, "timed out")
	ErrNotSupported      = sentinel(CodeNotSupported, "not supported")
	ErrIO                = sentinel(CodeIO, "I/O error")
	ErrPanic             = sentinel(CodePanic, "the library panicked (a bug)")
	ErrCallbackAborted   = sentinel(CodeCallbackAborted, "an output writer stopped the session")
	ErrContainerExists   = sentinel(CodeContainerExists, "container already exists")
	ErrExecSessionExists = sentinel(CodeExecSessionExists, "exec session already exists")
)

// ErrClosed is returned by every method of a Runtime or Container after its Close.
var ErrClosed = errors.New("ocirt: use of a closed handle")

// call runs fn, which makes one call into the library, and converts its result into an
// error.
//
// The library keeps the message of the last failure per OS thread, and the Go scheduler may
// move a goroutine to another thread between two cgo calls. Locking the goroutine to its
// thread across the call and the read of ocirt_last_error_message makes sure the message
// read is the one this call set, not an older one or another goroutine's.
func call(fn func() C.ocirt_result) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return lastError(fn())
}

// lastError converts a result code into an *Error with the calling thread's last error
// message. Only call it on the thread that made the failed call, with that thread locked.
func lastError(rc C.ocirt_result) error {
	if rc == C.OCIRT_OK {
		return nil
	}
	return &Error{Code: Code(rc), Message: C.GoString(C.ocirt_last_error_message())}
}

// invalidArgument returns an ErrInvalidArgument failure found on the Go side, before the
// library was called.
func invalidArgument(message string) error {
	return &Error{Code: CodeInvalidArgument, Message: message}
}
