"""Forwarding of the library's log records to Python's ``logging``.

The library logs nothing until a callback is installed. ``enable_library_logging`` installs
one process-wide callback that passes each record to a ``logging.Logger`` (by default
``ocirt.library``). The callback runs on whichever thread logs, which ``logging`` allows.
"""

from __future__ import annotations

import atexit
import logging
import threading

from . import _ffi

LIBRARY_LOGGER_NAME = "ocirt.library"

TRACE = 5
"""Python level of the library's trace records (below ``logging.DEBUG``)."""

# ocirt_log_level values.
_OFF, _ERROR, _WARN, _INFO, _DEBUG, _TRACE = range(6)

_PYTHON_LEVELS = {
    _ERROR: logging.ERROR,
    _WARN: logging.WARNING,
    _INFO: logging.INFO,
    _DEBUG: logging.DEBUG,
    _TRACE: TRACE,
}

_lock = threading.Lock()
_target: logging.Logger | None = None


def library_level(level: int) -> int:
    """Return the ``ocirt_log_level`` that passes the records that Python's ``level`` shows."""
    if level <= TRACE:
        return _TRACE
    if level <= logging.DEBUG:
        return _DEBUG
    if level <= logging.INFO:
        return _INFO
    if level <= logging.WARNING:
        return _WARN
    return _ERROR


def _forward(userdata: int | None, level: int, message: bytes | None) -> None:
    target = _target
    if target is None or message is None:
        return
    try:
        text = message.decode("utf-8", "replace")
        target.log(_PYTHON_LEVELS.get(level, logging.ERROR), "%s", text)
    except Exception:  # noqa: BLE001, S110 - logging it could recurse, and it must not reach C
        pass


# The C function pointer; a module global, so it lives as long as the process.
_C_FORWARD = _ffi.LOG_CALLBACK(_forward)


def enable_library_logging(level: int = logging.INFO, logger: logging.Logger | None = None) -> None:
    """Send the library's records at ``level`` and above to ``logger``.

    ``level`` is a ``logging`` level, and ``TRACE`` adds per-packet stream records. The
    library formats only records at or above the level, so a lower level costs more. Raises
    ``NotSupported`` when a Rust host in the process installed its own logger, which then
    receives the records.
    """
    global _target
    with _lock:
        previous = _target
        # Set before the call, so that the first records already find their logger.
        _target = logger if logger is not None else logging.getLogger(LIBRARY_LOGGER_NAME)
        try:
            _ffi.lib().ocirt_set_log_callback(library_level(level), _C_FORWARD, None)
        except BaseException:
            # Nothing was installed, so disable_library_logging must not try to remove it.
            _target = previous
            raise


def disable_library_logging() -> None:
    """Stop forwarding the library's records, so that the library drops them again."""
    global _target
    with _lock:
        if _target is None:
            return
        _ffi.lib().ocirt_set_log_callback(_OFF, _ffi.LOG_CALLBACK(), None)
        _target = None


# A library thread must not call into an interpreter that is shutting down.
atexit.register(disable_library_logging)
