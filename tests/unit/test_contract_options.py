"""The contract tests' client options (tests/conftest.py): which targets the adapter contract
suite collects, and under which ids. Collection only: no broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "tests/integration/test_adapter_contract.py"


def collect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "-o", "addopts=", CONTRACT, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def ids(out: str, test: str) -> list[str]:
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines()
            if line.startswith(f"{CONTRACT}::{test}[")]


def test_a_given_client_replaces_the_ini_list_and_names_its_tests() -> None:
    spec = f"kafka-python@{sys.executable}"
    proc = collect("--contract-client", spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = ids(proc.stdout, "test_seek_then_poll_returns_exactly_that_offset")
    assert f"{spec}|classic" in found
    assert "kafka-python|classic" in found  # the built-in in this process stays
    assert not [i for i in found if "==" in i], "the ini list was not replaced"
    # the built-ins without KIP-848 in this process, then the given spec
    assert ids(proc.stdout, "test_unsupported_group_protocol_is_refused") == [
        "aiokafka|consumer", "aiokafka:getone|consumer", "kafka-python|consumer",
        "kafka-python:records|consumer", f"{spec}|consumer"]
    assert ids(proc.stdout, "test_a_release_runs_in_its_own_environment") == [spec]


def test_an_empty_ini_list_runs_the_builtins_only() -> None:
    proc = collect("-o", "contract_clients=")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = ids(proc.stdout, "test_errors_are_normalized")
    assert found and all("==" not in i and "@" not in i for i in found), found
    # an empty parameter set: one skipped item
    assert ids(proc.stdout, "test_a_release_runs_in_its_own_environment") == ["NOTSET"]


def test_a_malformed_spec_is_a_usage_error() -> None:
    proc = collect("--contract-client", "kafka-python==")
    assert proc.returncode != 0
    assert "expected NAME==VERSION" in proc.stdout + proc.stderr
