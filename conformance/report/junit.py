"""``junit.xml``: one ``<testsuite>`` per client spec and configuration, one ``<testcase>`` per
check. Suites are named ``<spec> [<label>]`` (``kafka-python==2.0.2 [classic fixed scenarios]``),
unique within a run (``columns.column_ids``); test cases carry that name as ``classname``.

Mapping of verdicts (docs/results-schema.md):

    pass         passed testcase
    fail         ``<failure>``: message = what failed (the first violation, else the note),
                 text = every violation
    hazard       passed testcase with ``<system-out>`` explaining the measured hazard
    expected     passed testcase with ``<system-out>`` naming the baseline reason
    unsupported  ``<skipped>`` with the reason (the check's note)
    unknown      ``<error>`` with the note

Run-level errors (``RunResult.errors``) become ``<error>`` testcases of an extra suite ``run``;
an incomplete run (Ctrl-C, a crash) adds an ``<error>`` testcase ``incomplete`` there, and every
suite carries the property ``incomplete`` (``true``/``false``).

Every testcase that is not a pass links to its cell's place in the HTML report
(``index.html#<id>``, the cell's named id, see ``columns.cell_ids``): in its messages and as the
testcase
property ``html``. Its text ends with the commands that reproduce it, as the HTML report prints
them (``reproduce``): the replay of its ``replay.json`` (relative to the report's folder, to
run there) and the ``run`` narrowed to its client, protocol and seed.
"""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance.report.columns import cell_ids, column_ids, spec_of
from conformance.report.reproduce import replay_command, replay_path, rerun_command
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

JUNIT_FILE = "junit.xml"
HTML_PAGE = "index.html"  # html.HTML_FILE, the page junit.xml links to
ROOT_NAME = "kafka-conformance"
INCOMPLETE = ("the run was interrupted before every configuration finished: only the "
              "configurations that finished are reported")
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can hold (control characters dropped)."""
    return _INVALID_XML.sub("", str(value))


def build_junit(result: RunResult, run_dir: str | Path | None = None) -> ET.Element:
    """The ``<testsuites>`` element of ``result``; ``run_dir`` (the report's folder) tells
    which cells have a ``replay.json`` (without it: those that recorded steps)."""
    root = ET.Element("testsuites", name=ROOT_NAME)
    ids = cell_ids(result.clients)
    suites = [_suite(result, client, suite_id, [ids[n, k] for k in range(len(client.checks))],
                     run_dir) for n, (client, suite_id)
              in enumerate(zip(result.clients, column_ids(result.clients), strict=True))]
    if result.errors or result.incomplete:
        suites.append(_errors_suite(result))
    for suite in suites:
        root.append(suite)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", f"{sum(float(s.get('time', '0')) for s in suites):.3f}")
    if result.started_at:
        root.set("timestamp", xml_text(result.started_at))
    return root


def write_junit(result: RunResult, path: str | Path, run_dir: str | Path | None = None) -> Path:
    """Write the junit XML of ``result`` to ``path`` (UTF-8, with an XML declaration)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build_junit(result, run_dir))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path


def _suite(result: RunResult, client: ClientResult, suite_id: str, anchors: list[str],
           run_dir: str | Path | None) -> ET.Element:
    suite = ET.Element("testsuite", name=xml_text(suite_id))
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    props = ET.SubElement(suite, "properties")
    for name, value in _properties(result, client):
        ET.SubElement(props, "property", name=xml_text(name), value=xml_text(value))
    for k, check in enumerate(client.checks):
        commands = [] if check.verdict in (Verdict.PASS, Verdict.UNSUPPORTED) else \
            _commands(result, client, check, run_dir)
        suite.append(_case(suite_id, check, counts, f"{HTML_PAGE}#{anchors[k]}",
                           commands))
    _set_counts(suite, counts, sum(c.seconds for c in client.checks), result, suite_id)
    return suite


def _commands(result: RunResult, client: ClientResult, check: CheckResult,
              run_dir: str | Path | None) -> list[str]:
    """The lines that reproduce a cell: its replay (if it has a replay.json), its rerun."""
    replay = replay_path(check, run_dir)
    return ([f"replay (in the report's folder): {replay_command(replay)}"] if replay else []) \
        + [f"run again (this client, protocol and seed): "
           f"{rerun_command(result, client, check)}"]


