"""The container handle: lifecycle, waiting, attach, HTTP attach, resize and checkpoint."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal as signals
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _ffi, _streams
from ._handle import HandleOwner
from ._wait import wait_in_slices
from .attach import Attach, AttachOutcome
from .cancel import CancelToken, call_interruptibly
from .config import ContainerState, ExecOptions, check_terminal_size
from .errors import Detached
from .exec import ExecSession

if TYPE_CHECKING:
    from .runtime import Runtime

Connection = socket.socket | int
"""A connection hijacked from an HTTP server, as a socket or a file descriptor."""


def signal_number(signal: int | str) -> int:
    """Return the number of a signal given as a number or a name (``"KILL"``, ``"SIGKILL"``)."""
    if isinstance(signal, str):
        name = signal.upper()
        if name.isdigit():
            return int(name)
        if not name.startswith("SIG"):
            name = "SIG" + name
        try:
            return int(signals.Signals[name])
        except KeyError:
            raise ValueError(
                f"invalid signal name {signal!r}: give a name such as 'SIGTERM' or a number"
            ) from None
    return int(signal)


def take_descriptor(conn: Connection) -> int:
    """Return the descriptor of ``conn``, detached from its socket object if it has one.

    The library closes the descriptor, so the socket object must no longer own it.
    """
    if isinstance(conn, socket.socket):
        return conn.detach()
    if isinstance(conn, int) and conn >= 0:
        return conn
    raise TypeError(f"connection must be a socket or a file descriptor, not {conn!r}")


def options_json(options: dict[str, Any]) -> bytes:
    """Encode an options object as JSON, leaving out None values."""
    return json.dumps({key: value for key, value in options.items() if value is not None}).encode()


def http_options_json(
    *,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    detach_keys: str | None,
    hijack_header: bool,
    buffer_limit: int | None,
    **extra: Any,
) -> bytes:
    """Encode the options of ``http_attach`` and ``exec_http`` (``extra`` adds ``start``)."""
    return options_json(
        {
            "stdin": stdin,
            "stdout": stdout,
            "stderr": stderr,
            "detach_keys": detach_keys,
            "hijack_header": hijack_header,
            "buffer_limit": buffer_limit,
            **extra,
        }
    )


class Container(HandleOwner):
    """A container of a runtime, made by ``Runtime.new_container`` or ``open_container``.

    The state lives on disk, so several handles (in one or many processes) can refer to
    the same container. Thread-safe. Closing the handle never stops the container, because
    conmon keeps supervising it, and ``Runtime.open_container`` finds it again.
    """

    id: str
    """The container's id."""
    runtime: Runtime | None
    """The runtime the handle was made from."""

    def __init__(self, address: int, runtime: Runtime | None) -> None:
        self._own(address, _ffi.lib().ocirt_container_free, "container handle")
        self.runtime = runtime
        self.id = self._borrowed_string("ocirt_container_id")
        self._state.description = f"container handle {self.id}"

    # Lifecycle.

    def create(self) -> None:
        """Create the container in the runtime: conmon runs ``runtime create``.

        Raises ``RuntimeNotFound`` (exit code 127) or ``PermissionDenied`` (126) when the
        runtime cannot find or execute the command, ``OciRuntimeError`` with the runtime's
        message for other runtime failures.
        """
        self._call("ocirt_container_create", None)

    def restore(self, *, tcp_established: bool = False, keep: bool = False) -> None:
        """Create the container from its checkpoint instead of its spec, and leave it running."""
        options = options_json({"tcp_established": tcp_established, "keep": keep})
        self._call("ocirt_container_create", options)

    def start(self) -> None:
        """Start the created container's process."""
        self._call("ocirt_container_start")

    def update_status(self) -> None:
        """Refresh the stored state from the runtime and conmon's exit file."""
        self._call("ocirt_container_update_status")

    def state(self, refresh: bool = False) -> ContainerState:
        """Return the stored state, calling ``update_status()`` first if ``refresh`` is set."""
        if refresh:
            self.update_status()
        return ContainerState.from_dict(
            json.loads(self._owned_string("ocirt_container_state_json"))
        )

    def kill(self, signal: int | str = signals.SIGTERM, all: bool = False) -> None:
        """Send ``signal`` to the init process, or with ``all`` to every process.

        Raises ``ContainerStateInvalid`` when the container is not running.
        """
        self._call("ocirt_container_kill", signal_number(signal), all)

    def stop(self, timeout: int = 10, all: bool = False) -> None:
        """Send the stop signal, wait up to ``timeout`` seconds, then send SIGKILL.

        ``timeout`` 0 sends SIGKILL at once. Returns as soon as the process is gone, so a
        stopped container returns at once.
        """
        if timeout < 0:
            raise ValueError(f"stop timeout must be at least 0 seconds, not {timeout}")
        self._call("ocirt_container_stop", int(timeout), all)

    def delete(self) -> None:
        """Delete the container and its files, killing a running process.

        The handle stays open, and later calls on it raise ``NoSuchContainer``.
        """
        self._call("ocirt_container_delete")

    def pause(self) -> None:
        """Freeze the running container."""
        self._call("ocirt_container_pause")

    def unpause(self) -> None:
        """Thaw the paused container."""
        self._call("ocirt_container_unpause")

    def wait(self, timeout: float | None = None, cancel: CancelToken | None = None) -> int:
        """Wait until the process exits and return its exit code.

        The code is 0-255, 128+N after signal N, or -1 when conmon could not record it.
        ``timeout`` is in seconds (None: no limit). Raises ``Timeout`` when it passes and
        ``Cancelled`` when ``cancel`` is triggered.
        """
        exit_code = ctypes.c_int32()

        def call(timeout_ms: int) -> None:
            with self._state.use() as handle:
                if cancel is None:
                    _ffi.lib().ocirt_container_wait(
                        handle, timeout_ms, None, ctypes.byref(exit_code)
                    )
                    return
                with cancel._state.use() as token:
                    _ffi.lib().ocirt_container_wait(
                        handle, timeout_ms, token, ctypes.byref(exit_code)
                    )

        wait_in_slices(call, timeout, f"container {self.id}", "ocirt_container_wait")
        return exit_code.value

    def exit_file_path(self) -> Path:
        """Return the path of conmon's exit file, which contains the decimal exit code."""
        return Path(self._owned_string("ocirt_container_exit_file_path"))

    def attach_socket_path(self) -> Path:
        """Return the full path of conmon's attach socket."""
        return Path(self._owned_string("ocirt_container_attach_socket_path"))

    def checkpoint(
        self, *, leave_running: bool = False, tcp_established: bool = False, keep: bool = False
    ) -> None:
        """Checkpoint the running container with CRIU into its state directory.

        Raises ``NotSupported`` when the runtime cannot checkpoint.
        """
        options = {
            "leave_running": leave_running,
            "tcp_established": tcp_established,
            "keep": keep,
        }
        self._call("ocirt_container_checkpoint", options_json(options))

    def resize(self, width: int, height: int) -> None:
        """Set the terminal size in columns and rows, from create on.

        Raises ``ContainerStateInvalid`` for a container without a terminal.
        """
        check_terminal_size(width, height)
        self._call("ocirt_container_resize", width, height)

    # Streams.

    def attach(
        self,
        *,
        stdout: _streams.OutputTarget = None,
        stderr: _streams.OutputTarget = None,
        stdin: _streams.StdinSource = None,
        detach_keys: str | None = None,
        start: bool = False,
        width: int | None = None,
        height: int | None = None,
        buffer_limit: int | None = None,
    ) -> Attach:
        """Attach to the created or running container and return the session.

        ``stdout`` and ``stderr`` take a callable receiving ``bytes`` or a binary file-like
        object, and None discards the stream. ``stdin`` takes bytes, an iterable of bytes or
        a binary file-like object, which a thread feeds and then half-closes. ``stdin=True``
        opens stdin for ``Attach.write``. Any stdin needs a container configured with
        ``stdin=True`` or a terminal. ``detach_keys`` None means ``ctrl-p,ctrl-q``, and
        ``""`` disables detaching. ``start`` starts the created container once attached,
        so no output is lost. ``width`` and ``height`` set the terminal size and must be
        given together.
        """
        if width is not None or height is not None:
            if width is None or height is None:
                raise ValueError("give both width and height, or neither")
            check_terminal_size(width, height)
        options = options_json(
            {
                "stdin": stdin is not None and stdin is not False,
                "detach_keys": detach_keys,
                "start": start,
                "width": width,
                "height": height,
                "buffer_limit": buffer_limit,
            }
        )
        session = _streams.SessionState(_streams.output_sink(stdout), _streams.output_sink(stderr))
        callbacks = session.callbacks()
        address = ctypes.c_void_p()
        try:
            self._call(
                "ocirt_container_attach", options, ctypes.byref(callbacks), ctypes.byref(address)
            )
        except BaseException:
            session.discard()
            raise
        assert address.value is not None
        attach = Attach(address.value, session, f"attach session of container {self.id}")
        if not isinstance(stdin, bool) and stdin is not None:
            _streams.start_feeding(attach, stdin, session)
        return attach

    def http_attach(
        self,
        conn: Connection,
        *,
        stdin: bool = True,
        stdout: bool = True,
        stderr: bool = True,
        detach_keys: str | None = None,
        hijack_header: bool = False,
        start: bool = False,
        buffer_limit: int | None = None,
        buffered: bytes = b"",
        cancel: CancelToken | None = None,
    ) -> AttachOutcome:
        """Stream the container over a connection hijacked from an HTTP server.

        Blocks until the streams end, the client detaches, or ``cancel`` is triggered, and
        returns ``ENDED`` or ``DETACHED``. Raises ``Cancelled`` when ``cancel`` fired.
        The library takes ``conn`` (a socket is detached from its object) and closes it,
        whatever the result. Output without a terminal is framed as Docker's multiplexed
        stream: an 8-byte header (stream 1 or 2, three zero bytes, big-endian u32 length)
        before each payload. ``buffered`` contains the bytes that the HTTP parser read past
        the request.
        """
        descriptor = take_descriptor(conn)
        handed_over = False
        try:
            options = http_options_json(
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                detach_keys=detach_keys,
                hijack_header=hijack_header,
                buffer_limit=buffer_limit,
                start=start,
            )
            payload = bytes(buffered)

            def call(token: CancelToken) -> AttachOutcome:
                nonlocal handed_over
                with self._state.use() as handle, token._state.use() as token_handle:
                    handed_over = True
                    try:
                        _ffi.lib().ocirt_container_http_attach(
                            handle, descriptor, options, payload, len(payload), token_handle
                        )
                    except Detached:
                        return AttachOutcome.DETACHED
                return AttachOutcome.ENDED

            return call_interruptibly(call, cancel)
        finally:
            if not handed_over:
                os.close(descriptor)

    # Exec sessions.

    def exec(
        self,
        cmd: Sequence[str] | ExecOptions,
        *,
        stdout: _streams.OutputTarget = None,
        stderr: _streams.OutputTarget = None,
        stdin: _streams.StdinSource = None,
        detach: bool = False,
        session_id: str | None = None,
        **options: Any,
    ) -> ExecSession:
        """Run a command in the running container and return once it runs.

        ``cmd`` is the argument list or an ``ExecOptions``. The other ``ExecOptions``
        fields may be keyword arguments: ``env``, ``terminal``, ``width``, ``height``,
        ``cwd``, ``user``, ``cap_add``, ``preserve_fds``, ``detach_keys``,
        ``exit_command``, ``exit_command_delay`` and ``buffer_limit``. Streams work as in
        ``attach``. With ``detach`` nothing is attached, but ``ExecSession.wait`` still
        waits for the command and returns an ``AttachResult`` with its exit code.
        ``session_id`` defaults to 64 random hex digits.

        Raises ``RuntimeNotFound`` (exit code 127 recorded) or ``PermissionDenied`` (126)
        when the command cannot be found or executed.
        """
        exec_options = self._exec_options(cmd, options)
        wants_stdin = stdin is not None and stdin is not False
        if detach and (wants_stdin or stdout is not None or stderr is not None):
            raise ValueError("a detached exec session takes no stdin, stdout or stderr")
        data = exec_options.to_dict()
        data["stdin"] = wants_stdin
        session_id = session_id if session_id is not None else secrets.token_hex(32)

        if detach:
            session = _streams.SessionState(None, None)
            callbacks = None
        else:
            session = _streams.SessionState(
                _streams.output_sink(stdout), _streams.output_sink(stderr)
            )
            callbacks = session.callbacks()
        pid = ctypes.c_int32()
        address = ctypes.c_void_p()
        try:
            self._call(
                "ocirt_exec_start",
                _ffi.encode(session_id),
                json.dumps(data).encode(),
                ctypes.byref(callbacks) if callbacks is not None else None,
                ctypes.byref(pid),
                ctypes.byref(address),
            )
        except BaseException:
            session.discard()
            raise

        # The library always writes a session handle when the call succeeds.
        assert address.value is not None
        attach = Attach(address.value, session, f"exec session {session_id}")
        if not isinstance(stdin, bool) and stdin is not None:
            _streams.start_feeding(attach, stdin, session)
        return ExecSession(self, session_id, pid.value, attach)

    def exec_http(
        self,
        cmd: Sequence[str] | ExecOptions,
        conn: Connection,
        *,
        stdin: bool = True,
        stdout: bool = True,
        stderr: bool = True,
        detach_keys: str | None = None,
        hijack_header: bool = False,
        buffer_limit: int | None = None,
        buffered: bytes = b"",
        cancel: CancelToken | None = None,
        session_id: str | None = None,
        **options: Any,
    ) -> ExecSession:
        """Run a command streamed over a hijacked connection, and return once it runs.

        The library takes ``conn`` and closes it when the session is over, whatever the
        result. The framing is that of ``http_attach``. ``ExecSession.wait`` returns when
        the streams end, with the exit code. The session keeps ``cancel`` in use until its
        stream handle is freed, so closing the token earlier defers its free.
        """
        descriptor = take_descriptor(conn)
        handed_over = False
        # The token must outlive the session, so the session keeps it in use until freed.
        token_hold = contextlib.ExitStack()
        try:
            exec_options = self._exec_options(cmd, options)
            data = exec_options.to_dict()
            session_id = session_id if session_id is not None else secrets.token_hex(32)
            http_options = http_options_json(
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                detach_keys=detach_keys,
                hijack_header=hijack_header,
                buffer_limit=buffer_limit,
            )
            payload = bytes(buffered)
            pid = ctypes.c_int32()
            address = ctypes.c_void_p()
            token_handle = None
            if cancel is not None:
                token_handle = token_hold.enter_context(cancel._state.use())
            with self._state.use() as handle:
                handed_over = True
                _ffi.lib().ocirt_exec_start_http(
                    handle,
                    _ffi.encode(session_id),
                    json.dumps(data).encode(),
                    descriptor,
                    http_options,
                    payload,
                    len(payload),
                    token_handle,
                    ctypes.byref(pid),
                    ctypes.byref(address),
                )
        except BaseException:
            token_hold.close()
            raise
        finally:
            if not handed_over:
                os.close(descriptor)

        # The library always writes a session handle when the call succeeds.
        assert address.value is not None
        session = _streams.SessionState(None, None)
        attach = Attach(address.value, session, f"exec session {session_id}", token_hold.close)
        return ExecSession(self, session_id, pid.value, attach)

    def exec_session(self, session_id: str) -> ExecSession:
        """Return an existing exec session by id, also one started by another process.

        The session has no stream handle, so it supports status, resize, stop and cleanup.
        """
        return ExecSession(self, session_id, None, None)

    @staticmethod
    def _exec_options(cmd: Sequence[str] | ExecOptions, options: dict[str, Any]) -> ExecOptions:
        if isinstance(cmd, ExecOptions):
            if options:
                raise TypeError("pass either ExecOptions or keyword options, not both")
            return cmd
        if isinstance(cmd, str):
            raise TypeError(
                "cmd must be a sequence of arguments such as ['sh', '-c', '...'], not a str"
            )
        return ExecOptions(cmd=list(cmd), **options)

    def __repr__(self) -> str:
        state = " (closed)" if self.closed else ""
        return f"<ocirt.Container {self.id}{state}>"
