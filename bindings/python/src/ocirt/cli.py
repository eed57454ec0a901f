"""``python3 -m ocirt``: a small podman-like command-line tool over the binding.

It runs containers from an OCI bundle or from a bare root filesystem, for which it makes a
default spec. Messages and exit codes follow podman: a failure prints ``Error: ...`` on
stderr and exits 125, a command that cannot be found exits 127, and one that cannot be
executed exits 126. ``run``, ``exec`` and ``attach`` otherwise exit with the container's or
the command's exit code. When the reader of stdout goes away, the tool stops, prints one
error line and exits 141, as a process killed by SIGPIPE would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, NoReturn

from . import _ffi
from ._terminal import RawTerminal, descriptor_writer, terminal_size
from .config import ContainerState
from .container import Container, signal_number
from .errors import (
    ContainerStateInvalid,
    ContainerStopped,
    LibraryNotFound,
    NoSuchContainer,
    OcirtError,
    PermissionDenied,
    RuntimeNotFound,
)
from .runtime import Runtime
from .spec import bundle_spec, default_spec, is_bundle

logger = logging.getLogger("ocirt")

# podman's exit codes for its own failures and for commands it cannot run.
EXIT_ERROR = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127
# The exit code of a process that SIGPIPE killed. The tool exits with it when the reader of
# stdout has gone.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE

# Container names that podman accepts.
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

# Seconds between two reads of a followed log file that had no new data.
FOLLOW_INTERVAL = 0.1

# Seconds conmon waits before the exit command removes a --rm container that runs in the
# foreground. The foreground process reads the exit code and removes the container itself
# first, so the exit command only matters after a detach.
FOREGROUND_RM_DELAY = 5

# Signals that a foreground run passes on to the container, as podman's --sig-proxy does.
PROXIED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


class CommandError(Exception):
    """Failure that the tool reports as ``Error: <message>`` and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Parser(argparse.ArgumentParser):
    """Argument parser that reports usage errors as podman does, with exit code 125."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"Error: {message}", file=sys.stderr)
        sys.exit(EXIT_ERROR)


def exit_code_of(error: OcirtError) -> int:
    """Return the exit code for a library error: 127 not found, 126 not executable, else 125."""
    if isinstance(error, RuntimeNotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, PermissionDenied):
        return EXIT_CANNOT_INVOKE
    return EXIT_ERROR


# Runtime and container lookup.


def open_runtime(arguments: argparse.Namespace) -> Runtime:
    """Open the runtime that the global options select."""
    options: dict[str, Any] = {}
    if arguments.run_dir:
        options["run_dir"] = os.path.abspath(arguments.run_dir)
    elif default_run_dir() is None:
        raise CommandError("no run directory: give --run-dir DIR or set $XDG_RUNTIME_DIR")
    if arguments.runtime_root:
        options["runtime_root"] = os.path.abspath(arguments.runtime_root)
    if arguments.runtime:
        if "/" in arguments.runtime:
            options["path"] = os.path.abspath(arguments.runtime)
            options["name"] = Path(arguments.runtime).name
        else:
            options["name"] = arguments.runtime
    return Runtime(**options)


def default_run_dir() -> str | None:
    """Return the run directory that the library uses without --run-dir, or None.

    It is /run/ocirt for root and $XDG_RUNTIME_DIR/ocirt for other users, so None when
    XDG_RUNTIME_DIR is not set.
    """
    if os.geteuid() == 0:
        return "/run/ocirt"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(runtime_dir, "ocirt") if runtime_dir else None


def find_container(runtime: Runtime, name_or_id: str) -> Container:
    """Open a container by full id, by name, or by a unique id prefix."""
    try:
        return runtime.open_container(name_or_id)
    except (NoSuchContainer, ValueError):
        # Not a known id (InvalidArgument is a ValueError), so try names and id prefixes.
        pass
    states = runtime.containers()
    matches = [state for state in states if state.name == name_or_id]
    if not matches:
        matches = [state for state in states if state.id.startswith(name_or_id)]
    if len(matches) > 1:
        raise CommandError(
            f'more than one result for container "{name_or_id}": container already exists'
        )
    if not matches:
        raise CommandError(f'no container with name or ID "{name_or_id}" found: no such container')
    return runtime.open_container(matches[0].id)


def container_args(state: ContainerState) -> list[str]:
    """Return the container's command from the spec in its state directory."""
    if state.state_dir is None:
        return []
    try:
        with open(state.state_dir / "config.json", encoding="utf-8") as file:
            spec = json.load(file)
    except (OSError, ValueError):
        return []
    return [str(arg) for arg in spec.get("process", {}).get("args", [])]


