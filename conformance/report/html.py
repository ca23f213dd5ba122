"""``index.html``: a self-contained page (inline CSS and SVG, no scripts, no external assets).

Layout, top to bottom:

    failures    the first section: one line per failing cell (client and release, protocol,
                configuration, check, the configuration as run, the first violation, a link to
                its section, the command that reproduces it)
    hazards     folded: one line per (check, anomalies) across clients, linking to its group
    header      exit code, an "incomplete" banner for an interrupted run, run id, the suite's
                version and git commit, profile, seed, command line, the baseline applied (or
                none), "since the last run" (``run --previous``), Python, Kafka and broker, one
                line per client spec (release, runtime, librdkafka under confluent-kafka)
    matrices    generated-scenario invariants (a row per entry, a column per check; the
                entry's examples and time in its heading, none per cell) and fixed scenarios (a
                row per scenario, a column per entry, each cell its scenario's time); sticky
                first column and header in their own scroll box; they fit 1280 px without
                scrolling sideways; an entry whose cells are all unsupported for one reason
                folded into one line; under them the legend: verdicts, every check with its
                section, and the short text of every section the page cites (``legend``): the
                page links to no document outside itself
    versions    per client run as several specs, its verdicts side by side (``version_matrices``)
    reference   the cells that differ from the reference client (at most ``MAX_REFERENCE_ROWS``
                rows, with a count of the rest)
    findings    one section per fail, unknown and expected cell, failures first: the
                configuration as run in its title (``as_run``), note, then (folded unless a
                failure) the chain of events behind its first distinct violations (``chain``:
                assignment, the step that set it off, what the listener heard, commits, reads,
                the violation last), a "reproduce" box, figures, the violations (their evidence
                linked to the chain's lines, or to the example's history.jsonl), and for the
                first ``MAX_PICTURES`` failing or unknown cells the timeline as a picture with its
                event list folded under it
    hazard groups  one section per (check, anomalies): a row per cell (client, configuration as
                run, figures, cause, history) and, folded, the chain of the first cell; hazards
                are documented behaviour, so their evidence is not repeated per client
    unsupported every unsupported cell once, one line per reason

Every cell's place has a named id (``columns.cell_ids``: spec, configuration, check), the same
in every run; a positional alias (``c<entry>-k<check>``) sits beside it for older links. Every
in-page link has its target on the page. A "failures only" checkbox (CSS only) hides matrix
rows without a failure and every section that is not a failure. From 390 px wide (a phone)
the page does not scroll sideways: matrices, tables and the picture scroll in their own boxes.
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
from conformance.report.as_run import as_run, as_run_text
from conformance.report.chain import chain_json, event_chain
from conformance.report.columns import cell_anchor, cell_ids, slug, spec_of, specs_by_client
from conformance.report.evidence import value_text, violation_rows
from conformance.report.legend import (
    SECTIONS,
    VERDICTS,
    check_legend,
    section_id,
    section_legend,
)
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
#: sections with a timeline picture (the first failing or unknown cells): a picture is the
#: page's largest part, and the chain and history.jsonl tell the rest
MAX_PICTURES = 3
#: distinct violations of a cell told as a chain of events (a hazard group: 1, its first cell)
MAX_CHAINS = 3
MAX_VIOLATION_ROWS = 20
#: violations listed under a hazard group's first cell (a hazard's are documented behaviour)
HAZARD_VIOLATION_ROWS = 5
#: the event list under a picture: partitions and chips per partition (the rest counted)
TIMELINE_ROWS, TIMELINE_ITEMS = 12, 48
MAX_REFERENCE_ROWS = 40


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
    ids = cell_ids(result.clients)
    checks: dict[str, str] = {}
    cited: set[str] = set()
    counts: Counter[str] = Counter()
    cells: list[tuple[int, int]] = []
    anchors: dict[tuple[int, str], str] = {}
    for ci, client in enumerate(result.clients):
        for ki, c in enumerate(client.checks):
            checks.setdefault(c.check, c.section)
            cited.add(c.section)
            cited.update(v.section for v in c.violations)
            counts[str(c.verdict)] += 1
            if c.verdict != Verdict.PASS:
                anchors[ci, c.check] = ids[ci, ki]
            if c.verdict not in (Verdict.PASS, Verdict.UNSUPPORTED):
                cells.append((ci, ki))
    cells.sort(key=lambda k: SEVERITY.get(result.clients[k[0]].checks[k[1]].verdict, 9))
    sections, pictures = [], MAX_PICTURES
    for ci, ki in cells:
        client, c = result.clients[ci], result.clients[ci].checks[ki]
        draw = c.verdict in (Verdict.FAIL, Verdict.UNKNOWN) and pictures > 0
        section = _section(result, client, c, (ids[ci, ki], cell_anchor(ci, ki)), run_dir,
                           draw, 1 if c.verdict == Verdict.HAZARD else MAX_CHAINS)
        pictures -= bool(section["picture"] or section["timeline"].rows)
        sections.append(section)
    tips = {(ci, ki): s["as_run_text"] for (ci, ki), s in zip(cells, sections, strict=True)
            if s["as_run_text"]}
    reference = [a.to_json() for a in against_reference(result)]
    rows = [(a["spec"], d) for a in reference for d in a["differences"]]
    return {
        "failures": [_failure(s) for s in sections if s["verdict"] == str(Verdict.FAIL)],
        "hazards": hazard_groups(sections),
        "run": _header(result) | {"since": since},
        "matrices": matrices(result, ids, tips),
        "legend": {"verdicts": [(v, SYMBOLS[Verdict(v)], text, counts.get(v, 0))
                                for v, text in VERDICTS.items()],
                   "checks": check_legend(checks),
                   "sections": section_legend(sorted(cited))},
        "versions": version_matrices(result, anchors),
        "reference": reference,
        "reference_rows": rows[:MAX_REFERENCE_ROWS],
        "reference_cut": max(0, len(rows) - MAX_REFERENCE_ROWS),
        "reference_spec": reference_spec(result),
        "counts": {k: counts[k] for k in (str(v) for v in Verdict) if counts[k]},
        "sections": sections,
        "findings": [s for s in sections if s["verdict"] != str(Verdict.HAZARD)],
        "unsupported": unsupported_groups(result, ids),
        "symbols": {str(k): v for k, v in SYMBOLS.items()},
        "max_pictures": MAX_PICTURES, "hazard_rows": HAZARD_VIOLATION_ROWS,
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


def _section(result: RunResult, client: ClientResult, c: CheckResult, anchor: tuple[str, str],
             run_dir: str | Path | None, draw: bool = True, chains: int = MAX_CHAINS
             ) -> dict[str, Any]:
    """One cell's finding: ``anchor`` is (its named id, its positional alias); ``draw``: with
    the timeline picture and list; ``chains``: how many distinct violations to tell."""
    named = anchor[0]
    history, timeline = _load_history(c.history_file, run_dir)
    rows = violation_rows(c.violations, MAX_VIOLATION_ROWS)
    picture: Markup | None = None
    told: list[dict[str, Any]] = []
    items: list[Any] = []
    if history is not None:
        try:
            items = as_run(history)
            t0 = min((e.ts for e in history), default=0.0)
            told = [chain_json(event_chain(history, c.violations[row["numbers"][0] - 1],
                                           row["numbers"][0]), t0) for row in rows[:chains]]
            if draw:
                evidence = {i for v in c.violations for i in v.evidence if isinstance(i, int)}
                focus = {(str(v.details["topic"]), int(v.details["partition"]))
                         for v in c.violations if isinstance(v.details.get("topic"), str)
                         and isinstance(v.details.get("partition"), int)}
                timeline = build_timeline(history, evidence, focus, max_rows=TIMELINE_ROWS,
                                          max_items=TIMELINE_ITEMS)
                picture = render_svg(history, evidence, focus,
                                     missing_records(history, c.violations))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            # A report never crashes on an odd history: it says what it could not draw.
            timeline = Timeline(events=len(history), error=f"timeline not drawn: "
                                f"{type(exc).__name__}: {exc}")
            picture = None
    shown = _place_events(told, named, {i for v in c.violations for i in v.evidence})
    history_href = c.history_file or ""
    for row in rows:  # each cited event: its line on the page, else its line in the history
        row["links"] = [(f"#{i}", f"#{shown[i]}" if i in shown else history_href,
                         "" if i in shown else f"line {i + 1} of {history_href}"
                         if history_href else "") for i in row["evidence"][:8]]
    first = c.violations[0].message if c.violations else ""
    return {
        "anchor": named, "alias": anchor[1], "client": spec_of(client), "label": client.label,
        "check": c.check, "anomalies": ", ".join(sorted({v.anomaly for v in c.violations})),
        "version": client.client_version, "protocol": client.protocol,
        "cause": first or (c.note.splitlines()[0] if c.note else ""),
        "section": c.section, "title": SECTIONS.get(c.section, ""),
        "href": f"#{section_id(c.section)}" if section_id(c.section) else "",
        "verdict": str(c.verdict), "symbol": SYMBOLS[c.verdict], "examples": c.examples,
        "seconds": f"{c.seconds:.1f}", "note": c.note,
        "figures": [(k, value_text(v)) for k, v in c.figures.items()],
        "steps": "\n".join(c.steps), "reproduce": reproduce(result, client, c, run_dir),
        "violations": rows, "violations_total": len(c.violations),
        "as_run": [(it.key, it.value, it.drawn) for it in items],
        "as_run_text": as_run_text(items), "chains": told,
        "history_file": history_href, "timeline": timeline or Timeline(), "picture": picture,
        "drawn": draw,
    }


def _place_events(chains: list[dict[str, Any]], anchor: str, cited: set[int]
                  ) -> dict[int, str]:
    """Give each chain line that shows ``cited`` events an in-page id
    (``<anchor>-e<first such index>``; the first line showing an event wins); returns
    index -> the id of the line that shows it."""
    shown: dict[int, str] = {}
    for chain in chains:
        for link in chain["links"]:
            new = [i for i in link["indices"] if i in cited and i not in shown]
            link["id"] = f"{anchor}-e{new[0]}" if new else ""
            shown.update(dict.fromkeys(new, link["id"]))
    return shown


def hazard_groups(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hazard cells grouped by check and anomalies across clients, largest group first:
    the group's id, check, section, first cause and evidence (its first cell's), and a row per
    cell (its place: named id and alias)."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for s in sections:
        if s["verdict"] != str(Verdict.HAZARD):
            continue
        key = (s["check"], s["anomalies"])
        group = groups.setdefault(key, {
            "id": "hz-" + slug(f"{s['check']}--{s['anomalies']}"), "check": s["check"],
            "anomalies": s["anomalies"], "cause": s["cause"][:240], "section": s["section"],
            "title": s["title"], "href": s["href"], "first": s, "cells": []})
        group["cells"].append({k: s[k] for k in (
            "anchor", "alias", "client", "version", "protocol", "label", "examples", "figures",
            "as_run_text", "history_file")} | {"cause": s["cause"][:240]})
    return sorted(groups.values(), key=lambda g: (-len(g["cells"]), g["check"]))


def _failure(section: dict[str, Any]) -> dict[str, Any]:
    """One line of the failures box: the cell, its cause, its section and one command."""
    commands = section["reproduce"]["commands"]
    return {key: section[key] for key in ("anchor", "client", "version", "protocol", "label",
                                          "check", "section", "examples", "as_run_text")} | {
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
