"""S7 manual assignment and seek; S8 the rebalance listener (commit in on_revoked, crashes)."""

from __future__ import annotations

from typing import Any

from conformance.harness import Harness
from conformance.history import History
from conformance.protocols import GroupProtocol
from conformance.scenarios import evidence
from conformance.scenarios.base import (
    Context,
    duplicates,
    generic,
    lost,
    poll_until,
    processed,
    result,
    semantics_check,
)
from conformance.scenarios.evidence import last_commit, note_of
from conformance.strategies import Strategy
from conformance.verdicts import CheckResult, Verdict, Violation


def judge_assign_seek(history: History, committed: list[list[Any]] | None,
                      seek_to: int = 7, end: int = 20, commit_to: int = 15) -> list[Violation]:
    """S7: m1 (assigned partition 0, sought to ``seek_to``) must read seek_to..end-1, see no
    group callbacks, and committed() must return the offset it committed."""
    check, section = "S7-assign-seek", "S7"
    topic = history.scenario().get("topic", "")
    seek = next((e.index for e in history.by_source("m1") if e.type == "seeked"), -1)
    out = evidence.compare(history, check, section, topic=topic, partition=0,
                           expected=range(seek_to, end), member="m1", since=seek,
                           ordered=True, context=[seek] if seek >= 0 else [])
    group = [e for e in history.by_source("m1") if e.type in ("revoked", "lost")
             or (e.type == "assigned" and not e.data.get("manual"))]
    if group:
        out.append(evidence.violation(
            check, section, "callback-without-group",
            f"rebalance callbacks fired without group management: "
            f"{[e.type for e in group]}", topic=topic, partition=0, member="m1",
            evidence=[e.index for e in group], callbacks=[e.type for e in group]))
    if committed != [[topic, 0, commit_to]]:
        commit = last_commit(history, "m1", topic, 0)
        out.append(evidence.violation(
            check, section, "committed-mismatch",
            f"committed() returned {committed} after committing {commit_to}", topic=topic,
            partition=0, member="m1", evidence=[commit.index] if commit else [],
            offsets=[commit_to], committed=committed))
    return out


@semantics_check("S7-assign-seek", "S7")
def assign_and_seek(ctx: Context) -> CheckResult:
    """assign() without group management, seek() reads exactly from the sought offset, and a
    commit with the group id still works."""
    check, section = "S7-assign-seek", "S7"
    if not ctx.capabilities.manual_assignment:
        return result(check, section, Verdict.UNSUPPORTED, note="no manual assignment")
    h = ctx.harness("s7-assign", partitions=2)
    h.produce(20, partition=0)
    m = h.start_member("m1", run=False, subscribe=False)
    m.request({"type": "assign", "partitions": [[h.topic, 0]]})
    m.request({"type": "seek", "topic": h.topic, "partition": 0, "offset": 7})
    got = poll_until(m, lambda got: len(got) >= 13, timeout=30)
    m.request({"type": "commit", "offsets": [[h.topic, 0, 15]]})
    committed = m.request({"type": "committed", "partitions": [[h.topic, 0]]})["offsets"]
    h.stop_member("m1")
    offsets = [r[2] for r in got]
    violations = judge_assign_seek(h.history, committed)
    figures = {"first_offset": offsets[0] if offsets else None, "read": len(offsets)}
    if violations:
        return result(check, section, Verdict.FAIL, history=h, violations=violations,
                      note="after seek(7), m1 had to read 7..19: " + note_of(violations),
                      **figures)
    return result(check, section, Verdict.PASS, history=h, **figures)


def _assignments(ctx: Context) -> list[str]:
    if ctx.protocol == GroupProtocol.CONSUMER:
        return ["consumer-protocol"]
    return ["range"] + (["cooperative-sticky"] if ctx.capabilities.cooperative else [])


@semantics_check("S8-revoke-commit-no-duplicates", "S8")
def revoke_commit(ctx: Context) -> CheckResult:
    """Committing in on_revoked gives zero duplicates across graceful rebalances (eager,
    cooperative-sticky, and the consumer protocol)."""
    check, section = "S8-revoke-commit-no-duplicates", "S8"
    figures: dict[str, int] = {}
    problems = []
    parts: list[tuple[Harness, list[Violation]]] = []
    for assignment in _assignments(ctx):
        config = {} if assignment == "consumer-protocol" else {"assignment_strategy": assignment}
        h = ctx.harness(f"s8-{assignment}", Strategy.parse("BATCH+revoke"), partitions=3,
                        **config)
        for member in ("m1", "m2", "m3"):
            h.start_member(member)
            h.produce(30, [f"k{i}" for i in range(6)])
            h.settle()
        h.stop_member("m1")
        h.produce(30, [f"k{i}" for i in range(6)])
        h.settle()
        h.drain()
        dups, gone = duplicates(h.history), len(lost(h.history))
        figures[f"{assignment}_duplicates"] = dups
        figures[f"{assignment}_lost"] = gone
        parts.append((h, judge_revoke_commit(h.history)))
        if dups or gone:
            problems.append(f"{assignment}: {dups} duplicate(s), {gone} lost")
    path, starts = evidence.write_combined(ctx.workdir / "history.jsonl",
                                           [h.history for h, _v in parts])
    violations = [v for (h, found), at in zip(parts, starts, strict=True)
                  for v in evidence.shifted(found, at, part=h.workdir.name)]
    if problems:
        return result(check, section, Verdict.FAIL, history=path, violations=violations,
                      note="; ".join(problems) + ": " + note_of(violations), **figures)
    return result(check, section, Verdict.PASS, history=path, **figures)


def judge_revoke_commit(history: History) -> list[Violation]:
    """S8 with a commit in on_revoked: every produced record processed exactly once, by any
    member, on every partition of the scenario."""
    scenario = history.scenario()
    topic = scenario.get("topic", "")
    return [v for p in range(int(scenario.get("partitions", 1)))
            for v in evidence.compare(history, "S8-revoke-commit-no-duplicates", "S8",
                                      topic=topic, partition=p,
                                      expected=evidence.produced_offsets(history, topic, p),
                                      start=False)]


@semantics_check("S8-killed-member-redelivery", "S8")
def killed_member(ctx: Context) -> CheckResult:
    """A member killed without a chance to commit: its partitions are re-read from the last
    commit by the others; duplicates within the bound, never loss."""
    check, section = "S8-killed-member-redelivery", "S8"
    strategy = Strategy.parse("BATCH+revoke")
    strategy.process_ms = 2
    h = ctx.harness("s8-killed", strategy, partitions=2)
    h.start_member("m1")
    h.start_member("m2")
    h.settle()
    h.produce(40, ["k0", "k1", "k2", "k3"])
    h.wait_for(lambda: len(processed(h.history)) >= 20, 30)
    h.kill_member("m1", mid_batch=True, trigger=lambda: h.produce(40, ["k0", "k1", "k2"]))
    h.settle()
    h.drain()
    results = generic(h, "no-loss", "duplicates-bounded")
    figs = results["duplicates-bounded"].figures
    figures = {"duplicates": duplicates(h.history), "bound": figs.get("bound"),
               "lost": len(lost(h.history))}
    bad = [r for r in results.values() if r.verdict == Verdict.FAIL]
    if bad:
        return result(check, section, Verdict.FAIL, history=h,
                      violations=evidence.from_results(h.history, *bad),
                      note=evidence.results_note(bad), **figures)
    return result(check, section, Verdict.PASS, history=h, **figures)
