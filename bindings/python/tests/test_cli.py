"""The command-line tool, ``python3 -m ocirt``, run as a separate process."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path
from types import TracebackType

import pytest

from .conftest import Env, eventually

SOURCE = Path(__file__).resolve().parents[1] / "src"


def cli_command(env: Env, *args: str) -> list[str]:
    """Return the argument list that runs the tool on the test's run directory and root."""
    return [
        sys.executable,
        "-m",
        "ocirt",
        "--run-dir",
        str(env.run_dir),
        "--runtime-root",
        str(env.runtime_root),
        *args,
    ]


def ocirt_cli(
    env: Env, *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Run the tool to its end and return its exit code and output."""
    return subprocess.run(
        cli_command(env, *args),
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(SOURCE)},
        check=False,
    )


class Terminal:
    """The tool running on a pseudo-terminal, as a person at a shell would run it.

    Leaving the ``with`` block kills the tool if it still runs and closes the terminal.
    """

    def __init__(self, env: Env, *args: str) -> None:
        command = cli_command(env, *args)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.environ["PYTHONPATH"] = str(SOURCE)
                os.execv(sys.executable, command)
            finally:
                # Never return into pytest in the child, also when exec failed.
                os._exit(127)
        self.output = b""
        self.running = True

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.running:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.running = False
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait_for_raw_mode(self) -> bool:
        """Wait until the tool has put the terminal in raw mode, as it does before attaching."""
        return eventually(lambda: not termios.tcgetattr(self.fd)[3] & termios.ICANON)

    def read_until(self, needle: bytes, timeout: float = 10) -> bool:
        """Read the output until it contains ``needle``, and return False after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    return needle in self.output
                if not chunk:
                    return needle in self.output
                self.output += chunk
        return True

    def exit_code(self, timeout: float = 30) -> int:
        """Wait until the tool exits, reading its output, and return its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.running = False
                return os.waitstatus_to_exitcode(status)
            self.read_until(b"\0never\0", 0.1)
        raise AssertionError(f"the tool did not exit within {timeout} s. Output: {self.output!r}")


def test_run_rm_prints_output(env: Env) -> None:
    result = ocirt_cli(env, "run", "--rm", str(env.rootfs), "echo", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hi\n"
    assert env.runtime.containers() == []


def test_run_exit_codes(env: Env) -> None:
    assert ocirt_cli(env, "run", "--rm", str(env.rootfs), "sh", "-c", "exit 3").returncode == 3

    missing = ocirt_cli(env, "run", "--rm", str(env.rootfs), "nosuch")
    assert missing.returncode == 127
    assert missing.stderr.startswith(b"Error: ")
    assert b"nosuch" in missing.stderr

    directory = ocirt_cli(env, "run", "--rm", str(env.rootfs), "/etc")
    assert directory.returncode == 126
    assert env.runtime.containers() == []


def test_run_stdin_pipe(env: Env) -> None:
    result = ocirt_cli(env, "run", "-i", "--rm", str(env.rootfs), "cat", stdin=b"piped\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"piped\n"


def test_run_bundle(env: Env) -> None:
    default = ocirt_cli(env, "run", "--rm", str(env.bundle), "echo", "from-bundle")
    assert default.stdout == b"from-bundle\n"
    with_env = ocirt_cli(
        env, "run", "--rm", "-e", "X=1", "-w", "/tmp", str(env.bundle), "sh", "-c", "echo $X $PWD"
    )
    assert with_env.stdout == b"1 /tmp\n", with_env.stderr


def test_detached_container_commands(env: Env) -> None:
    started = ocirt_cli(
        env, "run", "-d", "--name", "web", str(env.rootfs), "sh", "-c", "echo started; sleep 1000"
    )
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.decode().strip()
    assert len(container_id) == 64

    listed = ocirt_cli(env, "ps").stdout.decode().splitlines()
    assert listed[0].split() == ["CONTAINER", "ID", "COMMAND", "CREATED", "STATUS", "NAMES"]
    assert listed[1].startswith(container_id[:12])
    assert listed[1].endswith("web")
    assert " Up " in listed[1]
    assert ocirt_cli(env, "ps", "-q").stdout == container_id[:12].encode() + b"\n"

    assert eventually(lambda: ocirt_cli(env, "logs", "web").stdout == b"started\n")
    executed = ocirt_cli(env, "exec", "web", "sh", "-c", "echo in-exec; exit 4")
    assert executed.returncode == 4
    assert executed.stdout == b"in-exec\n"
    piped = ocirt_cli(env, "exec", "-i", container_id[:8], "cat", stdin=b"to exec\n")
    assert piped.stdout == b"to exec\n"
    session = ocirt_cli(env, "exec", "-d", "web", "sleep", "1")
    assert len(session.stdout.strip()) == 64

    running = ocirt_cli(env, "rm", "web")
    assert running.returncode == 2
    assert b"cannot remove container" in running.stderr
    assert ocirt_cli(env, "stop", "-t", "1", "web").stdout == b"web\n"
    stopped = ocirt_cli(env, "ps", "-a").stdout.decode().splitlines()
    assert "Exited (137)" in stopped[1]
    assert ocirt_cli(env, "ps").stdout.decode().splitlines()[1:] == []

    not_running = ocirt_cli(env, "exec", "web", "true")
    assert not_running.returncode == 125
    assert b"can only create exec sessions on running containers" in not_running.stderr
    removed = ocirt_cli(env, "rm", "web")
    assert removed.returncode == 0
    # As podman, rm prints each container as it was named.
    assert removed.stdout == b"web\n"
    gone = ocirt_cli(env, "rm", "web")
    assert gone.returncode == 1
    assert gone.stderr == b'Error: no container with name or ID "web" found: no such container\n'


def test_kill_and_states(env: Env) -> None:
    container_id = ocirt_cli(env, "run", "-d", str(env.rootfs), "sleep", "1000").stdout.strip()
    killed = ocirt_cli(env, "kill", "-s", "TERM", container_id.decode())
    # PID 1 without a handler ignores SIGTERM, so the container runs on until KILL.
    assert killed.returncode == 0
    assert ocirt_cli(env, "kill", container_id.decode()).stdout == container_id + b"\n"
    assert eventually(lambda: b"Exited (137)" in ocirt_cli(env, "ps", "-a").stdout)

    again = ocirt_cli(env, "kill", container_id.decode())
    assert again.returncode == 125
    assert b"can only kill running containers" in again.stderr
    assert ocirt_cli(env, "rm", "-f", container_id.decode()).returncode == 0


def test_detached_rm_removes_after_exit(env: Env) -> None:
    started = ocirt_cli(env, "run", "-d", "--rm", str(env.rootfs), "sleep", "0.5")
    assert started.returncode == 0, started.stderr
    assert eventually(lambda: env.runtime.containers() == [], 15)
    assert env.runc_ids() == []


def test_terminal_detach_and_attach(env: Env) -> None:
    with Terminal(env, "run", "-it", "--name", "shell", str(env.rootfs), "sh") as terminal:
        assert terminal.read_until(b"# "), terminal.output
        terminal.type(b"echo $((6*7))\r")
        assert terminal.read_until(b"42\r\n"), terminal.output
        terminal.type(b"\x10\x11")
        assert terminal.exit_code() == 0
    assert " Up " in ocirt_cli(env, "ps").stdout.decode()

    with Terminal(env, "attach", "shell") as attached:
        # tty.setraw discards pending input (TCSAFLUSH), so type only after raw mode is on.
        assert attached.wait_for_raw_mode(), attached.output
        attached.type(b"echo again-$((1+1))\r")
        assert attached.read_until(b"again-2\r\n"), attached.output
        attached.type(b"exit 7\r")
        assert attached.exit_code() == 7


def test_terminal_detach_with_rm(env: Env) -> None:
    command = ("run", "--rm", "-it", "--name", "temporary", str(env.rootfs), "sh")
    with Terminal(env, *command) as terminal:
        assert terminal.read_until(b"# "), terminal.output
        terminal.type(b"\x10\x11")
        assert terminal.exit_code() == 0
    assert " Up " in ocirt_cli(env, "ps").stdout.decode()

    # After a detach, conmon's exit command removes the container once it exits.
    assert ocirt_cli(env, "kill", "temporary").returncode == 0
    assert eventually(lambda: env.runtime.containers() == [], 20)


def test_terminal_exec(env: Env) -> None:
    ocirt_cli(env, "run", "-d", "--name", "box", str(env.rootfs), "sleep", "1000")
    with Terminal(env, "exec", "-it", "box", "sh") as terminal:
        assert terminal.read_until(b"# "), terminal.output
        terminal.type(b"tty; exit 5\r")
        assert terminal.read_until(b"/dev/pts/"), terminal.output
        assert terminal.exit_code() == 5


def test_info_formats(env: Env) -> None:
    text = ocirt_cli(env, "info")
    assert text.returncode == 0, text.stderr
    assert b"ociRuntime:" in text.stdout
    assert b"name: runc" in text.stdout
    data = json.loads(ocirt_cli(env, "info", "--format", "json").stdout)
    assert data["host"]["ociRuntime"]["name"] == "runc"
    assert data["store"]["runDir"] == str(env.run_dir)


def test_usage_errors_exit_125(env: Env) -> None:
    assert ocirt_cli(env, "bogus").returncode == 125
    no_command = ocirt_cli(env, "exec", "somebox")
    assert no_command.returncode == 125
    assert no_command.stderr == b"Error: exec requires a command to run\n"
    missing_path = ocirt_cli(env, "run", "/no/such/rootfs")
    assert missing_path.returncode == 125
    assert b"/no/such/rootfs does not exist" in missing_path.stderr
    a_file = ocirt_cli(env, "run", "/etc/passwd", "true")
    assert a_file.returncode == 125
    assert b"/etc/passwd is not a directory" in a_file.stderr
    for name in ("a/b", "has space", "-dash", "../up"):
        bad_name = ocirt_cli(env, "run", "-d", f"--name={name}", str(env.rootfs), "true")
        assert bad_name.returncode == 125, name
        assert b"names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*" in bad_name.stderr
    assert env.runtime.containers() == []


@pytest.mark.parametrize("flag", ["--help", "run --help"])
def test_help_exits_zero(env: Env, flag: str) -> None:
    result = ocirt_cli(env, *flag.split())
    assert result.returncode == 0
    assert b"usage: python3 -m ocirt" in result.stdout


def test_piped_stdin_keeps_detach_bytes(env: Env) -> None:
    # Without a terminal on stdin there are no detach keys unless --detach-keys names them,
    # so binary input reaches the container whole.
    data = b"a\x10\x11b\n"
    run = ocirt_cli(
        env, "run", "--rm", "-i", str(env.rootfs), "sh", "-c", "cat; echo eof", stdin=data
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == data + b"eof\n"

    ocirt_cli(env, "run", "-d", "--name", "box", str(env.rootfs), "sleep", "1000")
    executed = ocirt_cli(env, "exec", "-i", "box", "cat", stdin=data)
    assert executed.stdout == data
    detached = ocirt_cli(
        env, "exec", "-i", "--detach-keys", "ctrl-p,ctrl-q", "box", "cat", stdin=data
    )
    # The session ends at the keys; cat may not have echoed "a" by then, but "b" never
    # reaches it.
    assert detached.returncode == 0
    assert detached.stdout in (b"", b"a")


def test_finished_exec_sessions_are_removed(env: Env) -> None:
    container_id = ocirt_cli(env, "run", "-d", str(env.rootfs), "sleep", "1000").stdout
    container_id = container_id.strip()
    for code in (0, 3):
        executed = ocirt_cli(env, "exec", container_id.decode(), "sh", "-c", f"exit {code}")
        assert executed.returncode == code
    sessions = env.run_dir / "containers" / container_id.decode() / "exec"
    assert list(sessions.iterdir()) == []
    # A detached session stays until the container is removed.
    ocirt_cli(env, "exec", "-d", container_id.decode(), "sleep", "1000")
    assert len(list(sessions.iterdir())) == 1


def test_closed_stdout_reader(env: Env) -> None:
    tool = subprocess.Popen(
        cli_command(env, "run", "--rm", str(env.rootfs), "sh", "-c", "yes | head -c 100000000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(SOURCE)},
    )
    try:
        assert tool.stdout is not None
        assert tool.stderr is not None
        assert tool.stdout.read(10) == b"y\ny\ny\ny\ny\n"
        tool.stdout.close()
        assert tool.wait(timeout=60) == 141
        assert tool.stderr.read() == b"Error: writing to stdout: broken pipe\n"
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
    # --rm removes the container although its output was cut off.
    assert eventually(lambda: env.runtime.containers() == [], 15)


def test_logs_follow(env: Env) -> None:
    started = ocirt_cli(
        env,
        "run",
        "-d",
        "--name",
        "chatty",
        str(env.rootfs),
        "sh",
        "-c",
        "echo one; sleep 1; echo two >&2; sleep 1; printf three",
    )
    assert started.returncode == 0, started.stderr
    followed = ocirt_cli(env, "logs", "-f", "chatty")
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == b"one\nthree"
    assert followed.stderr == b"two\n"
    assert b"Exited (0)" in ocirt_cli(env, "ps", "-a").stdout


def test_bad_bundles(env: Env, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    not_json = ocirt_cli(env, "run", "--rm", str(tmp_path), "true")
    assert not_json.returncode == 125
    assert not_json.stderr.startswith(f"Error: {tmp_path}/config.json is not valid JSON".encode())
    (tmp_path / "config.json").write_text("[]")
    a_list = ocirt_cli(env, "run", "--rm", str(tmp_path), "true")
    assert a_list.returncode == 125
    assert (
        a_list.stderr
        == f"Error: {tmp_path}/config.json must contain a JSON object, not list\n".encode()
    )
    (tmp_path / "config.json").write_text(json.dumps({"root": {"path": "rootfs"}, "process": {}}))
    no_rootfs = ocirt_cli(env, "run", "--rm", str(tmp_path), "true")
    assert no_rootfs.returncode == 125
    assert f"the root filesystem {tmp_path}/rootfs is not a directory".encode() in no_rootfs.stderr
    assert env.runtime.containers() == []


def test_unknown_name_among_several(env: Env) -> None:
    ocirt_cli(env, "run", "-d", "--name", "kept", str(env.rootfs), "sleep", "1000")
    for command, code in (("stop", 125), ("kill", 125), ("rm", 1)):
        result = ocirt_cli(env, command, "nope", "kept")
        assert result.returncode == code, command
        assert result.stdout == b""
        assert (
            result.stderr
            == b'Error: no container with name or ID "nope" found: no such container\n'
        )
    assert " Up " in ocirt_cli(env, "ps").stdout.decode()

    stopped = ocirt_cli(env, "stop", "-t", "1", "kept")
    assert stopped.stdout == b"kept\n"
    assert b"resorting to SIGKILL" in stopped.stderr
    killed = ocirt_cli(env, "kill", "kept")
    assert killed.returncode == 125
    assert b"is in state exited" in killed.stderr


def test_user_names(env: Env) -> None:
    nobody = ocirt_cli(env, "run", "--rm", "-u", "nobody", str(env.rootfs), "id")
    assert nobody.stdout == b"uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n", (
        nobody.stderr
    )
    numbers = ocirt_cli(env, "run", "--rm", "-u", "1000:nogroup", str(env.bundle), "id")
    assert numbers.stdout == b"uid=1000 gid=65534(nogroup) groups=65534(nogroup)\n", numbers.stderr
    unknown = ocirt_cli(env, "run", "--rm", "-u", "nosuchuser", str(env.rootfs), "id")
    assert unknown.returncode == 126
    assert b"unable to find user nosuchuser" in unknown.stderr
