"""S1 committed offsets live in the broker; S2 auto.offset.reset."""

from __future__ import annotations

import dataclasses

from conformance.errors import WorkerError
from conformance.harness import Harness
from conformance.history import History
from conformance.scenarios import evidence
from conformance.scenarios.base import (
    Context,
    error_code,
    poll_until,
    result,
    semantics_check,
    set_committed,
    wait_assigned,
)
from conformance.scenarios.evidence import last_commit
from conformance.verdicts import CheckResult, Verdict, Violation


def _consume_commit_leave(h: Harness, count: int) -> None:
    """A first member reads ``count`` records, commits them and leaves the group."""
    h.produce(count)
    first = h.start_member("m1", run=False)
    poll_until(first, lambda got: len(got) >= count)
    first.request({"type": "commit", "processed": True})
    h.stop_member("m1")


def _started(history: History, member: str) -> int:
    """The index of the harness's ``member_started`` event of ``member`` (-1: none)."""
    return next((e.index for e in history.of_type("member_started")
                 if e.data.get("member") == member), -1)


def judge_resume(history: History, count: int = 20, more: int = 10) -> list[Violation]:
    """S1 after an empty group: m1 read 0..count-1 and committed; m2 must read from the
    committed offset ``count`` to ``count + more - 1``."""
    check, section = "S1-resume-after-empty-group", "S1"
    topic = history.scenario().get("topic", "")
    commit = last_commit(history, "m1", topic, 0)
    first = evidence.compare(history, check, section, topic=topic, partition=0,
                             expected=range(count), member="m1", ordered=True)
    second = evidence.compare(history, check, section, topic=topic, partition=0,
                              expected=range(count, count + more), member="m2",
                              since=_started(history, "m2"), ordered=True,
                              context=[commit.index] if commit else [])
    return second + first


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
    violations = judge_resume(h.history)
    if not violations:
        return result(check, section, Verdict.PASS, history=h, resumed_at=20,
                      committed=committed)
    return result(check, section, Verdict.FAIL, history=h, violations=violations,
                  note="after the group was empty, the new member m2 had to read 20..29 from "
                       "the committed offset 20: " + evidence.note_of(violations),
                  first_offset=offsets[0] if offsets else None, committed=committed)


def judge_recreated(history: History, count: int = 20, more: int = 5) -> list[Violation]:
    """S1 after the topic was deleted and created again: m1 read 0..count-1 of the old
    topic; m2 must read the new topic's 0..more-1, whatever the old commit."""
    check, section = "S1-topic-recreated", "S1"
    topic = history.scenario().get("topic", "")
    recreated = next((e.index for e in history.of_type("topic_recreated")), -1)
    commit = last_commit(history, "m1", topic, 0, before=recreated)
    context = [i for i in (recreated, commit.index if commit else -1) if i >= 0]
    first = evidence.compare(history, check, section, topic=topic, partition=0,
                             expected=range(count), member="m1", ordered=True,
                             until=recreated if recreated >= 0 else None)
    second = evidence.compare(history, check, section, topic=topic, partition=0,
                              expected=range(more), member="m2",
                              since=max(recreated, _started(history, "m2")), ordered=True,
                              context=context)
    return second + first


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
    violations = judge_recreated(h.history)
    if not violations:
        return result(check, section, Verdict.PASS, history=h, read=len(offsets))
    return result(check, section, Verdict.FAIL, history=h, violations=violations,
                  note="the recreated topic must be read from 0..4, not from the old committed "
                       "offset 20: " + evidence.note_of(violations),
                  read=len(offsets))


def _reset_case(ctx: Context, reset: str, with_commit: bool) -> tuple[str, str, Harness]:
    """Run one cell of the reset matrix; returns (outcome, expected, its harness)."""
    h = ctx.harness(f"s2-{reset}-{'c' if with_commit else 'n'}", auto_offset_reset=reset)
    expected = _expected(reset, with_commit)
    h.produce(5)
    if with_commit:
        setter = h.start_member("setter", run=False, config={"auto_offset_reset": "earliest"})
        if not wait_assigned(h, "setter", 1, handle=setter):
            # the client's own member could not join (kafka-python 3.x's rejoin stall, soak
            # seed 60): the cell is what that member met, not a commit refused for ever
            h.record("note", text="setter was never assigned the partition")
            h.stop_member("setter")
            return "never assigned", "assigned", h
        set_committed(h, "setter", setter, [[h.topic, 0, 3]])
        h.stop_member("setter")
    member = h.start_member("m1", run=False)
    got: list[list] = []
    try:
        if not wait_assigned(h, "m1", 1, handle=member, collect=got):
            h.record("note", text="m1 was never assigned the partition")
            return "never assigned", "assigned", h
        member.request({"type": "position", "topic": h.topic, "partition": 0})
        h.produce(3)  # offsets 5, 6, 7: after the reset point
        got += poll_until(member, lambda more: bool(got or more), timeout=15)
    except WorkerError as exc:
        h.record("note", text=f"m1: error {error_code(exc)}: {str(exc).splitlines()[0]}")
        return f"error {error_code(exc)}", expected, h
    finally:
        h.stop_member("m1")
    return (f"starts at {got[0][2]}" if got else "nothing read"), expected, h


