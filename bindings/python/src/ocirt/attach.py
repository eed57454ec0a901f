"""Attach sessions: a container's or exec session's streams, delivered as ``bytes``."""

from __future__ import annotations

import ctypes
import dataclasses
import enum
import threading
import weakref
from types import TracebackType

from . import _ffi, _streams
from ._handle import HandleState
from ._wait import wait_in_slices
from .errors import OcirtError, Timeout


class AttachOutcome(enum.IntEnum):
    """End of a session that did not fail (``ocirt_attach_outcome``)."""

    ENDED = 0
    """The streams ended because the process exited or closed them."""
    DETACHED = 1
    """The session detached (detach keys or ``detach()``); the process runs on."""


@dataclasses.dataclass(frozen=True)
class AttachResult:
    """The end of a session: its outcome, and an exec session's exit code.

    ``exit_code`` is 0-255 (128+N after signal N) for an exec session that ended, and None
    for a container attach, a detached session, or whenever the library does not know it.
    """

    outcome: AttachOutcome
    exit_code: int | None

    @property
    def detached(self) -> bool:
        """True when the session detached and the process keeps running."""
        return self.outcome == AttachOutcome.DETACHED


def _free_session(handle: ctypes.c_void_p) -> None:
    # ocirt_attach_free waits for the session's callbacks, so it must never run on the
    # library thread that runs them. That happens when a callback made the last call on a
    # closed session or dropped the last reference, so a thread takes the free over.
    free = _ffi.lib().ocirt_attach_free
    if _streams.in_callback():
        threading.Thread(target=free, args=(handle,), name="ocirt-attach-free").start()
    else:
        free(handle)


class Attach:
    """A running attach or exec session, made by ``Container.attach`` or ``Container.exec``.

    Output goes to the targets given when the session was made, on a library thread, in
    order. The methods may be called from any thread. ``close()`` (or leaving a ``with``
    block) stops a session that is still going; the container keeps running.
    """

    def __init__(self, address: int, session: _streams.SessionState, description: str) -> None:
        self._state = HandleState(address, _free_session, description)
        self._session = session
        self._finalizer = weakref.finalize(self, self._state.close)

    def write(self, data: _streams.BytesLike) -> None:
        """Write ``data`` to the session's stdin.

        Raises ``Detached`` when the bytes complete the detach keys (the bytes before the
        keys are sent first), and ``ContainerStateInvalid`` when the session has no stdin
        or stdin was closed.
        """
        payload = bytes(data)
        with self._state.use() as handle:
            _ffi.lib().ocirt_attach_write(handle, payload, len(payload))

    def close_stdin(self) -> None:
        """Half-close stdin: the process reads end-of-file, and output keeps flowing."""
        with self._state.use() as handle:
            _ffi.lib().ocirt_attach_close_stdin(handle)

    def detach(self) -> None:
        """End the session with outcome DETACHED; the process keeps running."""
        with self._state.use() as handle:
            _ffi.lib().ocirt_attach_detach(handle)

    def wait(self, timeout: float | None = None) -> AttachResult:
        """Wait until the session is over, at most ``timeout`` seconds (None: no limit).

        Returns the outcome. Raises the exception that an output callback or the stdin
        source raised, ``Timeout`` when the session is still going, and the session's
        error (such as ``IOFailure``) when it failed. May be called again.
        """
        outcome = ctypes.c_int32()
        exit_code = ctypes.c_int32()

        def call(timeout_ms: int) -> None:
            with self._state.use() as handle:
                _ffi.lib().ocirt_attach_wait(
                    handle, timeout_ms, ctypes.byref(outcome), ctypes.byref(exit_code)
                )

        try:
            wait_in_slices(call, timeout, self._state.description, "ocirt_attach_wait")
        except Timeout:
            raise
        except OcirtError as error:
            if self._session.error is not None:
                raise self._session.error from error
            raise
        if self._session.error is not None:
            raise self._session.error
        code = exit_code.value
        return AttachResult(AttachOutcome(outcome.value), code if code >= 0 else None)

    def close(self) -> None:
        """Free the session, stopping it first if it is still going. Idempotent.

        Must not be called from one of the session's own output callbacks.
        """
        if _streams.in_callback():
            raise RuntimeError(
                "an attach session cannot be closed from an output callback; "
                "call detach() there and close it after wait() returns"
            )
        if self._state.users and not self._state.closed:
            # Another thread waits on the session; detaching ends its wait, so the free
            # that follows its return does not wait forever.
            try:
                self.detach()
            except OcirtError:
                pass
        self._finalizer()

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._state.closed

    def __enter__(self) -> Attach:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
