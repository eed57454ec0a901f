"""Ownership of one library handle, shared by every wrapper class.

The library forbids freeing a handle while another thread uses it. ``HandleState`` counts
the calls in flight: ``close()`` marks the handle closed at once (later calls raise
``HandleClosed``) and the handle is freed when the last call in flight returns.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .errors import HandleClosed


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
        """True once ``close()`` was called."""
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
