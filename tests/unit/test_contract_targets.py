"""Adapters registered by entry point reach the adapter contract tests like built-in ones
(issue 13 item 9). Collection and one broker-free test only: no broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "tests/integration/test_adapter_contract.py"


def test_an_entry_point_adapter_gets_the_contract_tests(tmp_path: Path) -> None:
    (tmp_path / "ep_adapter.py").write_text(
        "from adapters.confluent_kafka import ConfluentAdapter\n\n\n"
        "class EpAdapter(ConfluentAdapter):\n    name = 'ep-adapter'\n")
    dist = tmp_path / "ep_adapter-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-adapter\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[kafka_conformance.adapters]\nep-adapter = ep_adapter:EpAdapter\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=",
            "-o", "contract_clients=", CONTRACT]

    listed = subprocess.run([*base, "--collect-only", "-q"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    seek = f"{CONTRACT}::test_seek_then_poll_returns_exactly_that_offset"
    assert f"{seek}[ep-adapter|classic]" in listed.stdout
    assert f"{seek}[ep-adapter|consumer]" in listed.stdout  # its capabilities, as a built-in's

    covered = subprocess.run([*base, "-q", "-k", "test_every_builtin_is_covered"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=300)
    assert covered.returncode == 0, covered.stdout + covered.stderr
    assert "1 passed" in covered.stdout