# run, exec and attach.


def database_entry(rootfs: Path, database: str, name: str) -> list[str] | None:
    """Return the fields of ``name``'s line in the root filesystem's ``/etc/<database>``.

    Returns None when the file or the line is missing.
    """
    try:
        text = (rootfs / "etc" / database).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == name:
            return fields
    return None


def parse_user(user: str, rootfs: Path) -> dict[str, Any]:
    """Return the spec's ``process.user`` for ``USER[:GROUP]``.

    Numbers are taken as they are. Names are looked up in the container's ``/etc/passwd``
    and ``/etc/group``, as podman does. A user name without a group runs with its primary
    group from ``/etc/passwd``, and a user number without a group runs with gid equal to
    uid. As with podman, the group is also the process's one supplementary group.
    """
    user_text, _, group_text = user.partition(":")
    if user_text.isdigit():
        uid, gid = int(user_text), int(user_text)
    else:
        entry = database_entry(rootfs, "passwd", user_text)
        if entry is None or not entry[2].isdigit() or not entry[3].isdigit():
            raise CommandError(
                f"unable to find user {user_text}: no matching entries in passwd file "
                f"{rootfs / 'etc/passwd'}",
                EXIT_CANNOT_INVOKE,
            )
        uid, gid = int(entry[2]), int(entry[3])
    if group_text.isdigit():
        gid = int(group_text)
    elif group_text:
        entry = database_entry(rootfs, "group", group_text)
        if entry is None or not entry[2].isdigit():
            raise CommandError(
                f"unable to find group {group_text}: no matching entries in group file "
                f"{rootfs / 'etc/group'}",
                EXIT_CANNOT_INVOKE,
            )
        gid = int(entry[2])
    return {"uid": uid, "gid": gid, "additionalGids": [gid]}


