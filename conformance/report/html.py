"""``index.html``: a self-contained page (inline CSS, no scripts, no external assets).

Layout: a header (run id, tool version, broker, profile, seed, times, exit code); the client x
check matrix, one row per client spec and configuration (verdict colour + word, examples tried,
seconds); when a run holds several specs of one client (``kafka-python==2.0.2``,
``kafka-python==3.0.12``), a version matrix per client: one row per configuration and check, one
column per spec, rows whose verdicts differ flagged; one section per non-pass cell with
the check's SEMANTICS section, note, figures, shrunk steps, violations with their evidence events,
and a per-partition timeline of the example's history (``CheckResult.history_file``).

Timeline: one row per partition, events in time order. Consecutive ``produced``/``processed``
events of one member with contiguous offsets collapse into one offset range; ``polled`` and
``commit_requested`` events appear only when named in the evidence. Kills and failed commits
without offsets go to the rows the member owned at that moment. Events named in the evidence are
highlighted and never hidden; long rows keep their head, tail and the surroundings of the
evidence, with ``... N more`` in the gaps; rows beyond ``max_rows`` are dropped (rows of failing
partitions first kept) and counted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from conformance.history import HARNESS, Event, History, HistoryFormatError
from conformance.report.columns import spec_of, specs_by_client
from conformance.report.reference import against_reference, reference_spec
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

HTML_FILE = "index.html"
TEMPLATE = "index.html.j2"
TP = tuple[str, int]

SECTIONS = {
    "S1": "Committed offsets live in the broker",
    "S2": "auto.offset.reset",
    "S3": "The latest hazard under partition growth",
    "S4": "Auto commit",
    "S5": "Manual commit",
    "S6": "Multi-threaded consumers",
    "S7": "Manual assignment and seek",
    "S8": "Rebalance listener",
    "S9": "Order",
}
EXIT_CODES = {
    0: "every check passes",
    1: "a check failed (violations)",
    2: "usage error",
    3: "infrastructure error, undecided check, or nothing judged (every cell unsupported)",
}
SYMBOLS = {
    Verdict.PASS: "\u2713", Verdict.FAIL: "\u2717", Verdict.HAZARD: "\u26a0",
    Verdict.EXPECTED: "\u2248", Verdict.UNSUPPORTED: "\u2013", Verdict.UNKNOWN: "?",
}
OWNERSHIP = ("assigned", "revoked", "lost")
MEMBER_END = ("member_killed", "member_stopped", "member_died")
MERGEABLE = ("produced", "processed", "polled")
#: harness events that end or mark a fault, shown on the member's rows
FAULT_ENDS = {"member_frozen": "frozen (SIGSTOP)", "member_thawed": "thawed (SIGCONT)",
              "network_healed": "network healed"}


# -- timeline ------------------------------------------------------------------------------------
@dataclass
class Item:
    """One chip of a timeline row: an event, or a collapsed range of events, or a gap."""

    kind: str
    member: str = ""
    first: int = -1
    last: int = -1
    ts: float = 0.0
    lo: int | None = None
    hi: int | None = None
    text: str = ""
    highlight: bool = False
    hidden: int = 0
    suffix: str = ""

    @property
    def label(self) -> str:
        """What the chip says."""
        if self.kind == "gap":
            return f"... {self.hidden} more"
        who = f"{self.member} " if self.member and self.member != HARNESS else ""
        rng = ""
        if self.lo is not None:
            rng = f" {self.lo}" if self.hi in (None, self.lo) else f" {self.lo}\u2013{self.hi}"
        return f"{who}{self.text or self.kind}{rng}{self.suffix}".strip()

    @property
    def where(self) -> str:
        """Event index (or range) and time offset, for the chip's small print."""
        idx = f"#{self.first}" if self.last == self.first else f"#{self.first}\u2013#{self.last}"
        return f"{idx} +{self.ts:.3f}s"


@dataclass
class Row:
    """The timeline of one partition."""

    name: str
    tp: TP
    items: list[Item] = field(default_factory=list)
    failing: bool = False
    total: int = 0


