"""`kafka-conformance history` end to end: two releases of kafka-python as one run on the
session broker, with history.json and history.html beside the run's reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.full]


def test_history_of_two_releases_is_one_run_with_a_history_report(kafka_broker, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "history", "--client", "kafka-python",
         "--releases", "3.0.11,3.0.12", "--protocol", "classic", "--only",
         "S1-resume-after-empty-group", "--bootstrap-servers",
         kafka_broker.bootstrap_servers, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1200)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # 1 only for a violation
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["exit_code"] == proc.returncode
    history = json.loads((run_dir / "history.json").read_text())
    assert history["schema"] == "kafka-conformance/history/1"
    assert [r["release"] for r in history["releases"]] == ["3.0.11", "3.0.12"]
    assert [r["client_version"] for r in history["releases"]] == ["3.0.11", "3.0.12"]
    assert history["protocols"] == ["classic"]
    for release in history["releases"]:
        assert set(release["verdicts"]["classic"]) == {"S1-resume-after-empty-group"}
    html = Path(run_dir / "history.html").read_text()
    assert "3.0.11" in html and "3.0.12" in html and 'href="index.html' in html
    index = (run_dir / "index.html").read_text()
    for anchor in re.findall(r'href="index.html#([^"]+)"', html):  # each link lands
        assert f'id="{anchor}"' in index, anchor
    assert "release history, classic protocol" in proc.stdout
