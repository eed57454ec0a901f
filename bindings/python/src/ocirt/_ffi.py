"""Loading of libocirt.so and the ctypes signature of every function in ``include/ocirt.h``.

Every function that the header declares has an entry in ``SIGNATURES``, and a test compares
the two. Functions that return ``ocirt_result`` get an ``errcheck`` that raises the matching
``OcirtError`` subclass with ``ocirt_last_error_message()``. The message is read on the
calling thread right after the failing call, as the library requires.

ctypes releases the GIL for the duration of every call into the library (``CDLL``, not
``PyDLL``), so library threads can run Python callbacks while a Python thread blocks in a
call such as ``ocirt_attach_free``.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint16,
    c_uint32,
    c_void_p,
)
from pathlib import Path
from typing import Any, NamedTuple

from .errors import LibraryNotFound, error_for

LIBRARY_NAME = "libocirt.so"

# Name of a text file in the package that contains the path of the ocirt source tree the
# package was built from. setup.py writes it when the package is installed from that tree.
BUILD_TREE_FILE = "_build_tree.txt"

STREAM_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
DONE_CALLBACK = CFUNCTYPE(None, c_void_p, c_int32, c_int32)
USERDATA_FREE_CALLBACK = CFUNCTYPE(None, c_void_p)
LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_int32, c_char_p)


class AttachCallbacks(ctypes.Structure):
    """The ``ocirt_attach_callbacks`` struct, which the library copies during the call."""

    _fields_ = [
        ("userdata", c_void_p),
        ("on_stdout", STREAM_CALLBACK),
        ("on_stderr", STREAM_CALLBACK),
        ("on_done", DONE_CALLBACK),
        ("userdata_free", USERDATA_FREE_CALLBACK),
    ]


class Signature(NamedTuple):
    """A function's ctypes return and argument types. ``checked`` marks an ocirt_result."""

    restype: Any
    argtypes: tuple[Any, ...]
    checked: bool


# Handles (ocirt_runtime *, ocirt_container *, ocirt_attach *, ocirt_cancel *) are c_void_p.
HANDLE = c_void_p
HANDLE_OUT = POINTER(c_void_p)
# A caller-owned `char **` output: kept as an address so it can go to ocirt_string_free.
OWNED_STRING_OUT = POINTER(c_void_p)
# A `const char **` output borrowed from a handle.
BORROWED_STRING_OUT = POINTER(c_char_p)
# `const uint8_t *` input: c_char_p passes a bytes object's buffer without a copy.
BYTES_IN = c_char_p


def _result(*argtypes: Any) -> Signature:
    return Signature(c_int32, argtypes, True)


def _plain(restype: Any, *argtypes: Any) -> Signature:
    return Signature(restype, argtypes, False)


SIGNATURES: dict[str, Signature] = {
    "ocirt_version": _plain(c_char_p),
    "ocirt_result_name": _plain(c_char_p, c_int32),
    "ocirt_last_error_message": _plain(c_char_p),
    "ocirt_string_free": _plain(None, c_void_p),
    "ocirt_set_log_callback": _result(c_int32, LOG_CALLBACK, c_void_p),
    # Attach sessions, resize, HTTP attach, cancel tokens.
    "ocirt_container_attach": _result(HANDLE, c_char_p, POINTER(AttachCallbacks), HANDLE_OUT),
    "ocirt_attach_write": _result(HANDLE, BYTES_IN, c_size_t),
    "ocirt_attach_close_stdin": _result(HANDLE),
    "ocirt_attach_detach": _result(HANDLE),
    "ocirt_attach_wait": _result(HANDLE, c_int64, POINTER(c_int32), POINTER(c_int32)),
    "ocirt_attach_free": _plain(None, HANDLE),
    "ocirt_container_resize": _result(HANDLE, c_uint16, c_uint16),
    "ocirt_container_http_attach": _result(HANDLE, c_int, c_char_p, BYTES_IN, c_size_t, HANDLE),
    "ocirt_cancel_new": _result(HANDLE_OUT),
    "ocirt_cancel_trigger": _result(HANDLE),
    "ocirt_cancel_free": _plain(None, HANDLE),
    # Containers.
    "ocirt_container_new": _result(HANDLE, c_char_p, HANDLE_OUT),
    "ocirt_container_open": _result(HANDLE, c_char_p, HANDLE_OUT),
    "ocirt_container_free": _plain(None, HANDLE),
    "ocirt_container_id": _result(HANDLE, BORROWED_STRING_OUT),
    "ocirt_container_state_json": _result(HANDLE, OWNED_STRING_OUT),
    "ocirt_container_create": _result(HANDLE, c_char_p),
    "ocirt_container_start": _result(HANDLE),
    "ocirt_container_update_status": _result(HANDLE),
    "ocirt_container_kill": _result(HANDLE, c_int32, c_bool),
    "ocirt_container_stop": _result(HANDLE, c_uint32, c_bool),
    "ocirt_container_delete": _result(HANDLE),
    "ocirt_container_pause": _result(HANDLE),
    "ocirt_container_unpause": _result(HANDLE),
    "ocirt_container_wait": _result(HANDLE, c_int64, HANDLE, POINTER(c_int32)),
    "ocirt_container_exit_file_path": _result(HANDLE, OWNED_STRING_OUT),
    "ocirt_container_attach_socket_path": _result(HANDLE, OWNED_STRING_OUT),
    "ocirt_container_checkpoint": _result(HANDLE, c_char_p),
    # Exec sessions.
    "ocirt_exec_start": _result(
        HANDLE, c_char_p, c_char_p, POINTER(AttachCallbacks), POINTER(c_int32), HANDLE_OUT
    ),
    "ocirt_exec_start_http": _result(
        HANDLE,
        c_char_p,
        c_char_p,
        c_int,
        c_char_p,
        BYTES_IN,
        c_size_t,
        HANDLE,
        POINTER(c_int32),
        HANDLE_OUT,
    ),
    "ocirt_exec_resize": _result(HANDLE, c_char_p, c_uint16, c_uint16),
    "ocirt_exec_stop": _result(HANDLE, c_char_p, c_uint32),
    "ocirt_exec_update_status": _result(HANDLE, c_char_p, POINTER(c_bool), POINTER(c_int32)),
    "ocirt_exec_cleanup": _result(HANDLE, c_char_p),
    "ocirt_exec_attach_socket_path": _result(HANDLE, c_char_p, OWNED_STRING_OUT),
    # Runtimes.
    "ocirt_runtime_new": _result(c_char_p, HANDLE_OUT),
    "ocirt_runtime_free": _plain(None, HANDLE),
    "ocirt_runtime_name": _result(HANDLE, BORROWED_STRING_OUT),
    "ocirt_runtime_path": _result(HANDLE, BORROWED_STRING_OUT),
    "ocirt_runtime_info": _result(HANDLE, OWNED_STRING_OUT),
    "ocirt_runtime_supports_json_errors": _result(HANDLE, POINTER(c_bool)),
    "ocirt_runtime_supports_no_cgroups": _result(HANDLE, POINTER(c_bool)),
    "ocirt_runtime_supports_kvm": _result(HANDLE, POINTER(c_bool)),
    "ocirt_runtime_supports_checkpoint": _result(HANDLE, POINTER(c_bool)),
    "ocirt_runtime_list_containers": _result(HANDLE, OWNED_STRING_OUT),
}

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_library_path: str | None = None


