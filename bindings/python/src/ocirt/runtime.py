"""The runtime handle: an OCI runtime binary driven through conmon."""

from __future__ import annotations

import ctypes
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from . import _ffi
from ._handle import HandleOwner
from .config import ContainerConfig, ContainerState, RuntimeConfig
from .container import Container


@dataclasses.dataclass(frozen=True)
class BinaryInfo:
    """One binary in ``Runtime.info()``: its path, owning package and version text."""

    path: str
    package: str
    version: str
    name: str | None = None
    """The runtime's name; None for conmon."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BinaryInfo:
        """Build the record from one object of ``ocirt_runtime_info``'s JSON."""
        name = data.get("name")
        return cls(
            path=str(data.get("path", "")),
            package=str(data.get("package", "")),
            version=str(data.get("version", "")),
            name=str(name) if name is not None else None,
        )


@dataclasses.dataclass(frozen=True)
class RuntimeInfo:
    """Versions of conmon and the OCI runtime, read from the binaries (``RuntimeInfo()``)."""

    conmon: BinaryInfo
    runtime: BinaryInfo


class Runtime(HandleOwner):
    """An OCI runtime (runc by default) driven through conmon.

    Configure it with a ``RuntimeConfig`` or the same fields as keyword arguments::

        with ocirt.Runtime(run_dir="/tmp/demo/run", runtime_root="/tmp/demo/runc") as rt:
            ...

    Thread-safe. Containers keep the runtime alive inside the library, so the runtime may
    be closed before its containers, and they stay usable.
    """

    config: RuntimeConfig
    """The configuration the runtime was made with."""
    name: str
    """The runtime's name (``Name()``)."""
    path: str
    """The runtime binary's path (``Path()``)."""

    def __init__(self, config: RuntimeConfig | None = None, **options: Any) -> None:
        if config is None:
            config = RuntimeConfig(**options)
        elif options:
            raise TypeError("pass either a RuntimeConfig or keyword arguments, not both")
        library = _ffi.lib()
        address = ctypes.c_void_p()
        library.ocirt_runtime_new(_ffi.encode(config.to_json()), ctypes.byref(address))
        assert address.value is not None
        self._own(address.value, library.ocirt_runtime_free, "runtime")
        self.config = config
        self.name = self._borrowed_string("ocirt_runtime_name")
        self.path = self._borrowed_string("ocirt_runtime_path")

    def _flag(self, function: str) -> bool:
        value = ctypes.c_bool()
        self._call(function, ctypes.byref(value))
        return bool(value.value)

    def info(self) -> RuntimeInfo:
        """Run conmon and the runtime with ``--version`` and return their versions."""
        data = json.loads(self._owned_string("ocirt_runtime_info"))
        return RuntimeInfo(
            conmon=BinaryInfo.from_dict(data.get("conmon", {})),
            runtime=BinaryInfo.from_dict(data.get("runtime", {})),
        )

    def supports_checkpoint(self) -> bool:
        """Return whether the runtime can checkpoint and CRIU is installed.

        A checkpoint may still fail, for example when CRIU does not support the kernel.
        """
        return self._flag("ocirt_runtime_supports_checkpoint")

    def supports_json_errors(self) -> bool:
        """Return whether the runtime's name is in the JSON-errors support list."""
        return self._flag("ocirt_runtime_supports_json_errors")

    def supports_no_cgroups(self) -> bool:
        """Return whether the runtime's name is in the no-cgroups support list."""
        return self._flag("ocirt_runtime_supports_no_cgroups")

    def supports_kvm(self) -> bool:
        """Return whether the runtime's name is in the KVM support list."""
        return self._flag("ocirt_runtime_supports_kvm")

    def new_container(self, config: ContainerConfig | None = None, **options: Any) -> Container:
        """Configure a new container and return its handle. Nothing runs before ``create()``.

        Takes a ``ContainerConfig`` or its fields as keyword arguments. Raises
        ``ContainerExists`` when the id is in use and ``InvalidArgument`` for an invalid field.
        """
        if config is None:
            config = ContainerConfig(**options)
        elif options:
            raise TypeError("pass either a ContainerConfig or keyword arguments, not both")
        address = ctypes.c_void_p()
        self._call("ocirt_container_new", _ffi.encode(config.to_json()), ctypes.byref(address))
        assert address.value is not None
        return Container(address.value, self)

    def open_container(self, container_id: str) -> Container:
        """Open an existing container by id, also one created by another process.

        Raises ``NoSuchContainer`` when the state directory has no such container.
        """
        address = ctypes.c_void_p()
        self._call("ocirt_container_open", _ffi.encode(container_id), ctypes.byref(address))
        assert address.value is not None
        return Container(address.value, self)

    def containers(self) -> list[ContainerState]:
        """Return the stored state of every container in the state directory, sorted by id."""
        data = json.loads(self._owned_string("ocirt_runtime_list_containers"))
        return [ContainerState.from_dict(item) for item in data]

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<ocirt.Runtime {self.name} {self.path} ({state})>"
