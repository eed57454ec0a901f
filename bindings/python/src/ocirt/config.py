"""Configuration dataclasses, turned into the JSON objects the library takes.

A field left at ``None`` is left out of the JSON, so the library's default applies. The
library documents every default in ``include/ocirt.h``. Unknown keyword arguments raise
``TypeError`` here, before anything reaches the library. The library takes only absolute
paths, so relative host paths are made absolute against the current directory.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Union

PathLike = Union[str, "os.PathLike[str]"]


def json_value(value: Any) -> Any:
    """Convert paths, enums, mappings and sequences into values ``json.dumps`` accepts."""
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    return value


def absolute(value: Any) -> Any:
    """Make a path, or each path of a sequence, absolute against the current directory."""
    if isinstance(value, (list, tuple)):
        return [absolute(item) for item in value]
    return os.path.abspath(os.fspath(value))


class JsonConfig:
    """Mixin of the configuration dataclasses that converts them to JSON without None fields."""

    # Names of the fields that contain host paths, which to_dict makes absolute.
    PATH_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """Return the fields that are not None, converted for JSON."""
        result: dict[str, Any] = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if value is None:
                continue
            if field.name in self.PATH_FIELDS:
                value = absolute(value)
            result[field.name] = json_value(value)
        return result

    def to_json(self) -> str:
        """Return the JSON object the library parses."""
        return json.dumps(self.to_dict())


@dataclasses.dataclass(kw_only=True)
class RuntimeConfig(JsonConfig):
    """Configuration of a runtime (``ocirt_runtime_new``). Every field is optional."""

    PATH_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"path", "paths", "conmon_path", "conmon_paths", "run_dir", "state_dir", "exit_dir"}
        | {"socket_dir", "runtime_root"}
    )

    name: str | None = None
    """Runtime name, default ``"runc"``. It selects the search list and the support lists."""
    path: PathLike | None = None
    """Runtime binary. When it is set, no search happens."""
    paths: Sequence[PathLike] | None = None
    """Runtime binaries tried in order, then a ``$PATH`` lookup of ``name``."""
    conmon_path: PathLike | None = None
    """conmon binary (2.0.24 or later). When it is set, no search happens."""
    conmon_paths: Sequence[PathLike] | None = None
    """conmon binaries tried in order."""
    run_dir: PathLike | None = None
    """Base of the state, exit and socket directories, default ``/run/ocirt`` for root."""
    state_dir: PathLike | None = None
    """Directory with one subdirectory per container, default ``<run_dir>/containers``."""
    exit_dir: PathLike | None = None
    """Directory of conmon's exit files, default ``<run_dir>/exits``."""
    socket_dir: PathLike | None = None
    """Directory of links to the attach sockets, default ``<run_dir>/socket``."""
    runtime_root: PathLike | None = None
    """The runtime's ``--root``, default the runtime's own (``/run/runc`` for runc)."""
    runtime_flags: Sequence[str] | None = None
    """Global runtime arguments added to every runtime command."""
    log_level: str | None = None
    """conmon's log level: ``error`` (default), ``warning``, ``info``, ``debug``, ``trace``."""
    cgroup_manager: str | None = None
    """``"cgroupfs"`` (default) or ``"systemd"``."""
    conmon_env: Sequence[str] | None = None
    """conmon's environment as ``KEY=value`` entries, default a standard ``PATH``."""
    log_size_max: int | None = None
    """Default k8s-file log size limit in bytes, negative (the default) for unlimited."""
    no_pivot: bool | None = None
    """Run the runtime with ``--no-pivot``."""
    supports_json_errors: Sequence[str] | None = None
    """Runtime names that support JSON error output."""
    supports_no_cgroups: Sequence[str] | None = None
    """Runtime names that can run containers without cgroups."""
    supports_kvm: Sequence[str] | None = None
    """Runtime names that run containers in virtual machines."""
    create_timeout_ms: int | None = None
    """Maximum time in ms that create waits for conmon, default 240000."""


@dataclasses.dataclass(kw_only=True)
class ContainerConfig(JsonConfig):
    """Configuration of a container (``ocirt_container_new``). ``id`` is required.

    Give either ``bundle`` (a directory with ``config.json``) or ``spec`` (an OCI spec as a
    dict, with ``rootfs`` when its ``root.path`` is relative). ``spec["process"]["terminal"]``
    sets whether the container has a terminal.
    """

    PATH_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"bundle", "rootfs", "log_path", "conmon_pidfile"}
    )

    id: str
    """1 to 128 ASCII letters, digits and ``_ . + -``, not starting with ``.`` or ``-``."""
    name: str | None = None
    """Name for conmon's journald fields, default the id."""
    bundle: PathLike | None = None
    """OCI bundle directory."""
    spec: Mapping[str, Any] | None = None
    """Inline OCI runtime spec."""
    rootfs: PathLike | None = None
    """Root filesystem directory, which overrides the spec's ``root.path``."""
    stdin: bool | None = None
    """Keep the container's stdin open for attach (``-i``)."""
    leave_stdin_open: bool | None = None
    """Keep stdin open when an attach session ends or detaches.

    By default conmon closes it, so the process reads end of file."""
    log_driver: str | None = None
    """``"k8s-file"`` (default), ``"json-file"``, ``"journald"`` or ``"none"``."""
    log_path: PathLike | None = None
    """Log file, default ``ctr.log`` in the container's state directory."""
    log_size_max: int | None = None
    """k8s-file log size limit in bytes, negative for unlimited."""
    log_tag: str | None = None
    """journald tag."""
    stop_signal: int | str | None = None
    """Signal that stop sends first, as a number or a name such as ``"SIGINT"``.

    Default SIGTERM."""
    exit_command: Sequence[str] | None = None
    """Program (absolute path) and arguments that conmon runs after the container exits."""
    exit_command_delay: int | None = None
    """Seconds conmon waits before it runs ``exit_command``."""
    conmon_pidfile: PathLike | None = None
    """File that conmon writes its pid to, default ``conmon.pid`` in the state directory."""
    runtime_args: Sequence[str] | None = None
    """Extra arguments for ``runtime create``."""
    preserve_fds: int | None = None
    """Pass this process's descriptors 3 to 3+N-1 to the container as 3, 4, ..."""
    no_cgroups: bool | None = None
    """Run without cgroups (runtimes in ``supports_no_cgroups`` only)."""


