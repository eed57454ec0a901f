"""Exec sessions: commands run in a running container under their own conmon."""

from __future__ import annotations

import ctypes
import dataclasses
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from . import _ffi
from .attach import Attach, AttachResult
from .config import check_terminal_size

if TYPE_CHECKING:
    from .container import Container


@dataclasses.dataclass(frozen=True)
class ExecStatus:
    """Run state of an exec session's command, with its exit code once it exited."""

    running: bool
    exit_code: int | None


class ExecSession:
    """An exec session of a container, made by ``Container.exec`` or ``exec_http``.

    ``attach`` is the session's stream handle, None for a session reopened by id with
    ``Container.exec_session``. Status, resize, stop and cleanup work without it, from any
    process.
    """

    container: Container
    """The container the command runs in."""
    id: str
    """The session id."""
    pid: int | None
    """The command's host pid, when this handle started it."""
    attach: Attach | None
    """The stream handle, when this handle started the session."""

    def __init__(
        self, container: Container, session_id: str, pid: int | None, attach: Attach | None
    ) -> None:
        self.container = container
        self.id = session_id
        self.pid = pid
        self.attach = attach

    def _attach(self) -> Attach:
        if self.attach is None:
            raise ValueError(
                f"exec session {self.id} was opened by id and has no streams; "
                "use status() to get its exit code"
            )
        return self.attach

    def _call(self, function: str, *arguments: object) -> None:
        with self.container._state.use() as handle:
            getattr(_ffi.lib(), function)(handle, _ffi.encode(self.id), *arguments)

    def wait(self, timeout: float | None = None) -> AttachResult:
        """Wait until the session is over and return its result with the exit code.

        Raises as ``Attach.wait`` does: the exception a callback raised, ``Timeout``, or
        the session's error.
        """
        return self._attach().wait(timeout)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write to the command's stdin (the session needs ``stdin=True``)."""
        self._attach().write(data)

    def close_stdin(self) -> None:
        """Half-close the command's stdin."""
        self._attach().close_stdin()

    def detach(self) -> None:
        """Detach from the session, and leave the command running."""
        self._attach().detach()

    def resize(self, width: int, height: int) -> None:
        """Set the terminal size of a running terminal session (columns, rows).

        Raises ``ExecStateInvalid`` for a session without a terminal or one that exited.
        """
        check_terminal_size(width, height)
        self._call("ocirt_exec_resize", width, height)

    def stop(self, timeout: int = 10) -> None:
        """Send SIGTERM, then SIGKILL after ``timeout`` seconds (0: SIGKILL at once)."""
        if timeout < 0:
            raise ValueError(f"stop timeout must be at least 0 seconds, not {timeout}")
        self._call("ocirt_exec_stop", int(timeout))

    def status(self) -> ExecStatus:
        """Return whether the command runs and, once it exited, its exit code."""
        running = ctypes.c_bool()
        exit_code = ctypes.c_int32()
        self._call("ocirt_exec_update_status", ctypes.byref(running), ctypes.byref(exit_code))
        code = exit_code.value
        return ExecStatus(bool(running.value), code if not running.value and code >= 0 else None)

    def cleanup(self) -> None:
        """Remove the files of the exited session. Raises ``ExecStateInvalid`` while it runs."""
        self._call("ocirt_exec_cleanup")

    def attach_socket_path(self) -> Path:
        """Return the full path of the session's attach socket."""
        address = ctypes.c_void_p()
        self._call("ocirt_exec_attach_socket_path", ctypes.byref(address))
        return Path(_ffi.take_string(address))

    def close(self) -> None:
        """Free the stream handle, stopping the streams if they are still going.

        The command keeps running. Idempotent.
        """
        if self.attach is not None:
            self.attach.close()

    def __enter__(self) -> ExecSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the session handle at the end of a ``with`` block (see ``close``)."""
        self.close()

    def __repr__(self) -> str:
        return f"<ocirt.ExecSession {self.id} in {self.container.id} pid={self.pid}>"
