"""Every bad-input path gives one clear line, a non-zero exit, no traceback, no process left."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import processes
from conformance.broker.embedded import EmbeddedKafka
from conformance.broker.jars import cache_root
from conformance.broker.testcontainers import ContainerKafka
from conformance.errors import BrokerError, PrerequisiteError


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("error: ") and needle in first, proc.stderr


def bin_with(tmp_path: Path, *programs: str) -> str:
    """A PATH holding only the given programs (symlinks to the real ones)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for prog in programs:
        real = shutil.which(prog)
        assert real, f"{prog} must be installed for this test"
        (folder / prog).symlink_to(real)
    return str(folder)


def test_java_missing(tmp_path):
    env = {"PATH": bin_with(tmp_path, "mvn"), "JAVA_HOME": "",
           "KAFKA_CONFORMANCE_CACHE": str(tmp_path / "cache")}
    assert_one_line_error(cli("broker", "run", env=env), 3, "java not found")


def test_mvn_missing_with_empty_cache(tmp_path):
    env = {"PATH": bin_with(tmp_path, "java"), "KAFKA_CONFORMANCE_CACHE": str(tmp_path / "c")}
    assert_one_line_error(cli("broker", "run", env=env), 3, "mvn not found")


def test_version_outside_4x_is_a_usage_error(tmp_path):
    proc = cli("broker", "run", "--kafka-version", "3.9.0",
               env={"KAFKA_CONFORMANCE_CACHE": str(tmp_path)})
    assert_one_line_error(proc, 2, "unsupported Kafka version")


@pytest.mark.broker
def test_unpublished_version_is_a_usage_error(tmp_path):
    proc = cli("broker", "run", "--kafka-version", "4.99.0",
               env={"KAFKA_CONFORMANCE_CACHE": str(tmp_path)})
    assert_one_line_error(proc, 2, "not published")
    assert not (tmp_path / "4.99.0" / "lib").exists()


@pytest.mark.broker
def test_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert_one_line_error(cli("broker", "run", "--port", str(port)), 3, "already in use")


@pytest.mark.broker
def test_broker_that_fails_to_start_shows_its_log_and_leaves_nothing():
    broker = EmbeddedKafka(overrides={"num.network.threads": "0"}, startup_timeout=60)
    with pytest.raises(BrokerError) as info:
        broker.start()
    message = str(info.value)
    assert "failed" in message or "exited" in message
    assert "num.network.threads" in message  # the log tail names the cause
    assert broker.run_dir is None
    assert orphan_jvms() == []


def orphan_jvms() -> list[int]:
    """JVMs started for a run folder that no longer exists."""
    found = []
    for proc in processes.processes_using(cache_root() / "runs"):
        for arg in proc.cmdline():
            if arg.startswith("-Dkc.run.dir=") and not Path(arg.split("=", 1)[1]).exists():
                found.append(proc.pid)
    return found


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def test_docker_missing_for_testcontainers():
    """One clear line either way: the optional package missing, or (with it) no Docker."""
    missing = ("Docker is not available" if _installed("testcontainers")
               else "needs the 'testcontainers' package")
    with pytest.raises(PrerequisiteError, match=missing):
        ContainerKafka().start()


def test_testcontainers_package_missing(monkeypatch):
    """Without the optional package the message says how to install it (whatever is here)."""
    import builtins

    real_import = builtins.__import__

    def no_testcontainers(name, *args, **kwargs):
        if name.startswith("testcontainers"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_testcontainers)
    with pytest.raises(PrerequisiteError,
                       match=r"pip install 'kafka-conformance\[testcontainers\]'"):
        ContainerKafka().start()


def test_unknown_client():
    assert_one_line_error(cli("run", "--client", "no-such-client"), 2, "unknown client")


def test_unknown_release(tmp_path):
    assert_one_line_error(cli("run", "--client", "kafka-python==99.0.0", "--out",
                              str(tmp_path)), 2, "no such release")
    assert not list(tmp_path.iterdir())  # nothing started, no run folder


def test_malformed_client_spec():
    assert_one_line_error(cli("run", "--client", "kafka-python=="), 2, "NAME==VERSION")


def test_malformed_adapter_reference(tmp_path):
    assert_one_line_error(cli("run", "--adapter", f"{tmp_path}/missing.py:Nope"), 2,
                          "adapter file not found")


def test_unreachable_cluster():
    proc = cli("run", "--bootstrap-servers", "127.0.0.1:1", timeout=120)
    assert_one_line_error(proc, 3, "broker unreachable")
