"""Error paths met through Kafka-protocol faults (issue 21): a broken adapter per error path is
caught by the right check in a program of at most 5 steps, and the real client it wraps
(confluent-kafka, classic protocol) passes that check in the same program; replaying a
failing program touches the same requests again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.machines.minimize import replay
from conformance.machines.scenario import load_replay, save_replay
from conformance.matrix import fault_families
from conformance.program import Program
from conformance.verdicts import Verdict

pytestmark = [pytest.mark.broker, pytest.mark.full]

BROKEN = Path(__file__).resolve().parent.parent / "broken_adapters.py"


def resend_after_newer(s: Program) -> None:
    """A commit fails with REBALANCE_IN_PROGRESS (the step produces what the member commits),
    a newer one succeeds, and the group's offsets are asked for (at the settle)."""
    s.start_member()
    s.fail_next(member="m1", api="OffsetCommit", error="REBALANCE_IN_PROGRESS", count=1)
    s.produce(count=10, keys=1)
    s.consume()
    s.settle()


def heartbeat_illegal_generation(s: Program) -> None:
    """The member's first heartbeat is answered ILLEGAL_GENERATION (the step waits until it
    was), then records are produced for it and consumed: a member that rejoins reads them, one
    that does not reports its loss meanwhile and leaves the group without an owner for the
    settle to wait on. (A settle right after the fault could find the group settled before
    the member reported the loss, and end the example before the member had to rejoin.)"""
    s.start_member()
    s.fail_next(member="m1", api="Heartbeat", error="ILLEGAL_GENERATION", count=1)
    s.produce(count=10, keys=1)
    s.consume()
    s.settle()


def offset_fetch_while_loading(s: Program) -> None:
    """The member commits what it read; then its next three OffsetFetch requests (the step
    rejoins to provoke them) are answered COORDINATOR_LOAD_IN_PROGRESS, and records follow. A
    client asks again and starts at the committed offset (librdkafka retries, ~0.35 s); one
    that gives up (here: its own lookup with a 0.5 s timeout) starts by the reset policy
    (earliest) and reads the committed records again. Seven steps: the member must have
    committed before the fault and must poll after it (a settle, a consume each)."""
    s.start_member()
    s.settle()
    s.produce(count=10, keys=1)
    s.consume()
    s.fail_next(member="m1", api="OffsetFetch", error="COORDINATOR_LOAD_IN_PROGRESS", count=3)
    s.produce(count=5, keys=1)
    s.consume()


def failed_commit_then_kill(s: Program) -> None:
    """The member's commit of the records the step produces for it is answered
    REBALANCE_IN_PROGRESS (not applied), then the member is killed before it commits again:
    a client reports that commit failed, so the drain's re-reading is the bound's; one that
    reports it done has "committed" records read again."""
    s.start_member()
    s.fail_next(member="m1", api="OffsetCommit", error="REBALANCE_IN_PROGRESS", count=1)
    s.kill_member(member="m1")


#: (adapter, program, the (check, anomaly) pairs of which one must fail). The group offset a
#: re-sent commit moved back is judged by whichever sees it: a broker report asked for after
#: the newer commit's acknowledgement (group-offset-regressed), else the drain, which starts
#: at the stale offset (start-before-committed); a report asked for while the commit call was
#: still returning cannot tell the re-send from the commit not yet applied.
CASES: list[tuple[str, Callable[[Program], None], tuple[tuple[str, str], ...]]] = [
    ("ResendsFailedCommit", resend_after_newer,
     (("commit-validity", "group-offset-regressed"), ("start-position", "start-before-committed"))),
    ("IllegalGenerationIsFatal", heartbeat_illegal_generation,
     (("member-rejoined", "member-not-rejoined"),)),
    ("ReportsFailedCommitDone", failed_commit_then_kill,
     (("duplicates-bounded", "redelivered-after-commit"),
      ("start-position", "start-before-committed"))),
    ("OffsetFetchFallsBackToReset", offset_fetch_while_loading,
     (("start-position", "start-before-committed"),
      ("duplicates-bounded", "redelivered-after-commit"))),
]


def run(client: str, steps: Callable[[Program], None], broker: Any, workdir: Path) -> Program:
    assert "protocol" in fault_families(broker)
    with Program(client, broker=broker, partitions=1, config={"group_protocol": "classic"},
                 strategy={"name": "BATCH"}, faults=("protocol",), workdir=workdir,
                 exit_on_failure=False) as s:
        steps(s)
    return s


def story(s: Program) -> str:
    h = s.harness.history
    return "\n".join(f"#{e.index} {e.type} {e.source} {e.data}" for e in h.events
                     if e.type in ("step", "protocol_touched", "committed", "assigned",
                                   "lost", "revoked", "note", "group_offsets"))


def caught(s: Any, wanted: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The (check, anomaly) pairs of ``wanted`` that failed in ``s`` (a program or a replay)."""
    return [(r.check, v.anomaly) for r in s.results if r.verdict == Verdict.FAIL
            for v in r.violations if (r.check, v.anomaly) in wanted]


@pytest.mark.parametrize("adapter,steps,wanted", CASES, ids=[case[0] for case in CASES])
def test_a_broken_error_path_is_caught_and_the_real_client_passes(
        kafka_broker, tmp_path, adapter, steps, wanted):
    broken = run(f"{BROKEN}:{adapter}", steps, kafka_broker, tmp_path / "broken")
    verdicts = {r.check: r.verdict for r in broken.results}
    assert caught(broken, wanted), f"{verdicts}\n{story(broken)}"
    assert any(e.type == "protocol_touched" for e in broken.harness.history.events)

    real = run("confluent-kafka", steps, kafka_broker, tmp_path / "real")
    judged = [r for r in real.results if r.check in {check for check, _a in wanted}]
    assert judged and all(r.verdict == Verdict.PASS for r in judged), \
        f"{[(r.check, [v.message for v in r.violations]) for r in judged]}\n{story(real)}"


def touched(history: Any) -> list[tuple[Any, ...]]:
    """What each touched request was: api, version, kind, error, the fault it belongs to."""
    return [(e.data["api"], e.data["api_version"], e.data["kind"], e.data["error"],
             e.data["fault"]) for e in history.of_type("protocol_touched")]


def failed_commits(history: Any) -> list[dict[int, int]]:
    """Partition -> offset of each commit a member reported failed (topics differ per run)."""
    return [{tp[1]: off for tp, off in e.offsets().items()} for e in history.of_type("committed")
            if e.source != "harness" and e.data.get("ok") is False]


def test_replaying_a_failing_program_touches_the_same_requests(kafka_broker, tmp_path):
    """The replay file of a failing program (what `kafka-conformance replay` reads) touches the
    same requests again (api, version, kind, error: the member's commit of the same offsets)
    and fails the same check."""
    original = run(f"{BROKEN}:ResendsFailedCommit", resend_after_newer, kafka_broker,
                   tmp_path / "original")
    assert original.scenario is not None
    save_replay(tmp_path / "replay.json", original.spec, original.scenario.steps)
    spec, steps = load_replay(tmp_path / "replay.json")
    again = replay(kafka_broker, spec, steps, tmp_path / "again")
    first, second = original.harness.history, again.harness.history
    assert touched(first) and touched(second) == touched(first)
    assert failed_commits(second) == failed_commits(first) != []
    assert caught(again, CASES[0][2]), [(r.check, r.verdict) for r in again.results]
