"""Blocking library calls that Ctrl-C can interrupt.

Python runs signal handlers (and raises ``KeyboardInterrupt``) only on the main thread and
only between bytecodes, never while that thread is blocked inside a C call. So on the main
thread a long wait is made of calls of at most ``SLICE_MS`` milliseconds. Other threads never
run signal handlers, so there the wait is one call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import Result, Timeout

T = TypeVar("T")

# Maximum single library wait on the main thread, so the maximum delay before Ctrl-C acts.
SLICE_MS = 250


def wait_in_slices(
    call: Callable[[int], T], timeout: float | None, description: str, function: str
) -> T:
    """Run ``call(timeout_ms)`` until it returns, for at most ``timeout`` seconds.

    ``call`` must raise ``Timeout`` when its own timeout ends. ``timeout`` None waits
    forever. When ``timeout`` passes, raises ``Timeout`` naming ``description`` (what the
    call waits for) and ``function``, the C function.
    """
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be None or at least 0 seconds, not {timeout}")
    if threading.current_thread() is not threading.main_thread():
        return call(-1 if timeout is None else int(timeout * 1000))

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is None:
            slice_ms = SLICE_MS
        else:
            left_ms = int((deadline - time.monotonic()) * 1000)
            slice_ms = max(0, min(SLICE_MS, left_ms))
        try:
            return call(slice_ms)
        except Timeout:
            if deadline is not None and time.monotonic() >= deadline:
                raise Timeout(
                    Result.ERR_TIMED_OUT,
                    f"timed out after {timeout} s waiting for {description}",
                    function,
                ) from None
