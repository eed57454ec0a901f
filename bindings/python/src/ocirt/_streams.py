"""Stream plumbing of attach and exec sessions: the C callbacks and stdin feeding.

The C callbacks are module-level ``CFUNCTYPE`` objects, so they stay referenced for the
life of the process. Each session passes a small integer key as ``userdata``, and the key
selects a ``SessionState`` in ``_sessions``. That entry keeps the host's sinks until the
library calls ``userdata_free``. ``include/ocirt.h`` specifies that the library calls it
exactly once, after the last callback, and only when the call that took the callbacks
returned ``OCIRT_OK``. When that call fails, ``SessionState.discard()`` removes the entry
instead.

Callbacks run on a library thread, one at a time per session. An exception raised by a
sink is stored in the session and the callback returns 1, which makes the library end the
session with ``OCIRT_ERR_CALLBACK_ABORTED``. The waiting call then raises the exception
again.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, runtime_checkable

from . import _ffi
from .errors import Detached, HandleClosed, OcirtError

logger = logging.getLogger("ocirt")


@runtime_checkable
class SupportsWrite(Protocol):
    """A binary file-like object that accepts output, such as ``sys.stdout.buffer``."""

    def write(self, data: bytes, /) -> object: ...


@runtime_checkable
class SupportsRead(Protocol):
    """A binary file-like object that stdin is read from, such as ``open(path, "rb")``."""

    def read(self, size: int = ..., /) -> bytes: ...


OutputTarget = Callable[[bytes], object] | SupportsWrite | None
"""Stream target: a callable taking ``bytes``, a binary file-like object, or None to
discard the stream."""

BytesLike = bytes | bytearray | memoryview
"""Binary data as ``bytes``, ``bytearray`` or ``memoryview``."""

StdinSource = BytesLike | Iterable[BytesLike] | SupportsRead | bool | None
"""Stdin source: bytes, an iterable of bytes, a binary file-like object, True to open stdin
for ``write()`` calls, or None (or False) for no stdin."""

# Size of each read from a file-like stdin source.
STDIN_READ_SIZE = 64 * 1024


def output_sink(target: OutputTarget) -> Callable[[bytes], object] | None:
    """Return an output target as a callable, or None for None.

    A file-like target is flushed after each write, so interactive output shows at once.
    """
    if target is None:
        return None
    if callable(target):
        return target
    if isinstance(target, SupportsWrite):
        flush = getattr(target, "flush", None)

        def write(data: bytes) -> None:
            target.write(data)
            if flush is not None:
                flush()

        return write
    raise TypeError(
        f"stream target must be a callable, a binary file-like object or None, "
        f"not {type(target).__name__}"
    )


class SessionState:
    """Per-session data of the C callbacks: the sinks, the first host error and the result."""

    def __init__(
        self,
        stdout: Callable[[bytes], object] | None,
        stderr: Callable[[bytes], object] | None,
    ) -> None:
        self.key = next(_keys)
        self.stdout = stdout
        self.stderr = stderr
        self.error: BaseException | None = None
        self.result: tuple[int, int] | None = None
        self.finished = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()

    def record_error(self, error: BaseException) -> None:
        """Store the exception unless the host's code raised an earlier one in this session."""
        with self._lock:
            if self.error is None:
                self.error = error

    def callbacks(self) -> _ffi.AttachCallbacks:
        """Register the session and return the struct to pass to the library."""
        _sessions[self.key] = self
        return _ffi.AttachCallbacks(
            userdata=self.key,
            on_stdout=_C_ON_STDOUT if self.stdout is not None else _ffi.STREAM_CALLBACK(),
            on_stderr=_C_ON_STDERR if self.stderr is not None else _ffi.STREAM_CALLBACK(),
            on_done=_C_ON_DONE,
            userdata_free=_C_ON_FREE,
        )

    def discard(self) -> None:
        """Unregister the session after the call that took the callbacks failed.

        The library calls no ``userdata_free`` after a failed call.
        """
        _sessions.pop(self.key, None)
        self.released.set()


_keys = itertools.count(1)
_sessions: dict[int, SessionState] = {}
_local = threading.local()


