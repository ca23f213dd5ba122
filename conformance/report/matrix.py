"""The report's two matrices and the folding of repeated ``unsupported`` cells.

Generated-scenario invariants: one row per entry of ``RunResult.clients`` (client spec and
configuration), one column per check. Fixed scenarios (S1-S9): one row per scenario, as the
console prints them, one column per entry. An entry whose cells of a matrix are all
``unsupported`` for one reason leaves that matrix and becomes one line under it; every
unsupported cell of the run is listed once, grouped by reason (``unsupported_groups``).

Times: a fixed scenario's cell shows the scenario's own seconds; the checks of a generated
entry all judge the same examples, so the time (and the examples, where every check judged
the same number) is the entry's and shows once, in its row heading, never per cell.
Every cell that is not a pass links to its place by its named id (``columns.cell_ids``); its
tooltip is its note and, for a cell with a failing example, the configuration as run.
"""

from __future__ import annotations

from typing import Any

from conformance.protocols import EARLY_ACCESS
from conformance.report.columns import cell_anchor, cell_ids, column_title, spec_of
from conformance.report.legend import SECTIONS, section_id
from conformance.report.reproduce import is_fixed
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

SYMBOLS = {
    Verdict.PASS: "\u2713", Verdict.FAIL: "\u2717", Verdict.HAZARD: "\u26a0",
    Verdict.EXPECTED: "\u2248", Verdict.UNSUPPORTED: "\u2013", Verdict.UNKNOWN: "?",
}


def cell(ci: int, ki: int, c: CheckResult, anchor: str | None = None,
         as_run: str = "") -> dict[str, Any]:
    """What a matrix cell shows; ``anchor``: the id of its place (none for a pass);
    ``as_run``: the configuration its failing example ran with (for its tooltip)."""
    note = c.note.strip().splitlines()[0][:300] if c.note.strip() else ""
    title = "\n".join(t for t in (note, f"as run: {as_run}" if as_run else "") if t)
    return {"verdict": str(c.verdict), "symbol": SYMBOLS[c.verdict], "examples": c.examples,
            "seconds": f"{c.seconds:.1f}", "title": title,
            "anchor": (anchor or cell_anchor(ci, ki)) if c.verdict != Verdict.PASS else None}


def entry_head(client: ClientResult) -> dict[str, Any]:
    """A row or column heading: the spec, the client release and the configuration, and for
    generated scenarios the examples and the median example's seconds (the entry's own)."""
    label = client.label  # fixed scenarios: their protocol, as the console's columns
    if client.fixed:
        label = f"{client.protocol}{' ' + EARLY_ACCESS if client.early_access else ''}"
    timings = client.timings or {}
    examples = {c.examples for c in client.checks if not is_fixed(c.check)}
    runs = []
    if len(examples) == 1 and examples != {0}:
        runs.append(f"{examples.pop()} examples")
    if isinstance(timings.get("median_example"), int | float):
        runs.append(f"median {timings['median_example']:.1f} s")
    return {"name": spec_of(client), "client": client.client, "version": client.client_version,
            "label": label, "title": column_title(client), "runs": " \u00b7 ".join(runs),
            "same_examples": len(runs) > 0 and runs[0].endswith("examples")}


def _part(client: ClientResult, fixed: bool) -> list[tuple[int, CheckResult]]:
    return [(ki, c) for ki, c in enumerate(client.checks) if is_fixed(c.check) == fixed]


def _folded(client: ClientResult, part: list[tuple[int, CheckResult]]) -> str | None:
    """The one reason when every cell of ``part`` is unsupported for it, else None."""
    if len(part) < 2 or any(c.verdict != Verdict.UNSUPPORTED for _ki, c in part):
        return None
    notes = {c.note for _ki, c in part}
    return notes.pop() if len(notes) == 1 else None


def matrices(result: RunResult, ids: dict[tuple[int, int], str] | None = None,
             as_run: dict[tuple[int, int], str] | None = None) -> list[dict[str, Any]]:
    """The generated matrix and the fixed matrix (each only if any entry ran its checks);
    ``ids``: the cells' named ids (``columns.cell_ids``), ``as_run``: tooltip text per cell."""
    ids = ids or cell_ids(result.clients)
    as_run = as_run or {}
    out = []
    for fixed in (False, True):
        checks: dict[str, str] = {}
        kept: list[int] = []
        folded = []
        for ci, client in enumerate(result.clients):
            part = _part(client, fixed)
            if not part:
                continue
            for _ki, c in part:
                checks.setdefault(c.check, c.section)
            reason = _folded(client, part)
            if reason is not None:
                folded.append({**entry_head(client), "count": len(part), "note": reason,
                               "anchor": ids[ci, part[0][0]]})
            else:
                kept.append(ci)
        if not checks:
            continue
        by_entry = {ci: {c.check: cell(ci, ki, c, ids[ci, ki], as_run.get((ci, ki), ""))
                         for ki, c in _part(result.clients[ci], fixed)} for ci in kept}
        heads = [{"check": k, "section": s, "title": SECTIONS.get(s, ""),
                  "href": f"#{section_id(s)}" if section_id(s) else ""}
                 for k, s in checks.items()]
        entries = [entry_head(result.clients[ci]) for ci in kept]
        if fixed:  # scenarios as rows, entries as columns
            rows = [{"head": h, "cells": [by_entry[ci].get(h["check"]) for ci in kept]}
                    for h in heads]
            cols = entries
        else:
            rows = [{"head": e, "cells": [by_entry[ci].get(h["check"]) for h in heads]}
                    for ci, e in zip(kept, entries, strict=True)]
            cols = heads
        for row in rows:
            row["fails"] = any(c and c["verdict"] == "fail" for c in row["cells"])
        out.append({"kind": "fixed" if fixed else "generated",
                    "title": ("Fixed scenarios per section (S1-S9)" if fixed
                              else "Invariants over generated scenarios"),
                    "columns": cols, "rows": rows, "folded": folded})
    return out


def unsupported_groups(result: RunResult, ids: dict[tuple[int, int], str] | None = None
                       ) -> list[dict[str, Any]]:
    """Every unsupported cell once, grouped by reason, then by entry: one line per reason;
    each cell's named id (and its positional alias) is its place."""
    ids = ids or cell_ids(result.clients)
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for ci, client in enumerate(result.clients):
        for ki, c in enumerate(client.checks):
            if c.verdict != Verdict.UNSUPPORTED:
                continue
            by_entry = groups.setdefault(c.note.strip() or "no reason given", {})
            entry = by_entry.setdefault(column_title(client), {"title": column_title(client),
                                                               "checks": [], "anchors": []})
            entry["checks"].append(c.check)
            entry["anchors"].append((ids[ci, ki], cell_anchor(ci, ki)))
    return [{"note": note, "entries": list(entries.values()),
             "cells": sum(len(e["checks"]) for e in entries.values())}
            for note, entries in groups.items()]