def build_spec(arguments: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """Return the spec to run and, for a bare root filesystem, its absolute path."""
    path = Path(arguments.path)
    command = list(arguments.command)
    if is_bundle(path):
        try:
            spec = bundle_spec(path, command or None)
        except OSError as error:
            raise CommandError(f"reading {path / 'config.json'}: {error.strerror}") from None
        except ValueError as error:
            raise CommandError(str(error)) from None
        root = spec.get("root")
        rootfs = None
        if isinstance(root, dict) and isinstance(root.get("path"), str):
            rootfs = Path(root["path"])
        if rootfs is None or not rootfs.is_dir():
            raise CommandError(
                f"{path / 'config.json'}: the root filesystem "
                f"{rootfs if rootfs is not None else '(root.path is missing or not a string)'} "
                "is not a directory"
            )
        process = spec.setdefault("process", {})
        if arguments.tty:
            process["terminal"] = True
        if arguments.env:
            process["env"] = list(process.get("env", [])) + list(arguments.env)
        if arguments.workdir:
            process["cwd"] = arguments.workdir
        if arguments.user:
            process["user"] = parse_user(arguments.user, rootfs)
        return spec, None
    if path.is_dir():
        spec = default_spec(
            command or ["sh"],
            terminal=arguments.tty,
            env=arguments.env,
            cwd=arguments.workdir or "/",
        )
        if arguments.user:
            spec["process"]["user"] = parse_user(arguments.user, path)
        return spec, str(path.resolve())
    problem = "is not a directory" if path.exists() else "does not exist"
    raise CommandError(
        f"{arguments.path} {problem}: give an OCI bundle (a directory with config.json) or a "
        "root filesystem directory"
    )


def detach_keys(arguments: argparse.Namespace) -> str | None:
    """Return the value of --detach-keys, or the default that suits stdin.

    Without the option, a terminal on stdin gets None (the library's default), and other
    stdin gets "" (no detach keys). So piped data with ctrl-p ctrl-q in it reaches the
    container, as with podman.
    """
    if arguments.detach_keys is not None:
        return str(arguments.detach_keys)
    return None if os.isatty(0) else ""


def cleanup_command(arguments: argparse.Namespace, container_id: str) -> list[str]:
    """Return the exit command that removes a ``--rm`` container after it exits.

    conmon runs it with its own environment, so the command sets this process's import
    path and library path.
    """
    command = [
        shutil.which("env") or "/usr/bin/env",
        f"PYTHONPATH={Path(__file__).resolve().parent.parent}",
        f"OCIRT_LIBRARY={_ffi.library_path()}",
        sys.executable,
        "-m",
        "ocirt",
    ]
    for option in ("run_dir", "runtime_root", "runtime"):
        value = getattr(arguments, option)
        if value:
            if "/" in value:
                value = os.path.abspath(value)
            command += [f"--{option.replace('_', '-')}", value]
    return command + ["cleanup", "--rm", container_id]


def stream_session(open_session: Callable[..., Any], interactive: bool, terminal: bool) -> Any:
    """Open a session on this process's streams and return it.

    ``open_session`` gets stdout, stderr, stdin if ``interactive``, and the terminal's size
    if ``terminal``.
    """
    options: dict[str, Any] = {
        "stdout": descriptor_writer(1),
        "stderr": descriptor_writer(2),
    }
    if interactive:
        # An unbuffered file: a daemon thread blocked reading sys.stdin.buffer would hold its
        # lock and abort the interpreter at exit.
        options["stdin"] = open(0, "rb", buffering=0, closefd=False)  # noqa: SIM115
    if terminal:
        size = terminal_size()
        if size is not None:
            options["width"], options["height"] = size
    return open_session(**options)


class SignalProxy:
    """Context manager whose signal handlers pass ``PROXIED_SIGNALS`` on to the container."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._previous: dict[int, Any] = {}

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        try:
            self._container.kill(signum)
        except OcirtError as error:
            logger.debug("passing signal %d on to the container failed: %s", signum, error)

    def __enter__(self) -> SignalProxy:
        for signum in PROXIED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._forward)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def command_run(arguments: argparse.Namespace) -> int:
    spec, rootfs = build_spec(arguments)
    terminal = bool(spec.get("process", {}).get("terminal"))
    runtime = open_runtime(arguments)
    container_id = secrets.token_hex(32)
    if arguments.name is not None and not NAME_PATTERN.fullmatch(arguments.name):
        raise CommandError(
            f"invalid container name {arguments.name!r}: names must match "
            "[a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )
    if arguments.name:
        taken = [s for s in runtime.containers() if arguments.name in (s.name, s.id)]
        if taken:
            raise CommandError(
                f'the container name "{arguments.name}" is already in use by {taken[0].id}. '
                "You have to remove that container to be able to reuse that name: "
                "that name is already in use"
            )
    config: dict[str, Any] = {"id": container_id, "spec": spec, "stdin": arguments.interactive}
    if rootfs is not None:
        config["rootfs"] = rootfs
    if arguments.name:
        config["name"] = arguments.name
    if arguments.rm:
        config["exit_command"] = cleanup_command(arguments, container_id)
        if not arguments.detach:
            config["exit_command_delay"] = FOREGROUND_RM_DELAY
    container = runtime.new_container(**config)

    try:
        container.create()
    except OcirtError as error:
        # Remove the configured container, but report the failure of create.
        try:
            container.delete()
        except OcirtError as delete_error:
            logger.debug("removing container %s failed: %s", container.id, delete_error)
        raise CommandError(error.message, exit_code_of(error)) from error
    if arguments.detach:
        container.start()
        print(container.id)
        return 0

    raw = terminal and arguments.interactive
    detached = False
    try:
        with RawTerminal(container.resize) if raw else contextlib.nullcontext():
            session = stream_session(
                lambda **streams: container.attach(
                    detach_keys=detach_keys(arguments), start=True, **streams
                ),
                arguments.interactive,
                terminal,
            )
            with session, SignalProxy(container):
                detached = session.wait().detached
        if detached:
            return 0
        return container.wait()
    finally:
        if arguments.rm and not detached:
            with contextlib.suppress(NoSuchContainer):
                container.delete()


def command_exec(arguments: argparse.Namespace) -> int:
    runtime = open_runtime(arguments)
    container = find_container(runtime, arguments.container)
    options: dict[str, Any] = {"terminal": arguments.tty, "detach_keys": detach_keys(arguments)}
    if arguments.env:
        options["env"] = list(arguments.env)
    if arguments.workdir:
        options["cwd"] = arguments.workdir
    if arguments.user:
        options["user"] = arguments.user
    try:
        if arguments.detach:
            with container.exec(arguments.command, detach=True, **options) as detached:
                print(detached.id)
            return 0
        raw = RawTerminal() if arguments.tty and arguments.interactive else None
        with raw if raw is not None else contextlib.nullcontext():
            session = stream_session(
                lambda **streams: container.exec(arguments.command, **streams, **options),
                arguments.interactive,
                arguments.tty,
            )
            if raw is not None:
                raw.on_resize = session.resize
            with session:
                result = session.wait()
                if not result.detached and result.exit_code is not None:
                    # As podman does, remove a finished session at once. A detached one
                    # stays until the container is removed.
                    session.cleanup()
    except (ContainerStateInvalid, ContainerStopped) as error:
        raise CommandError(
            "can only create exec sessions on running containers: container state improper"
        ) from error
    except OcirtError as error:
        raise CommandError(error.message, exit_code_of(error)) from error
    if result.detached or result.exit_code is None:
        return 0
    return int(result.exit_code)


def command_attach(arguments: argparse.Namespace) -> int:
    runtime = open_runtime(arguments)
    container = find_container(runtime, arguments.container)
    state = container.state(refresh=True)
    if state.status != "running":
        raise CommandError("you can only attach to running containers")
    interactive = state.stdin and not arguments.no_stdin

    raw = interactive and state.terminal
    with RawTerminal(container.resize) if raw else contextlib.nullcontext():
        session = stream_session(
            lambda **streams: container.attach(detach_keys=detach_keys(arguments), **streams),
            interactive,
            state.terminal,
        )
        with session:
            result = session.wait()
    if result.detached:
        return 0
    return container.wait()


def command_cleanup(arguments: argparse.Namespace) -> int:
    """Remove an exited ``--rm`` container. conmon runs this command as the exit command.

    It does nothing when the run directory or the container is gone already, because the
    foreground ``run`` removed it. So it never creates a run directory again.
    """
    if arguments.run_dir and not os.path.isdir(arguments.run_dir):
        return 0
    if not arguments.rm:
        return 0
    runtime = open_runtime(arguments)
    try:
        with runtime.open_container(arguments.container) as container:
            container.delete()
    except NoSuchContainer:
        pass
    return 0


# ps, stop, kill, rm, logs, info.


def duration(delta: timedelta) -> str:
    """Return a podman-style duration such as ``5 seconds`` or ``2 hours``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    if seconds < 1:
        return "Less than a second"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def ago(moment: datetime | None) -> str:
    """Return a podman-style age such as ``5 seconds ago``."""
    if moment is None:
        return ""
    return f"{duration(datetime.now(timezone.utc) - moment)} ago"


def status_text(state: ContainerState) -> str:
    """Return podman's STATUS column: ``Up 5 seconds``, ``Exited (0) 2 minutes ago``, ..."""
    if state.status == "running":
        if state.started_at is None:
            return "Up"
        return f"Up {duration(datetime.now(timezone.utc) - state.started_at)}"
    if state.status in ("stopped", "exited"):
        code = state.exit_code if state.exit_code is not None else -1
        return f"Exited ({code}) {ago(state.finished_at)}".rstrip()
    return state.status.capitalize()


def command_ps(arguments: argparse.Namespace) -> int:
    runtime = open_runtime(arguments)
    states = []
    for state in runtime.containers():
        if state.status in ("created", "running", "paused"):
            try:
                with runtime.open_container(state.id) as container:
                    state = container.state(refresh=True)
            except NoSuchContainer:
                continue
        if arguments.all or state.status == "running":
            states.append(state)
    if arguments.quiet:
        for state in states:
            print(state.id[:12])
        return 0

    rows = [("CONTAINER ID", "COMMAND", "CREATED", "STATUS", "NAMES")]
    for state in states:
        command = " ".join(container_args(state))
        if len(command) > 20:
            command = command[:17] + "..."
        name = state.name if state.name != state.id else state.id[:12]
        rows.append((state.id[:12], command, ago(state.created_at), status_text(state), name))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        cells = [row[column].ljust(widths[column]) for column in range(4)]
        print("  ".join([*cells, row[4]]))
    return 0


def for_each_container(
    arguments: argparse.Namespace,
    action: Callable[[Container, str], None],
    missing_exit_code: int = EXIT_ERROR,
) -> int:
    """Run ``action`` on each named container, and report each failure and go on.

    As podman does, it first looks every name up and acts on none when one is unknown.
    """
    runtime = open_runtime(arguments)
    found: list[tuple[Container, str]] = []
    for name in arguments.containers:
        try:
            found.append((find_container(runtime, name), name))
        except CommandError as error:
            for container, _ in found:
                container.close()
            raise CommandError(str(error), missing_exit_code) from None
    exit_code = 0
    for container, name in found:
        try:
            with container:
                action(container, name)
        except CommandError as error:
            print(f"Error: {error}", file=sys.stderr)
            exit_code = error.exit_code
        except OcirtError as error:
            print(f"Error: {error.message}", file=sys.stderr)
            exit_code = EXIT_ERROR
    return exit_code


def command_stop(arguments: argparse.Namespace) -> int:
    def stop(container: Container, name: str) -> None:
        was_running = container.state(refresh=True).status == "running"
        container.stop(arguments.time)
        # 137 is SIGKILL's exit code: the stop signal did not end the process in time.
        if was_running and arguments.time > 0 and container.state().exit_code == 137:
            print(
                f"WARN StopSignal failed to stop container {name} in {arguments.time} "
                "seconds, resorting to SIGKILL",
                file=sys.stderr,
            )
        print(name)

    return for_each_container(arguments, stop)


def command_kill(arguments: argparse.Namespace) -> int:
    try:
        number = signal_number(arguments.signal)
    except ValueError as error:
        raise CommandError(f"invalid signal: {arguments.signal}") from error

    def kill(container: Container, name: str) -> None:
        try:
            container.kill(number)
        except ContainerStateInvalid:
            status = container.state(refresh=True).status
            # podman calls a container whose process ended "exited".
            status = "exited" if status == "stopped" else status
            raise CommandError(
                f"can only kill running containers. {container.id} is in state {status}: "
                "container state improper"
            ) from None
        print(name)

    return for_each_container(arguments, kill)


def command_rm(arguments: argparse.Namespace) -> int:
    # As podman rm does, exit 1 when a container does not exist and 2 when one runs
    # without --force.
    def remove(container: Container, name: str) -> None:
        status = container.state(refresh=True).status
        if status in ("running", "paused") and not arguments.force:
            raise CommandError(
                f"cannot remove container {container.id} as it is {status} - running or "
                "paused containers cannot be removed without force: container state improper",
                2,
            )
        container.delete()
        print(name)

    return for_each_container(arguments, remove, missing_exit_code=1)


def print_log_lines(lines: list[bytes]) -> None:
    """Write k8s-file log lines to stdout and stderr, each to the stream it came from."""
    stdout, stderr = descriptor_writer(1), descriptor_writer(2)
    for line in lines:
        # k8s-file lines: <time> <stream> <F for a full line, P for a partial one> <text>
        parts = line.split(b" ", 3)
        if len(parts) < 3:
            continue
        text = parts[3] if len(parts) == 4 else b""
        if parts[2] == b"F":
            text += b"\n"
        if parts[1] == b"stderr":
            stderr(text)
        else:
            stdout(text)


def follow_log(container: Container, path: Path) -> None:
    """Print the log file's lines as conmon appends them, until the container stops running.

    NOTE: conmon's log rotation (a log size limit) is not followed. The tool keeps reading
    the renamed file.
    """
    pending = b""
    file = None
    try:
        while True:
            # Read the state before the file, so that the last read after the container
            # stopped includes everything conmon wrote.
            running = container.state(refresh=True).status in ("created", "running", "paused")
            if file is None:
                with contextlib.suppress(FileNotFoundError):
                    file = open(path, "rb")  # noqa: SIM115 - closed in the finally block
            data = file.read() if file is not None else b""
            if data:
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                print_log_lines(lines)
            elif not running:
                break
            else:
                time.sleep(FOLLOW_INTERVAL)
    finally:
        if file is not None:
            file.close()
    if pending:
        print_log_lines([pending])


def command_logs(arguments: argparse.Namespace) -> int:
    runtime = open_runtime(arguments)
    with find_container(runtime, arguments.container) as container:
        state = container.state()
        if state.log_driver == "none":
            raise CommandError(
                "this container is using the 'none' log driver, cannot read logs: "
                "this container is not logging output"
            )
        if state.log_driver == "journald" or state.log_path is None:
            raise CommandError(f"reading {state.log_driver} logs is not supported by this tool")
        if arguments.follow:
            follow_log(container, state.log_path)
            return 0
    try:
        lines = state.log_path.read_bytes().splitlines()
    except FileNotFoundError:
        lines = []
    print_log_lines(lines)
    return 0


def yaml_lines(data: dict[str, Any], indent: int = 0) -> list[str]:
    """Render nested dicts of strings, numbers and booleans as YAML."""
    lines = []
    pad = "  " * indent
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines += yaml_lines(value, indent + 1)
        elif isinstance(value, bool):
            lines.append(f"{pad}{key}: {'true' if value else 'false'}")
        elif isinstance(value, str) and "\n" in value:
            lines.append(f"{pad}{key}: |-")
            lines += [f"{pad}  {line}" for line in value.splitlines()]
        elif isinstance(value, str) and (":" in value or value.startswith(("(", "'"))):
            lines.append(f"{pad}{key}: {json.dumps(value)}")
        else:
            lines.append(f"{pad}{key}: {value}")
    return lines


def command_info(arguments: argparse.Namespace) -> int:
    runtime = open_runtime(arguments)
    info = runtime.info()
    config = runtime.config
    data = {
        "host": {
            "conmon": {
                "package": info.conmon.package,
                "path": info.conmon.path,
                "version": info.conmon.version,
            },
            "ociRuntime": {
                "name": info.runtime.name or runtime.name,
                "package": info.runtime.package,
                "path": info.runtime.path,
                "version": info.runtime.version,
            },
            "supports": {
                "checkpoint": runtime.supports_checkpoint(),
                "jsonErrors": runtime.supports_json_errors(),
                "noCgroups": runtime.supports_no_cgroups(),
                "kvm": runtime.supports_kvm(),
            },
        },
        "store": {
            "runDir": os.fspath(config.run_dir) if config.run_dir else default_run_dir(),
            "runtimeRoot": (
                os.fspath(config.runtime_root) if config.runtime_root else "(runtime default)"
            ),
            "containers": len(runtime.containers()),
        },
        "version": {
            "ocirt": _ffi.lib().ocirt_version().decode(),
            "library": _ffi.library_path(),
        },
    }
    if arguments.format == "json":
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(yaml_lines(data)))
    return 0