def in_callback() -> bool:
    """Return whether this thread is inside an output callback that the library called."""
    return bool(getattr(_local, "active", False))


def _deliver(userdata: int | None, data: int | None, length: int, stdout: bool) -> int:
    session = _sessions.get(userdata or 0)
    if session is None:
        # The key is no longer registered, so stop the session rather than guess.
        return 1
    sink = session.stdout if stdout else session.stderr
    if sink is None or length == 0:
        return 0
    _local.active = True
    try:
        sink(ctypes.string_at(data or 0, length))
    except BaseException as error:  # noqa: BLE001 - re-raised by the waiting call
        session.record_error(error)
        return 1
    finally:
        _local.active = False
    return 0


def _on_stdout(userdata: int | None, data: int | None, length: int) -> int:
    return _deliver(userdata, data, length, True)


def _on_stderr(userdata: int | None, data: int | None, length: int) -> int:
    return _deliver(userdata, data, length, False)


def _on_done(userdata: int | None, result: int, exit_code: int) -> None:
    session = _sessions.get(userdata or 0)
    if session is not None:
        session.result = (result, exit_code)
        session.finished.set()


def _on_free(userdata: int | None) -> None:
    session = _sessions.pop(userdata or 0, None)
    if session is not None:
        session.released.set()


# The C function pointers; module globals, so they live as long as the process.
_C_ON_STDOUT = _ffi.STREAM_CALLBACK(_on_stdout)
_C_ON_STDERR = _ffi.STREAM_CALLBACK(_on_stderr)
_C_ON_DONE = _ffi.DONE_CALLBACK(_on_done)
_C_ON_FREE = _ffi.USERDATA_FREE_CALLBACK(_on_free)


def live_sessions() -> int:
    """Return how many sessions the library may still call back."""
    return len(_sessions)


def stdin_chunks(source: StdinSource) -> Iterator[bytes]:
    """Yield the chunks of a stdin source, reading a file-like object as data arrives."""
    if source is None or isinstance(source, bool):
        return
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
        return
    if isinstance(source, SupportsRead):
        # read1 returns what is available, so interactive input is not held back.
        read = getattr(source, "read1", None) or source.read
        while True:
            chunk = read(STDIN_READ_SIZE)
            if not chunk:
                return
            yield bytes(chunk)
    for chunk in source:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"stdin chunks must be bytes, not {type(chunk).__name__}")
        yield bytes(chunk)


class StdinTarget(Protocol):
    """Session that stdin is fed to, such as an ``Attach``."""

    def write(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def detach(self) -> None: ...


def start_feeding(target: StdinTarget, source: StdinSource, session: SessionState) -> None:
    """Feed ``source`` to the session's stdin on a daemon thread, then half-close stdin.

    An exception from the source itself (the host's iterable or file) detaches the session,
    and its wait raises the exception. Library errors end the feeding with a debug log
    record, because they mean that the session is over, and the session's own result
    reports why.

    NOTE: nothing can interrupt the thread while the source blocks (a terminal or a pipe
    with no data). For such a source pass an unbuffered file, such as
    ``open(0, "rb", buffering=0, closefd=False)``. A thread blocked in ``sys.stdin.buffer``
    holds that object's lock, and Python aborts when it exits while the lock is held.
    """

    def feed() -> None:
        chunks = stdin_chunks(source)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except BaseException as error:  # noqa: BLE001 - re-raised by the waiting call
                session.record_error(error)
                try:
                    target.detach()
                except (OcirtError, HandleClosed) as detach_error:
                    logger.debug("detaching after a stdin source error failed: %s", detach_error)
                return
            if not chunk:
                continue
            try:
                target.write(chunk)
            except Detached:
                return
            except (OcirtError, HandleClosed) as error:
                logger.debug("stdin feeding stopped: %s", error)
                return
        try:
            target.close_stdin()
        except (OcirtError, HandleClosed) as error:
            logger.debug("closing stdin failed: %s", error)

    thread = threading.Thread(target=feed, name="ocirt-stdin", daemon=True)
    thread.start()