@dataclasses.dataclass(kw_only=True)
class ExecOptions(JsonConfig):
    """Options of an exec session (``ocirt_exec_start``). ``cmd`` is required.

    The binding sets ``stdin`` from the session's stdin argument, so it is not a field here.
    """

    cmd: Sequence[str]
    """The command and its arguments."""
    env: Mapping[str, str] | Sequence[str] | None = None
    """Environment added to the container's, as a mapping or ``NAME=value`` entries."""
    terminal: bool | None = None
    """Run the command on a terminal."""
    width: int | None = None
    """Initial terminal width in columns, with ``terminal`` and ``height``."""
    height: int | None = None
    """Initial terminal height in rows."""
    cwd: str | None = None
    """Working directory, default the container's."""
    user: str | None = None
    """``uid``, ``uid:gid``, ``name`` or ``name:group``, default the container's user."""
    cap_add: Sequence[str] | None = None
    """Capabilities added to the process, such as ``"CAP_NET_ADMIN"``."""
    preserve_fds: int | None = None
    """Pass this process's descriptors 3 to 3+N-1 to the command as 3, 4, ..."""
    detach_keys: str | None = None
    """Detach sequence. None means ``ctrl-p,ctrl-q``, and ``""`` disables detaching."""
    exit_command: Sequence[str] | None = None
    """Program (absolute path) and arguments that conmon runs after the session ends."""
    exit_command_delay: int | None = None
    """Seconds conmon waits before it runs ``exit_command``."""
    buffer_limit: int | None = None
    """Maximum bytes of output buffered while callbacks lag, default 8 MiB."""


_TIME = re.compile(r"^(?P<base>[^.]+?)(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d\d:\d\d)?$")


def check_terminal_size(width: int, height: int) -> None:
    """Raise ``ValueError`` unless width and height are each in the library's range, 1-65535."""
    for name, value in (("width", width), ("height", height)):
        if not 1 <= value <= 0xFFFF:
            raise ValueError(f"terminal {name} must be 1 to 65535, not {value}")


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 time from the library, cutting nanoseconds to microseconds.

    Returns None for a value that is not a non-empty string.
    """
    if not isinstance(value, str) or not value:
        return None
    match = _TIME.match(value)
    if match is None:
        raise ValueError(f"invalid RFC 3339 time from the library: {value!r}")
    # datetime takes at most six fractional digits, and Python 3.10 takes only three or
    # six, so the fraction becomes exactly six.
    fraction = match["fraction"]
    fraction = (fraction + "00000")[:7] if fraction else ""
    zone = match["zone"] or ""
    if zone == "Z":
        zone = "+00:00"
    return datetime.fromisoformat(match["base"] + fraction + zone)


def optional_path(value: Any) -> Path | None:
    """Return ``Path(value)`` for a non-empty string, otherwise None."""
    if isinstance(value, str) and value:
        return Path(value)
    return None


@dataclasses.dataclass(frozen=True)
class ContainerState:
    """A container's stored state (``ocirt_container_state_json``).

    ``status`` is one of ``configured``, ``created``, ``running``, ``paused``, ``stopped``
    and ``exited``. ``raw`` keeps the whole JSON object, including fields newer than this
    binding.
    """

    id: str
    name: str
    status: str
    pid: int
    conmon_pid: int
    exit_code: int | None
    oom_killed: bool
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    restored: bool
    checkpointed: bool
    terminal: bool
    stdin: bool
    state_dir: Path | None
    bundle: Path | None
    rootfs: Path | None
    log_driver: str
    log_path: Path | None
    exit_file: Path | None
    attach_socket: Path | None
    runtime: str
    raw: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContainerState:
        """Build the state from the library's JSON object."""
        exit_code = data.get("exit_code")
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            status=str(data.get("status", "")),
            pid=int(data.get("pid") or 0),
            conmon_pid=int(data.get("conmon_pid") or 0),
            exit_code=int(exit_code) if exit_code is not None else None,
            oom_killed=bool(data.get("oom_killed")),
            created_at=parse_time(data.get("created_at")),
            started_at=parse_time(data.get("started_at")),
            finished_at=parse_time(data.get("finished_at")),
            restored=bool(data.get("restored")),
            checkpointed=bool(data.get("checkpointed")),
            terminal=bool(data.get("terminal")),
            stdin=bool(data.get("stdin")),
            state_dir=optional_path(data.get("state_dir")),
            bundle=optional_path(data.get("bundle")),
            rootfs=optional_path(data.get("rootfs")),
            log_driver=str(data.get("log_driver") or ""),
            log_path=optional_path(data.get("log_path")),
            exit_file=optional_path(data.get("exit_file")),
            attach_socket=optional_path(data.get("attach_socket")),
            runtime=str(data.get("runtime") or ""),
            raw=dict(data),
        )
