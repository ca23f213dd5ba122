"""S7 manual assignment and seek; S8 the rebalance listener (commit in on_revoked, crashes)."""

from __future__ import annotations

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
from conformance.strategies import Strategy
from conformance.verdicts import CheckResult, Verdict


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
    group_events = [e.type for e in h.history.by_source("m1")
                    if e.type in ("revoked", "lost") or (e.type == "assigned"
                                                          and not e.data.get("manual"))]
    problems = []
    if offsets != list(range(7, 20)):
        problems.append(f"read {offsets[:5]}... instead of 7..19")
    if group_events:
        problems.append(f"rebalance callbacks fired without group management: {group_events}")
    if committed != [[h.topic, 0, 15]]:
        problems.append(f"committed() returned {committed} after committing 15")
    figures = {"first_offset": offsets[0] if offsets else None, "read": len(offsets)}
    if problems:
        return result(check, section, Verdict.FAIL, history=h, note="; ".join(problems),
                      **figures)
    return result(check, section, Verdict.PASS, history=h, **figures)


def _assignments(ctx: Context) -> list[str]:
    if ctx.protocol == "consumer":
        return ["consumer-protocol"]
    return ["range"] + (["cooperative-sticky"] if ctx.capabilities.cooperative else [])


@semantics_check("S8-revoke-commit-no-duplicates", "S8")
def revoke_commit(ctx: Context) -> CheckResult:
    """Committing in on_revoked gives zero duplicates across graceful rebalances (eager,
    cooperative-sticky, and the consumer protocol)."""
    check, section = "S8-revoke-commit-no-duplicates", "S8"
    figures: dict[str, int] = {}
    problems = []
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
        h.history.to_jsonl(h.workdir / "history.jsonl")
        if dups or gone:
            problems.append(f"{assignment}: {dups} duplicate(s), {gone} lost")
    if problems:
        return result(check, section, Verdict.FAIL, note="; ".join(problems), **figures)
    return result(check, section, Verdict.PASS, **figures)


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
                      note="; ".join(f"{r.check}: {r.note}" for r in bad), **figures)
    return result(check, section, Verdict.PASS, history=h, **figures)
