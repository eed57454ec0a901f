"""Terminal handling of the command-line tool: raw mode, size changes and unbuffered output."""

from __future__ import annotations

import logging
import os
import signal
import sys
import termios
import tty
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

logger = logging.getLogger("ocirt")


def descriptor_writer(fd: int) -> Callable[[bytes], None]:
    """Return a stream target that writes each chunk to ``fd`` at once, without buffering."""

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    return write


def terminal_size() -> tuple[int, int] | None:
    """Return (columns, rows) of the terminal on stdout, stdin or stderr, or None without one."""
    for fd in (1, 0, 2):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        if size.columns > 0 and size.lines > 0:
            return size.columns, size.lines
    return None


class RawTerminal:
    """Context manager that puts stdin's terminal in raw mode for a ``with`` block.

    Inside the block, size changes (SIGWINCH) call ``on_resize(columns, rows)``. It does
    nothing when stdin is not a terminal.
    """

    def __init__(self, on_resize: Callable[[int, int], None] | None = None) -> None:
        self.on_resize = on_resize
        self._saved: list[Any] | None = None
        self._previous_handler: object = None

    def __enter__(self) -> RawTerminal:
        if not sys.stdin.isatty():
            return self
        self._saved = termios.tcgetattr(0)
        tty.setraw(0)
        self._previous_handler = signal.signal(signal.SIGWINCH, self._resized)
        return self

    def _resized(self, signum: int, frame: FrameType | None) -> None:
        size = terminal_size()
        if size is None or self.on_resize is None:
            return
        try:
            self.on_resize(*size)
        except Exception as error:  # noqa: BLE001 - a signal handler must not raise
            logger.debug("resizing the container's terminal to %sx%s failed: %s", *size, error)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._saved is None:
            return
        termios.tcsetattr(0, termios.TCSADRAIN, self._saved)
        signal.signal(signal.SIGWINCH, self._previous_handler)  # type: ignore[arg-type]
