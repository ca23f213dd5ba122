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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from conformance.errors import UsageError
from conformance.report.cells import KINDS, Change, cells, change
from conformance.report.columns import spec_of
from conformance.report.json_report import load_results, run_result_from_json
from conformance.verdicts import ClientResult, RunResult, Verdict

SCHEMA = "kafka-conformance/compare/1"


@dataclass(frozen=True)
class Column:
    """Where one side of the comparison comes from."""

    file: str
    run_id: str
    spec: str
    client: str
    client_version: str
    entries: int
    unknown: int
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """Every change from OLD to NEW, and the cells that stayed the same."""

    old: Column
    new: Column
    changes: list[Change]
    unchanged: int

    @property
    def exit_code(self) -> int:
        """1 when NEW fails a check OLD passed (see the module docstring), else 0."""
        return 1 if any(c.gates for c in self.changes) else 0

    def to_json(self) -> dict[str, Any]:
        counts = {k: sum(c.kind == k for c in self.changes) for k in KINDS}
        return {
            "schema": SCHEMA, "old": asdict(self.old), "new": asdict(self.new),
            "exit_code": self.exit_code,
            "summary": {**counts, "gating": sum(c.gates for c in self.changes),
                        "unchanged": self.unchanged},
            "changes": [asdict(c) for c in self.changes],
        }


def compare(old: RunResult, new: RunResult, old_spec: str | None = None,
            new_spec: str | None = None, old_file: str = "OLD", new_file: str = "NEW"
            ) -> Comparison:
    """The changes from the ``old_spec`` column of ``old`` to the ``new_spec`` column of
    ``new`` (``None``: the only spec of that run; ``UsageError`` when it has several or the spec
    is not there). ``*_file`` name the runs in errors and in the result."""
    ospec, nspec = (select_spec(old, old_spec, old_file, "--old-client"),
                    select_spec(new, new_spec, new_file, "--new-client"))
    ocells, ncells = cells(old, ospec), cells(new, nspec)
    changes, unchanged = [], 0
    for key in dict.fromkeys([*ocells, *ncells]):
        o, n = ocells.get(key), ncells.get(key)
        found = change(key, o, n)
        if found is None:
            unchanged += 1
        else:
            changes.append(found)
    order = {k: i for i, k in enumerate(KINDS)}
    changes.sort(key=lambda c: (not c.gates, order[c.kind]))
    return Comparison(_column(old, ospec, old_file), _column(new, nspec, new_file), changes,
                      unchanged)


def compare_runs(old: RunResult, new: RunResult) -> list[Comparison]:
    """One comparison per client spec both runs hold (a run of several specs against the
    same run later), in NEW's order."""
    both = set(specs_in(old))
    return [compare(old, new, spec, spec) for spec in specs_in(new) if spec in both]


def specs_in(result: RunResult) -> list[str]:
    """The distinct client specs of a run, in order of appearance."""
    return list(dict.fromkeys(spec_of(c) for c in result.clients))


def select_spec(result: RunResult, spec: str | None, file: str, option: str) -> str:
    """The spec to compare from ``result``; UsageError naming the specs present otherwise."""
    specs = specs_in(result)
    if not specs:
        raise UsageError(f"{file}: no client results to compare")
    if spec is None:
        if len(specs) == 1:
            return specs[0]
        raise UsageError(f"{file} holds several client specs ({', '.join(specs)}); "
                         f"choose one with {option}")
    if spec not in specs:
        raise UsageError(f"{file}: no results for client spec {spec!r} "
                         f"(specs present: {', '.join(specs)})")
    return spec


def _column(result: RunResult, spec: str, file: str) -> Column:
    entries = [c for c in result.clients if spec_of(c) == spec]
    first: ClientResult = entries[0]
    unknown = sum(c.verdict == Verdict.UNKNOWN for cl in entries for c in cl.checks)
    return Column(file, result.run_id, spec, first.client, first.client_version, len(entries),
                  unknown, list(result.errors))


# -- files and console ---------------------------------------------------------------------------
_STYLE = {"new-failure": "bold red", "new-deviation": "cyan", "fixed": "green",
          "new-hazard": "yellow", "to-unknown": "magenta", "to-unsupported": "dim",
          "removed": "dim", "figures": ""}


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
            style = _STYLE.get(c.kind, "")
            kind = f"[{style}]{c.kind}[/]" if style else c.kind
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
