"""`kafka-conformance history`: one run over chosen releases of one client, then a
release-history report (``history.html``, ``history.json`` and a console table) in the run's
folder beside ``index.html`` and ``results.json``.

Three pure parts and the command:

    select_releases   ``--releases SPEC`` over a listing (:func:`conformance.clients.releases.
                      releases`): ``A..B`` (inclusive; ``A..`` and ``..B`` open), ``every-minor``
                      (the newest usable patch of each minor), ``last:N`` (the N newest usable
                      releases) or ``V1,V2,...``; unusable releases are skipped with their reason
    release_history   the matrix from a results.json dict: per group protocol, releases (rows,
                      in version order, oldest first) by checks (columns); a cell whose verdict
                      differs from the previous release's is marked ``changed_since`` it
    print_history     the one-screen console summary (per protocol: a row per release with its
                      verdict counts, its failing checks and what changed since the previous)

One matrix per protocol: a client's classic and KIP-848 consumer paths are different code,
and a check's history under one says nothing about the other.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from conformance.clients.releases import Release, python_key, release_key
from conformance.clients.spec import distribution
from conformance.errors import UsageError
from conformance.options import RunOptions
from conformance.protocols import ALL
from conformance.report.cells import classify
from conformance.report.columns import cell_anchor, cell_ids
from conformance.report.json_report import run_result_from_json
from conformance.report.matrix import SYMBOLS
from conformance.styles import styled
from conformance.verdicts import Verdict, combine

SCHEMA = "kafka-conformance/history/1"
HTML_FILE = "history.html"
JSON_FILE = "history.json"
TEMPLATE = "history.html.j2"
PROTOCOL_TEXT = ("One matrix per group protocol: a client's classic and KIP-848 consumer "
                 "protocol paths are different code, so a check's history under one says "
                 "nothing about the other.")
VersionKey = Callable[[str], Any]


def version_key(client: str) -> VersionKey:
    """The sort key of ``client``'s releases: PEP 440 for a Python client, else Maven/Go/npm."""
    return python_key if distribution(client) else release_key


# -- selection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """The releases to run (oldest first) and the ones passed over, with why."""

    releases: tuple[Release, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def versions(self) -> list[str]:
        return [r.version for r in self.releases]


def select_releases(listing: Sequence[Release], spec: str, client: str,
                    key: VersionKey | None = None) -> Selection:
    """The releases of ``listing`` (pre-releases included or not) that ``spec`` names; a
    pre-release only when named. UsageError (one line) for a malformed spec, a release not in
    the listing, a range that goes backwards or a selection with no usable release."""
    key = key or version_key(client)
    ordered = sorted(listing, key=lambda r: key(r.version))  # oldest first
    text = spec.strip()
    where = f"--releases {text!r}"
    if not text:
        raise UsageError("--releases needs a selection: A..B, every-minor, last:N or V1,V2")
    final = [r for r in ordered if not r.pre]
    if text == "every-minor":
        picked, skipped = _every_minor(final)
    elif text.startswith("last:"):
        count = text.removeprefix("last:")
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"{where}: expected last:N with N a positive number")
        usable = [r for r in final if not r.unusable]
        picked = usable[-int(count):]
        oldest = key(picked[0].version) if picked else None
        skipped = [r for r in final if r.unusable
                   and (oldest is None or key(r.version) > oldest)]
    elif ".." in text:
        low, _, high = text.partition("..")
        if ".." in high:
            raise UsageError(f"{where}: expected one range A..B")
        first = _find(ordered, low.strip(), client) if low.strip() else None
        last = _find(ordered, high.strip(), client) if high.strip() else None
        if first and last and key(first.version) > key(last.version):
            raise UsageError(f"{where}: {first.version} is newer than {last.version}; "
                             f"write the older release first")
        inside = [r for r in ordered if r in (first, last) or (
            not r.pre and (first is None or key(r.version) >= key(first.version))
            and (last is None or key(r.version) <= key(last.version)))]
        picked = [r for r in inside if not r.unusable]
        skipped = [r for r in inside if r.unusable]
    else:
        named = list(dict.fromkeys(_find(ordered, v.strip(), client)
                                   for v in text.split(",") if v.strip()))
        if not named:
            raise UsageError(f"{where}: no release named")
        named.sort(key=lambda r: key(r.version))
        picked = [r for r in named if not r.unusable]
        skipped = [r for r in named if r.unusable]
    if not picked:
        why = f" ({len(skipped)} unusable: {skipped[-1].unusable})" if skipped else ""
        raise UsageError(f"{where}: no usable release of {client} selected{why}")
    return Selection(tuple(picked), tuple((r.version, r.unusable or "") for r in skipped))