@dataclass
class Timeline:
    """Every row of one history, or the reason there is none."""

    rows: list[Row] = field(default_factory=list)
    hidden_rows: int = 0
    events: int = 0
    error: str = ""


def build_timeline(history: History, evidence: set[int] | frozenset[int] = frozenset(),
                   focus: set[TP] | frozenset[TP] = frozenset(), max_rows: int = 32,
                   max_items: int = 120) -> Timeline:
    """The per-partition timeline of ``history`` with ``evidence`` events highlighted.

    ``focus`` names the failing partitions (kept first when rows are capped, marked in the page);
    partitions touched by evidence events are added to it.
    """
    events = sorted(history, key=lambda e: (e.ts, e.index))
    t0 = events[0].ts if events else 0.0
    rows: dict[TP, list[Item]] = defaultdict(list)
    owned: dict[str, set[TP]] = defaultdict(set)
    focus = set(focus)
    for e in events:
        hit = e.index in evidence
        placed = _place(e, hit, t0, rows, owned)
        if hit:
            focus.update(placed)
    for tp in _scenario_tps(history):
        rows.setdefault(tp, [])
    chosen = sorted(rows)
    hidden = 0
    if len(chosen) > max_rows:
        keep = [tp for tp in chosen if tp in focus][:max_rows]
        keep += [tp for tp in chosen if tp not in focus][: max_rows - len(keep)]
        hidden = len(chosen) - len(keep)
        chosen = sorted(keep)
    out = []
    for tp in chosen:
        merged = _merge(rows[tp])
        out.append(Row(f"{tp[0]}-{tp[1]}", tp, _cap(merged, max_items), tp in focus, len(merged)))
    return Timeline(out, hidden, len(history))


def _place(e: Event, hit: bool, t0: float, rows: dict[TP, list[Item]],
           owned: dict[str, set[TP]]) -> list[TP]:
    """Append the chips of event ``e`` to the rows it concerns; return those partitions."""
    ts = e.ts - t0

    def add(tp: TP, kind: str, member: str = e.source, lo: int | None = None,
            hi: int | None = None, text: str = "", suffix: str = "") -> TP:
        rows[tp].append(Item(kind, member, e.index, e.index, ts, lo, hi, text, hit, 0, suffix))
        return tp

    placed: list[TP] = []
    if e.type == "produced":
        by_tp: dict[TP, list[int]] = defaultdict(list)
        for r in e.data.get("records", []):
            by_tp[(str(r[0]), int(r[1]))].append(int(r[2]))
        for tp, offsets in by_tp.items():
            placed += [add(tp, "produced", HARNESS, lo, hi) for lo, hi in _runs(offsets)]
    elif e.type in OWNERSHIP:
        for tp in e.partitions():
            placed.append(add(tp, e.type))
            if e.type == "assigned":
                owned[e.source].add(tp)
            else:
                owned[e.source].discard(tp)
    elif e.type == "processed" or (e.type == "polled" and hit):
        by_tp = defaultdict(list)
        for r in e.records():
            by_tp[r.tp].append(r.offset)
        for tp, offsets in by_tp.items():
            placed += [add(tp, e.type, lo=lo, hi=hi) for lo, hi in _runs(offsets)]
    elif e.type == "committed" or (e.type == "commit_requested" and hit):
        placed += _place_commit(e, add, owned)
    elif e.type == "seeked":
        tp = (str(e.data["topic"]), int(e.data["partition"]))
        placed.append(add(tp, "seeked", lo=int(e.data["offset"]), text="seek"))
    elif e.type in MEMBER_END:
        member = str(e.data.get("member", ""))
        text = {"member_killed": "killed", "member_stopped": "stopped",
                "member_died": f"died (rc {e.data.get('returncode')})"}[e.type]
        placed += [add(tp, e.type, member, text=text) for tp in sorted(owned.pop(member, ()))]
    elif e.type == "closed":
        placed += [add(tp, "closed") for tp in sorted(owned.pop(e.source, ()))]
    elif e.type == "partitions_added":
        topic, count = str(e.data.get("topic")), int(e.data.get("count", 0))
        tps = {tp for tp in rows if tp[0] == topic} | {(topic, p) for p in range(count)}
        placed += [add(tp, "partitions_added", HARNESS, text=f"partitions added (now {count})")
                   for tp in sorted(tps)]
    elif e.type == "error" and (hit or e.data.get("fatal")):
        text = f"error {e.data.get('code', '')}: {e.data.get('message', '')}"
        placed += [add(tp, "error", text=_clip(text, 80)) for tp in sorted(owned[e.source])]
    elif e.type == "step" and e.data.get("family") not in (None, "core"):
        # a fault: the step's own label, on the rows of the member it targets (else all rows)
        member = str((e.data.get("args") or {}).get("member") or "")
        tps = sorted(owned.get(member, ())) if member else sorted(rows)
        placed += [add(tp, "fault", HARNESS, text=_clip(str(e.data.get("label") or
                                                           e.data.get("name")), 90))
                   for tp in tps]
    elif e.type in FAULT_ENDS:
        member = str(e.data.get("member", ""))
        placed += [add(tp, e.type, member, text=FAULT_ENDS[e.type])
                   for tp in sorted(owned.get(member, ()))]
    return placed


