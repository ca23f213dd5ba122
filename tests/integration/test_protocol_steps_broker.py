"""The ``protocol`` step family against the embedded broker (issue 21): a scenario with
confluent-kafka (classic protocol) meets a failed commit, slow fetches and a lost commit
response; the history records each fault and the requests it touched, and a correct client
passes every check."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.history import History
from conformance.matrix import fault_families
from conformance.program import Program
from conformance.verdicts import CheckResult, Verdict

pytestmark = pytest.mark.broker

#: Verdicts a correct client may get: passed, or not applicable to this history.
FINE = (Verdict.PASS, Verdict.UNSUPPORTED, Verdict.EXPECTED)


def program(kafka_broker: Any, tmp_path: Any) -> Program:
    assert "protocol" in fault_families(kafka_broker)
    return Program("confluent-kafka", broker=kafka_broker, partitions=1,
                   config={"group_protocol": "classic"},
                   strategy={"name": "BATCH"}, faults=("protocol",),
                   workdir=tmp_path, exit_on_failure=False)


def of(history: History, type_: str) -> list[dict[str, Any]]:
    return [e.data for e in history.of_type(type_)]


def not_fine(results: list[CheckResult]) -> dict[str, list[str]]:
    return {r.check: [v.message for v in r.violations[:2]] or [r.note] for r in results
            if r.verdict not in FINE}


def started(s: Program) -> None:
    s.start_member()
    s.settle()
    s.produce(count=10, keys=1)
    s.consume()


def test_a_failed_commit_is_recorded_and_survived(kafka_broker, tmp_path):
    with program(kafka_broker, tmp_path) as s:
        started(s)
        s.fail_next(member="m1", api="OffsetCommit", error="REBALANCE_IN_PROGRESS", count=1)
        s.consume()
    h = s.harness.history
    [armed] = of(h, "protocol_fault")
    assert (armed["member"], armed["api"], armed["kind"], armed["error"], armed["count"]) == \
        ("m1", "OffsetCommit", "error", "REBALANCE_IN_PROGRESS", 1)
    [touched] = of(h, "protocol_touched")
    assert touched["api"] == "OffsetCommit" and touched["correlation_id"] >= 0
    assert touched["api_version"] >= 0 and touched["error"] == "REBALANCE_IN_PROGRESS"
    [healed] = of(h, "protocol_healed")
    assert healed["spent"] and healed["correlation_ids"] == [touched["correlation_id"]]
    failed = [e for e in h.of_type("committed") if e.source == "m1" and e.data.get("ok") is False]
    assert failed, "the member's commit did not fail"
    assert any("REBALANCE" in str(e.data.get("error", "")).upper() for e in failed), \
        [e.data for e in failed]
    # the fault's events come in order: armed, the request touched, the commit failed, healed
    order = [e.index for e in h.events if e.type in ("protocol_fault", "protocol_touched")]
    assert order == sorted(order) and order[-1] < failed[0].index
    assert not_fine(s.results) == {}


def test_slow_fetches_are_recorded_and_healed(kafka_broker, tmp_path):
    with program(kafka_broker, tmp_path) as s:
        started(s)
        s.slow_api(member="m1", api="Fetch", delay_ms=500, seconds=2)
        s.produce(count=10, keys=1)
        s.consume()
    h = s.harness.history
    [armed] = of(h, "protocol_fault")
    assert (armed["kind"], armed["delay_ms"], armed["count"]) == ("delay-response", 500, None)
    touched = of(h, "protocol_touched")
    assert touched and all(t["api"] == "Fetch" for t in touched)
    [healed] = of(h, "protocol_healed")
    assert healed["touched"] == len(touched) and not healed["spent"]
    assert not_fine(s.results) == {}


def test_a_lost_commit_response_is_recorded(kafka_broker, tmp_path):
    with program(kafka_broker, tmp_path) as s:
        started(s)
        s.lose_next_response(member="m1", api="OffsetCommit")
        s.consume()
    h = s.harness.history
    [touched] = of(h, "protocol_touched")
    assert touched["kind"] == "lose-response" and touched["api"] == "OffsetCommit"
    [healed] = of(h, "protocol_healed")
    assert healed["spent"]
    # librdkafka re-sends the commit on a new connection: whatever it reports, the checks
    # accept either outcome of the lost one
    assert not_fine(s.results) == {}
