"""Cancel tokens for blocking calls (``ocirt_cancel``)."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

from . import _ffi
from ._handle import HandleOwner

T = TypeVar("T")


class CancelToken(HandleOwner):
    """A one-shot signal that ends the blocking calls watching it with ``Cancelled``.

    ``trigger()`` may be called from any thread, and more than once. Pass a token to
    ``Container.wait``, ``Container.http_attach`` or ``Container.exec_http``. ``close()``
    frees the token once no call and no ``exec_http`` session uses it any more.
    """

    def __init__(self) -> None:
        library = _ffi.lib()
        address = ctypes.c_void_p()
        library.ocirt_cancel_new(ctypes.byref(address))
        assert address.value is not None
        self._own(address.value, library.ocirt_cancel_free, "cancel token")
        self._triggered = threading.Event()

    def trigger(self) -> None:
        """Trigger the token, which stays triggered."""
        with self._state.use() as handle:
            _ffi.lib().ocirt_cancel_trigger(handle)
        self._triggered.set()

    @property
    def triggered(self) -> bool:
        """Whether ``trigger()`` was called on this object."""
        return self._triggered.is_set()


def call_interruptibly(call: Callable[[CancelToken], T], cancel: CancelToken | None) -> T:
    """Run ``call(token)``, a single blocking library call that watches ``token``.

    On the main thread the call runs on a helper thread, so that Ctrl-C (or any exception
    from a signal handler) still arrives. The exception triggers the token, waits for the
    call to return and is raised again. Without ``cancel``, the call gets a private token.
    """
    token = cancel if cancel is not None else CancelToken()
    try:
        if threading.current_thread() is not threading.main_thread():
            return call(token)

        outcome: list[T] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                outcome.append(call(token))
            except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
                failure.append(error)

        worker = threading.Thread(target=run, name="ocirt-blocking-call", daemon=True)
        worker.start()
        try:
            # On POSIX a signal interrupts the join, and its handler runs here.
            worker.join()
        except BaseException:
            token.trigger()
            worker.join()
            raise
        if failure:
            raise failure[0]
        return outcome[0]
    finally:
        if cancel is None:
            token.close()