def _place_commit(e: Event, add: Any, owned: dict[str, set[TP]]) -> list[TP]:
    mode = f" ({e.data['mode']})" if e.data.get("mode") else ""
    offsets = e.offsets()
    if e.type == "commit_requested":
        if not offsets:
            return [add(tp, "commit_requested", text="commit requested all", suffix=mode)
                    for tp in sorted(owned[e.source])]
        return [add(tp, "commit_requested", lo=off, text="commit requested", suffix=mode)
                for tp, off in sorted(offsets.items())]
    if e.data.get("ok", True):
        return [add(tp, "committed", lo=off, text="committed", suffix=mode)
                for tp, off in sorted(offsets.items())]
    why = _clip(f"{mode}: {e.data.get('error') or 'error'}", 80)
    if offsets:
        return [add(tp, "commit_failed", lo=off, text="commit failed", suffix=why)
                for tp, off in sorted(offsets.items())]
    return [add(tp, "commit_failed", text="commit failed", suffix=why)
            for tp in sorted(owned[e.source])]


def _runs(offsets: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of ``offsets`` in the given order: [0,1,2,5,6] -> [(0,2),(5,6)]."""
    runs: list[tuple[int, int]] = []
    for off in offsets:
        if runs and off == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], off)
        else:
            runs.append((off, off))
    return runs


def _merge(items: list[Item]) -> list[Item]:
    """Collapse adjacent chips of one member and kind whose offset ranges continue each other."""
    out: list[Item] = []
    for it in items:
        prev = out[-1] if out else None
        if (prev is not None and it.kind in MERGEABLE and prev.kind == it.kind
                and prev.member == it.member and prev.highlight == it.highlight
                and prev.hi is not None and it.lo == prev.hi + 1):
            prev.hi, prev.last = it.hi, max(prev.last, it.last)
        else:
            out.append(replace(it))
    return out


def _cap(items: list[Item], limit: int, context: int = 2) -> list[Item]:
    """At most about ``limit`` chips: head, tail and highlighted chips with their neighbours."""
    if len(items) <= limit:
        return items
    keep = set(range(limit // 3)) | set(range(len(items) - limit // 3, len(items)))
    for i, it in enumerate(items):
        if it.highlight:
            keep.update(range(max(0, i - context), min(len(items), i + context + 1)))
    out: list[Item] = []
    skipped = 0
    for i, it in enumerate(items):
        if i in keep:
            if skipped:
                out.append(Item("gap", hidden=skipped))
                skipped = 0
            out.append(it)
        else:
            skipped += 1
    if skipped:
        out.append(Item("gap", hidden=skipped))
    return out


def _scenario_tps(history: History) -> list[TP]:
    sc = history.scenario()
    topic, parts = sc.get("topic"), sc.get("partitions")
    if isinstance(topic, str) and isinstance(parts, int) and 0 < parts <= 10_000:
        return [(topic, p) for p in range(parts)]
    return []


# -- the page ------------------------------------------------------------------------------------
def render_html(result: RunResult, run_dir: str | Path | None = None) -> str:
    """The HTML page of ``result``; history files are resolved against ``run_dir``."""
    env = Environment(loader=PackageLoader("conformance.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(**page_context(result, run_dir))


def write_html(result: RunResult, path: str | Path, run_dir: str | Path | None = None) -> Path:
    """Write ``index.html`` to ``path``; ``run_dir`` defaults to the file's folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, path.parent if run_dir is None else run_dir),
                    encoding="utf-8")
    return path


