"""Tests of the binding itself: signatures against the header, library lookup, errors,
handles, configuration and logging."""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import ocirt
from ocirt import _ffi, _streams
from ocirt.config import parse_time
from ocirt.errors import ERROR_CLASSES, Result

from .conftest import REPO, Env

HEADER = REPO / "include" / "ocirt.h"
PACKAGE_DIR = Path(ocirt.__file__).resolve().parent

# The ctypes type each C type of the header must have in _ffi.SIGNATURES.
C_TYPES: dict[str, Any] = {
    "void": None,
    "ocirt_result": ctypes.c_int32,
    "const char*": ctypes.c_char_p,
    "const char**": ctypes.POINTER(ctypes.c_char_p),
    "char*": ctypes.c_void_p,
    "char**": ctypes.POINTER(ctypes.c_void_p),
    "const uint8_t*": ctypes.c_char_p,
    "int": ctypes.c_int,
    "int32_t": ctypes.c_int32,
    "int64_t": ctypes.c_int64,
    "uint16_t": ctypes.c_uint16,
    "uint32_t": ctypes.c_uint32,
    "size_t": ctypes.c_size_t,
    "bool": ctypes.c_bool,
    "bool*": ctypes.POINTER(ctypes.c_bool),
    "int32_t*": ctypes.POINTER(ctypes.c_int32),
    "ocirt_attach_outcome*": ctypes.POINTER(ctypes.c_int32),
    "void*": ctypes.c_void_p,
    "ocirt_log_callback": _ffi.LOG_CALLBACK,
    "const ocirt_attach_callbacks*": ctypes.POINTER(_ffi.AttachCallbacks),
}
for _handle in ("ocirt_runtime", "ocirt_container", "ocirt_attach", "ocirt_cancel"):
    C_TYPES[f"{_handle}*"] = ctypes.c_void_p
    C_TYPES[f"const {_handle}*"] = ctypes.c_void_p
    C_TYPES[f"{_handle}**"] = ctypes.POINTER(ctypes.c_void_p)


def normalize(c_type: str) -> str:
    """Return a C type with single spaces and no space before ``*``."""
    return re.sub(r"\s*\*", "*", " ".join(c_type.split()))