def _case(suite_id: str, check: CheckResult, counts: dict[str, int], link: str,
          commands: list[str]) -> ET.Element:
    case = ET.Element("testcase", name=xml_text(check.check), classname=xml_text(suite_id),
                      time=f"{check.seconds:.3f}")
    counts["tests"] += 1
    verdict = check.verdict
    if verdict != Verdict.PASS:
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="html", value=xml_text(link))
    see = f"report: {link}"
    if verdict == Verdict.FAIL:
        counts["failures"] += 1
        el = ET.SubElement(case, "failure", type=xml_text(_anomalies(check) or "fail"),
                           message=xml_text(f"{failure_message(check)} ({see})"))
        el.text = xml_text(f"{see}\n{_failure_text(check, commands)}")
    elif verdict == Verdict.UNKNOWN:
        counts["errors"] += 1
        cause = _first_line(check.note) or "the check could not decide"
        el = ET.SubElement(case, "error", type="unknown",
                           message=xml_text(f"{_section(check)} undecided: {cause} ({see})"))
        el.text = xml_text(f"{see}\n{_failure_text(check, commands)}")
    elif verdict == Verdict.UNSUPPORTED:
        counts["skipped"] += 1
        ET.SubElement(case, "skipped",
                      message=xml_text(check.note or "unsupported by this client/adapter"))
    elif verdict in (Verdict.HAZARD, Verdict.EXPECTED):
        out = ET.SubElement(case, "system-out")
        out.text = xml_text(f"{_explanation(check, commands)}\n{see}")
    return case


def failure_message(check: CheckResult) -> str:
    """What failed, in one line: ``no-loss (S1) failed: <first violation>
    (+N more violations)``; the note when there are no violations (a fixed scenario's
    summary), never a count of zero."""
    if check.violations:
        first = _first_line(check.violations[0].message) or check.violations[0].anomaly
        more = len(check.violations) - 1
        what = first + (f" (+{more} more violation{'s' if more > 1 else ''})" if more else "")
    else:
        what = _first_line(check.note) or "no violation recorded"
    return f"{_section(check)} failed: {what}"


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _errors_suite(result: RunResult) -> ET.Element:
    suite = ET.Element("testsuite", name="run")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="incomplete", value=str(result.incomplete).lower())
    for n, message in enumerate(result.errors, 1):
        case = ET.SubElement(suite, "testcase", name=f"infrastructure-{n}", classname="run",
                             time="0.000")
        ET.SubElement(case, "error", type="infrastructure",
                      message=xml_text(message.splitlines()[0] if message else "error")
                      ).text = xml_text(message)
    if result.incomplete:
        case = ET.SubElement(suite, "testcase", name="incomplete", classname="run",
                             time="0.000")
        ET.SubElement(case, "error", type="incomplete", message=INCOMPLETE).text = \
            f"{INCOMPLETE}; {len(result.clients)} entries reported"
    tests = len(result.errors) + int(result.incomplete)
    counts = {"tests": tests, "failures": 0, "errors": tests, "skipped": 0}
    _set_counts(suite, counts, 0.0, result, "run")
    return suite


def _set_counts(suite: ET.Element, counts: dict[str, int], seconds: float, result: RunResult,
                suite_id: str) -> None:
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{seconds:.3f}")
    if result.started_at:
        suite.set("timestamp", xml_text(result.started_at))
    suite.set("hostname", xml_text(socket.gethostname()))
    suite.set("id", xml_text(suite_id))


def _properties(result: RunResult, client: ClientResult) -> list[tuple[str, Any]]:
    props: list[tuple[str, Any]] = [
        ("run_id", result.run_id), ("tool_version", result.tool_version),
        ("profile", result.profile), ("seed", "" if result.seed is None else result.seed),
        ("adapter", client.name), ("spec", spec_of(client)), ("client", client.client),
        ("client_version", client.client_version), ("label", client.label),
        ("incomplete", str(result.incomplete).lower()),
    ]
    if client.adapter:
        props.append(("adapter_ref", client.adapter))
    props += [(f"broker.{k}", _scalar(v)) for k, v in result.broker.items()]
    props += [(f"capability.{k}", str(v).lower()) for k, v in client.capabilities.items()]
    return props


def _section(check: CheckResult) -> str:
    return f"{check.check} ({check.section})" if check.section else check.check


def _anomalies(check: CheckResult) -> str:
    return ",".join(dict.fromkeys(v.anomaly for v in check.violations if v.anomaly))


def _failure_text(check: CheckResult, commands: Sequence[str] = ()) -> str:
    lines = []
    if check.note:
        lines.append(check.note)
    for v in check.violations:
        lines.append(f"[{v.anomaly}] {v.section}: {v.message}")
        if v.evidence:
            lines.append(f"  evidence: events {', '.join(map(str, v.evidence))}")
        if v.details:
            lines.append(f"  details: {_scalar(v.details)}")
    if check.figures:
        lines.append(f"figures: {_scalar(check.figures)}")
    if check.steps:
        lines.append("steps:")
        lines += [f"  {s}" for s in check.steps]
    if check.history_file:
        lines.append(f"history: {check.history_file}")
    lines.append(f"examples: {check.examples}")
    lines += commands
    return "\n".join(lines)


def _explanation(check: CheckResult, commands: list[str]) -> str:
    if check.verdict == Verdict.HAZARD:
        head = (f"hazard: documented Kafka behaviour reproduced and measured "
                f"({_section(check)}), not a client bug")
    else:
        head = f"expected: a known deviation listed in the baseline ({_section(check)})"
    return head + "\n" + _failure_text(check, commands)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
