"""Fixed scenarios against a client that silently skips records (offset 3 modulo 7): every
failing cell names the partition and offsets involved, with evidence events of its history file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.clients import ClientSpec, resolve
from conformance.history import Event, History
from conformance.scenarios.runner import run_semantics
from conformance.verdicts import CheckResult, Verdict

pytestmark = [pytest.mark.broker, pytest.mark.full, pytest.mark.xdist_group("semantics-evidence")]

BROKEN = Path(__file__).resolve().parent.parent / "broken_adapters.py"
#: scenario-specific evidence (S1, S2, S7), generic checkers' (S3, S5) and combined histories of
#: several harnesses (S2, S3, S8)
CHECKS = ["S1-resume-after-empty-group", "S2-reset-matrix", "S3-latest-growth-hazard",
          "S5-BATCH-crash-bound", "S7-assign-seek", "S8-revoke-commit-no-duplicates"]


@pytest.fixture(scope="module")
def skipping(kafka_broker, tmp_path_factory) -> dict[str, CheckResult]:
    client = resolve(ClientSpec(f"{BROKEN}:SkipsRecords"))
    results = run_semantics(kafka_broker, client, "classic",
                            tmp_path_factory.mktemp("evidence"), only=CHECKS)
    return {r.check: r for r in results}


def mentions(event: Event, topic: str, partition: int) -> bool:
    """Whether an event concerns the partition (records, offsets, partitions or fields)."""
    d: dict[str, Any] = event.data
    rows = [*d.get("records", []), *(d.get("offsets") or []), *d.get("partitions", [])]
    if any(r[0] == topic and int(r[1]) == partition for r in rows):
        return True
    return d.get("topic") == topic and d.get("partition") in (partition, None)


@pytest.mark.parametrize("check", CHECKS)
def test_a_failing_fixed_scenario_names_partition_offsets_and_evidence(skipping, check):
    res = skipping[check]
    assert res.verdict == Verdict.FAIL, (res.verdict, res.note, res.figures)
    assert res.history_file and Path(res.history_file).is_file(), res.history_file
    history = History.from_jsonl(res.history_file)
    assert res.violations, res.note
    for v in res.violations:
        topic, partition = v.details.get("topic"), v.details.get("partition")
        assert isinstance(topic, str) and isinstance(partition, int), v
        assert v.details.get("offsets"), v
        assert v.evidence and all(0 <= i < len(history) for i in v.evidence), v
        assert any(mentions(history[i], topic, partition) for i in v.evidence), v
    # the skipped offsets themselves are named (3 modulo 7), in the violations and the note
    named = [o for v in res.violations
             for o in [*v.details["offsets"], *v.details.get("missing", [])]]
    skipped = [o for o in named if o % 7 == 3]
    assert skipped, res.violations
    assert str(skipped[0]) in res.note, res.note


def test_skipped_offsets_are_named_exactly(skipping):
    s7 = {v.anomaly: v for v in skipping["S7-assign-seek"].violations}
    assert s7["missing"].details["missing"] == [10, 17]
    assert s7["missing"].details["member"] == "m1"
    s1 = [(v.details["member"], v.details.get("missing"))
          for v in skipping["S1-resume-after-empty-group"].violations]
    assert s1 == [("m2", [24]), ("m1", [3, 10, 17])]
    s2 = skipping["S2-reset-matrix"].violations  # every cell with a committed offset 3
    assert {v.details["cell"].split("/")[1] for v in s2} == {"committed"}
    for v in s2:
        assert (v.anomaly, v.details["first"], v.details["expected_start"],
                v.details["missing"]) == ("wrong-start", 4, 3, [3])
