"""S4 auto commit and S5 manual commit: when commits happen, what a crash costs, failures."""

from __future__ import annotations

import time
from typing import Any

from conformance.checkers import run_checks
from conformance.errors import WorkerError
from conformance.harness import Harness
from conformance.history import Event, History
from conformance.scenarios import evidence
from conformance.scenarios.base import (
    Context,
    duplicates,
    error_code,
    generic,
    lost,
    poll_until,
    processed,
    result,
    semantics_check,
    wait_assigned,
)
from conformance.strategies import Strategy
from conformance.verdicts import CheckResult, Verdict, Violation

BATCH = 30


def _processed_by(h: Harness, member: str) -> int:
    return len(processed(h.history, member))


def _crash_and_take_over(h: Harness, when=None) -> bool:
    """m1 consumes, is SIGKILLed (mid-batch, or on ``when``), m2 takes over, then drain."""
    h.start_member("m1")
    h.produce(BATCH)
    h.wait_for(lambda: _processed_by(h, "m1") >= BATCH // 2, 20)
    landed = h.kill_member("m1", mid_batch=True, when=when, timeout=10,
                           trigger=lambda: h.produce(BATCH))
    h.start_member("m2")
    h.produce(10)
    h.drain()
    h.observe_group()
    return landed


@semantics_check("S4-auto-commit-crash", "S4")
def auto_commit_crash(ctx: Context) -> CheckResult:
    """Auto commit: a SIGKILL re-delivers what was processed since the last auto commit, and
    whether a record handed to the application but not processed can end up committed.

    The loss is a hazard only within S4's explanation, as the policy measures it (records m1
    polled, an auto commit of m1 covered and the SIGKILL interrupted); a record lost beyond it
    (e.g. never handed to the application) fails."""
    check, section = "S4-auto-commit-crash", "S4"
    h = ctx.harness("s4-auto", Strategy("auto", process_ms=5), auto_commit_interval_ms=300)

    def committed_beyond_processed(event: Event) -> bool:
        if event.type != "committed" or event.source != "m1" or not event.data.get("ok"):
            return False
        done = max((o for p, o in processed(h.history, "m1") if p == 0), default=-1)
        return any(off > done + 1 for off in event.offsets().values())

    landed = _crash_and_take_over(h, when=committed_beyond_processed)
    verdict, note, figures = judge_auto_commit_crash(h.history, landed)
    return result(check, section, verdict, history=h, note=note,
                  violations=auto_commit_violations(h.history, verdict), **figures)


def auto_commit_violations(history: History, verdict: Verdict) -> list[Violation]:
    """The evidence of S4's verdict: the failing checks' violations on a fail; on a hazard
    the lost records and the commits beyond what was processed."""
    results = run_checks(history, only=["no-loss", "duplicates-bounded", "commit-validity"])
    if verdict == Verdict.FAIL:
        return evidence.from_results(history, *results)
    if verdict == Verdict.HAZARD:
        measured = [r for r in results if r.check != "duplicates-bounded"]
        return evidence.from_results(history, *measured, bad_only=False)
    return []


def judge_auto_commit_crash(history: History, landed: bool
                            ) -> tuple[Verdict, str, dict[str, Any]]:
    """S4's verdict on the history of an auto-commit crash (``landed``: m1 was killed on a
    commit beyond what it had processed): fail on loss beyond what S4 explains or duplicates
    beyond the bound, hazard on loss within it, else pass; with the figures."""
    auto = [e for e in history.of_type("committed")
            if e.source == "m1" and e.data.get("mode") == "auto" and e.data.get("ok")]
    gone, dups = lost(history), duplicates(history)
    results = {r.check: r for r in run_checks(
        history, only=["no-loss", "duplicates-bounded", "commit-validity"])}
    loss = results["no-loss"]
    figures = {"auto_commits_seen": len(auto), "duplicates": dups, "lost": len(gone),
               "killed_on_commit_beyond_processed": landed,
               "no_loss": str(loss.verdict),
               "commit_validity": str(results["commit-validity"].verdict)}
    if loss.verdict == Verdict.FAIL:
        return (Verdict.FAIL, f"{len(gone)} record(s) lost beyond what S4 explains: "
                f"{loss.note}", figures)
    if results["duplicates-bounded"].verdict == Verdict.FAIL:
        return (Verdict.FAIL, "duplicates beyond what the member processed since its last "
                "commit", figures)
    if loss.verdict == Verdict.UNKNOWN:
        return Verdict.UNKNOWN, loss.note, figures
    if gone or landed:
        return (Verdict.HAZARD, f"the client auto-committed offsets of records it had handed "
                f"to the application but that were not processed; a crash then lost "
                f"{len(gone)} record(s) (S4: offsets stored on poll)", figures)
    return (Verdict.PASS, f"auto commits covered processed records only; a crash "
            f"re-delivered {dups} record(s)", figures)


STRATEGY_CHECKS = ("RECORD", "BATCH", "COUNT:10", "TIME:300", "COUNT_TIME:10", "MANUAL",
                   "MANUAL_IMMEDIATE", "BATCH+async")


def _strategy_check(spec: str):
    check = f"S5-{spec.replace(':', '-').replace('+', '-')}-crash-bound"

    def run(ctx: Context) -> CheckResult:
        strategy = Strategy.parse(spec)
        strategy.process_ms = 2
        h = ctx.harness(f"s5-{strategy.label.replace('/', '-')}", strategy)
        _crash_and_take_over(h)
        results = generic(h, "no-loss", "duplicates-bounded")
        figs = results["duplicates-bounded"].figures
        figures = {"strategy": strategy.label, "bound": figs.get("bound"),
                   "max_duplicates_per_handover": figs.get("max_duplicates_per_handover", 0),
                   "lost": len(lost(h.history))}
        bad = [r for r in results.values() if r.verdict == Verdict.FAIL]
        if bad:
            return result(check, "S5", Verdict.FAIL, history=h,
                          violations=evidence.from_results(h.history, *bad),
                          note=evidence.results_note(bad), **figures)
        return result(check, "S5", Verdict.PASS, history=h, **figures)

    run.__doc__ = f"Commit strategy {spec}: duplicates after a SIGKILL stay within its bound."
    semantics_check(check, "S5")(run)


for _spec in STRATEGY_CHECKS:
    _strategy_check(_spec)


#: how long the scenario polls for the outcome of m1's async commit before closing it
ASYNC_OUTCOME_SECONDS = 10.0


@semantics_check("S5-commit-after-removal", "S5", needs=("poll_interval",))
def commit_after_removal(ctx: Context) -> CheckResult:
    """A member removed from the group (stopped polling) gets CommitFailed, sync and async."""
    check, section = "S5-commit-after-removal", "S5"
    h = ctx.harness("s5-removed", max_poll_interval_ms=3000)
    h.produce(10)
    m1 = h.start_member("m1", run=False)
    poll_until(m1, lambda got: len(got) >= 5, timeout=30)
    h.start_member("m2")  # takes the partition once m1 exceeds max.poll.interval.ms
    if not wait_assigned(h, "m2", 1, timeout=60):
        return result(check, section, Verdict.UNKNOWN, history=h,
                      note="the second member never got the partition")
    outcomes = {}
    for mode, asynchronous in (("sync", False), ("async", True)):
        try:
            m1.request({"type": "commit", "offsets": [[h.topic, 0, 5]],
                        "asynchronous": asynchronous})
            outcomes[mode] = "requested" if asynchronous else "accepted"
        except WorkerError as exc:
            outcomes[mode] = f"error {error_code(exc)}"
    # an async commit's outcome comes with a later poll's callbacks (or at close): wait for it
    deadline = time.monotonic() + ASYNC_OUTCOME_SECONDS
    while (outcomes["async"] == "requested" and async_outcome(h.history) is None
           and time.monotonic() < deadline):
        m1.request({"type": "poll", "timeout": 0.5, "process": False})
    h.stop_member("m1")
    h.stop_member("m2")
    return judge_removal(h.history, outcomes, h)


def async_outcome(history: History) -> dict[str, Any] | None:
    """The outcome m1's async commit reported (its ``committed`` event), if any yet."""
    found = [e.data for e in history.by_source("m1")
             if e.type == "committed" and e.data.get("mode") == "async"]
    return found[-1] if found else None


def judge_removal(history: History, outcomes: dict[str, str],
                  h: Harness | None = None) -> CheckResult:
    """The verdict of ``S5-commit-after-removal`` from the outcomes of m1's two requests and
    the history (which holds the async commit's outcome once its callback ran, also at
    close). An async outcome that never arrived decides nothing: ``unknown``."""
    check, section = "S5-commit-after-removal", "S5"
    outcomes = dict(outcomes)
    found = async_outcome(history)
    if found is not None and outcomes.get("async") == "requested":
        outcomes["async"] = "ok" if found.get("ok") else \
            f"callback error {found.get('error')}"
    sync_ok = outcomes.get("sync", "").startswith("error commit-failed")
    async_ok = outcomes.get("async", "").startswith(("callback error", "error"))
    undecided = outcomes.get("async") == "requested"
    if sync_ok and async_ok:
        return result(check, section, Verdict.PASS, history=h, **outcomes)
    if sync_ok and undecided:
        return result(check, section, Verdict.UNKNOWN, history=h, note=(
            f"the async commit's outcome never arrived (polled {ASYNC_OUTCOME_SECONDS:g} s, "
            "then closed the member): whether the removed member's async commit fails is "
            "undecided"), **outcomes)
    failing = {"sync": sync_ok, "async": async_ok or undecided}
    violations = removal_violations(history, failing, outcomes)
    note = ("a removed member's commit must fail (sync: CommitFailed; async: error in the "
            "callback): " + "; ".join(f"{mode} {outcomes.get(mode, 'not tried')}"
                                      for mode, ok in failing.items() if not ok))
    return result(check, section, Verdict.FAIL, history=h, note=note, violations=violations,
                  **outcomes)


def removal_violations(history: History, ok: dict[str, bool], outcomes: dict[str, str]
                       ) -> list[Violation]:
    """One violation per commit mode m1 got through after m2 took its partition over:
    evidence m2's assignment and m1's commit events of that mode after it."""
    topic = history.scenario().get("topic", "")
    taken = next((e.index for e in history.by_source("m2") if e.type == "assigned"
                  and (topic, 0) in e.partitions()), -1)
    out = []
    for mode, good in ok.items():
        if good:
            continue
        events = [e for e in history.by_source("m1") if e.index > taken
                  and e.type in ("commit_requested", "committed") and e.data.get("mode") == mode]
        offsets = sorted({o for e in events for o in e.offsets().values()})
        out.append(evidence.violation(
            "S5-commit-after-removal", "S5", "commit-after-removal",
            f"m1's {mode} commit after m2 took partition 0 over: {outcomes.get(mode)} "
            f"(expected CommitFailed)", topic=topic, partition=0, member="m1",
            evidence=[i for i in (taken, *(e.index for e in events)) if i >= 0],
            offsets=offsets or [5], mode=mode, outcome=outcomes.get(mode)))
    return out
