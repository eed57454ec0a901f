"""Attach sessions, stdin, detach keys, resize and HTTP attach through the binding."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import ocirt
from ocirt import _streams

from .conftest import Env, Output, demux, eventually, read_all


def test_stdout_and_stderr_targets(env: Env) -> None:
    container = env.container("streams", ["sh", "-c", "echo out; echo err >&2; echo out2"])
    container.create()
    stdout = io.BytesIO()
    stderr = Output()

    with container.attach(stdout=stdout, stderr=stderr, start=True) as session:
        result = session.wait(30)

    assert result == ocirt.AttachResult(ocirt.AttachOutcome.ENDED, None)
    assert stdout.getvalue() == b"out\nout2\n"
    assert stderr.data == b"err\n"
    assert container.wait(30) == 0


def test_discarded_stream(env: Env) -> None:
    container = env.container("discard", ["sh", "-c", "echo out; echo err >&2"])
    container.create()
    stderr = Output()

    with container.attach(stderr=stderr, start=True) as session:
        session.wait(30)

    assert stderr.data == b"err\n"


def test_binary_output_unchanged(env: Env) -> None:
    container = env.container("binary", ["printf", "a\\000b\\000\\n"])
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, start=True) as session:
        session.wait(30)

    assert stdout.data == b"a\x00b\x00\n"


def test_stdin_bytes_reach_cat(env: Env) -> None:
    container = env.container("stdin-bytes", ["cat"], stdin=True)
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, stdin=b"hello\n", start=True) as session:
        assert session.wait(30).outcome == ocirt.AttachOutcome.ENDED

    assert stdout.data == b"hello\n"
    assert container.wait(5) == 0


def test_stdin_iterable_and_file(env: Env) -> None:
    chunks: list[bytes | bytearray | memoryview] = [
        b"one ",
        bytearray(b"two "),
        memoryview(b"three\n"),
    ]
    for name, source in (("iterable", iter(chunks)), ("file", io.BytesIO(b"one two three\n"))):
        container = env.container(f"stdin-{name}", ["cat"], stdin=True)
        container.create()
        stdout = Output()
        with container.attach(stdout=stdout, stdin=source, start=True) as session:
            session.wait(30)
        assert stdout.data == b"one two three\n", name
        assert container.wait(5) == 0


def test_stdin_written_by_hand(env: Env) -> None:
    container = env.container("stdin-write", ["cat"], stdin=True)
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, stdin=True, start=True) as session:
        session.write(b"first\n")
        assert stdout.wait_for(b"first\n")
        session.write(bytearray(b"second\n"))
        session.close_stdin()
        assert session.wait(30).outcome == ocirt.AttachOutcome.ENDED
        with pytest.raises(ocirt.ContainerStateInvalid):
            session.write(b"late\n")

    assert stdout.data == b"first\nsecond\n"


def test_write_without_stdin_rejected(env: Env) -> None:
    container = env.container("no-stdin", ["sleep", "1000"])
    container.create()
    with container.attach(start=True) as session:
        with pytest.raises(ocirt.ContainerStateInvalid):
            session.write(b"x")


def test_detach_keys_on_terminal(env: Env) -> None:
    container = env.container("detach-tty", ["sleep", "1000"], terminal=True)
    container.create()

    with container.attach(stdin=True, start=True) as session:
        began = time.monotonic()
        with pytest.raises(ocirt.Detached):
            session.write(b"\x10\x11")
        result = session.wait(5)
        assert time.monotonic() - began < 2
    assert result.outcome == ocirt.AttachOutcome.DETACHED
    assert result.detached
    assert container.state(refresh=True).status == "running"

    # A new attach to the same container works.
    with container.attach(stdin=True) as again:
        with pytest.raises(ocirt.Detached):
            again.write(b"\x10")
            again.write(b"\x11")
        assert again.wait(5).detached


def test_detach_keys_without_terminal(env: Env) -> None:
    container = env.container(
        "detach-pipe", ["sh", "-c", "read x; echo got:$x; sleep 1000"], stdin=True
    )
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, stdin=True, start=True) as session:
        with pytest.raises(ocirt.Detached):
            session.write(b"xyz\n\x10\x11")
        assert session.wait(5).detached

    # The echo may come after the detach, so look for it in the container's log.
    log_path = container.state().log_path
    assert log_path is not None
    assert eventually(lambda: b"got:xyz" in log_path.read_bytes(), 5)
    assert container.state(refresh=True).status == "running"


def test_leave_stdin_open_across_detach(env: Env) -> None:
    script = "while read x; do echo got:$x; done; echo eof; sleep 1000"
    container = env.container("left-open", ["sh", "-c", script], stdin=True, leave_stdin_open=True)
    container.create()
    log_path = container.state().log_path
    assert log_path is not None

    with container.attach(stdin=True, start=True) as session:
        with pytest.raises(ocirt.Detached):
            session.write(b"a\n\x10\x11")
        assert session.wait(5).detached
    assert eventually(lambda: b"got:a" in log_path.read_bytes(), 5)
    # stdin stayed open, so a second session goes on writing to the same shell loop.
    with container.attach(stdin=True) as again:
        again.write(b"b\n")
        assert eventually(lambda: b"got:b" in log_path.read_bytes(), 5)
        again.detach()
    assert b"eof" not in log_path.read_bytes()


def test_partial_detach_sequence_forwarded(env: Env) -> None:
    container = env.container("partial-keys", ["cat"], stdin=True)
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, stdin=b"\x10a\n", start=True) as session:
        assert session.wait(30).outcome == ocirt.AttachOutcome.ENDED

    assert stdout.data == b"\x10a\n"
    assert container.wait(5) == 0


def test_detach_keys_disabled(env: Env) -> None:
    container = env.container("no-detach", ["cat"], stdin=True)
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, stdin=b"\x10\x11\n", detach_keys="", start=True) as s:
        assert s.wait(30).outcome == ocirt.AttachOutcome.ENDED

    assert stdout.data == b"\x10\x11\n"
    assert container.wait(5) == 0


def test_custom_detach_keys(env: Env) -> None:
    container = env.container("custom-keys", ["sleep", "1000"], terminal=True)
    container.create()

    with container.attach(stdin=True, detach_keys="ctrl-x,a", start=True) as session:
        session.write(b"\x10\x11")
        with pytest.raises(ocirt.Detached):
            session.write(b"\x18a")
        assert session.wait(5).detached


def test_invalid_detach_keys_rejected(env: Env) -> None:
    container = env.container("bad-keys", ["sleep", "1000"], terminal=True)
    container.create()
    with pytest.raises(ocirt.InvalidArgument, match="ctrl-C"):
        container.attach(stdin=True, detach_keys="ctrl-C")
    assert container.state().status == "created"


def test_callback_exception_reraised(env: Env) -> None:
    container = env.container(
        "callback-error", ["sh", "-c", "while :; do echo tick; sleep 0.1; done"]
    )
    container.create()
    calls = itertools.count()

    def explode(data: bytes) -> None:
        next(calls)
        raise ZeroDivisionError("host callback failed")

    before = _streams.live_sessions()
    session = container.attach(stdout=explode, start=True)
    with pytest.raises(ZeroDivisionError, match="host callback failed") as raised:
        session.wait(30)
    assert isinstance(raised.value.__cause__, ocirt.CallbackAborted)
    assert next(calls) == 1, "the callback ran again after it raised"
    # The exception is raised again on the next wait.
    with pytest.raises(ZeroDivisionError):
        session.wait(1)
    session.close()
    assert _streams.live_sessions() == before
    # Only the session stopped; the container runs on.
    assert container.state(refresh=True).status == "running"


def test_stdin_source_exception_reraised(env: Env) -> None:
    container = env.container("stdin-error", ["cat"], stdin=True)
    container.create()
    stdout = Output()

    def chunks() -> Iterator[bytes]:
        yield b"before\n"
        raise OSError("stdin source broke")

    with container.attach(stdout=stdout, stdin=chunks(), start=True) as session:
        with pytest.raises(OSError, match="stdin source broke"):
            session.wait(30)
        # The session detached; a later wait reports the same exception.
        with pytest.raises(OSError, match="stdin source broke"):
            session.wait(1)


def test_stdin_chunk_of_wrong_type(env: Env) -> None:
    container = env.container("stdin-type", ["cat"], stdin=True)
    container.create()
    source: list[bytes] = ["text"]  # type: ignore[list-item]

    with container.attach(stdin=source, start=True) as session:
        with pytest.raises(TypeError, match="must be bytes"):
            session.wait(30)


def test_close_during_wait_on_other_thread(env: Env) -> None:
    container = env.container("close-wait", ["sleep", "1000"])
    container.create()
    session = container.attach(start=True)
    results: list[ocirt.AttachResult] = []
    waiter = threading.Thread(target=lambda: results.append(session.wait()))
    waiter.start()
    assert eventually(lambda: session._state.users > 0), "the waiter never called wait()"

    session.close()
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(results) == 1
    assert results[0].detached
    with pytest.raises(ocirt.HandleClosed):
        session.wait()


def test_close_from_callback_rejected(env: Env) -> None:
    container = env.container("close-callback", ["echo", "hi"])
    container.create()
    errors: list[BaseException] = []
    holder: list[ocirt.Attach] = []

    def close_session(data: bytes) -> None:
        try:
            holder[0].close()
        except RuntimeError as error:
            errors.append(error)

    # The container starts only after the attach returned, so holder is filled in time.
    session = container.attach(stdout=close_session)
    holder.append(session)
    container.start()
    session.wait(30)
    session.close()
    assert len(errors) == 1
    assert "output callback" in str(errors[0])


def test_resize_before_start(env: Env) -> None:
    container = env.container("resize", ["sh", "-c", "sleep 1; stty size"], terminal=True)
    container.create()
    container.resize(120, 40)
    stdout = Output()

    with container.attach(stdout=stdout, start=True) as session:
        session.wait(30)

    assert stdout.data == b"40 120\r\n"


def test_attach_initial_size(env: Env) -> None:
    container = env.container("attach-size", ["sh", "-c", "sleep 1; stty size"], terminal=True)
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, width=100, height=30, start=True) as session:
        session.wait(30)

    assert stdout.data == b"30 100\r\n"


def test_resize_without_terminal_rejected(env: Env) -> None:
    container = env.running("resize-plain", ["sleep", "1000"])
    with pytest.raises(ocirt.ContainerStateInvalid):
        container.resize(80, 24)
    with pytest.raises(ValueError, match="width"):
        container.resize(0, 24)
    assert container.state(refresh=True).status == "running"


def test_terminal_output_uses_crlf(env: Env) -> None:
    container = env.container("tty-echo", ["echo", "a"], terminal=True)
    container.create()
    stdout = Output()

    with container.attach(stdout=stdout, start=True) as session:
        session.wait(30)

    assert stdout.data == b"a\r\n"


def test_64_mib_byte_exact(env: Env) -> None:
    size = 64 * 1024 * 1024
    container = env.container(
        "big", ["sh", "-c", f"yes 0123456789abcdef | head -c {size}"], log_driver="none"
    )
    container.create()
    digest = hashlib.sha256()
    received = 0

    def consume(data: bytes) -> None:
        nonlocal received
        digest.update(data)
        received += len(data)

    with container.attach(stdout=consume, start=True) as session:
        session.wait(120)

    line = b"0123456789abcdef\n"
    expected = (line * (size // len(line) + 1))[:size]
    assert received == size
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest()
    assert container.wait(30) == 0


def run_http_attach(
    container: ocirt.Container, **options: object
) -> tuple[ocirt.AttachOutcome | BaseException, bytes]:
    """Run ``http_attach`` over a socketpair on a thread and return its outcome and the output.

    The output is what the peer read until the library closed the connection.
    """
    ours, theirs = socket.socketpair()
    outcome: list[ocirt.AttachOutcome | BaseException] = []

    def attach() -> None:
        try:
            outcome.append(container.http_attach(theirs, **options))  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome.append(error)

    worker = threading.Thread(target=attach)
    worker.start()
    with ours:
        data = read_all(ours)
    worker.join(30)
    assert outcome, "http_attach did not return"
    return outcome[0], data


def test_http_attach_frames(env: Env) -> None:
    container = env.container("http", ["sh", "-c", "echo out; echo err >&2; printf 'x\\000y'"])
    container.create()

    outcome, data = run_http_attach(container, stdin=False, start=True)

    assert outcome == ocirt.AttachOutcome.ENDED
    stdout, stderr = demux(data)
    assert stdout == b"out\nx\x00y"
    assert stderr == b"err\n"
    assert container.wait(30) == 0


def test_http_attach_stdout_only(env: Env) -> None:
    container = env.container("http-out", ["sh", "-c", "echo out; echo err >&2; echo out2"])
    container.create()

    outcome, data = run_http_attach(container, stdin=False, stderr=False, start=True)

    assert outcome == ocirt.AttachOutcome.ENDED
    assert demux(data) == (b"out\nout2\n", b"")


def test_http_attach_terminal_raw(env: Env) -> None:
    container = env.container("http-tty", ["echo", "tty"], terminal=True)
    container.create()

    outcome, data = run_http_attach(container, stdin=False, start=True)

    assert outcome == ocirt.AttachOutcome.ENDED
    assert data == b"tty\r\n"


def test_http_attach_stdin_and_detach(env: Env) -> None:
    container = env.container(
        "http-stdin", ["sh", "-c", "read x; echo got:$x; sleep 1000"], stdin=True
    )
    container.create()
    ours, theirs = socket.socketpair()
    outcome: list[ocirt.AttachOutcome] = []
    worker = threading.Thread(
        target=lambda: outcome.append(container.http_attach(theirs, start=True, buffered=b"hi\n"))
    )
    worker.start()

    with ours:
        received = b""
        while b"got:hi\n" not in demux_prefix(received):
            chunk = ours.recv(4096)
            assert chunk, "connection closed before the echo"
            received += chunk
        ours.sendall(b"\x10\x11")
        rest = read_all(ours)
    worker.join(30)

    assert outcome == [ocirt.AttachOutcome.DETACHED]
    assert demux(received + rest)[0] == b"got:hi\n"
    assert container.state(refresh=True).status == "running"


def demux_prefix(data: bytes) -> bytes:
    """Return the stdout of the complete frames at the start of ``data``."""
    stdout = b""
    at = 0
    while at + 8 <= len(data):
        length = int.from_bytes(data[at + 4 : at + 8], "big")
        if at + 8 + length > len(data):
            break
        if data[at] == 1:
            stdout += data[at + 8 : at + 8 + length]
        at += 8 + length
    return stdout


def test_http_attach_cancelled(env: Env) -> None:
    container = env.running("http-cancel", ["sleep", "1000"])
    token = ocirt.CancelToken()
    timer = threading.Timer(0.3, token.trigger)
    timer.start()

    outcome, data = run_http_attach(container, stdin=False, cancel=token)

    timer.join()
    assert isinstance(outcome, ocirt.Cancelled)
    assert data == b""
    token.close()


def test_http_attach_takes_descriptor(env: Env) -> None:
    container = env.container("http-fd", ["echo", "fd"])
    container.create()
    ours, theirs = socket.socketpair()
    descriptor = theirs.detach()

    worker = threading.Thread(
        target=lambda: container.http_attach(descriptor, stdin=False, start=True)
    )
    worker.start()
    with ours:
        data = read_all(ours)
    worker.join(30)

    assert demux(data) == (b"fd\n", b"")
    with pytest.raises(OSError):
        os.fstat(descriptor)


def test_http_attach_closed_handle_closes_socket(env: Env) -> None:
    container = env.container("http-closed", ["true"])
    container.close()
    ours, theirs = socket.socketpair()

    with pytest.raises(ocirt.HandleClosed):
        container.http_attach(theirs)

    assert theirs.fileno() == -1
    with ours:
        assert ours.recv(16) == b""


def test_ctrl_c_interrupts_http_attach(env: Env) -> None:
    container = env.running("http-ctrl-c", ["sleep", "1000"])
    ours, theirs = socket.socketpair()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()

    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        container.http_attach(theirs, stdin=False)
    timer.join()

    assert time.monotonic() - began < 3
    with ours:
        assert read_all(ours) == b""
    assert container.state(refresh=True).status == "running"


def test_ctrl_c_interrupts_attach_wait(env: Env) -> None:
    container = env.container("attach-ctrl-c", ["sleep", "1000"])
    container.create()
    session = container.attach(start=True)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()

    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        session.wait()
    timer.join()

    assert time.monotonic() - began < 3
    # The session is still usable after the interrupt.
    session.detach()
    assert session.wait(5).detached
    session.close()


def test_write_from_callback_after_close(env: Env) -> None:
    container = env.container("callback-write", ["cat"], stdin=True)
    container.create()
    holder: list[ocirt.Attach] = []
    errors: list[BaseException] = []
    echoed = threading.Event()

    def echo_back(data: bytes) -> None:
        echoed.set()
        try:
            holder[0].write(b"again\n")
        except (ocirt.OcirtError, ocirt.HandleClosed) as error:
            errors.append(error)

    session = container.attach(stdout=echo_back, stdin=True)
    holder.append(session)
    container.start()
    session.write(b"first\n")
    assert echoed.wait(10)
    # Closing while callbacks still write must neither deadlock nor crash.
    session.close()
    assert session.closed
    assert container.state(refresh=True).status in ("running", "stopped")