def _expected(reset: str, with_commit: bool) -> str:
    if with_commit:
        return "starts at 3"
    return {"earliest": "starts at 0", "latest": "starts at 5",
            "none": "error no-offset-for-partition"}[reset]


def reset_violation(history: History, cell: str, outcome: str, expected: str
                    ) -> Violation | None:
    """The violation of one reset-matrix cell (None when ``outcome`` is ``expected``): where
    m1 started reading, or the error it raised, against what the cell expects."""
    if outcome == expected:
        return None
    check, section = "S2-reset-matrix", "S2"
    topic = history.scenario().get("topic", "")
    since = _started(history, "m1")
    notes = [e.index for e in history.of_type("note") if e.index > since]
    context = [i for i in (since, *notes) if i >= 0]
    commit = last_commit(history, "setter", topic, 0)
    context += [commit.index] if commit else []
    message = f"{cell}: {outcome} (expected {expected})"
    if expected.startswith("starts at") and outcome.startswith("starts at"):
        wrong = evidence.wrong_start(history, check, section, topic=topic, partition=0,
                                     expected_start=int(expected.split()[-1]), member="m1",
                                     since=since, context=context)
        if wrong:
            skipped = wrong.details.get("missing")
            if skipped:
                message += f", offset(s) {evidence.offsets_text(skipped)} never read"
            return dataclasses.replace(wrong, message=message,
                                       details={**wrong.details, "cell": cell})
    got = evidence.reads(history, topic, 0, "m1", since)
    member = "m1" if since >= 0 or _started(history, "setter") < 0 else "setter"
    anomaly = ("no-error" if expected.startswith("error") and got else
               "unexpected-error" if outcome.startswith("error") else
               "never-assigned" if outcome == "never assigned" else "nothing-read")
    proof = [i for _o, i in got[:1]] + context
    if anomaly == "nothing-read":
        proof += [p.event for p in history.produced() if p.topic == topic and p.event > since]
    return evidence.violation(check, section, anomaly, message, topic=topic, partition=0,
                              member=member, evidence=proof, offsets=[o for o, _i in got[:1]],
                              cell=cell, expected=expected, outcome=outcome)


@semantics_check("S2-reset-matrix", "S2")
def reset_matrix(ctx: Context) -> CheckResult:
    """earliest / latest / none, with and without a committed offset (none must raise)."""
    check, section = "S2-reset-matrix", "S2"
    cells: dict[str, str] = {}
    wrong: list[str] = []
    parts: list[tuple[Harness, Violation | None]] = []
    for reset in ("earliest", "latest", "none"):
        if reset == "none" and not ctx.capabilities.offset_reset_none:
            cells["none"] = "unsupported"
            continue
        for with_commit in (False, True):
            outcome, expected, h = _reset_case(ctx, reset, with_commit)
            cell = f"{reset}/{'committed' if with_commit else 'no-commit'}"
            cells[cell] = outcome
            parts.append((h, reset_violation(h.history, cell, outcome, expected)))
            if outcome != expected:
                wrong.append(f"{cell}: {outcome} (expected {expected})")
    path, starts = evidence.write_combined(ctx.workdir / "history.jsonl",
                                           [h.history for h, _v in parts])
    violations = [v for (h, found), at in zip(parts, starts, strict=True) if found
                  for v in evidence.shifted([found], at, part=h.workdir.name)]
    if wrong:
        note = "; ".join(v.message for v in violations) if len(violations) == len(wrong) \
            else "; ".join(wrong)
        return result(check, section, Verdict.FAIL, note=note, history=path,
                      violations=violations, **cells)
    return result(check, section, Verdict.PASS, history=path, **cells)
