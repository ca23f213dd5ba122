"""Cells of a results column and how two cells differ: the pure part of ``compare`` (two
releases of a client) and of the reference column (a client against the Java client).

A column is one client spec's entries of a run, keyed by (configuration label, check). The
kinds of a difference, from OLD to NEW (first rule that applies):

    new-failure       NEW fail, OLD anything else
    new-deviation     NEW expected (a failure the baseline excuses), OLD not fail
    fixed             OLD fail/expected, NEW pass/hazard
    new-hazard        NEW hazard, OLD pass/unknown/unsupported/not run
    to-unknown        NEW unknown (to-unsupported: NEW unsupported)
    removed           the cell is not in NEW
    from-unknown      OLD unknown (from-unsupported: OLD unsupported)
    added             the cell is not in OLD
    changed           any other verdict change (hazard -> pass, fail -> expected)
    figures           same verdict, numeric figures moved
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from conformance.report.columns import configuration_of, spec_of
from conformance.verdicts import CheckResult, RunResult, Verdict

KINDS = ("new-failure", "new-deviation", "fixed", "new-hazard", "to-unknown", "to-unsupported",
         "removed", "from-unknown", "from-unsupported", "added", "changed", "figures")
#: OLD verdicts a NEW failure is a regression from (the gate).
PASSING = frozenset({Verdict.PASS, Verdict.HAZARD, Verdict.EXPECTED})
FAILING = frozenset({Verdict.FAIL, Verdict.EXPECTED})
Key = tuple[str, str]


@dataclass(frozen=True)
class Change:
    """One (configuration label, check) cell whose verdict or figures differ."""

    label: str
    check: str
    section: str
    kind: str
    old: str | None
    new: str | None
    gates: bool = False
    figures: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    detail: str = ""


def classify(old: Verdict | None, new: Verdict | None) -> str | None:
    """The kind of a verdict change (None: the same verdict); ``None`` verdict = not run."""
    if old == new:
        return None
    if new == Verdict.FAIL:
        return "new-failure"
    if new == Verdict.EXPECTED and old != Verdict.FAIL:
        return "new-deviation"
    if old in FAILING and new in (Verdict.PASS, Verdict.HAZARD):
        return "fixed"
    if new == Verdict.HAZARD:
        return "new-hazard"
    if new in (Verdict.UNKNOWN, Verdict.UNSUPPORTED):
        return f"to-{new}"
    if new is None:
        return "removed"
    if old in (Verdict.UNKNOWN, Verdict.UNSUPPORTED):
        return f"from-{old}"
    if old is None:
        return "added"
    return "changed"


def moved_figures(old: dict[str, Any], new: dict[str, Any]
                  ) -> dict[str, dict[str, float | int | None]]:
    """Numeric figures whose value differs (a side without the figure: None)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for key in dict.fromkeys([*old, *new]):
        a, b = _number(old.get(key)), _number(new.get(key))
        if (a is not None or b is not None) and a != b:
            out[key] = {"old": a, "new": b}
    return out


def cells(result: RunResult, spec: str) -> dict[Key, CheckResult]:
    """The cells of one spec's column, keyed by (configuration, check): an early-access
    column pairs with a generally available one (:func:`configuration_of`)."""
    cells: dict[Key, CheckResult] = {}
    for client in result.clients:
        if spec_of(client) == spec:
            for c in client.checks:
                cells.setdefault((configuration_of(client), c.check), c)
    return cells


def change(key: Key, o: CheckResult | None, n: CheckResult | None) -> Change | None:
    """How cell ``key`` differs from ``o`` (OLD) to ``n`` (NEW); None if it does not."""
    ov, nv = (o.verdict if o else None), (n.verdict if n else None)
    kind = classify(ov, nv)
    figures = moved_figures(o.figures if o else {}, n.figures if n else {}) if o and n else {}
    if kind is None and not figures:
        return None
    either = n or o
    assert either is not None
    return Change(label=key[0], check=key[1], section=either.section, kind=kind or "figures",
                  old=str(ov) if ov else None, new=str(nv) if nv else None,
                  gates=kind == "new-failure" and ov in PASSING, figures=figures,
                  detail=_detail(n) if n and kind else "")


def _detail(check: CheckResult) -> str:
    """One line on NEW's cell: its first violation, else its note."""
    text = check.violations[0].message if check.violations else check.note
    first = text.strip().splitlines()[0] if text.strip() else ""
    more = len(check.violations) - 1
    return f"{first} (+{more} more)" if more > 0 else first


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if isinstance(value, float) and math.isnan(value) else value
