"""`kafka-conformance bisect` end to end on two documented findings whose fix is known, each a
saved program replayed on each release the search picks, each release in its own cached
environment, on the session broker:

- finding 12 of docs/findings.md (librdkafka issue 4686, fixed in 2.4.0): resume() of a
  partition that was never paused re-reads it; the boundary must be 2.3.0 -> 2.4.0;
- finding 11 (kafka-python hands transaction markers over as records; 2.0.6's fetcher skips
  control batches): the boundary must be 2.0.5 -> 2.0.6, out of 50 releases up to 3.0.12."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.full]

#: the finding's program: one member reads both partitions, pauses partition 0 twice and
#: resumes its whole assignment; before 2.4.0 partition 1 is read again from its start (order
#: ``nonmonotonic``, duplicates-bounded ``duplicate-without-cause``)
PROGRAM = {
    "format": "kafka-conformance/replay/1", "seed": None,
    "spec": {"client": "confluent-kafka==2.0.2", "adapter": "confluent-kafka",
             "config": {"auto_offset_reset": "earliest", "session_timeout_ms": 2000,
                        "heartbeat_interval_ms": 500, "max_poll_interval_ms": 6000,
                        "max_poll_records": 50, "auto_commit_interval_ms": 1000,
                        "metadata_max_age_ms": 2000, "group_protocol": "classic",
                        "assignment_strategy": "range"},
             "strategy": {"name": "BATCH", "interval_ms": 1000, "count": 10,
                          "asynchronous": False, "commit_on_revoke": True,
                          "processing": "in-loop", "process_ms": 2.0},
             "partitions": 2, "growth": False, "faults": []},
    "steps": [["start_member", {}], ["settle", {}], ["produce", {"count": 20, "keys": 4}],
              ["consume", {}], ["pause_twice", {"member": "m1", "partition": 0}],
              ["resume_all", {"member": "m1"}], ["produce", {"count": 4, "keys": 4}],
              ["consume", {}]],
}


@pytest.mark.timeout(1800)  # up to four client environments to build, five replays
def test_bisect_finds_the_release_that_fixed_the_resume_re_read(kafka_broker, tmp_path):
    program = tmp_path / "replay.json"
    program.write_text(json.dumps(PROGRAM))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "bisect", "--client", "confluent-kafka",
         "--good", "2.0.2", "--bad", "2.5.0", "--check", "order", "--replay", str(program),
         "--bootstrap-servers", kafka_broker.bootstrap_servers, "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=1700)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "order fails on 2.3.0, passes from 2.4.0", proc.stdout
    [folder] = list((tmp_path / "out").glob("bisect-*"))
    data = json.loads((folder / "bisect.json").read_text())
    assert data["status"] == "found" and data["mode"] == "replay"
    assert data["releases"] == ["2.0.2", "2.1.0", "2.1.1", "2.2.0", "2.3.0", "2.4.0", "2.5.0"]
    # the ends first, then halving: 7 releases in 5 runs, 2.1.0 and 2.1.1 never run
    assert [(t["release"], t["verdict"]) for t in data["tried"]] == [
        ("2.0.2", "fail"), ("2.5.0", "pass"), ("2.2.0", "fail"), ("2.3.0", "fail"),
        ("2.4.0", "pass")]
    old, new = data["boundary"]["old"], data["boundary"]["new"]
    assert (old["release"], old["verdict"], new["release"], new["verdict"]) == (
        "2.3.0", "fail", "2.4.0", "pass")
    for side, verdict in ((old, "fail"), (new, "pass")):
        assert side["report"] in proc.stdout
        report = Path(side["report"])
        results = json.loads((report.parent / "results.json").read_text())
        [entry] = results["clients"]
        assert entry["client_version"] == side["release"]  # that release's workers ran
        [order] = [c for c in entry["checks"] if c["check"] == "order"]
        assert order["verdict"] == verdict
        assert (report.parent / order["history_file"]).is_file()
    [order] = [c for c in json.loads((Path(old["report"]).parent / "results.json").read_text())
               ["clients"][0]["checks"] if c["check"] == "order"]
    assert "nonmonotonic" in {v["anomaly"] for v in order["violations"]}
    print(f"bisect of confluent-kafka 2.0.2..2.5.0: {lines[0]} in {seconds:.0f} s")


#: finding 11's program: one member, one committed transaction and plain records on two
#: partitions; a release that hands the commit markers over fails ``isolation``
#: (``control-record-delivered``)
MARKERS = {**PROGRAM, "steps": [
    ["start_member", {}], ["settle", {}],
    ["produce_transaction", {"count": 6, "keys": 2, "commit": True}],
    ["produce", {"count": 4, "keys": 2}], ["consume", {}]]}
MARKERS["spec"] = {**PROGRAM["spec"], "client": "kafka-python==2.0.2", "adapter": "kafka-python"}


@pytest.mark.timeout(1800)
def test_bisect_finds_the_release_that_stopped_handing_over_transaction_markers(kafka_broker,
                                                                                 tmp_path):
    program = tmp_path / "replay.json"
    program.write_text(json.dumps(MARKERS))
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "bisect", "--client", "kafka-python",
         "--good", "2.0.2", "--bad", "3.0.12", "--check", "isolation", "--replay", str(program),
         "--bootstrap-servers", kafka_broker.bootstrap_servers, "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=1700)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0] == "isolation fails on 2.0.5, passes from 2.0.6", \
        proc.stdout
    [folder] = list((tmp_path / "out").glob("bisect-*"))
    data = json.loads((folder / "bisect.json").read_text())
    assert data["status"] == "found" and data["mode"] == "replay"
    assert data["releases"][:5] == ["2.0.2", "2.0.3", "2.0.4", "2.0.5", "2.0.6"]
    assert data["releases"][-1] == "3.0.12"
    assert len(data["tried"]) <= data["max_runs"] <= 8  # 50 releases (measured: 7 runs)
    old = data["boundary"]["old"]
    [isolation] = [c for c in json.loads((Path(old["report"]).parent / "results.json")
                                         .read_text())["clients"][0]["checks"]
                   if c["check"] == "isolation"]
    assert isolation["verdict"] == "fail"
    assert {v["anomaly"] for v in isolation["violations"]} == {"control-record-delivered"}