# Argument parsing.

DETACH_KEYS_HELP = (
    'key sequence that detaches (default "ctrl-p,ctrl-q" when stdin is a terminal and none '
    'otherwise, "" disables detaching)'
)


def add_process_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-i", "--interactive", action="store_true", help="keep stdin open and pass this stdin"
    )
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    parser.add_argument(
        "-d", "--detach", action="store_true", help="run in the background and print the ID"
    )
    parser.add_argument(
        "--detach-keys",
        metavar="KEYS",
        help=DETACH_KEYS_HELP,
    )
    parser.add_argument(
        "-e", "--env", action="append", metavar="NAME=VALUE", help="set an environment variable"
    )
    parser.add_argument("-w", "--workdir", metavar="DIR", help="working directory in the container")
    parser.add_argument(
        "-u",
        "--user",
        metavar="USER[:GROUP]",
        help="user and group, as names from the container's /etc/passwd and /etc/group or as "
        "numbers",
    )


def build_parser() -> Parser:
    # The console script "ocirt" and "python3 -m ocirt" both end here.
    program = "ocirt" if Path(sys.argv[0]).name == "ocirt" else "python3 -m ocirt"
    parser = Parser(
        prog=program,
        description="Run containers with ocirt (runc driven through conmon), podman style.",
    )
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        help="state, exit and socket directory (default /run/ocirt for root, "
        "$XDG_RUNTIME_DIR/ocirt for other users)",
    )
    parser.add_argument(
        "--runtime-root", metavar="DIR", help="the OCI runtime's --root (default /run/runc)"
    )
    parser.add_argument("--runtime", metavar="NAME|PATH", help="OCI runtime (default runc)")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warn", "error"],
        help="print the library's log records at this level and above on stderr",
    )
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    run = commands.add_parser("run", help="run a command in a new container")
    add_process_options(run)
    run.add_argument("--rm", action="store_true", help="remove the container when it exits")
    run.add_argument("--name", help="name of the container")
    run.add_argument("path", metavar="BUNDLE|ROOTFS", help="OCI bundle or root filesystem")
    run.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="command and arguments (default: the bundle's command, or sh)",
    )
    run.set_defaults(handler=command_run)

    exec_parser = commands.add_parser("exec", help="run a command in a running container")
    add_process_options(exec_parser)
    exec_parser.add_argument("container", help="container name or ID")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")
    exec_parser.set_defaults(handler=command_exec)

    attach = commands.add_parser("attach", help="attach to a running container")
    attach.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    attach.add_argument("--detach-keys", metavar="KEYS", help=DETACH_KEYS_HELP)
    attach.add_argument("container", help="container name or ID")
    attach.set_defaults(handler=command_attach)

    ps = commands.add_parser("ps", help="list containers")
    ps.add_argument("-a", "--all", action="store_true", help="show stopped containers too")
    ps.add_argument("-q", "--quiet", action="store_true", help="print the IDs only")
    ps.set_defaults(handler=command_ps)

    stop = commands.add_parser("stop", help="stop containers")
    stop.add_argument(
        "-t",
        "--time",
        type=int,
        default=10,
        metavar="SECONDS",
        help="seconds to wait before SIGKILL (default 10)",
    )
    stop.add_argument("containers", nargs="+", metavar="CONTAINER", help="container name or ID")
    stop.set_defaults(handler=command_stop)

    kill = commands.add_parser("kill", help="send a signal to containers")
    kill.add_argument("-s", "--signal", default="KILL", help="signal name or number (default KILL)")
    kill.add_argument("containers", nargs="+", metavar="CONTAINER", help="container name or ID")
    kill.set_defaults(handler=command_kill)

    rm = commands.add_parser("rm", help="remove containers")
    rm.add_argument("-f", "--force", action="store_true", help="remove running containers too")
    rm.add_argument("containers", nargs="+", metavar="CONTAINER", help="container name or ID")
    rm.set_defaults(handler=command_rm)

    logs = commands.add_parser("logs", help="print a container's logged output")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="go on printing until the container stops"
    )
    logs.add_argument("container", help="container name or ID")
    logs.set_defaults(handler=command_logs)

    # Not listed in the help: the exit command of --rm containers, as podman's
    # "container cleanup --rm".
    cleanup = commands.add_parser("cleanup")
    cleanup.add_argument("--rm", action="store_true", help="remove the container")
    cleanup.add_argument("container", help="container ID")
    cleanup.set_defaults(handler=command_cleanup)

    info = commands.add_parser("info", help="show the runtime, conmon and library in use")
    info.add_argument("--format", choices=["yaml", "json"], default="yaml", help="output format")
    info.set_defaults(handler=command_info)
    return parser


LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    arguments = build_parser().parse_args(argv)
    if arguments.subcommand == "exec" and not arguments.command:
        print("Error: exec requires a command to run", file=sys.stderr)
        return EXIT_ERROR
    if arguments.log_level:
        from .logs import enable_library_logging

        level = LOG_LEVELS[arguments.log_level]
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("ocirt").setLevel(level)
        enable_library_logging(level)
    try:
        return int(arguments.handler(arguments))
    except CommandError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    except LibraryNotFound as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OcirtError as error:
        print(f"Error: {error.message}", file=sys.stderr)
        return exit_code_of(error)
    except BrokenPipeError:
        silence_stdout()
        print("Error: writing to stdout: broken pipe", file=sys.stderr)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            silence_stdout()


def silence_stdout() -> None:
    """Point stdout at /dev/null after its reader went away.

    Then the interpreter's flush at exit does not fail again. Python's documentation of
    SIGPIPE gives this remedy.
    """
    devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
