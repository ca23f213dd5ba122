"""The header's "since the last run" line (``run --previous results.json``): what
``kafka-conformance compare`` reports from the previous run to this one, for every client spec
both runs hold: the new failures, the fixed checks and the new hazards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.report.comparison import compare_runs, specs_in
from conformance.report.json_report import ResultsError, load_results, run_result_from_json
from conformance.verdicts import RunResult

#: the kinds of change the line shows (``conformance.report.cells``), with their names
SHOWN = {"new-failure": "new failure", "fixed": "fixed", "new-hazard": "new hazard"}
#: cells listed per kind; the rest are counted
MAX_CELLS = 8


def since_last_run(previous: RunResult, result: RunResult, file: str) -> dict[str, Any]:
    """The changes from ``previous`` (read from ``file``) to ``result``: per kind of
    :data:`SHOWN`, its cells (``spec [configuration] check``), and the specs not compared."""

    found: dict[str, list[str]] = {kind: [] for kind in SHOWN}
    for comparison in compare_runs(previous, result):
        for change in comparison.changes:
            if change.kind in found:
                found[change.kind].append(f"{comparison.new.spec} [{change.label}] "
                                          f"{change.check}")
    before = set(specs_in(previous))
    kinds = [{"kind": kind, "count": len(cells), "text": _count(len(cells), kind),
              "cells": cells[:MAX_CELLS], "more": max(0, len(cells) - MAX_CELLS)}
             for kind, cells in found.items()]
    return {"file": file, "run_id": previous.run_id, "kinds": kinds,
            "summary": summary(kinds), "error": "",
            "not_compared": [s for s in specs_in(result) if s not in before]}


def summary(kinds: list[dict[str, Any]]) -> str:
    """``1 new failure, 0 fixed, 2 new hazards``."""
    return ", ".join(k["text"] for k in kinds)


def _count(n: int, kind: str) -> str:
    """``1 new failure``, ``2 new hazards``, ``3 fixed``."""
    return f"{n} {SHOWN[kind]}" + ("s" if n != 1 and kind != "fixed" else "")


def load_previous(path: str | Path) -> RunResult:
    """The run of the results.json at ``path``; any problem raises a one-line
    ``ResultsError`` (a usage error: exit 2)."""
    try:
        return run_result_from_json(load_results(path))
    except ResultsError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultsError(f"{path}: not a kafka-conformance results file "
                           f"({type(exc).__name__}: {exc})") from None


def since_file(path: str | Path, result: RunResult) -> dict[str, Any]:
    """:func:`since_last_run` against the results.json at ``path``; a file that cannot be
    read any more gives only its ``error`` (the report is still written)."""
    try:
        previous = load_previous(path)
    except ResultsError as exc:
        return {"file": str(path), "run_id": "", "kinds": [], "summary": "",
                "not_compared": [], "error": str(exc)}
    return since_last_run(previous, result, str(path))
