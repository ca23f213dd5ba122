"""``index.html``: a self-contained page (inline CSS and SVG, no scripts, no external assets).

Layout, top to bottom:

    failures    first, one line per failing cell: client and release, protocol, configuration,
                check, the first violation's message, a link to its section and the command
                that reproduces it
    hazards     folded, one line per (check, anomalies) across clients: how many cells, a link
                to each cell's section, the first cause (``hazard_groups``)
    header      exit code, an "incomplete" banner for an interrupted run, run id, the suite's
                version and git commit, profile, seed, command line, the baseline applied (or
                none), "since the last run" (``run --previous``: new failures, fixed, new
                hazards, as ``compare`` finds them), the suite's Python, Kafka and broker,
                one line per client spec
                (release, runtime: Python or Java version, librdkafka under confluent-kafka)
    matrices    generated-scenario invariants (a row per client spec and configuration) and
                fixed scenarios (a row per scenario, as in the console, a column per entry);
                sticky first column and header, scrolling inside their own box; an entry whose
                cells are all unsupported for one reason folded into one line; beside them the
                legend: verdicts and every check in one line with its docs/semantics.md section
    versions    per client run as several specs, its verdicts side by side (``version_matrices``)
    reference   the cells that differ from the reference client
    findings    one section per cell that is not pass or unsupported, failures first (the
                body of a hazard's or an expected failure's section folded): note,
                a "reproduce" box (history, replay.json and worker logs linked, the replay and
                run commands, seed, shrink state), figures, violations and their evidence events
                as tables, the timeline as a picture (``timeline_svg``) with the event list
                folded under it (``timeline_list``)
    unsupported every unsupported cell once, one line per reason

A "failures only" checkbox (CSS only) hides matrix rows without a failure and every section
that is not a failure. The page works from 900 px wide without scrolling sideways.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from conformance.history import History, HistoryFormatError
from conformance.report.columns import cell_anchor, spec_of, specs_by_client
from conformance.report.evidence import evidence_events, value_text, violation_rows
from conformance.report.legend import SECTIONS, VERDICTS, check_legend, semantics_href
from conformance.report.matrix import SYMBOLS, matrices, unsupported_groups
from conformance.report.reference import against_reference, reference_spec
from conformance.report.reproduce import reproduce
from conformance.report.timeline_list import Timeline, build_timeline
from conformance.report.timeline_svg import missing_records, render_svg
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

__all__ = ["HTML_FILE", "SECTIONS", "SYMBOLS", "Timeline", "build_timeline", "page_context",
           "render_html", "version_matrices", "write_html"]

HTML_FILE = "index.html"
TEMPLATE = "index.html.j2"
TP = tuple[str, int]
EXIT_CODES = {
    0: "every check passes",
    1: "a check failed (violations)",
    2: "usage error",
    3: "infrastructure error, undecided check, or nothing judged (every cell unsupported)",
}
#: the order of the findings: failures first
SEVERITY = {Verdict.FAIL: 0, Verdict.UNKNOWN: 1, Verdict.EXPECTED: 2, Verdict.HAZARD: 3}


def render_html(result: RunResult, run_dir: str | Path | None = None,
                since: dict[str, Any] | None = None) -> str:
    """The HTML page of ``result``; history files are resolved against ``run_dir``;
    ``since``: the "since the last run" line (``since.since_file``)."""
    env = Environment(loader=PackageLoader("conformance.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(**page_context(result, run_dir, since))


def write_html(result: RunResult, path: str | Path, run_dir: str | Path | None = None,
               since: dict[str, Any] | None = None) -> Path:
    """Write ``index.html`` to ``path``; ``run_dir`` defaults to the file's folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, path.parent if run_dir is None else run_dir, since),
                    encoding="utf-8")
    return path


