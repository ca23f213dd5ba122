"""``junit.xml``: one ``<testsuite>`` per client spec and configuration, one ``<testcase>`` per
check. Suites are named ``<spec> [<label>]`` (``kafka-python==2.0.2 [classic fixed scenarios]``),
unique within a run (``columns.column_ids``); test cases carry that name as ``classname``.

Mapping of verdicts (docs/results-schema.md):

    pass         passed testcase
    fail         ``<failure>``: message = count + first violation, text = every violation
    hazard       passed testcase with ``<system-out>`` explaining the measured hazard
    expected     passed testcase with ``<system-out>`` naming the baseline reason
    unsupported  ``<skipped>`` with the reason (the check's note)
    unknown      ``<error>`` with the note

Run-level errors (``RunResult.errors``) become ``<error>`` testcases of an extra suite ``run``.
"""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.report.columns import column_ids, spec_of
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

JUNIT_FILE = "junit.xml"
ROOT_NAME = "kafka-conformance"
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can hold (control characters dropped)."""
    return _INVALID_XML.sub("", str(value))


def build_junit(result: RunResult) -> ET.Element:
    """The ``<testsuites>`` element of ``result``."""
    root = ET.Element("testsuites", name=ROOT_NAME)
    suites = [_suite(result, client, suite_id)
              for client, suite_id in zip(result.clients, column_ids(result.clients), strict=True)]
    if result.errors:
        suites.append(_errors_suite(result))
    for suite in suites:
        root.append(suite)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", f"{sum(float(s.get('time', '0')) for s in suites):.3f}")
    if result.started_at:
        root.set("timestamp", xml_text(result.started_at))
    return root


def write_junit(result: RunResult, path: str | Path) -> Path:
    """Write the junit XML of ``result`` to ``path`` (UTF-8, with an XML declaration)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build_junit(result))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path


def _suite(result: RunResult, client: ClientResult, suite_id: str) -> ET.Element:
    suite = ET.Element("testsuite", name=xml_text(suite_id))
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    props = ET.SubElement(suite, "properties")
    for name, value in _properties(result, client):
        ET.SubElement(props, "property", name=xml_text(name), value=xml_text(value))
    for check in client.checks:
        suite.append(_case(suite_id, check, counts))
    _set_counts(suite, counts, sum(c.seconds for c in client.checks), result, suite_id)
    return suite


def _case(suite_id: str, check: CheckResult, counts: dict[str, int]) -> ET.Element:
    case = ET.Element("testcase", name=xml_text(check.check), classname=xml_text(suite_id),
                      time=f"{check.seconds:.3f}")
    counts["tests"] += 1
    verdict = check.verdict
    if verdict == Verdict.FAIL:
        counts["failures"] += 1
        first = check.violations[0].message if check.violations else check.note
        n = len(check.violations)
        el = ET.SubElement(case, "failure", type=xml_text(_anomalies(check) or "fail"),
                           message=xml_text(f"{n} violation(s) of {_section(check)}: {first}"))
        el.text = xml_text(_failure_text(check))
    elif verdict == Verdict.UNKNOWN:
        counts["errors"] += 1
        el = ET.SubElement(case, "error", type="unknown",
                           message=xml_text(check.note or "the check could not decide"))
        el.text = xml_text(_failure_text(check))
    elif verdict == Verdict.UNSUPPORTED:
        counts["skipped"] += 1
        ET.SubElement(case, "skipped",
                      message=xml_text(check.note or "unsupported by this client/adapter"))
    elif verdict in (Verdict.HAZARD, Verdict.EXPECTED):
        out = ET.SubElement(case, "system-out")
        out.text = xml_text(_explanation(check))
    return case


def _errors_suite(result: RunResult) -> ET.Element:
    suite = ET.Element("testsuite", name="run")
    for n, message in enumerate(result.errors, 1):
        case = ET.SubElement(suite, "testcase", name=f"infrastructure-{n}", classname="run",
                             time="0.000")
        ET.SubElement(case, "error", type="infrastructure",
                      message=xml_text(message.splitlines()[0] if message else "error")
                      ).text = xml_text(message)
    counts = {"tests": len(result.errors), "failures": 0, "errors": len(result.errors),
              "skipped": 0}
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
    ]
    props += [(f"broker.{k}", _scalar(v)) for k, v in result.broker.items()]
    props += [(f"capability.{k}", str(v).lower()) for k, v in client.capabilities.items()]
    return props


def _section(check: CheckResult) -> str:
    return f"{check.check} ({check.section})" if check.section else check.check


def _anomalies(check: CheckResult) -> str:
    return ",".join(dict.fromkeys(v.anomaly for v in check.violations if v.anomaly))


def _failure_text(check: CheckResult) -> str:
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
    return "\n".join(lines)


def _explanation(check: CheckResult) -> str:
    if check.verdict == Verdict.HAZARD:
        head = (f"hazard: documented Kafka behaviour reproduced and measured "
                f"({_section(check)}), not a client bug")
    else:
        head = f"expected: a known deviation listed in the baseline ({_section(check)})"
    return head + "\n" + _failure_text(check)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