def page_context(result: RunResult, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values."""
    checks: dict[str, str] = {}
    for client in result.clients:
        for c in client.checks:
            checks.setdefault(c.check, c.section)
    columns = list(checks)
    rows, sections = [], []
    counts: dict[str, int] = dict.fromkeys((str(v) for v in Verdict), 0)
    anchors: dict[tuple[int, str], str] = {}
    for ci, client in enumerate(result.clients):
        by_check = {c.check: (ki, c) for ki, c in enumerate(client.checks)}
        cells = []
        for check_id in columns:
            if check_id not in by_check:
                cells.append(None)
                continue
            ki, c = by_check[check_id]
            anchor = f"c{ci}-k{ki}"
            counts[str(c.verdict)] += 1
            cells.append({"verdict": str(c.verdict), "symbol": SYMBOLS[c.verdict],
                          "examples": c.examples, "seconds": f"{c.seconds:.1f}",
                          "anchor": anchor if c.verdict != Verdict.PASS else None})
            if c.verdict != Verdict.PASS:
                anchors[ci, check_id] = anchor
                sections.append(_section(client, c, anchor, run_dir))
        rows.append({"name": spec_of(client), "client": client.client,
                     "version": client.client_version, "label": client.label, "cells": cells})
    column_info = [{"check": k, "section": s, "title": SECTIONS.get(s, "")}
                   for k, s in checks.items()]
    return {
        "run": _header(result),
        "columns": column_info,
        "rows": rows,
        "matrices": _matrices(result, column_info, rows),
        "versions": version_matrices(result, anchors),
        "reference": [a.to_json() for a in against_reference(result)],
        "reference_spec": reference_spec(result),
        "counts": {k: v for k, v in counts.items() if v},
        "sections": sections,
        "symbols": {str(k): v for k, v in SYMBOLS.items()},
    }


def _is_semantics(check: str) -> bool:
    return check[:1] == "S" and check[1:2].isdigit() and "-" in check


def _matrices(result: RunResult, columns: list[dict[str, Any]],
              rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The generated-scenario invariants and the fixed SEMANTICS scenarios as two matrices,
    each with the clients that ran any of its checks."""
    out = []
    for title, semantics in (("Invariants over generated scenarios", False),
                             ("Fixed scenarios per docs/semantics.md section", True)):
        keep = [j for j, col in enumerate(columns) if _is_semantics(col["check"]) == semantics]
        members = [i for i, client in enumerate(result.clients)
                   if any(_is_semantics(c.check) == semantics for c in client.checks)]
        if keep and members:
            out.append({"title": title, "columns": [columns[j] for j in keep],
                        "rows": [{**rows[i], "cells": [rows[i]["cells"][j] for j in keep]}
                                 for i in members]})
    return out


def version_matrices(result: RunResult, anchors: dict[tuple[int, str], str] | None = None
                     ) -> list[dict[str, Any]]:
    """Per client run as several specs: one row per (configuration label, check), one column
    per spec; ``differs`` marks rows whose verdicts are not all equal. ``anchors`` maps
    (client index, check) to the finding section a cell links to."""
    anchors = anchors or {}
    out = []
    for name, specs in specs_by_client(result.clients).items():
        if len(specs) < 2:
            continue
        cells: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        sections: dict[str, str] = {}
        for ci, client in enumerate(result.clients):
            if client.name != name:
                continue
            for c in client.checks:
                sections.setdefault(c.check, c.section)
                cells.setdefault((client.label, c.check), {}).setdefault(spec_of(client), {
                    "verdict": str(c.verdict), "symbol": SYMBOLS[c.verdict],
                    "anchor": anchors.get((ci, c.check))})
        rows = []
        for (label, check), by_spec in cells.items():
            row_cells = [by_spec.get(spec) for spec in specs]
            verdicts = {cell["verdict"] if cell else None for cell in row_cells}
            rows.append({"label": label, "check": check, "section": sections[check],
                         "cells": row_cells, "differs": len(verdicts) > 1})
        out.append({"client": name, "specs": specs, "rows": rows,
                    "differing": sum(r["differs"] for r in rows)})
    return out


def _header(result: RunResult) -> dict[str, Any]:
    code = result.exit_code
    return {
        "run_id": result.run_id, "tool_version": result.tool_version or "?",
        "profile": result.profile, "seed": "" if result.seed is None else str(result.seed),
        "started_at": result.started_at, "finished_at": result.finished_at,
        "duration": _duration(result.started_at, result.finished_at),
        "broker": [(k, _fmt(v)) for k, v in result.broker.items()],
        "exit_code": code, "exit_meaning": EXIT_CODES.get(code, ""),
        "errors": list(result.errors),
    }


def _section(client: ClientResult, c: CheckResult, anchor: str,
             run_dir: str | Path | None) -> dict[str, Any]:
    evidence = {i for v in c.violations for i in v.evidence if isinstance(i, int)}
    focus = {(str(v.details["topic"]), int(v.details["partition"])) for v in c.violations
             if isinstance(v.details.get("topic"), str)
             and isinstance(v.details.get("partition"), int)}
    history, timeline = _load_history(c.history_file, run_dir)
    if history is not None:
        try:
            timeline = build_timeline(history, evidence, focus)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            # A report never crashes on an odd history: it says what it could not draw.
            timeline = Timeline(events=len(history), error=f"timeline not drawn: "
                                f"{type(exc).__name__}: {exc}")
    violations = []
    for v in c.violations:
        violations.append({
            "anomaly": v.anomaly, "section": v.section, "message": v.message,
            "evidence": v.evidence, "details": _fmt(v.details) if v.details else "",
            "events": _evidence_events(history, v.evidence) if history is not None else [],
        })
    return {
        "anchor": anchor, "client": spec_of(client), "label": client.label, "check": c.check,
        "section": c.section, "title": SECTIONS.get(c.section, ""), "verdict": str(c.verdict),
        "symbol": SYMBOLS[c.verdict], "examples": c.examples, "seconds": f"{c.seconds:.1f}",
        "note": c.note, "figures": [(k, _fmt(v)) for k, v in c.figures.items()],
        "steps": "\n".join(c.steps), "shrink": c.shrink or "example",
        "violations": violations,
        "history_file": c.history_file or "", "timeline": timeline,
    }


def _load_history(name: str | None, run_dir: str | Path | None
                  ) -> tuple[History | None, Timeline | None]:
    if not name:
        return None, None
    path = Path(run_dir or ".") / name
    try:
        return History.from_jsonl(path), None
    except FileNotFoundError:
        return None, Timeline(error=f"history file {name} not found")
    except (OSError, UnicodeDecodeError, HistoryFormatError) as exc:
        return None, Timeline(error=f"history file {name} unreadable: {exc}")


def _evidence_events(history: History, indices: list[int], limit: int = 20) -> list[dict]:
    t0 = min((e.ts for e in history), default=0.0)
    out = []
    for i in indices[:limit]:
        if isinstance(i, int) and 0 <= i < len(history):
            e = history[i]
            out.append({"index": i, "t": f"+{e.ts - t0:.3f}s", "source": e.source,
                        "type": e.type, "data": _clip(_fmt(e.data), 400)})
    if len(indices) > limit:
        out.append({"index": None, "more": len(indices) - limit})
    return out


def _duration(start: str, end: str) -> str:
    try:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return ""
    return f"{seconds:.1f}s"


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"
