"""write_reports: the three files agree, with and without a baseline."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from test_report_fixtures import sample_run

from conformance.report import Baseline, write_reports
from conformance.verdicts import Verdict


def test_writes_all_three(tmp_path: Path) -> None:
    result = sample_run(tmp_path)
    paths = write_reports(result, tmp_path)
    assert {k: p.name for k, p in paths.items()} == {
        "json": "results.json", "junit": "junit.xml", "html": "index.html"}
    assert json.loads(paths["json"].read_text())["exit_code"] == 1
    assert ET.parse(paths["junit"]).getroot().get("failures") == "1"
    assert "m2 processed 3\u20139" in paths["html"].read_text(encoding="utf-8")


def test_baseline_turns_the_run_green(tmp_path: Path) -> None:
    result = sample_run(tmp_path)
    baseline = Baseline.parse('[[deviation]]\nclient = "confluent-kafka*"\n'
                              'check = "no-duplicates"\nreason = "known: KAFKA-0000"\n')
    paths = write_reports(result, tmp_path / "out", baseline)
    data = json.loads(paths["json"].read_text())
    assert data["exit_code"] == 3, "the failure is expected now; the unknown check remains"
    check = next(c for c in data["clients"][0]["checks"] if c["check"] == "no-duplicates")
    assert check["verdict"] == "expected"
    assert check["note"].startswith("baseline: known: KAFKA-0000")
    assert ET.parse(paths["junit"]).getroot().get("failures") == "0"
    html = paths["html"].read_text(encoding="utf-8")
    assert "baseline: known: KAFKA-0000" in html
    assert result.clients[0].checks[1].verdict == Verdict.FAIL