def _find(ordered: Sequence[Release], version: str, client: str) -> Release:
    """The listed release ``version`` (``v1.2.3`` and ``1.2.3`` match each other)."""
    for r in ordered:
        if r.version == version:
            return r
    for r in ordered:
        if r.version.removeprefix("v") == version.removeprefix("v"):
            return r
    newest = next((r.version for r in reversed(ordered) if not r.pre), None)
    raise UsageError(f"--releases: {client} has no release {version!r}"
                     + (f" (newest: {newest}; 'kafka-conformance releases {client}' lists them)"
                        if newest else ""))


_MINOR = re.compile(r"^v?(\d+)\.(\d+)")


def _every_minor(final: list[Release]) -> tuple[list[Release], list[Release]]:
    """The newest usable patch of each minor (oldest minor first), and the unusable patches
    newer than it (all of a minor's, when none is usable)."""
    minors: dict[str, list[Release]] = {}
    for r in final:
        found = _MINOR.match(r.version)
        minors.setdefault(f"{found[1]}.{found[2]}" if found else r.version, []).append(r)
    picked: list[Release] = []
    skipped: list[Release] = []
    for patches in minors.values():
        usable = [r for r in patches if not r.unusable]
        newest = usable[-1] if usable else None
        if newest is not None:
            picked.append(newest)
        skipped += [r for r in patches if r.unusable and (
            newest is None or patches.index(r) > patches.index(newest))]
    return picked, skipped


# -- the matrix --------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryCell:
    """One release's verdict of one check under one protocol (its configurations combined,
    worst wins); ``anchor``: its section in index.html (none for a pass); ``changed_since``:
    the previous release, when its verdict (``was``; None: not run) was different."""

    verdict: str
    anchor: str = ""
    note: str = ""
    changed_since: str | None = None
    was: str | None = None


@dataclass(frozen=True)
class ReleaseRow:
    """A release of the history: its version, spec (column of results.json) and the client
    version its workers reported."""

    version: str
    spec: str
    client_version: str = ""


@dataclass(frozen=True)
class ProtocolMatrix:
    """Releases (rows) by checks (columns) under one group protocol; cells keyed by
    (version, check); a missing key: the check did not run for that release."""

    protocol: str
    checks: tuple[tuple[str, str], ...]
    cells: dict[tuple[str, str], HistoryCell]


@dataclass(frozen=True)
class ReleaseHistory:
    """The release history of one client in one run."""

    client: str
    run_id: str
    releases: tuple[ReleaseRow, ...]
    matrices: tuple[ProtocolMatrix, ...]
    changes: tuple[dict[str, Any], ...]
    skipped: tuple[tuple[str, str], ...] = ()
    exit_code: int | None = None
    seed: int | None = None
    profile: str = ""

    def to_json(self) -> dict[str, Any]:
        """history.json: per release, the verdict per protocol and check; the changes."""
        return {
            "schema": SCHEMA, "client": self.client, "run_id": self.run_id,
            "profile": self.profile, "seed": self.seed, "exit_code": self.exit_code,
            "results": "results.json", "report": "index.html",
            "protocols": [m.protocol for m in self.matrices],
            "checks": {m.protocol: [c for c, _s in m.checks] for m in self.matrices},
            "releases": [{
                "release": row.version, "spec": row.spec, "client_version": row.client_version,
                "verdicts": {m.protocol: {c: m.cells[row.version, c].verdict
                                          for c, _s in m.checks if (row.version, c) in m.cells}
                             for m in self.matrices},
            } for row in self.releases],
            "changes": list(self.changes),
            "skipped": [{"release": v, "reason": why} for v, why in self.skipped],
        }


