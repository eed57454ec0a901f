"""Container lifecycle through the binding on real runc and conmon."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import ocirt

from .conftest import Env, catches_signal, eventually, pid_alive, unique_id


def test_exit_code_state_and_log(env: Env) -> None:
    container = env.container("exit", ["sh", "-c", "echo hello; echo oops >&2; exit 3"])
    container.create()
    assert container.state().status == "created"
    container.start()

    assert container.wait(30) == 3
    state = container.state()
    assert state.status == "stopped"
    assert state.exit_code == 3
    assert state.id == container.id
    assert state.started_at is not None
    assert state.finished_at is not None
    assert state.log_driver == "k8s-file"
    assert container.exit_file_path().read_text() == "3"
    assert container.exit_file_path() == state.exit_file
    assert container.attach_socket_path() == state.attach_socket
    assert state.log_path is not None
    log = state.log_path.read_text()
    assert " stdout F hello" in log
    assert " stderr F oops" in log


def test_kill_gives_137(env: Env) -> None:
    container = env.running("kill", ["sleep", "1000"])
    with pytest.raises(ocirt.Timeout):
        container.wait(0.1)

    container.kill(signal.SIGKILL)
    assert container.wait(30) == 137
    with pytest.raises(ocirt.ContainerStateInvalid):
        container.kill("TERM")


def test_stop_uses_stop_signal(env: Env) -> None:
    container = env.running(
        "stop-signal",
        ["sh", "-c", "trap 'exit 0' INT; while :; do sleep 1; done"],
        stop_signal="SIGINT",
    )
    pid = container.state(refresh=True).pid
    assert eventually(lambda: catches_signal(pid, signal.SIGINT)), "the shell set no INT trap"

    began = time.monotonic()
    container.stop(10)
    assert time.monotonic() - began < 5
    assert container.wait(0) == 0


def test_stop_ignored_term_kills_after_timeout(env: Env) -> None:
    """PID 1 without a handler ignores SIGTERM, so stop(2) must send SIGKILL after 2 s."""
    container = env.running("stop-grace", ["sleep", "1000"])
    pid = container.state(refresh=True).pid
    assert pid_alive(pid)

    began = time.monotonic()
    container.stop(2)
    elapsed = time.monotonic() - began
    assert elapsed >= 2, f"stop(2) returned after {elapsed:.2f} s"
    assert elapsed <= 8, f"stop(2) returned after {elapsed:.2f} s"
    assert container.wait(0) == 137
    assert eventually(lambda: not pid_alive(pid), 5)
    assert env.runc_ids() == [container.id]
    assert container.state(refresh=True).status == "stopped"


def test_stop_stopped_container_succeeds(env: Env) -> None:
    container = env.running("stop-twice", ["true"])
    assert container.wait(30) == 0

    began = time.monotonic()
    container.stop(5)
    # A stop that waited for the process would take the whole 5 s.
    assert time.monotonic() - began < 4
    with pytest.raises(ocirt.ContainerStateInvalid):
        container.kill(signal.SIGTERM)
    assert container.wait(0) == 0


def test_pause_reopen_and_delete(env: Env) -> None:
    container = env.running("pause", ["sleep", "1000"])
    container.pause()

    with env.runtime.open_container(container.id) as again:
        assert again.id == container.id
        assert again.state(refresh=True).status == "paused"
        again.unpause()
        assert again.state(refresh=True).status == "running"
        again.stop(0)
        assert container.wait(30) == 137
        again.delete()

    with pytest.raises(ocirt.NoSuchContainer, match=container.id):
        container.start()
    assert env.runc_ids() == []


def test_list_containers(env: Env) -> None:
    first = env.container("list-a", ["true"])
    second = env.running("list-b", ["sleep", "1000"])

    states = {state.id: state for state in env.runtime.containers()}
    assert set(states) == {first.id, second.id}
    assert states[first.id].status == "configured"
    assert states[second.id].status == "running"
    assert [state.id for state in env.runtime.containers()] == sorted(states)


def test_duplicate_id_rejected(env: Env) -> None:
    container = env.container("dup", ["true"])
    with pytest.raises(ocirt.ContainerExists, match=container.id):
        env.runtime.new_container(id=container.id, spec=env.spec(["true"]), rootfs=env.rootfs)


def test_missing_command_not_found(env: Env) -> None:
    container = env.container("missing", ["/no/such/binary"])
    with pytest.raises(ocirt.RuntimeNotFound) as raised:
        container.create()
    assert "/no/such/binary" in raised.value.message
    assert env.runc_ids() == []


def test_start_twice_state_invalid(env: Env) -> None:
    container = env.running("start-twice", ["sleep", "1000"])
    with pytest.raises(ocirt.ContainerStateInvalid):
        container.start()


def test_wait_cancelled_by_token(env: Env) -> None:
    container = env.running("cancel", ["sleep", "1000"])
    with ocirt.CancelToken() as token:
        timer = threading.Timer(0.3, token.trigger)
        timer.start()
        began = time.monotonic()
        with pytest.raises(ocirt.Cancelled):
            container.wait(cancel=token)
        timer.join()
        assert time.monotonic() - began < 5
        assert token.triggered


def test_wait_on_worker_thread(env: Env) -> None:
    container = env.running("wait-thread", ["sh", "-c", "sleep 0.5; exit 4"])
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(container.wait(30)))
    worker.start()
    worker.join(30)
    assert codes == [4]


def test_ctrl_c_interrupts_wait(env: Env) -> None:
    container = env.running("ctrl-c", ["sleep", "1000"])
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        container.wait()
    timer.join()
    assert time.monotonic() - began < 3
    # The container is unaffected and still waitable.
    container.kill(signal.SIGKILL)
    assert container.wait(30) == 137


def test_wait_negative_timeout_rejected(env: Env) -> None:
    container = env.running("negative", ["sleep", "1000"])
    with pytest.raises(ValueError, match="timeout"):
        container.wait(-1)


def test_state_survives_handle_close(env: Env) -> None:
    container = env.running("reopen", ["sh", "-c", "sleep 0.3; exit 9"])
    container_id = container.id
    container.close()

    with env.runtime.open_container(container_id) as again:
        assert again.wait(30) == 9
        assert again.state().exit_code == 9


def test_checkpoint_or_not_supported(env: Env) -> None:
    container = env.running("checkpoint", ["sleep", "1000"])
    if not env.runtime.supports_checkpoint():
        with pytest.raises(ocirt.NotSupported):
            container.checkpoint(leave_running=True)
        return
    try:
        container.checkpoint(leave_running=True)
    except ocirt.OciRuntimeError as error:
        # Debian's CRIU 3.17 cannot dump on some kernels; the container must run on.
        assert container.state(refresh=True).status == "running"
        pytest.skip(f"CRIU cannot checkpoint on this machine: {error}")
    assert container.state(refresh=True).status == "running"
    assert container.state().checkpointed


def test_unique_ids_differ() -> None:
    assert unique_id("a") != unique_id("a")
