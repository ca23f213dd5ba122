"""``kafka-conformance worker-check``: the reference worker passes every check; a broken worker
(tests/broken_worker.py, the reference worker corrupted in one way) fails exactly the check
aimed at it; a native worker already built passes too. All through the CLI in a subprocess,
against the embedded broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.worker_check import CHECKS

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("worker-check")]

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from broken_worker import TARGETS  # noqa: E402

REFERENCE = (sys.executable, "-m", "conformance.worker")
#: Checks run at once (each has its own topic, group and workers): all of them for the Python
#: workers, four for the JVM.
JOBS = str(len(CHECKS))


def worker_check(broker, tmp_path: Path, adapter: str, command: tuple[str, ...],
                 *options: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess,
                                                               dict]:
    out = tmp_path / "check.json"
    proc = subprocess.run([sys.executable, "-m", "conformance.cli", "worker-check",
                           "--adapter", adapter, "--bootstrap-servers", broker.bootstrap_servers,
                           "--json", str(out), *options, "--", *command],
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc, (json.loads(out.read_text()) if out.is_file() else {})


def verdicts(result: dict) -> dict[str, str]:
    return {c["check"]: c["verdict"] for c in result["checks"]}


def test_reference_worker_passes_every_check(kafka_broker, tmp_path):
    proc, result = worker_check(kafka_broker, tmp_path, "confluent-kafka", REFERENCE,
                                "--jobs", JOBS)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert verdicts(result) == {c.name: "pass" for c in CHECKS}
    assert result["exit_code"] == 0
    for chk in CHECKS:
        assert chk.name in proc.stdout


@pytest.mark.parametrize("mode", sorted(TARGETS))
def test_broken_worker_fails_exactly_its_check(kafka_broker, tmp_path, mode):
    target = TARGETS[mode]
    command = (sys.executable, str(TESTS / "broken_worker.py"), mode)
    proc, result = worker_check(kafka_broker, tmp_path, "confluent-kafka", command,
                                "--jobs", JOBS)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    failed = {name for name, verdict in verdicts(result).items() if verdict != "pass"}
    assert failed == {target}, result
    [outcome] = [c for c in result["checks"] if c["check"] == target]
    assert outcome["verdict"] == "fail" and outcome["reason"]
    # the table names the check; its line on stderr gives the reason
    assert target in proc.stdout
    assert f"{target}: fail" in proc.stderr and outcome["reason"] in proc.stderr


def test_unknown_check_and_missing_command_are_usage_errors(kafka_broker, tmp_path):
    proc, _ = worker_check(kafka_broker, tmp_path, "confluent-kafka", REFERENCE,
                           "--check", "no-such-check")
    assert proc.returncode == 2 and "no-such-check" in proc.stderr
    assert proc.stderr.count("\n") == 1
    proc, _ = worker_check(kafka_broker, tmp_path, "confluent-kafka",
                           ("/nonexistent/worker",))
    assert proc.returncode == 2 and "not found" in proc.stderr


@pytest.mark.full  # another language's worker: the full tier
def test_the_java_worker_passes_every_check(kafka_broker, tmp_path):
    """The Java reference worker (built into the cache if needed: a few seconds with Maven's
    repository warm; the file lock makes a concurrent build in test_java_worker wait)."""
    from conformance.clients import java

    built = java.build(None)
    proc, result = worker_check(kafka_broker, tmp_path, "java", built.command, "--jobs", "4")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert verdicts(result) == {c.name: "pass" for c in CHECKS}
