"""Python binding of ocirt, podman's OCI runtime layer as a library.

ocirt drives an OCI runtime (runc by default) through conmon to create, start, attach to,
exec into, stop and delete containers. This package calls ``libocirt.so`` through ctypes.
It looks for the library in ``$OCIRT_LIBRARY``, next to the package and in the ocirt source
tree, and then tries the system loader.

    import sys

    import ocirt

    with ocirt.Runtime(run_dir="/tmp/demo/run", runtime_root="/tmp/demo/runc") as rt:
        spec = ocirt.default_spec(["echo", "hello"])
        with rt.new_container(id="demo", spec=spec, rootfs="/srv/busybox") as ctr:
            ctr.create()
            session = ctr.attach(stdout=sys.stdout.buffer, start=True)
            session.wait()
            print(ctr.wait())
            ctr.delete()
"""

from __future__ import annotations

from . import _ffi
from .attach import Attach, AttachOutcome, AttachResult
from .cancel import CancelToken
from .config import ContainerConfig, ContainerState, ExecOptions, RuntimeConfig
from .container import Container
from .errors import (
    CallbackAborted,
    Cancelled,
    ConmonError,
    ConmonTooOld,
    ContainerExists,
    ContainerStateInvalid,
    ContainerStopped,
    Detached,
    ExecSessionExists,
    ExecStateInvalid,
    HandleClosed,
    InternalError,
    InvalidArgument,
    IOFailure,
    LibraryNotFound,
    NoSuchContainer,
    NoSuchExecSession,
    NotSupported,
    NullArgument,
    OcirtError,
    OciRuntimeError,
    PermissionDenied,
    Result,
    RuntimeNotFound,
    RuntimeUnavailable,
    Timeout,
)
from .exec import ExecSession, ExecStatus
from .logs import TRACE, disable_library_logging, enable_library_logging
from .runtime import BinaryInfo, Runtime, RuntimeInfo
from .spec import bundle_spec, default_spec

__version__ = "0.1.0"


def library_version() -> str:
    """Return the loaded library's version (``ocirt_version()``)."""
    value: bytes = _ffi.lib().ocirt_version()
    return value.decode("ascii", "replace")


def library_path() -> str:
    """Return the path the library was loaded from (loading it if needed)."""
    return _ffi.library_path()


def result_name(code: int) -> str:
    """Return the library's name of a result code (``ocirt_result_name``)."""
    value: bytes = _ffi.lib().ocirt_result_name(code)
    return value.decode("ascii", "replace")


__all__ = [
    "TRACE",
    "Attach",
    "AttachOutcome",
    "AttachResult",
    "BinaryInfo",
    "CallbackAborted",
    "CancelToken",
    "Cancelled",
    "ConmonError",
    "ConmonTooOld",
    "Container",
    "ContainerConfig",
    "ContainerExists",
    "ContainerState",
    "ContainerStateInvalid",
    "ContainerStopped",
    "Detached",
    "ExecOptions",
    "ExecSession",
    "ExecSessionExists",
    "ExecStateInvalid",
    "ExecStatus",
    "HandleClosed",
    "IOFailure",
    "InternalError",
    "InvalidArgument",
    "LibraryNotFound",
    "NoSuchContainer",
    "NoSuchExecSession",
    "NotSupported",
    "NullArgument",
    "OciRuntimeError",
    "OcirtError",
    "PermissionDenied",
    "Result",
    "Runtime",
    "RuntimeConfig",
    "RuntimeInfo",
    "RuntimeNotFound",
    "RuntimeUnavailable",
    "Timeout",
    "bundle_spec",
    "default_spec",
    "disable_library_logging",
    "enable_library_logging",
    "library_path",
    "library_version",
    "result_name",
]
