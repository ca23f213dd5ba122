"""`kafka-conformance compare OLD NEW`: the upgrade gate between two columns of results.

A column is one client spec of a results.json (``kafka-python==2.0.2``): every entry of that
spec, keyed by (configuration label, check). ``compare`` pairs the cells of the OLD and NEW
columns and classifies each difference (the kinds: :mod:`conformance.report.cells`).

The gate: exit 1 when a ``new-failure`` had a passing OLD cell, passing as in ``run``'s exit
code: ``pass``, ``hazard`` or ``expected`` (a known deviation). Cells OLD did not decide
(``unknown``, ``unsupported``, not run) are reported but do not gate. Exit 0 otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from conformance.errors import UsageError
from conformance.report.cells import KINDS
from conformance.report.comparison import SCHEMA, Comparison, compare
from conformance.report.json_report import load_results, run_result_from_json
from conformance.styles import styled

__all__ = ["SCHEMA", "Comparison", "compare", "compare_files", "print_comparison",
           "write_comparison"]

# -- files and console ---------------------------------------------------------------------------
#: a change kind is shown in the style of the verdict it changed to
_LOOKS_LIKE = {"new-failure": "fail", "new-deviation": "expected", "fixed": "pass",
               "new-hazard": "hazard", "to-unknown": "unknown", "to-unsupported": "unsupported",
               "removed": "unsupported"}


def compare_files(old: str, new: str, old_spec: str | None = None, new_spec: str | None = None,
                  json_out: str | None = None, strict: bool = False) -> int:
    """Compare two results.json files (may be the same file), print the changes, optionally
    write the comparison as JSON to ``json_out``; returns the exit code (0 or 1; with
    ``strict``, 3 when no check gates but NEW has undecided checks or run errors). Bad input
    (missing or malformed file, ambiguous or unknown spec) raises ``UsageError`` (exit 2)."""
    old_run = run_result_from_json(load_results(old))
    new_run = old_run if Path(new) == Path(old) else run_result_from_json(load_results(new))
    result = compare(old_run, new_run, old_spec, new_spec, old, new)
    if json_out:
        write_comparison(result, json_out)
    print_comparison(result)
    if strict and result.exit_code == 0 and (result.new.unknown or result.new.errors):
        print(f"exit code 3 (--strict): NEW has {result.new.unknown} undecided check(s)"
              f" and {len(result.new.errors)} run error(s)")
        return 3
    return result.exit_code


def write_comparison(result: Comparison, path: str | Path) -> Path:
    """Write the comparison's JSON document (schema ``kafka-conformance/compare/1``)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--json {path}: cannot write ({exc.strerror or exc})") from None
    return path


def print_comparison(result: Comparison, console: Console | None = None) -> None:
    """The changes as a table, then one line per notice and the verdict of the gate."""
    out = console or Console(width=max(Console().width, 140))
    o, n = result.old, result.new
    title = (f"{o.spec} ({o.client_version or '?'}, run {o.run_id}) -> "
             f"{n.spec} ({n.client_version or '?'}, run {n.run_id})")
    if result.changes:
        table = Table(title=escape(title))
        for name in ("configuration", "check", "change", "OLD", "NEW", "figures moved", "detail"):
            table.add_column(name)
        for c in result.changes:
            kind = styled(_LOOKS_LIKE.get(c.kind, ""), c.kind)
            figures = ", ".join(f"{k} {v['old']} -> {v['new']}" for k, v in c.figures.items())
            table.add_row(escape(c.label), escape(c.check), kind + (" (gates)" if c.gates else ""),
                          c.old or "not run", c.new or "not run", escape(figures),
                          escape(c.detail))
        out.print(table)
    else:
        out.print(escape(title))
    for side, col in (("OLD", o), ("NEW", n)):
        if col.errors or col.unknown:
            out.print(f"[magenta]note:[/] {side} ({escape(col.spec)}) has {col.unknown} "
                      f"undecided check(s) and {len(col.errors)} run error(s); those cells "
                      f"cannot gate")
    summary = result.to_json()["summary"]
    counts = ", ".join(f"{v} {k}" for k, v in summary.items() if v and k in KINDS)
    out.print(f"{counts or 'no changes'}; {result.unchanged} unchanged")
    if result.exit_code:
        out.print(f"[bold red]exit code 1:[/] {summary['gating']} check(s) NEW fails that OLD "
                  f"passed")
    else:
        out.print("exit code 0: NEW fails no check that OLD passed")
