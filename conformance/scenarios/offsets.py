"""S1 committed offsets live in the broker; S2 auto.offset.reset."""

from __future__ import annotations

from conformance.errors import WorkerError
from conformance.harness import Harness
from conformance.scenarios.base import (
    Context,
    error_code,
    poll_until,
    result,
    semantics_check,
    wait_assigned,
)
from conformance.verdicts import CheckResult, Verdict


def _consume_commit_leave(h: Harness, count: int) -> None:
    """A first member reads ``count`` records, commits them and leaves the group."""
    h.produce(count)
    first = h.start_member("m1", run=False)
    poll_until(first, lambda got: len(got) >= count)
    first.request({"type": "commit", "processed": True})
    h.stop_member("m1")


@semantics_check("S1-resume-after-empty-group", "S1")
def resume_after_empty_group(ctx: Context) -> CheckResult:
    """A new member resumes at the committed offset after every member left the group."""
    check, section = "S1-resume-after-empty-group", "S1"
    h = ctx.harness("s1-resume")
    _consume_commit_leave(h, 20)  # the group is now empty
    h.produce(10)
    second = h.start_member("m2", run=False)
    got = poll_until(second, lambda got: len(got) >= 10, timeout=30)
    h.stop_member("m2")
    offsets = [r[2] for r in got]
    committed = h.broker.admin.committed(h.group, h.topic).get((h.topic, 0))
    if offsets[:1] == [20] and sorted(set(offsets)) == list(range(20, 30)):
        return result(check, section, Verdict.PASS, history=h, resumed_at=20,
                      committed=committed)
    return result(check, section, Verdict.FAIL, history=h,
                  note=f"after the group was empty the new member read offsets "
                       f"{offsets[:5]}... instead of resuming at the committed offset 20",
                  first_offset=offsets[0] if offsets else None, committed=committed)


@semantics_check("S1-topic-recreated", "S1")
def topic_recreated(ctx: Context) -> CheckResult:
    """A topic deleted and created again is read from its start, not from the old offset."""
    check, section = "S1-topic-recreated", "S1"
    h = ctx.harness("s1-recreate")
    _consume_commit_leave(h, 20)
    h.broker.admin.delete_topic(h.topic)
    h.broker.admin.create_topic(h.topic, 1, replication_factor=min(3, h.broker.nodes))
    h.record("topic_recreated", topic=h.topic, partitions=1)
    h.produce(5)
    second = h.start_member("m2", run=False)
    got = poll_until(second, lambda got: len(got) >= 5, timeout=30)
    h.stop_member("m2")
    offsets = sorted(r[2] for r in got)
    if offsets == [0, 1, 2, 3, 4]:
        return result(check, section, Verdict.PASS, history=h, read=len(offsets))
    return result(check, section, Verdict.FAIL, history=h,
                  note=f"the recreated topic's 5 records were read as offsets {offsets}: the "
                       f"old committed offset 20 must not apply to the new topic",
                  read=len(offsets))


def _reset_case(ctx: Context, reset: str, with_commit: bool) -> tuple[str, str]:
    """Run one cell of the reset matrix; returns (outcome, expected)."""
    h = ctx.harness(f"s2-{reset}-{'c' if with_commit else 'n'}", auto_offset_reset=reset)
    h.produce(5)
    if with_commit:
        setter = h.start_member("setter", run=False, config={"auto_offset_reset": "earliest"})
        wait_assigned(h, "setter", 1, handle=setter)
        setter.request({"type": "commit", "offsets": [[h.topic, 0, 3]]})
        h.stop_member("setter")
    member = h.start_member("m1", run=False)
    got: list[list] = []
    try:
        if not wait_assigned(h, "m1", 1, handle=member, collect=got):
            return "never assigned", "assigned"
        member.request({"type": "position", "topic": h.topic, "partition": 0})
        h.produce(3)  # offsets 5, 6, 7: after the reset point
        got += poll_until(member, lambda more: bool(got or more), timeout=15)
    except WorkerError as exc:
        return f"error {error_code(exc)}", _expected(reset, with_commit)
    finally:
        h.stop_member("m1")
    return (f"starts at {got[0][2]}" if got else "nothing read"), _expected(reset, with_commit)


def _expected(reset: str, with_commit: bool) -> str:
    if with_commit:
        return "starts at 3"
    return {"earliest": "starts at 0", "latest": "starts at 5",
            "none": "error no-offset-for-partition"}[reset]


@semantics_check("S2-reset-matrix", "S2")
def reset_matrix(ctx: Context) -> CheckResult:
    """earliest / latest / none, with and without a committed offset (none must raise)."""
    check, section = "S2-reset-matrix", "S2"
    cells: dict[str, str] = {}
    wrong: list[str] = []
    for reset in ("earliest", "latest", "none"):
        if reset == "none" and not ctx.capabilities.offset_reset_none:
            cells["none"] = "unsupported"
            continue
        for with_commit in (False, True):
            outcome, expected = _reset_case(ctx, reset, with_commit)
            cell = f"{reset}/{'committed' if with_commit else 'no-commit'}"
            cells[cell] = outcome
            if outcome != expected:
                wrong.append(f"{cell}: {outcome} (expected {expected})")
    if wrong:
        return result(check, section, Verdict.FAIL, note="; ".join(wrong), **cells)
    return result(check, section, Verdict.PASS, **cells)
