"""Exec sessions through the binding: attached, detached, terminal and over HTTP."""

from __future__ import annotations

import gc
import socket
import threading
import time
from typing import Any

import pytest

import ocirt

from .conftest import Env, Output, demux, eventually, pid_alive, read_all


@pytest.fixture
def sleeper(env: Env) -> ocirt.Container:
    """A running container to exec into."""
    return env.running("exec", ["sleep", "1000"])


def test_exec_output_and_exit_code(sleeper: ocirt.Container) -> None:
    stdout = Output()
    stderr = Output()

    with sleeper.exec(
        ["sh", "-c", "echo out; echo err >&2; exit 3"], stdout=stdout, stderr=stderr
    ) as session:
        assert session.pid is not None
        assert session.pid > 0
        result = session.wait(30)

    assert result == ocirt.AttachResult(ocirt.AttachOutcome.ENDED, 3)
    assert stdout.data == b"out\n"
    assert stderr.data == b"err\n"


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["true"], 0),
        (["false"], 1),
        (["sh", "-c", "exit 42"], 42),
        (["sh", "-c", "exit 255"], 255),
        (["sh", "-c", "kill -SEGV $$"], 139),
    ],
)
def test_exec_exit_codes(sleeper: ocirt.Container, command: list[str], code: int) -> None:
    with sleeper.exec(command) as session:
        assert session.wait(30).exit_code == code


def test_detached_exec_status(sleeper: ocirt.Container) -> None:
    session = sleeper.exec(["sh", "-c", "sleep 1; exit 7"], detach=True)
    assert session.status() == ocirt.ExecStatus(running=True, exit_code=None)

    assert eventually(lambda: not session.status().running, 10)
    assert session.status() == ocirt.ExecStatus(running=False, exit_code=7)
    assert session.wait(10).exit_code == 7
    session.close()
    session.cleanup()


def test_detached_exec_takes_no_streams(sleeper: ocirt.Container) -> None:
    with pytest.raises(ValueError, match="detached"):
        sleeper.exec(["true"], detach=True, stdout=Output())


def test_exec_command_not_found(sleeper: ocirt.Container) -> None:
    with pytest.raises(ocirt.RuntimeNotFound) as raised:
        sleeper.exec(["/no/such/binary"], session_id="missing-command")
    assert "/no/such/binary" in raised.value.message
    assert sleeper.exec_session("missing-command").status() == ocirt.ExecStatus(False, 127)

    with pytest.raises(ocirt.PermissionDenied):
        sleeper.exec(["/etc"], session_id="not-executable")
    assert sleeper.exec_session("not-executable").status() == ocirt.ExecStatus(False, 126)

    with sleeper.exec(["sh", "-c", "exit 5"]) as control:
        assert control.wait(30).exit_code == 5
    assert sleeper.state(refresh=True).status == "running"


def test_exec_stdin_reaches_cat(sleeper: ocirt.Container) -> None:
    stdout = Output()
    began = time.monotonic()

    with sleeper.exec(["cat"], stdout=stdout, stdin=b"hello\n") as session:
        assert session.wait(30).exit_code == 0

    assert time.monotonic() - began < 5
    assert stdout.data == b"hello\n"


def test_exec_terminal_size_and_resize(sleeper: ocirt.Container) -> None:
    stdout = Output()

    with sleeper.exec(
        ["sh", "-c", "stty size; read x; stty size"],
        stdout=stdout,
        stdin=True,
        terminal=True,
        width=100,
        height=30,
    ) as session:
        assert stdout.wait_for(b"30 100\r\n")
        session.resize(160, 50)
        session.write(b"\n")
        assert session.wait(30).exit_code == 0
        with pytest.raises(ocirt.ExecStateInvalid):
            session.resize(80, 24)

    assert stdout.data.endswith(b"50 160\r\n")


def test_exec_detach_keys_and_stop(sleeper: ocirt.Container) -> None:
    session = sleeper.exec(["sleep", "1000"], stdin=True, terminal=True)
    began = time.monotonic()
    with pytest.raises(ocirt.Detached):
        session.write(b"\x10\x11")
    result = session.wait(5)
    assert time.monotonic() - began < 2
    assert result.detached
    assert session.status().running

    session.stop(0)
    assert session.status() == ocirt.ExecStatus(running=False, exit_code=137)
    assert session.pid is not None
    assert eventually(lambda: not pid_alive(session.pid or 0), 5)
    session.close()


def test_exec_callback_exception_reraised(sleeper: ocirt.Container) -> None:
    def explode(data: bytes) -> None:
        raise KeyError("from the exec callback")

    with sleeper.exec(["echo", "hi"], stdout=explode) as session:
        with pytest.raises(KeyError, match="from the exec callback"):
            session.wait(30)