def release_history(results: dict[str, Any], client: str,
                    skipped: Sequence[tuple[str, str]] = ()) -> ReleaseHistory:
    """The history of ``client`` from a results.json dict: every entry whose spec is
    ``client==VERSION``, releases in version order, one matrix per protocol, each cell
    marked where its verdict differs from the previous release's."""
    key = version_key(client)
    rows: dict[str, ReleaseRow] = {}
    # (protocol, version, check) -> [(verdict, anchor, note)]
    found: dict[tuple[str, str, str], list[tuple[Verdict, str, str]]] = {}
    checks: dict[str, dict[str, str]] = {}
    # a cell's named place in index.html (the same in every run that ran that configuration)
    named = cell_ids(run_result_from_json(results).clients) if results.get("clients") else {}
    for ci, entry in enumerate(results.get("clients") or []):
        spec = str(entry.get("spec") or entry.get("name") or "")
        name, sep, version = spec.partition("==")
        if not sep or name != client or not version:
            continue
        rows.setdefault(version, ReleaseRow(version, spec, str(entry.get("client_version")
                                                                or "")))
        protocol = str(entry.get("protocol") or "")  # a /1 file's: load_results told it
        for ki, c in enumerate(entry.get("checks") or []):
            verdict = Verdict(c["verdict"])
            checks.setdefault(protocol, {}).setdefault(c["check"], str(c.get("section") or ""))
            note = str(c.get("note") or "").strip().splitlines()
            found.setdefault((protocol, version, c["check"]), []).append(
                (verdict, "" if verdict == Verdict.PASS
                 else named.get((ci, ki)) or cell_anchor(ci, ki),
                 note[0][:300] if note else ""))
    order = sorted(rows, key=key)
    matrices = []
    changes: list[dict[str, Any]] = []
    for protocol in sorted(checks, key=lambda p: (p not in ALL, p)):
        cells: dict[tuple[str, str], HistoryCell] = {}
        for check, section in checks[protocol].items():
            before: tuple[str, str | None] | None = None  # (version, verdict) of the last row
            for version in order:
                parts = found.get((protocol, version, check))
                cell = None
                if parts:
                    verdict = combine([v for v, _a, _n in parts])
                    anchor, note = next((a, n) for v, a, n in parts if v == verdict)
                    cell = HistoryCell(str(verdict), anchor, note)
                now = cell.verdict if cell else None
                if before is not None and before[1] != now:
                    changes.append({
                        "protocol": protocol, "check": check, "section": section,
                        "release": version, "since": before[0], "old": before[1], "new": now,
                        "kind": classify(Verdict(before[1]) if before[1] else None,
                                         Verdict(now) if now else None)})
                    if cell is not None:
                        cell = replace(cell, changed_since=before[0], was=before[1])
                if cell is not None:
                    cells[version, check] = cell
                before = (version, now)
        matrices.append(ProtocolMatrix(protocol, tuple(checks[protocol].items()), cells))
    return ReleaseHistory(client, str(results.get("run_id") or ""),
                          tuple(rows[v] for v in order), tuple(matrices), tuple(changes),
                          tuple(skipped), results.get("exit_code"), results.get("seed"),
                          str(results.get("profile") or ""))


# -- console -----------------------------------------------------------------------------------
_ORDER = ("pass", "fail", "hazard", "expected", "unknown", "unsupported")
_LIST = 4  # failing checks named per row before "+N more"


def _symbol(verdict: str | None) -> str:
    return SYMBOLS[Verdict(verdict)] if verdict else "\u00b7"


def print_history(history: ReleaseHistory, console: Console | None = None) -> None:
    """Per protocol, one row per release: its verdict counts, its failing checks, and the
    checks whose verdict changed since the previous release (``old->new``)."""
    out = console or Console(width=max(Console().width, 120))
    for m in history.matrices:
        table = Table(title=escape(f"{history.client}: release history, {m.protocol} protocol "
                                   f"({len(m.checks)} check{'' if len(m.checks) == 1 else 's'})"),
                      title_justify="left")
        table.add_column("release", no_wrap=True)
        table.add_column("verdicts", no_wrap=True)
        table.add_column("failing", overflow="fold")
        table.add_column("changed since the previous release", overflow="fold")
        for row in history.releases:
            mine = [(c, m.cells.get((row.version, c))) for c, _s in m.checks]
            counts = {v: sum(1 for _c, cell in mine if cell and cell.verdict == v)
                      for v in _ORDER}
            verdicts = " ".join(styled(v, f"{n} {_symbol(v)}")
                                for v, n in counts.items() if n)
            failing = [c for c, cell in mine if cell and cell.verdict == "fail"]
            fails = ", ".join(failing[:_LIST]) + (f" +{len(failing) - _LIST} more"
                                                  if len(failing) > _LIST else "")
            moved = [ch for ch in history.changes
                     if ch["protocol"] == m.protocol and ch["release"] == row.version]
            changed = ", ".join(f"{ch['check']} {_symbol(ch['old'])}\u2192{_symbol(ch['new'])}"
                                for ch in moved)
            table.add_row(escape(row.version), verdicts or "-", escape(fails),
                          escape(changed) if changed else
                          ("" if row == history.releases[0] else "[dim]none[/]"))
        out.print(table)
    for version, why in history.skipped:
        out.print(escape(f"not run: {history.client}=={version}: {why}"))
    out.print(f"{len(history.changes)} change(s) across {len(history.releases)} release(s); "
              f"{', '.join(f'{s} {v}' for v, s in SYMBOLS.items())}, \u00b7 not run")


