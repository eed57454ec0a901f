"""Shared setup of the binding's tests: a busybox bundle built once, and per test a runtime
with its own run directory and runtime root under /tmp, so tests may run in parallel.

The ``env`` fixture deletes every container the test made, and anything left in its runtime
root, also when the test fails.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ocirt

REPO = Path(__file__).resolve().parents[3]
BUNDLE_SCRIPT = REPO / "scripts" / "make-bundle.sh"

_ids = itertools.count()


def unique_id(name: str) -> str:
    """Return an id unique across parallel test runs (runc names cgroups after it)."""
    return f"py-{name}-{os.getpid()}-{next(_ids)}"


@pytest.fixture(scope="session")
def bundle() -> Path:
    """Return a busybox bundle (rootfs and config.json) in the repository's build directory."""
    directory = REPO / "build" / "python-test-bundle"
    subprocess.run([str(BUNDLE_SCRIPT), str(directory)], check=True)
    return directory


class Output:
    """Bytes collected from a stream callback on the library's thread."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._changed = threading.Condition()
        self.calls = 0

    def __call__(self, data: bytes) -> None:
        with self._changed:
            self._data += data
            self.calls += 1
            self._changed.notify_all()

    @property
    def data(self) -> bytes:
        with self._changed:
            return bytes(self._data)

    def wait_for(self, needle: bytes, timeout: float = 10.0) -> bool:
        """Wait until the output contains ``needle``; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while needle not in self._data:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True


class Env:
    """One test's runtime, directories and containers."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self.rootfs = bundle / "rootfs"
        self.dir = Path(tempfile.mkdtemp(prefix="ocirt-py-test-", dir="/tmp"))
        self.run_dir = self.dir / "run"
        self.runtime_root = self.dir / "runc"
        try:
            self.runtime = ocirt.Runtime(run_dir=self.run_dir, runtime_root=self.runtime_root)
        except BaseException:
            # The fixture runs no cleanup when setup fails, so remove the directory here.
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.containers: list[ocirt.Container] = []

    def spec(self, args: list[str], terminal: bool = False) -> dict[str, Any]:
        """Return the bundle's spec running ``args``."""
        spec = ocirt.bundle_spec(self.bundle, args)
        spec["process"]["terminal"] = terminal
        return spec

    def container(
        self, name: str, args: list[str], terminal: bool = False, **config: Any
    ) -> ocirt.Container:
        """Configure a container running ``args``, which the fixture deletes."""
        container = self.runtime.new_container(
            id=unique_id(name), spec=self.spec(args, terminal), rootfs=self.rootfs, **config
        )
        self.containers.append(container)
        return container

    def running(self, name: str, args: list[str], **config: Any) -> ocirt.Container:
        """Configure, create and start a container running ``args``."""
        container = self.container(name, args, **config)
        container.create()
        container.start()
        return container

    def runc_ids(self) -> list[str]:
        """Return the ids that runc lists in this test's runtime root."""
        result = subprocess.run(
            ["runc", "--root", str(self.runtime_root), "list", "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        return [line for line in result.stdout.splitlines() if line]

    def runtime_config(self) -> dict[str, str]:
        """Return the runtime config JSON fields, for other processes."""
        return {"run_dir": str(self.run_dir), "runtime_root": str(self.runtime_root)}

    def cleanup(self) -> None:
        """Delete every container of the test, close the runtime and remove the directories."""
        for container in self.containers:
            try:
                handle = container
                if container.closed:
                    handle = self.runtime.open_container(container.id)
                handle.delete()
                handle.close()
            except ocirt.NoSuchContainer:
                pass
            except ocirt.OcirtError as error:
                print(f"cleanup: deleting container {container.id} failed: {error}")
            container.close()
        # Containers made by other processes in this run directory, such as the CLI's.
        for state in self.runtime.containers():
            try:
                with self.runtime.open_container(state.id) as container:
                    container.delete()
            except ocirt.NoSuchContainer:
                pass
            except ocirt.OcirtError as error:
                print(f"cleanup: deleting container {state.id} failed: {error}")
        # Whatever the library lost track of (a failed test may leave anything behind).
        for container_id in self.runc_ids():
            subprocess.run(
                ["runc", "--root", str(self.runtime_root), "delete", "--force", container_id],
                check=False,
            )
        self.runtime.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def env(bundle: Path) -> Iterator[Env]:
    """Yield a runtime of the test's own, cleaned up after the test whatever its result."""
    environment = Env(bundle)
    try:
        yield environment
    finally:
        environment.cleanup()


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Check ``condition`` every 20 ms until it is true, and return False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def pid_alive(pid: int) -> bool:
    """Return whether a process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def catches_signal(pid: int, signum: int) -> bool:
    """Return whether the process has a handler installed for ``signum`` (SigCgt)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            lines = status.read().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return False
    for line in lines:
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


def demux(data: bytes) -> tuple[bytes, bytes]:
    """Split Docker's multiplexed stream into stdout and stderr, failing on an invalid frame."""
    streams = {1: bytearray(), 2: bytearray()}
    at = 0
    while at < len(data):
        assert at + 8 <= len(data), f"truncated frame header at byte {at}"
        kind = data[at]
        assert data[at + 1 : at + 4] == b"\0\0\0", f"frame header at byte {at} is not 3 zero bytes"
        length = int.from_bytes(data[at + 4 : at + 8], "big")
        assert kind in streams, f"frame at byte {at} has stream id {kind}"
        assert at + 8 + length <= len(data), f"frame at byte {at} is truncated"
        streams[kind] += data[at + 8 : at + 8 + length]
        at += 8 + length
    return bytes(streams[1]), bytes(streams[2])


def read_all(sock: socket.socket) -> bytes:
    """Read a socket until the peer closes it."""
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
