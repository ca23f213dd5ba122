"""Checkers: pure functions from a history to violations, and the registry that runs them.

Every checker is ``check_x(history) -> list[Violation]`` and never talks to a broker; its
module registers it (``registry.registers``: id, section, rank, one line) and nothing else lists
it. The registry runs them by stable id, turns an exception into verdict ``unknown`` (the error
in the note), asks ``policy.judge`` for the verdict and fills figures. docs/checks.md describes
every check, its anomalies and the hazard policy (``policy``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from conformance.checkers.policy import judge
from conformance.checkers.registry import Checker, Registered, discover
from conformance.history import History
from conformance.verdicts import CheckResult, Verdict, Violation

#: every check its module registered, by rank (the report's column order)
REGISTERED: dict[str, Registered] = discover()

CHECKS: dict[str, tuple[str, Checker]] = {c.id: (c.section, c.fn) for c in REGISTERED.values()}

#: checks that need a capability of every member's worker: without it the history cannot show
#: what they judge, so they are ``unsupported`` rather than passed
NEEDS: dict[str, str] = {c.id: c.needs for c in REGISTERED.values() if c.needs}

FIGURES: dict[str, Callable[[History], dict[str, Any]]] = {
    c.id: c.figures for c in REGISTERED.values() if c.figures}

__all__ = ["CHECKS", "FIGURES", "REGISTERED", "run_check", "run_checks"]


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
