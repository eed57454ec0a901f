"""Exceptions of the ocirt binding, one class for each of the library's error result codes."""

from __future__ import annotations

import enum


class Result(enum.IntEnum):
    """Result codes of the C ABI (``ocirt_result``), with the numbers the library fixes."""

    OK = 0
    ERR_INVALID_ARGUMENT = 1
    ERR_NULL_ARGUMENT = 2
    ERR_NO_SUCH_CONTAINER = 3
    ERR_NO_SUCH_EXEC_SESSION = 4
    ERR_CONTAINER_STATE_INVALID = 5
    ERR_EXEC_STATE_INVALID = 6
    ERR_CONTAINER_STOPPED = 7
    ERR_OCI_RUNTIME = 8
    ERR_RUNTIME_NOT_FOUND = 9
    ERR_RUNTIME_PERMISSION_DENIED = 10
    ERR_RUNTIME_UNAVAILABLE = 11
    ERR_CONMON = 12
    ERR_CONMON_TOO_OLD = 13
    DETACHED = 14
    ERR_CANCELLED = 15
    ERR_TIMED_OUT = 16
    ERR_NOT_SUPPORTED = 17
    ERR_IO = 18
    ERR_PANIC = 19
    ERR_CALLBACK_ABORTED = 20
    ERR_CONTAINER_EXISTS = 21
    ERR_EXEC_SESSION_EXISTS = 22


class OcirtError(Exception):
    """Failure of a library call, with the result ``code`` and the library's ``message``.

    ``function`` names the C function that failed, or is None when unknown.
    """

    def __init__(self, code: int, message: str, function: str | None = None) -> None:
        super().__init__(code, message, function)
        self.code = code
        self.message = message
        self.function = function

    @property
    def name(self) -> str:
        """The result code's C name, such as ``OCIRT_ERR_NO_SUCH_CONTAINER``."""
        try:
            return "OCIRT_" + Result(self.code).name
        except ValueError:
            return "OCIRT_UNKNOWN_RESULT"

    def __str__(self) -> str:
        return self.message or self.name


class InvalidArgument(OcirtError, ValueError):
    """An argument has an invalid value: invalid JSON, an unknown field, an invalid id or signal."""


class NullArgument(OcirtError, ValueError):
    """A required pointer was NULL. From Python this is a bug in the binding."""


class NoSuchContainer(OcirtError, LookupError):
    """No container with that id exists in the runtime's state directory."""


class NoSuchExecSession(OcirtError, LookupError):
    """No exec session with that id exists in the container."""


class ContainerStateInvalid(OcirtError):
    """The container's state does not allow the operation (a kill of a stopped container)."""


class ExecStateInvalid(OcirtError):
    """The exec session's state does not allow the operation."""


class ContainerStopped(OcirtError):
    """The container has stopped, so the operation cannot go on."""


class OciRuntimeError(OcirtError):
    """Failure of the OCI runtime, whose own error text is in the message."""


class RuntimeNotFound(OciRuntimeError):
    """The OCI runtime reported that a file or executable was not found (exit code 127)."""


class PermissionDenied(OciRuntimeError):
    """The OCI runtime reported permission denied or operation not permitted (exit code 126)."""


class RuntimeUnavailable(OcirtError):
    """No usable OCI runtime binary was found, or it could not be run."""


class ConmonError(OcirtError):
    """conmon could not be found, rejected its arguments, or died without reporting."""


class ConmonTooOld(ConmonError):
    """Every conmon binary found is older than the oldest supported version."""


class Detached(OcirtError):
    """End of a session by its detach keys, while the container keeps running.

    It is not a failure. Calls that cannot return the outcome, such as ``Attach.write``,
    raise it.
    """


class Cancelled(OcirtError):
    """The operation was cancelled through a cancel token."""


class Timeout(OcirtError, TimeoutError):
    """The operation did not finish within its timeout."""


class NotSupported(OcirtError):
    """The runtime or this build of the library does not support the operation."""


class IOFailure(OcirtError):
    """A system call or file operation inside the library failed."""


class InternalError(OcirtError):
    """A panic inside the library (a library bug), caught at the C boundary."""


class CallbackAborted(OcirtError):
    """A stream callback returned non-zero, which stopped the session."""


class ContainerExists(OcirtError):
    """A container with that id already exists in the runtime's state directory or root."""


class ExecSessionExists(OcirtError):
    """An exec session with that id already exists in the container."""


class HandleClosed(ValueError):
    """A method was called on a handle after ``close()``."""


class LibraryNotFound(OSError):
    """libocirt.so could not be loaded. The message lists every place that was tried."""


ERROR_CLASSES: dict[int, type[OcirtError]] = {
    Result.ERR_INVALID_ARGUMENT: InvalidArgument,
    Result.ERR_NULL_ARGUMENT: NullArgument,
    Result.ERR_NO_SUCH_CONTAINER: NoSuchContainer,
    Result.ERR_NO_SUCH_EXEC_SESSION: NoSuchExecSession,
    Result.ERR_CONTAINER_STATE_INVALID: ContainerStateInvalid,
    Result.ERR_EXEC_STATE_INVALID: ExecStateInvalid,
    Result.ERR_CONTAINER_STOPPED: ContainerStopped,
    Result.ERR_OCI_RUNTIME: OciRuntimeError,
    Result.ERR_RUNTIME_NOT_FOUND: RuntimeNotFound,
    Result.ERR_RUNTIME_PERMISSION_DENIED: PermissionDenied,
    Result.ERR_RUNTIME_UNAVAILABLE: RuntimeUnavailable,
    Result.ERR_CONMON: ConmonError,
    Result.ERR_CONMON_TOO_OLD: ConmonTooOld,
    Result.DETACHED: Detached,
    Result.ERR_CANCELLED: Cancelled,
    Result.ERR_TIMED_OUT: Timeout,
    Result.ERR_NOT_SUPPORTED: NotSupported,
    Result.ERR_IO: IOFailure,
    Result.ERR_PANIC: InternalError,
    Result.ERR_CALLBACK_ABORTED: CallbackAborted,
    Result.ERR_CONTAINER_EXISTS: ContainerExists,
    Result.ERR_EXEC_SESSION_EXISTS: ExecSessionExists,
}


def error_for(code: int, message: str, function: str | None = None) -> OcirtError:
    """Return the exception for a non-zero result code, an ``OcirtError`` for unknown codes."""
    return ERROR_CLASSES.get(code, OcirtError)(code, message, function)