def test_exec_user_cwd_and_env(env: Env) -> None:
    spec = env.spec(["sleep", "1000"])
    spec["process"]["user"] = {"uid": 65534, "gid": 65534}
    spec["process"]["cwd"] = "/tmp"
    spec["process"]["env"] = ["PATH=/bin", "FOO=ctr"]
    container = env.runtime.new_container(id=f"{env.dir.name}-user", spec=spec, rootfs=env.rootfs)
    env.containers.append(container)
    container.create()
    container.start()

    def run(command: list[str], **options: Any) -> bytes:
        stdout = Output()
        with container.exec(command, stdout=stdout, **options) as session:
            assert session.wait(30).exit_code == 0
        return stdout.data

    assert run(["id", "-u"]) == b"65534\n"
    assert run(["id", "-u"], user="0") == b"0\n"
    assert run(["pwd"]) == b"/tmp\n"
    assert run(["pwd"], cwd="/") == b"/\n"
    assert run(["sh", "-c", "echo $FOO-$BAR"], env={"BAR": "exec"}) == b"ctr-exec\n"
    assert run(["sh", "-c", "echo $BAR"], env=["BAR=list"]) == b"list\n"


def test_exec_options_object(sleeper: ocirt.Container) -> None:
    stdout = Output()
    options = ocirt.ExecOptions(cmd=["sh", "-c", "echo $X"], env={"X": "from-options"})

    with sleeper.exec(options, stdout=stdout) as session:
        session.wait(30)

    assert stdout.data == b"from-options\n"
    with pytest.raises(TypeError, match="not both"):
        sleeper.exec(options, terminal=True)


def test_exec_session_by_id(sleeper: ocirt.Container) -> None:
    with sleeper.exec(["sh", "-c", "exit 6"], session_id="by-id") as session:
        session.wait(30)

    reopened = sleeper.exec_session("by-id")
    assert reopened.status() == ocirt.ExecStatus(False, 6)
    assert reopened.attach_socket_path().name == "attach"
    with pytest.raises(ValueError, match="no streams"):
        reopened.wait()
    reopened.cleanup()
    with pytest.raises(ocirt.NoSuchExecSession):
        reopened.status()


def test_duplicate_session_id_rejected(sleeper: ocirt.Container) -> None:
    with sleeper.exec(["sleep", "1000"], session_id="twice", detach=True) as session:
        with pytest.raises(ocirt.ExecSessionExists):
            sleeper.exec(["true"], session_id="twice")
        session.stop(0)


def test_exec_in_stopped_container(env: Env) -> None:
    container = env.running("exec-stopped", ["true"])
    container.wait(30)
    with pytest.raises(ocirt.ContainerStateInvalid, match="running container"):
        container.exec(["true"])


def test_exec_over_http(sleeper: ocirt.Container) -> None:
    ours, theirs = socket.socketpair()

    session = sleeper.exec_http(["sh", "-c", "echo out; echo err >&2; exit 4"], theirs, stdin=False)
    with ours:
        data = read_all(ours)
    result = session.wait(30)
    session.close()

    assert theirs.fileno() == -1
    assert result.exit_code == 4
    assert demux(data) == (b"out\n", b"err\n")


def test_exec_over_http_cancelled(sleeper: ocirt.Container) -> None:
    ours, theirs = socket.socketpair()
    token = ocirt.CancelToken()

    session = sleeper.exec_http(["sleep", "1000"], theirs, stdin=False, cancel=token)
    timer = threading.Timer(0.2, token.trigger)
    timer.start()
    with ours:
        assert read_all(ours) == b""
    timer.join()
    with pytest.raises(ocirt.Cancelled):
        session.wait(10)

    # The session keeps the token in use until it is closed.
    token.close()
    assert token.closed
    session.close()
    session.stop(0)


def test_dropped_http_session_frees_token(sleeper: ocirt.Container) -> None:
    ours, theirs = socket.socketpair()
    token = ocirt.CancelToken()
    session = sleeper.exec_http(["sleep", "1000"], theirs, stdin=False, cancel=token)
    token.close()
    assert token._state.users == 1
    ours.settimeout(30)

    # Collecting the session frees its stream handle and then releases the token.
    del session
    gc.collect()
    assert token._state.users == 0
    with ours:
        assert read_all(ours) == b""


def test_exec_http_invalid_command_closes_socket(sleeper: ocirt.Container) -> None:
    ours, theirs = socket.socketpair()

    with pytest.raises(TypeError, match="sequence of arguments"):
        sleeper.exec_http("echo hi", theirs)

    assert theirs.fileno() == -1
    with ours:
        assert ours.recv(16) == b""