def _check_result(result: int, function: Any, arguments: tuple[Any, ...]) -> int:
    """Raise the exception for a non-zero ``ocirt_result``, on the thread that made the call."""
    if result != 0:
        # Only loaded functions get this errcheck, so the library is set.
        assert _library is not None
        text = _library.ocirt_last_error_message()
        message = text.decode("utf-8", "replace") if text else ""
        raise error_for(result, message, function.__name__)
    return result


def build_tree_candidates() -> list[Path]:
    """Return the ocirt source trees that may contain a built library, nearest first.

    These are the directories above this package that contain ``include/ocirt.h`` (a source
    checkout or an editable install), then the tree recorded when the package was installed.
    """
    trees: list[Path] = []
    package_dir = Path(__file__).resolve().parent
    for parent in package_dir.parents:
        if (parent / "include" / "ocirt.h").is_file():
            trees.append(parent)
    recorded = package_dir / BUILD_TREE_FILE
    if recorded.is_file():
        text = recorded.read_text(encoding="utf-8").strip()
        if text and Path(text) not in trees:
            trees.append(Path(text))
    return trees


def _load() -> tuple[ctypes.CDLL, str]:
    """Load the library from OCIRT_LIBRARY, the package, the build tree or the loader."""
    tried: list[str] = []

    explicit = os.environ.get("OCIRT_LIBRARY")
    if explicit:
        try:
            return ctypes.CDLL(explicit), explicit
        except OSError as error:
            raise LibraryNotFound(
                f"failed to load libocirt.so from OCIRT_LIBRARY={explicit}: {error}. "
                "Point OCIRT_LIBRARY at a built libocirt.so or unset it."
            ) from error
    tried.append("OCIRT_LIBRARY: not set")

    candidates = [Path(__file__).resolve().parent / LIBRARY_NAME]
    candidates += [tree / "target" / "release" / LIBRARY_NAME for tree in build_tree_candidates()]
    for candidate in candidates:
        if not candidate.is_file():
            tried.append(f"{candidate}: not found")
            continue
        try:
            return ctypes.CDLL(str(candidate)), str(candidate)
        except OSError as error:
            tried.append(f"{candidate}: {error}")

    try:
        return ctypes.CDLL(LIBRARY_NAME), LIBRARY_NAME
    except OSError as error:
        tried.append(f"system loader: {error}")
    raise LibraryNotFound(
        "libocirt.so not found. Tried "
        + "; ".join(tried)
        + ". Build it with `cargo build --release` in the ocirt repository and set "
        "OCIRT_LIBRARY to its target/release/libocirt.so, or install it with "
        "`make install` and `ldconfig`."
    )


def _declare(library: ctypes.CDLL) -> None:
    for name, signature in SIGNATURES.items():
        function = getattr(library, name)
        function.restype = signature.restype
        function.argtypes = signature.argtypes
        if signature.checked:
            function.errcheck = _check_result


def lib() -> Any:
    """Return the loaded library with every signature declared, loading it on first use.

    Raises ``LibraryNotFound`` naming every place it tried, or ``AttributeError`` when the
    library lacks a function that this module declares (a library older than the binding).
    """
    global _library, _library_path
    with _lock:
        if _library is None:
            library, path = _load()
            _declare(library)
            _library, _library_path = library, path
        return _library


def library_path() -> str:
    """Return the path (or loader name) the library was loaded from."""
    lib()
    assert _library_path is not None
    return _library_path


def take_string(address: c_void_p) -> str:
    """Copy a caller-owned ``char *`` output into a str and free it with ocirt_string_free."""
    if not address.value:
        return ""
    try:
        return ctypes.string_at(address.value).decode("utf-8", "replace")
    finally:
        lib().ocirt_string_free(address)


def encode(text: str | None) -> bytes | None:
    """Encode a str argument as UTF-8 for a ``const char *`` parameter (None stays NULL).

    Raises ``ValueError`` for a string that contains a NUL character.
    """
    if text is None:
        return None
    if "\0" in text:
        raise ValueError(f"string argument contains a NUL character: {text!r}")
    return text.encode("utf-8")
