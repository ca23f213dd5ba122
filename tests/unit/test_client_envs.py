"""Client environments without a network: install errors, pip settings for uv, and the worker
side importing with the standard library alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from conformance.clients import envs
from conformance.clients.envs import ClientEnvError
from conformance.errors import UsageError


def test_a_missing_release_is_a_usage_error():
    lines = ["\u00d7 No solution found when resolving dependencies:",
             "\u2570\u2500\u25b6 Because there is no version of kafka-python==99.1 and you "
             "require kafka-python==99.1, we can conclude that your requirements are "
             "unsatisfiable."]
    err = envs._install_error("kafka-python==99.1", lines)
    assert isinstance(err, UsageError) and "no such release" in str(err)
    pip = ["ERROR: Could not find a version that satisfies the requirement x==9",
           "ERROR: No matching distribution found for x==9"]
    assert isinstance(envs._install_error("x==9", pip), UsageError)


def test_other_install_failures_name_the_last_line():
    err = envs._install_error("x==1", ["Downloading x", "error: connection reset", "hint: ..."])
    assert isinstance(err, ClientEnvError) and not isinstance(err, UsageError)
    assert str(err) == "building the environment for x==1 failed: error: connection reset"


def test_pip_settings_are_handed_to_uv(monkeypatch):
    out = ("global.index-url='https://mirror.invalid/simple'\n"
           ":env:.find-links='/opt/wheels'\n"
           "global.cert='/etc/ca.pem'\n"
           "global.timeout='60'\n")
    monkeypatch.setattr(envs.subprocess, "run",
                        lambda *a, **k: SimpleNamespace(stdout=out, returncode=0))
    assert envs.pip_settings_for_uv() == {"UV_DEFAULT_INDEX": "https://mirror.invalid/simple",
                                          "UV_FIND_LINKS": "/opt/wheels",
                                          "SSL_CERT_FILE": "/etc/ca.pem"}


def test_installer_can_be_forced_to_pip(monkeypatch):
    monkeypatch.setenv(envs.INSTALLER_ENV, "pip")
    assert envs.find_uv() is None


def test_a_finished_environment_is_not_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    folder = envs.env_dir("kafka-python", "2.0.2")
    folder.mkdir(parents=True)
    (folder / "ready.json").write_text(json.dumps({"format": envs.ENV_FORMAT}))
    monkeypatch.setattr(envs, "_run", lambda *a, **k: pytest.fail("rebuilt"))
    assert envs.ensure_env("kafka-python", "2.0.2") == envs.env_python(folder)


def test_an_environment_of_an_older_format_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    folder = envs.env_dir("kafka-python", "2.0.2")
    folder.mkdir(parents=True)
    (folder / "ready.json").write_text("{}")
    built = []
    monkeypatch.setattr(envs, "find_uv", lambda: None)

    def run(cmd, requirement, env=None):
        built.append(cmd)
        folder.mkdir(parents=True, exist_ok=True)  # what `python -m venv` makes

    monkeypatch.setattr(envs, "_run", run)
    envs.ensure_env("kafka-python", "2.0.2")
    assert built and json.loads((folder / "ready.json").read_text())["format"] == envs.ENV_FORMAT


def test_an_interrupted_build_is_cleaned_up(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))

    def fail(cmd, requirement, env=None):
        raise ClientEnvError("boom")

    monkeypatch.setattr(envs, "_run", fail)
    with pytest.raises(ClientEnvError):
        envs.ensure_env("kafka-python", "2.0.2")
    assert not envs.env_dir("kafka-python", "2.0.2").exists()


WORKER_SIDE = ["conformance.worker", "adapters.base", "adapters.registry",
               "conformance.strategies", "conformance.errors"]
SUITE_ONLY = ["hypothesis", "jinja2", "rich", "click", "psutil", "confluent_kafka", "kafka",
              "conformance.harness", "conformance.checkers", "conformance.report"]


def test_worker_side_imports_with_the_standard_library_alone(tmp_path, monkeypatch):
    """What a client environment runs: no site-packages (-S), only the worker root."""
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    root = envs.worker_root()
    assert sorted(p.name for p in root.iterdir()) == ["adapters", "conformance"]
    code = (f"import json, sys\nfor m in {WORKER_SIDE!r}: __import__(m)\n"
            "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root)},
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert not loaded & set(SUITE_ONLY)
    assert envs.worker_root() == root  # the same folder next time


def test_cached_environments_are_listed_from_their_ready_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    assert envs.cached_envs() == []
    folder = envs.env_dir("kafka-python", "2.0.2")
    folder.mkdir(parents=True)
    (folder / "ready.json").write_text(json.dumps({"requirement": "kafka-python==2.0.2"}))
    envs.env_dir("kafka-python", "9.9").mkdir()  # unfinished: no ready.json
    assert envs.cached_envs() == [{"requirement": "kafka-python==2.0.2", "path": str(folder)}]