def header_functions() -> dict[str, tuple[str, list[str]]]:
    """Return each function the header declares: its return type and parameter types."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.DOTALL)
    pattern = re.compile(
        r"^([A-Za-z_][\w \*]*?)\s*\b(ocirt_\w+)\(([^;]*?)\);", re.MULTILINE | re.DOTALL
    )
    functions = {}
    for match in pattern.finditer(text):
        return_type, name, parameters = match.groups()
        types = []
        for parameter in parameters.split(","):
            parameter = " ".join(parameter.split())
            if parameter in ("", "void"):
                continue
            types.append(normalize(re.sub(r"\b\w+$", "", parameter)))
        functions[name] = (normalize(return_type), types)
    return functions


def test_header_parser_finds_functions() -> None:
    functions = header_functions()
    assert len(functions) > 40
    assert functions["ocirt_attach_wait"][1] == [
        "const ocirt_attach*",
        "int64_t",
        "ocirt_attach_outcome*",
        "int32_t*",
    ]


def test_every_header_function_declared() -> None:
    missing = sorted(set(header_functions()) - set(_ffi.SIGNATURES))
    assert missing == [], f"functions in include/ocirt.h without a signature in _ffi.py: {missing}"


def test_no_function_beyond_header() -> None:
    extra = sorted(set(_ffi.SIGNATURES) - set(header_functions()))
    assert extra == [], f"signatures in _ffi.py for functions the header lacks: {extra}"


@pytest.mark.parametrize("name", sorted(header_functions()))
def test_signature_matches_header(name: str) -> None:
    return_type, parameters = header_functions()[name]
    signature = _ffi.SIGNATURES[name]
    unknown = [t for t in [return_type, *parameters] if t not in C_TYPES]
    assert unknown == [], f"{name}: add these C types to C_TYPES: {unknown}"
    assert signature.restype is C_TYPES[return_type], f"{name}: return type {return_type}"
    assert signature.checked == (return_type == "ocirt_result")
    expected = [C_TYPES[t] for t in parameters]
    assert list(signature.argtypes) == expected, f"{name}: parameters {parameters}"


def test_every_function_resolves_in_library() -> None:
    library = ctypes.CDLL(ocirt.library_path())
    for name in _ffi.SIGNATURES:
        assert hasattr(library, name), f"{ocirt.library_path()} does not export {name}"


def test_result_codes_match_library() -> None:
    for code in Result:
        assert ocirt.result_name(code) == f"OCIRT_{code.name}"
    assert ocirt.result_name(999) == "OCIRT_UNKNOWN_RESULT"
    assert set(ERROR_CLASSES) == {code for code in Result if code != Result.OK}


def test_error_classes_by_code() -> None:
    assert issubclass(ocirt.RuntimeNotFound, ocirt.OciRuntimeError)
    assert issubclass(ocirt.Timeout, TimeoutError)
    assert issubclass(ocirt.InvalidArgument, ValueError)
    error = ocirt.errors.error_for(3, "gone", "ocirt_container_open")
    assert isinstance(error, ocirt.NoSuchContainer)
    assert error.code == 3
    assert error.message == "gone"
    assert error.name == "OCIRT_ERR_NO_SUCH_CONTAINER"
    assert error.function == "ocirt_container_open"
    assert str(error) == "gone"
    unknown = ocirt.errors.error_for(250, "new code")
    assert type(unknown) is ocirt.OcirtError
    assert unknown.name == "OCIRT_UNKNOWN_RESULT"


def test_library_loaded_from_build_tree() -> None:
    if os.environ.get("OCIRT_LIBRARY"):
        pytest.skip("OCIRT_LIBRARY is set, so the build tree is not searched")
    assert Path(ocirt.library_path()) == REPO / "target" / "release" / "libocirt.so"


def run_python(code: str, pythonpath: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OCIRT_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(pythonpath)
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )


def copy_package(destination: Path) -> Path:
    """Copy the package outside the source tree, without a recorded build tree."""
    target = destination / "ocirt"
    shutil.copytree(
        PACKAGE_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.txt", "*.so")
    )
    return target


def test_library_not_found_lists_places(tmp_path: Path) -> None:
    package = copy_package(tmp_path)
    result = run_python("import ocirt; print(ocirt.library_path())", tmp_path)
    if result.returncode == 0:
        # A system-wide install (make install) is found through the loader.
        assert result.stdout.strip() == "libocirt.so"
        return
    assert "LibraryNotFound" in result.stderr
    assert "OCIRT_LIBRARY: not set" in result.stderr
    assert f"{package}/libocirt.so: not found" in result.stderr
    assert "system loader" in result.stderr
    assert "cargo build --release" in result.stderr


def test_library_next_to_package(tmp_path: Path) -> None:
    package = copy_package(tmp_path)
    shutil.copy(REPO / "target" / "release" / "libocirt.so", package / "libocirt.so")
    result = run_python("import ocirt; print(ocirt.library_path())", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(package / "libocirt.so")


def test_library_from_environment_variable(tmp_path: Path) -> None:
    copy_package(tmp_path)
    library = str(REPO / "target" / "release" / "libocirt.so")
    result = run_python(
        "import ocirt; print(ocirt.library_path())", tmp_path, OCIRT_LIBRARY=library
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == library


def test_bad_environment_variable_names_it(tmp_path: Path) -> None:
    result = run_python(
        "import ocirt; ocirt.library_version()",
        PACKAGE_DIR.parent,
        OCIRT_LIBRARY="/no/such/libocirt.so",
    )
    assert result.returncode != 0
    assert "OCIRT_LIBRARY=/no/such/libocirt.so" in result.stderr


def test_unknown_config_keyword_rejected() -> None:
    with pytest.raises(TypeError, match="bogus"):
        ocirt.Runtime(bogus=True)


def test_invalid_config_value_names_field(tmp_path: Path) -> None:
    with pytest.raises(ocirt.InvalidArgument) as raised:
        ocirt.Runtime(run_dir=tmp_path / "run", cgroup_manager="bogus-manager")
    assert "bogus-manager" in raised.value.message
    assert raised.value.function == "ocirt_runtime_new"


def test_invalid_container_id_rejected(env: Env) -> None:
    with pytest.raises(ocirt.InvalidArgument, match=r"\.\./up"):
        env.runtime.new_container(id="../up", spec=env.spec(["true"]), rootfs=env.rootfs)


def test_open_absent_container(env: Env) -> None:
    with pytest.raises(ocirt.NoSuchContainer) as raised:
        env.runtime.open_container("absent-container")
    assert "absent-container" in raised.value.message


def test_nul_in_string_rejected(env: Env) -> None:
    with pytest.raises(ValueError, match="NUL"):
        env.runtime.open_container("a\0b")


def test_exec_command_given_as_string(env: Env) -> None:
    container = env.container("exec-str", ["sleep", "1000"])
    with pytest.raises(TypeError, match="sequence of arguments"):
        container.exec("echo hi")


def test_use_after_close_raises(env: Env, tmp_path: Path) -> None:
    runtime = ocirt.Runtime(run_dir=tmp_path / "run", runtime_root=tmp_path / "runc")
    container = runtime.new_container(
        id="closed-handles", spec=env.spec(["true"]), rootfs=env.rootfs
    )
    runtime.close()
    runtime.close()
    assert runtime.closed
    with pytest.raises(ocirt.HandleClosed, match="runtime is closed"):
        runtime.new_container(id="other", spec=env.spec(["true"]))
    with pytest.raises(ocirt.HandleClosed):
        runtime.info()
    # The container keeps the runtime alive inside the library.
    assert container.state().status == "configured"
    container.close()
    with pytest.raises(ocirt.HandleClosed, match="closed-handles"):
        container.start()
    with pytest.raises(ocirt.HandleClosed):
        container.exec(["true"])
    token = ocirt.CancelToken()
    token.close()
    with pytest.raises(ocirt.HandleClosed):
        token.trigger()


def test_context_managers_close(tmp_path: Path, env: Env) -> None:
    with ocirt.Runtime(run_dir=tmp_path / "run", runtime_root=tmp_path / "runc") as runtime:
        with runtime.new_container(
            id="with-block", spec=env.spec(["true"]), rootfs=env.rootfs
        ) as container:
            assert container.id == "with-block"
        assert container.closed
    assert runtime.closed


def test_runtime_properties_and_probes(env: Env) -> None:
    runtime = env.runtime
    assert runtime.name == "runc"
    assert Path(runtime.path).name == "runc"
    info = runtime.info()
    assert "conmon version" in info.conmon.version
    assert info.runtime.name == "runc"
    assert "runc version" in info.runtime.version
    assert runtime.supports_json_errors() is True
    assert isinstance(runtime.supports_no_cgroups(), bool)
    assert runtime.supports_kvm() is False
    assert isinstance(runtime.supports_checkpoint(), bool)


def test_library_logs_reach_logging(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ocirt.logs.LIBRARY_LOGGER_NAME)
    ocirt.enable_library_logging(logging.INFO)
    try:
        container = env.container("logging", ["true"])
        container.create()
        container.start()
        assert container.wait(30) == 0
    finally:
        ocirt.disable_library_logging()
    records = [r for r in caplog.records if r.name == ocirt.logs.LIBRARY_LOGGER_NAME]
    assert records, "no library record reached the ocirt.library logger"
    assert any(container.id in r.getMessage() for r in records)
    assert all(r.levelno >= logging.INFO for r in records)


def test_log_level_mapping() -> None:
    assert ocirt.logs.library_level(logging.ERROR) == 1
    assert ocirt.logs.library_level(logging.WARNING) == 2
    assert ocirt.logs.library_level(logging.INFO) == 3
    assert ocirt.logs.library_level(logging.DEBUG) == 4
    assert ocirt.logs.library_level(ocirt.TRACE) == 5


def test_failed_attach_releases_callbacks(env: Env) -> None:
    container = env.container("bad-keys", ["sleep", "1000"], terminal=True)
    container.create()
    before = _streams.live_sessions()
    with pytest.raises(ocirt.InvalidArgument, match="ctrl-C"):
        container.attach(stdout=lambda data: None, detach_keys="ctrl-C")
    assert _streams.live_sessions() == before


def test_relative_paths_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runtime = ocirt.RuntimeConfig(run_dir="run", paths=["bin/runc", "/usr/sbin/runc"]).to_dict()
    assert runtime["run_dir"] == str(tmp_path / "run")
    assert runtime["paths"] == [str(tmp_path / "bin" / "runc"), "/usr/sbin/runc"]
    container = ocirt.ContainerConfig(id="c", rootfs=Path("rootfs"), spec={}).to_dict()
    assert container["rootfs"] == str(tmp_path / "rootfs")
    # A path inside the container stays as given.
    assert ocirt.ExecOptions(cmd=["pwd"], cwd="relative").to_dict()["cwd"] == "relative"


def test_relative_rootfs_runs(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(env.bundle)
    container = env.runtime.new_container(
        id=f"{env.dir.name}-relative", spec=ocirt.default_spec(["true"]), rootfs="rootfs"
    )
    env.containers.append(container)
    container.create()
    container.start()
    assert container.wait(30) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:20:30.123456789Z", datetime(2024, 5, 1, 10, 20, 30, 123456, timezone.utc)),
        ("2024-05-01T10:20:30.5Z", datetime(2024, 5, 1, 10, 20, 30, 500000, timezone.utc)),
        ("2024-05-01T10:20:30Z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=timezone.utc)),
        (
            "2024-05-01T12:20:30.25+02:00",
            datetime(2024, 5, 1, 10, 20, 30, 250000, timezone.utc),
        ),
    ],
)
def test_parse_time_fractions(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_parse_time_empty_and_invalid() -> None:
    assert parse_time("") is None
    assert parse_time(None) is None
    with pytest.raises(ValueError, match="invalid RFC 3339 time"):
        parse_time("yesterday.at.noon")


def test_failed_logging_setup_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing_library() -> Any:
        raise ocirt.LibraryNotFound("libocirt.so not found")

    monkeypatch.setattr(_ffi, "lib", missing_library)
    with pytest.raises(ocirt.LibraryNotFound):
        ocirt.enable_library_logging(logging.INFO)
    assert ocirt.logs._target is None
    # Nothing was installed, so there is nothing to remove (the atexit hook does this too).
    ocirt.disable_library_logging()