# -- files -------------------------------------------------------------------------------------
def render_html(history: ReleaseHistory) -> str:
    """``history.html``: self-contained, linking into the run's index.html."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("conformance.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    from conformance.report.legend import SECTIONS

    matrices = []
    for m in history.matrices:
        rows = []
        for row in history.releases:
            cells = []
            for check, _section in m.checks:
                cell = m.cells.get((row.version, check))
                if cell is None:
                    cells.append(None)
                    continue
                title = cell.note
                if cell.changed_since is not None:
                    title = (f"changed since {cell.changed_since} (was "
                             f"{cell.was or 'not run'})" + (f"; {title}" if title else ""))
                cells.append({"verdict": cell.verdict, "symbol": _symbol(cell.verdict),
                              "href": f"index.html#{cell.anchor}" if cell.anchor
                              else "index.html", "changed": cell.changed_since is not None,
                              "title": title})
            rows.append({"release": row, "cells": cells})
        matrices.append({"protocol": m.protocol, "rows": rows,
                         "checks": [{"check": c, "section": s, "title": SECTIONS.get(s, "")}
                                    for c, s in m.checks],
                         "changes": [c for c in history.changes
                                     if c["protocol"] == m.protocol]})
    return env.get_template(TEMPLATE).render(
        history=history, matrices=matrices, protocol_text=PROTOCOL_TEXT,
        symbols={v: _symbol(v) for v in _ORDER},
        generated=time.strftime("%Y-%m-%d %H:%M:%S"))


def write_history(history: ReleaseHistory, run_dir: Path) -> dict[str, Path]:
    """Write history.json and history.html into ``run_dir``."""
    paths = {"json": run_dir / JSON_FILE, "html": run_dir / HTML_FILE}
    paths["json"].write_text(json.dumps(history.to_json(), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    paths["html"].write_text(render_html(history), encoding="utf-8")
    return paths


# -- the command -------------------------------------------------------------------------------
def run_history(opts: RunOptions, client: str, selection: Selection) -> int:
    """Run ``selection``'s releases of ``client`` as one run (``opts``: the RunOptions
    without clients) through :func:`conformance.run.execute`, then write the history into
    that run's folder and print it; returns the run's exit code."""
    from conformance.clients import ClientSpec
    from conformance.console import console
    from conformance.report.json_report import RESULTS_FILE, load_results
    from conformance.run import execute

    specs = tuple(ClientSpec.parse(f"{client}=={v}") for v in selection.versions)
    for version, why in selection.skipped:
        console.print(escape(f"skipping {client}=={version}: {why}"))
    console.print(escape(f"release history of {client}: {', '.join(selection.versions)}"))
    out = Path(opts.out)
    before = set(out.iterdir()) if out.is_dir() else set()
    code = execute(replace(opts, clients=specs))
    run_dir = _new_run_dir(out, before, {s.label for s in specs})
    if run_dir is None:
        console.print(f"[red]error:[/red] no report folder of this run under {out}: "
                      f"history not written")
        return code or 3
    history = release_history(load_results(run_dir / RESULTS_FILE), client, selection.skipped)
    paths = write_history(history, run_dir)
    print_history(history)
    console.print(f"history: {paths['html']}, {paths['json']}")
    return code


def _new_run_dir(out: Path, before: set[Path], specs: set[str]) -> Path | None:
    """The folder the run just wrote under ``out``: a new one whose results.json holds
    ``specs`` (the newest, should another run write into ``out`` meanwhile)."""
    found = []
    for path in set(out.iterdir()) - before if out.is_dir() else ():
        try:
            data = json.loads((path / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        held = {str(c.get("spec") or c.get("name")) for c in data.get("clients") or []}
        if held <= specs:
            found.append(path)
    return max(found, key=lambda p: p.stat().st_mtime) if found else None
