"""Checkers: pure functions from a history to violations, and the registry that runs them.

Every checker is ``check_x(history) -> list[Violation]`` and never talks to a broker. The
registry runs them by stable id, turns an exception into verdict ``unknown`` (the error in the
note), asks ``policy.judge`` for the verdict and fills figures.

    no-loss              S1  loss.check_no_loss                    lost,
                                                                   lost-before-first-assignment
    duplicates-bounded   S5  duplicates.check_duplicates           redelivered-after-commit,
                                                                   duplicate-without-cause,
                                                                   duplicates-over-bound
    order                S9  order.check_order                     nonmonotonic, skip,
                                                                   key-order-across-growth
    start-position       S1  positions.check_start_position        start-after-committed,
                                                                   start-before-committed,
                                                                   start-without-committed,
                                                                   resumed-own-position
    commit-validity      S5  commits.check_commit_validity         commit-unowned-partition,
                                                                   commit-beyond-processed,
                                                                   group-offset-beyond-processed,
                                                                   group-offset-regressed
    exclusive-ownership  S8  ownership.check_exclusive_ownership   concurrent-owners,
                                                                   unowned-partition,
                                                                   multiple-owners,
                                                                   unsubscribe-without-revoke
    zombie-fencing       S8  zombies.check_zombie_fencing          zombie-commit-accepted,
                                                                   zombie-read
    member-assigned      S8  liveness.check_member_assigned        group-never-settled,
                                                                   member-never-assigned
    isolation            S1  isolation.check_isolation             aborted-record-delivered,
                                                                   control-record-delivered,
                                                                   aborted-record-skipped
    pause-honored        S7  pauses.check_pause_honored            paused-partition-delivered
    calls-return         S8  calls.check_calls_return              call-never-returned
    progress             S8  progress.check_progress               owned-partition-stalled
    member-rejoined      S8  rejoin.check_member_rejoined          member-not-rejoined

docs/checks.md describes every check and the hazard policy (``policy``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from conformance.checkers.calls import check_calls_return
from conformance.checkers.commits import check_commit_validity
from conformance.checkers.duplicates import check_duplicates, duplicate_figures
from conformance.checkers.isolation import check_isolation
from conformance.checkers.liveness import check_member_assigned
from conformance.checkers.loss import check_no_loss
from conformance.checkers.order import check_order, order_figures
from conformance.checkers.ownership import check_exclusive_ownership
from conformance.checkers.pauses import check_pause_honored
from conformance.checkers.policy import judge
from conformance.checkers.positions import check_start_position
from conformance.checkers.progress import check_progress
from conformance.checkers.rejoin import check_member_rejoined
from conformance.checkers.zombies import check_zombie_fencing
from conformance.history import History
from conformance.verdicts import CheckResult, Verdict, Violation

Checker = Callable[[History], list[Violation]]

CHECKS: dict[str, tuple[str, Checker]] = {
    "no-loss": ("S1", check_no_loss),
    "duplicates-bounded": ("S5", check_duplicates),
    "order": ("S9", check_order),
    "start-position": ("S1", check_start_position),
    "commit-validity": ("S5", check_commit_validity),
    "exclusive-ownership": ("S8", check_exclusive_ownership),
    "zombie-fencing": ("S8", check_zombie_fencing),
    "member-assigned": ("S8", check_member_assigned),
    "isolation": ("S1", check_isolation),
    "pause-honored": ("S7", check_pause_honored),
    "calls-return": ("S8", check_calls_return),
    "progress": ("S8", check_progress),
    "member-rejoined": ("S8", check_member_rejoined),
}

#: checks that need a capability of every member's worker: without it the history cannot show
#: what they judge, so they are ``unsupported`` rather than passed
NEEDS: dict[str, str] = {"calls-return": "reports_calls"}

FIGURES: dict[str, Callable[[History], dict[str, Any]]] = {
    "duplicates-bounded": duplicate_figures,
    "order": order_figures,
}

__all__ = ["CHECKS", "FIGURES", "run_check", "run_checks"]


def run_checks(history: History, only: Iterable[str] | None = None) -> list[CheckResult]:
    """One result per check (registry order, or the order of ``only``)."""
    ids = list(CHECKS) if only is None else list(only)
    unknown = [i for i in ids if i not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check id(s) {', '.join(unknown)}; "
                         f"known: {', '.join(CHECKS)}")
    return [run_check(history, check_id) for check_id in ids]


def run_check(history: History, check_id: str) -> CheckResult:
    """Run one registered check; an exception becomes verdict ``unknown`` with the error."""
    section, checker = CHECKS[check_id]
    started = time.perf_counter()
    lacking = _lacking(history, NEEDS.get(check_id))
    if lacking:
        return CheckResult(check_id, section, Verdict.UNSUPPORTED, examples=1,
                           note=f"the worker of {', '.join(lacking)} does not report "
                                f"{NEEDS[check_id]} (a capability of its worker)")
    try:
        violations = list(checker(history))
    except Exception as exc:  # a checker bug or an odd history must not crash the run
        return CheckResult(check_id, section, Verdict.UNKNOWN, examples=1,
                           seconds=time.perf_counter() - started,
                           note=f"checker error: {type(exc).__name__}: {exc}")
    verdict, note = judge(check_id, violations, history.scenario(), history)
    figures, figure_error = _figures(history, check_id, violations)
    if figure_error:
        note = "; ".join(n for n in (note, figure_error) if n)
    return CheckResult(check_id, section, verdict, examples=1,
                       seconds=time.perf_counter() - started, violations=violations,
                       figures=figures, note=note)


def _lacking(history: History, capability: str | None) -> list[str]:
    """The adapters (by their ``ready`` events) whose workers lack ``capability``."""
    if capability is None:
        return []
    return sorted({str(e.data.get("adapter") or e.source) for e in history.of_type("ready")
                   if not (isinstance(e.data.get("capabilities"), dict)
                           and e.data["capabilities"].get(capability))})


def _figures(history: History, check_id: str, violations: list[Violation]
             ) -> tuple[dict[str, Any], str]:
    figures: dict[str, Any] = {"anomalies": dict(Counter(v.anomaly for v in violations))}
    fn = FIGURES.get(check_id)
    if fn is None:
        return figures, ""
    try:
        figures.update(fn(history))
    except Exception as exc:  # figures are informative; their failure must not hide the verdict
        return figures, f"figures unavailable: {type(exc).__name__}: {exc}"
    return figures, ""
