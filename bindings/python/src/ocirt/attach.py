"""Attach sessions: a container's or exec session's streams, delivered as ``bytes``."""

from __future__ import annotations

import ctypes
import dataclasses
import enum
import threading
from collections.abc import Callable

from . import _ffi, _streams
from ._handle import HandleOwner
from ._wait import wait_in_slices
from .errors import OcirtError, Timeout


class AttachOutcome(enum.IntEnum):
    """End of a session that did not fail (``ocirt_attach_outcome``)."""

    ENDED = 0
    """The streams ended because the process exited or closed them."""
    DETACHED = 1
    """The session detached (detach keys or ``detach()``), and the process runs on."""


@dataclasses.dataclass(frozen=True)
class AttachResult:
    """End of a session: its outcome, and an exec session's exit code.

    ``exit_code`` is 0-255 (128+N after signal N) for an exec session that ended. It is
    None for a container attach, for a detached session, and whenever the library did not
    record the code.
    """

    outcome: AttachOutcome
    exit_code: int | None

    @property
    def detached(self) -> bool:
        """Whether the session detached, so that the process keeps running."""
        return self.outcome == AttachOutcome.DETACHED


def _session_free(after_free: Callable[[], None] | None) -> Callable[[ctypes.c_void_p], None]:
    """Return the free function of a session handle, which calls ``after_free`` last."""

    def free(handle: ctypes.c_void_p) -> None:
        _ffi.lib().ocirt_attach_free(handle)
        if after_free is not None:
            after_free()

    def free_session(handle: ctypes.c_void_p) -> None:
        # ocirt_attach_free waits for the session's callbacks, so it must never run on the
        # library thread that runs them. That happens when a callback made the last call on
        # a closed session or dropped the last reference, so another thread does the free.
        if _streams.in_callback():
            threading.Thread(target=free, args=(handle,), name="ocirt-attach-free").start()
        else:
            free(handle)

    return free_session


class Attach(HandleOwner):
    """A running attach or exec session, made by ``Container.attach`` or ``Container.exec``.

    Output goes to the targets given when the session was made, on a library thread, in
    order. The methods may be called from any thread. ``close()`` (or leaving a ``with``
    block) stops a session that is still going, and the container keeps running.
    """

    def __init__(
        self,
        address: int,
        session: _streams.SessionState,
        description: str,
        after_free: Callable[[], None] | None = None,
    ) -> None:
        """Own the session handle at ``address``; ``after_free`` runs once it is freed."""
        self._own(address, _session_free(after_free), description)
        self._session = session

    def write(self, data: _streams.BytesLike) -> None:
        """Write ``data`` to the session's stdin.

        Raises ``Detached`` when the bytes complete the detach keys, after the bytes before
        the keys were sent. Raises ``ContainerStateInvalid`` when the session has no stdin
        or its stdin was closed.
        """
        payload = bytes(data)
        with self._state.use() as handle:
            _ffi.lib().ocirt_attach_write(handle, payload, len(payload))

    def close_stdin(self) -> None:
        """Half-close stdin: the process reads end-of-file, and output keeps flowing."""
        with self._state.use() as handle:
            _ffi.lib().ocirt_attach_close_stdin(handle)

    def detach(self) -> None:
        """End the session with outcome DETACHED, and leave the process running."""
        with self._state.use() as handle:
            _ffi.lib().ocirt_attach_detach(handle)

    def wait(self, timeout: float | None = None) -> AttachResult:
        """Wait until the session is over, at most ``timeout`` seconds (None: no limit).

        Returns the outcome and may be called again. Raises the exception that an output
        callback or the stdin source raised. For an output callback, the library's
        ``CallbackAborted`` is its cause. Otherwise raises ``Timeout`` when the session is
        still going, and the session's error (such as ``IOFailure``) when it failed.
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

        Raises ``RuntimeError`` when called from inside an output callback.
        """
        if _streams.in_callback():
            raise RuntimeError(
                "an attach session cannot be closed from an output callback; "
                "call detach() there and close it after wait() returns"
            )
        if self._state.users and not self._state.closed:
            # Another thread waits on the session. Detaching ends its wait, so the free
            # that follows its return does not wait forever.
            try:
                self.detach()
            except OcirtError:
                pass
        self._finalizer()
