"""The pytest plugin runs the adapter contract suite against a user's own adapter inside the
user's own test session: a separate folder outside the repository (its own pytest.ini, no
conftest), ``python -m pytest -p conformance.pytest_plugin --kafka-conformance-adapter REF``.
Each run starts one broker, so each runs a few contract tests only (``-k``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = "conformance/contract/suite.py"
SEEK = "test_seek_then_poll_returns_exactly_that_offset"
COMMIT = "test_commit_then_committed_and_a_new_member_resumes"

#: A user's adapter module: a subclass of a built-in, and one that ignores seek().
ADAPTERS = '''\
from adapters.kafka_python import KafkaPythonAdapter


class MyAdapter(KafkaPythonAdapter):
    name = "my-adapter"


class NoSeek(KafkaPythonAdapter):
    name = "no-seek"

    def seek(self, tp, offset):
        pass
'''


@pytest.fixture
def user_suite(tmp_path: Path) -> Path:
    """A user's test folder: a pytest.ini, an adapter module and a test of its own."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "my_adapters.py").write_text(ADAPTERS)
    (tmp_path / "test_own.py").write_text("def test_own():\n    pass\n")
    return tmp_path


def pytest_in(folder: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """pytest in ``folder`` with only this plugin (no auto-loaded plugins: as installed)."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conformance.pytest_plugin",
                           "-p", "no:cacheprovider", "-rA", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)


def outcomes(out: str) -> dict[str, str]:
    """Test id -> PASSED/FAILED/... from the ``-rA`` summary (only there: a captured log line
    such as ``ERROR    kafka.cluster:cluster.py:175 ...`` starts with a word like it too)."""
    found = {}
    summary = out.rsplit("short test summary info", 1)[-1] if "short test summary info" in out \
        else ""
    for line in summary.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"):
            found[rest.split(" - ", 1)[0]] = word
    return found


def test_a_usage_error_names_the_bad_reference(user_suite: Path) -> None:
    proc = pytest_in(user_suite, "--kafka-conformance-adapter", "my_adapters:Missing",
                     timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--kafka-conformance-adapter: adapter module 'my_adapters' has no attribute " \
           "'Missing'" in proc.stderr


@pytest.mark.broker
def test_good_adapters_pass_the_contract_in_the_users_session(user_suite: Path) -> None:
    proc = pytest_in(user_suite, "--kafka-conformance-adapter", "kafka-python",
                     "--kafka-conformance-adapter", "my_adapters:MyAdapter",
                     "-k", f"{SEEK} or {COMMIT} or test_own")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert outcomes(proc.stdout) == {
        "test_own.py::test_own": "PASSED",
        **{f"{SUITE}::{test}[{ref}|classic]": "PASSED"
           for test in (SEEK, COMMIT) for ref in ("kafka-python", "my_adapters:MyAdapter")}}


@pytest.mark.broker
@pytest.mark.full
def test_broken_adapters_fail_the_contract_test_and_the_checks(user_suite: Path) -> None:
    """Each broken adapter fails the contract test it breaks; with --kafka-conformance-checks
    (smoke profile, one adapter) the checks test fails with the violations."""
    broken = ROOT / "tests" / "broken_adapters.py"
    skips = f"{broken}:SkipsRecords"  # drops every record at offset 3 modulo 7
    proc = pytest_in(user_suite, "--kafka-conformance-adapter", "my_adapters:NoSeek",
                     "--kafka-conformance-adapter", f"{broken}:IgnoresSeeks",
                     "--kafka-conformance-adapter", skips,
                     "--kafka-conformance-checks", "--kafka-conformance-profile", "smoke",
                     "-k", f"{SEEK} or (test_generated_scenarios_pass and SkipsRecords)")
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert outcomes(proc.stdout) == {
        f"{SUITE}::{SEEK}[my_adapters:NoSeek|classic]": "FAILED",
        f"{SUITE}::{SEEK}[{broken}:IgnoresSeeks|classic]": "FAILED",
        f"{SUITE}::{SEEK}[{skips}|classic]": "FAILED",
        f"conformance/contract/checks.py::test_generated_scenarios_pass[{skips}]": "FAILED"}
    assert "no-loss (S1) fail" in proc.stdout
    assert "--kafka-conformance-seed" in proc.stdout
