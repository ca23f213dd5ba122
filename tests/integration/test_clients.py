"""Clients in their own environments, against the real broker and the machine's package index:
a release's cached environment, the pip fallback, a prepared interpreter, and a worker that
cannot start there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.clients import ClientSpec, ClientStartError, resolve
from conformance.clients.envs import INSTALLER_ENV, env_dir
from conformance.harness import SCENARIO_CONFIG, Harness
from conformance.strategies import Strategy

pytestmark = [pytest.mark.broker, pytest.mark.full, pytest.mark.xdist_group("clients")]

#: A release other than the one installed beside the suite.
RELEASE = "kafka-python==3.0.11"


@pytest.fixture(scope="module")
def release():
    return resolve(ClientSpec.parse(RELEASE))


def test_release_runs_in_its_own_environment(release, kafka_broker, tmp_path):
    """The release's worker starts in its environment and reads; assigned by hand, so that
    kafka-python 3.x's stalled first join (findings.md, 2) cannot fail a test about
    environments (a fresh-clone CI run saw it: nothing read in 60 s)."""
    assert release.client_version == "3.0.11" and release.python != sys.executable
    assert Path(release.python).is_relative_to(env_dir("kafka-python", "3.0.11"))
    h = Harness(kafka_broker, release, SCENARIO_CONFIG, Strategy.parse("BATCH"),
                partitions=1, workdir=tmp_path)
    try:
        h.setup()
        handle = h.start_member(subscribe=False, run=False)
        assert handle.info["client_version"] == "3.0.11"
        handle.request({"type": "assign", "partitions": [[h.topic, 0]]})
        handle.request({"type": "run", "poll_timeout": 0.1})
        h.produce(5)
        assert h.wait_for(lambda: len(h.processed_offsets().get((h.topic, 0), ())) == 5, 60)
    finally:
        h.close()
    [ready] = [e for e in h.history.events if e.type == "ready"]
    assert ready.data["client_version"] == "3.0.11"
    scenario = h.history.of_type("scenario")[0]
    assert scenario.data["spec"] == RELEASE


def test_cached_environment_is_reused(release):
    again = resolve(ClientSpec.parse(RELEASE))
    assert again.python == release.python and again.info["client_version"] == "3.0.11"


def test_pip_fallback_builds_an_environment(tmp_path):
    """Without uv: python -m venv + pip, with pip's own settings."""
    env = {**__import__("os").environ, "KAFKA_CONFORMANCE_CACHE": str(tmp_path),
           INSTALLER_ENV: "pip"}
    code = ("from conformance.clients import ClientSpec, resolve\n"
            f"c = resolve(ClientSpec.parse({RELEASE!r}))\n"
            "print(c.client_version)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "3.0.11"
    [ready] = list((tmp_path / "clients").glob("*/kafka-python-3.0.11/ready.json"))
    assert json.loads(ready.read_text())["installer"] == "pip"


def test_interpreter_without_the_client_is_a_start_error(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True, timeout=120)
    spec = ClientSpec.parse(f"kafka-python@{tmp_path / 'bare' / 'bin' / 'python'}")
    with pytest.raises(ClientStartError, match="cannot import adapter module"):
        resolve(spec)