def page_context(result: RunResult, run_dir: str | Path | None = None,
                 since: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values."""
    checks: dict[str, str] = {}
    counts: Counter[str] = Counter()
    sections = []
    anchors: dict[tuple[int, str], str] = {}
    for ci, client in enumerate(result.clients):
        for ki, c in enumerate(client.checks):
            checks.setdefault(c.check, c.section)
            counts[str(c.verdict)] += 1
            if c.verdict == Verdict.PASS:
                continue
            anchor = cell_anchor(ci, ki)
            anchors[ci, c.check] = anchor
            if c.verdict == Verdict.UNSUPPORTED:
                sections.append({"anchor": anchor, "verdict": str(c.verdict), "folded": True})
            else:
                sections.append(_section(result, client, c, anchor, run_dir))
    sections.sort(key=lambda s: SEVERITY.get(Verdict(s["verdict"]), 9))
    return {
        "failures": [_failure(s) for s in sections if s["verdict"] == str(Verdict.FAIL)],
        "hazards": hazard_groups(sections),
        "run": _header(result) | {"since": since},
        "matrices": matrices(result),
        "legend": {"verdicts": [(v, SYMBOLS[Verdict(v)], text, counts.get(v, 0))
                                for v, text in VERDICTS.items()],
                   "checks": check_legend(checks, run_dir)},
        "versions": version_matrices(result, anchors),
        "reference": [a.to_json() for a in against_reference(result)],
        "reference_spec": reference_spec(result),
        "counts": {k: counts[k] for k in (str(v) for v in Verdict) if counts[k]},
        "sections": sections,
        "findings": [s for s in sections if not s.get("folded")],
        "unsupported": unsupported_groups(result),
        "symbols": {str(k): v for k, v in SYMBOLS.items()},
    }


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
    env = result.environment or {}
    per_client = env.get("clients") or {}
    runtimes = sorted({str(v.get("runtime")) for v in per_client.values()
                       if str(v.get("runtime", "")).startswith("java")})
    clients = []
    for spec in dict.fromkeys(spec_of(c) for c in result.clients):
        first = next(c for c in result.clients if spec_of(c) == spec)
        info = per_client.get(spec) or {}
        clients.append({"spec": spec, "client": first.client, "version": first.client_version,
                        "runtime": str(info.get("runtime", "")),
                        "librdkafka": str(info.get("librdkafka", "")),
                        "entries": sum(spec_of(c) == spec for c in result.clients)})
    return {
        "run_id": result.run_id, "tool_version": result.tool_version or "?",
        "profile": result.profile, "seed": "" if result.seed is None else str(result.seed),
        "command_line": result.command_line, "commit": str(env.get("commit") or ""),
        "baseline": _baseline(result),
        "python": str(env.get("python", "")), "java": ", ".join(runtimes),
        "kafka": str(result.broker.get("version", "")),
        "started_at": result.started_at, "finished_at": result.finished_at,
        "duration": _duration(result.started_at, result.finished_at),
        "broker": [(k, _fmt(v)) for k, v in result.broker.items()],
        "exit_code": code, "exit_meaning": EXIT_CODES.get(code, ""),
        "errors": list(result.errors), "clients": clients,
        "incomplete": bool(getattr(result, "incomplete", False)),
    }


def _baseline(result: RunResult) -> str:
    """The baseline file applied; '' when none (results written before the file was recorded
    that have ``expected`` cells: "applied, file not recorded")."""
    recorded = (result.environment or {}).get("baseline")
    if recorded:
        return str(recorded)
    expected = any(c.verdict == Verdict.EXPECTED for cl in result.clients for c in cl.checks)
    return "applied, file not recorded" if expected else ""


def _section(result: RunResult, client: ClientResult, c: CheckResult, anchor: str,
             run_dir: str | Path | None) -> dict[str, Any]:
    evidence = {i for v in c.violations for i in v.evidence if isinstance(i, int)}
    focus = {(str(v.details["topic"]), int(v.details["partition"])) for v in c.violations
             if isinstance(v.details.get("topic"), str)
             and isinstance(v.details.get("partition"), int)}
    history, timeline = _load_history(c.history_file, run_dir)
    picture: Markup | None = None
    events: list[dict[str, Any]] = []
    more_events = 0
    if history is not None:
        try:
            timeline = build_timeline(history, evidence, focus)
            picture = render_svg(history, evidence, focus, missing_records(history, c.violations))
            events, more_events = evidence_events(history, c.violations)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            # A report never crashes on an odd history: it says what it could not draw.
            timeline = Timeline(events=len(history), error=f"timeline not drawn: "
                                f"{type(exc).__name__}: {exc}")
            picture = None
    first = c.violations[0].message if c.violations else ""
    return {
        "anchor": anchor, "client": spec_of(client), "label": client.label, "check": c.check,
        "anomalies": ", ".join(sorted({v.anomaly for v in c.violations})),
        "version": client.client_version, "protocol": client.protocol,
        "cause": first or (c.note.splitlines()[0] if c.note else ""),
        "section": c.section, "title": SECTIONS.get(c.section, ""),
        "href": semantics_href(c.section, run_dir), "verdict": str(c.verdict),
        "symbol": SYMBOLS[c.verdict], "examples": c.examples, "seconds": f"{c.seconds:.1f}",
        "note": c.note, "figures": [(k, value_text(v)) for k, v in c.figures.items()],
        "steps": "\n".join(c.steps), "reproduce": reproduce(result, client, c, run_dir),
        "violations": violation_rows(c.violations), "violations_total": len(c.violations),
        "events": events, "more_events": more_events,
        "history_file": c.history_file or "", "timeline": timeline, "picture": picture,
    }


def hazard_groups(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hazard cells grouped by check and anomalies across clients, largest group first:
    one line each (the check, how many cells, a link per cell, the first cause)."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for s in sections:
        if s["verdict"] != str(Verdict.HAZARD):
            continue
        key = (s["check"], s["anomalies"])
        group = groups.setdefault(key, {"check": s["check"], "anomalies": s["anomalies"],
                                        "cause": s["cause"][:240], "cells": []})
        group["cells"].append({k: s[k] for k in ("anchor", "client", "protocol", "label")})
    return sorted(groups.values(), key=lambda g: (-len(g["cells"]), g["check"]))


def _failure(section: dict[str, Any]) -> dict[str, Any]:
    """One line of the failures box: the cell, its cause, its section and one command."""
    commands = section["reproduce"]["commands"]
    return {key: section[key] for key in ("anchor", "client", "version", "protocol", "label",
                                          "check", "section", "examples")} | {
        "cause": section["cause"][:240], "command": commands[0][1] if commands else "",
        "command_label": commands[0][0] if commands else ""}


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
