"""Ownership of one library handle, shared by every wrapper class.

The library forbids freeing a handle while another thread uses it. ``HandleState`` counts
the calls in flight. ``close()`` marks the handle closed at once, so later calls raise
``HandleClosed``, and the handle is freed when the last call in flight returns.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from . import _ffi
from .errors import HandleClosed

_Owner = TypeVar("_Owner", bound="HandleOwner")


class HandleState:
    """A library handle's address, its free function and the count of calls using it."""

    def __init__(
        self, address: int, free: Callable[[ctypes.c_void_p], None], description: str
    ) -> None:
        self._address = address
        self._free = free
        self.description = description
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False
        self._freed = False

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    @property
    def users(self) -> int:
        """Number of calls in flight."""
        return self._users

    @contextmanager
    def use(self) -> Iterator[ctypes.c_void_p]:
        """Yield the handle for one call; raise ``HandleClosed`` after ``close()``."""
        with self._lock:
            if self._closed:
                raise HandleClosed(f"{self.description} is closed; create or open a new one")
            self._users += 1
        try:
            yield ctypes.c_void_p(self._address)
        finally:
            with self._lock:
                self._users -= 1
                release = self._closed and self._users == 0 and not self._freed
                if release:
                    self._freed = True
            if release:
                self._free(ctypes.c_void_p(self._address))

    def close(self) -> None:
        """Mark the handle closed and free it now, or when the last call in flight returns."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            release = self._users == 0 and not self._freed
            if release:
                self._freed = True
        if release:
            self._free(ctypes.c_void_p(self._address))


class HandleOwner:
    """Base of the wrapper classes that own one library handle.

    It provides ``close()``, ``closed`` and the ``with`` statement. A handle that is never
    closed is freed when its wrapper is garbage-collected, or at interpreter exit.
    """

    _state: HandleState
    _finalizer: weakref.finalize[[], HandleOwner]

    def _own(self, address: int, free: Callable[[ctypes.c_void_p], None], description: str) -> None:
        """Take ownership of the handle at ``address``, which ``free`` releases."""
        self._state = HandleState(address, free, description)
        self._finalizer = weakref.finalize(self, self._state.close)

    def _call(self, function: str, *arguments: Any) -> None:
        """Call the library function ``function`` with the handle and ``arguments``."""
        with self._state.use() as handle:
            getattr(_ffi.lib(), function)(handle, *arguments)

    def _borrowed_string(self, function: str) -> str:
        """Return the ``const char **`` output of ``function``, which the handle owns."""
        value = ctypes.c_char_p()
        self._call(function, ctypes.byref(value))
        return (value.value or b"").decode("utf-8", "replace")

    def _owned_string(self, function: str) -> str:
        """Return the ``char **`` output of ``function`` and free the library's copy."""
        address = ctypes.c_void_p()
        self._call(function, ctypes.byref(address))
        return _ffi.take_string(address)

    def close(self) -> None:
        """Free the handle, or mark it for freeing when the calls in flight return.

        Idempotent. Later calls on the object raise ``HandleClosed``.
        """
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._state.closed

    def __enter__(self: _Owner) -> _Owner:  # noqa: PYI019 - typing.Self needs Python 3.11
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
