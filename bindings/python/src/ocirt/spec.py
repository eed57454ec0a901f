"""OCI runtime specs: a default spec for a root filesystem, and reading a bundle's spec."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import PathLike

DEFAULT_CAPABILITIES = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
]
"""Capabilities of the default spec: podman's default set."""

DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
"""Environment of the default spec, before ``TERM`` and the caller's entries."""


def default_spec(
    args: Sequence[str],
    *,
    terminal: bool = False,
    env: Sequence[str] | Mapping[str, str] | None = None,
    cwd: str = "/",
    uid: int = 0,
    gid: int = 0,
    hostname: str = "ocirt",
    readonly_rootfs: bool = False,
) -> dict[str, Any]:
    """Return an OCI spec that runs ``args`` in a root filesystem given separately.

    Pass the root filesystem as ``ContainerConfig.rootfs``. The process runs as
    ``uid:gid`` with podman's default capabilities, in private pid, mount, ipc, uts and
    network namespaces. The network has only a loopback interface. ``/proc``, ``/dev``,
    ``/dev/pts``, ``/dev/shm``, ``/sys`` and ``/tmp`` are mounted. ``env`` entries are
    added to a default ``PATH``, and a terminal adds ``TERM=xterm``.
    """
    if not args:
        raise ValueError("the container needs a command: args must not be empty")
    environment = list(DEFAULT_ENV)
    if terminal:
        environment.append("TERM=xterm")
    if isinstance(env, Mapping):
        environment += [f"{name}={value}" for name, value in env.items()]
    elif env is not None:
        environment += list(env)
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": uid, "gid": gid},
            "args": list(args),
            "env": environment,
            "cwd": cwd,
            "capabilities": {
                kind: list(DEFAULT_CAPABILITIES) for kind in ("bounding", "effective", "permitted")
            },
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": readonly_rootfs},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/tmp",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777"],
            },
        ],
        "linux": {
            "namespaces": [{"type": kind} for kind in ("pid", "mount", "ipc", "uts", "network")],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/asound",
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }


def bundle_spec(bundle: PathLike, args: Sequence[str] | None = None) -> dict[str, Any]:
    """Return a bundle's ``config.json``, with ``process.args`` replaced by ``args`` if given.

    A relative ``root.path`` is made absolute against the bundle, so the spec can be used
    inline (``ContainerConfig.spec``) without the bundle directory. Raises ``OSError`` when
    the file cannot be read. Raises ``ValueError``, naming the file, when it is not valid
    JSON, not a JSON object, or its ``process`` is not one. Also raises ``ValueError`` for
    an empty ``args``.
    """
    directory = Path(os.fspath(bundle)).resolve()
    path = directory / "config.json"
    with open(path, encoding="utf-8") as file:
        try:
            spec = json.load(file)
        except ValueError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path} must contain a JSON object, not {type(spec).__name__}")
    if not isinstance(spec.get("process", {}), dict):
        raise ValueError(f'{path}: "process" must be a JSON object')
    if args is not None:
        if not args:
            raise ValueError("args must not be empty: give a command, or None for the bundle's")
        spec.setdefault("process", {})["args"] = list(args)
    root = spec.get("root")
    if isinstance(root, dict) and isinstance(root.get("path"), str):
        root["path"] = str(directory / root["path"])
    return spec


def is_bundle(path: PathLike) -> bool:
    """Return whether ``path`` is an OCI bundle, a directory with a ``config.json``."""
    return (Path(os.fspath(path)) / "config.json").is_file()
