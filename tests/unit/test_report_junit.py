"""junit.xml: one testsuite per client, one testcase per check, verdicts mapped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from test_report_fixtures import HOSTILE, sample_run

from conformance.report.junit import write_junit
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict, Violation


def _parse(result: RunResult, tmp_path: Path) -> ET.Element:
    return ET.parse(write_junit(result, tmp_path / "junit.xml")).getroot()


def _counts(el: ET.Element) -> tuple[int, int, int, int]:
    return tuple(int(el.get(k, "-1")) for k in ("tests", "failures", "errors", "skipped"))


def test_counts_per_suite_and_total(tmp_path: Path) -> None:
    root = _parse(sample_run(), tmp_path)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["confluent-kafka[BATCH] [BATCH, classic]",
                                               f"evil{HOSTILE}"]
    assert _counts(suites[0]) == (6, 1, 1, 1)
    assert _counts(suites[1]) == (2, 0, 0, 0)
    assert _counts(root) == (8, 1, 1, 1)
    assert [len(s.findall("testcase")) for s in suites] == [6, 2]
    assert float(suites[0].get("time")) == 28.5


def test_verdict_mapping(tmp_path: Path) -> None:
    suite = _parse(sample_run(), tmp_path).find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases["no-loss"]) == []
    failure = cases["no-duplicates"].find("failure")
    assert failure.get("message").startswith("no-duplicates (S5) failed: ")
    assert "processed twice" in failure.get("message")
    assert "violation(s)" not in failure.get("message")
    assert failure.get("type") == "duplicate-beyond-bound"
    assert "state.crash(member='m1')" in failure.text
    assert "evidence: events" in failure.text
    assert "hazard" in cases["latest-hazard"].find("system-out").text
    assert cases["latest-hazard"].find("failure") is None
    assert cases["manual-assign"].find("skipped").get("message") == \
        "adapter lacks the 'assign' capability"
    assert "KeyError" in cases["order"].find("error").get("message")
    expected = cases["commit-validity"]
    assert "baseline" in expected.find("system-out").text
    assert expected.find("failure") is None and expected.find("error") is None
    assert cases["no-duplicates"].get("classname") == "confluent-kafka[BATCH] [BATCH, classic]"
    assert cases["no-duplicates"].get("time") == "12.500"


def test_properties(tmp_path: Path) -> None:
    suite = _parse(sample_run(), tmp_path).find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["run_id"] == "20260101-120000-abcd"
    assert props["seed"] == "1234"
    assert props["broker.provider"] == "embedded"
    assert props["client_version"] == "2.12.0"
    assert props["capability.seek"] == "true"


def test_run_errors_become_an_error_suite(tmp_path: Path) -> None:
    result = RunResult(run_id="r", started_at="", errors=["broker died\nlog tail: ..."])
    root = _parse(result, tmp_path)
    suite = root.find("testsuite[@name='run']")
    assert _counts(suite) == (1, 0, 1, 0)
    error = suite.find("testcase/error")
    assert error.get("message") == "broker died"
    assert "log tail" in error.text
    assert _counts(root) == (1, 0, 1, 0)


def test_control_characters_do_not_break_xml(tmp_path: Path) -> None:
    check = CheckResult("x", "S1", Verdict.UNKNOWN, note="bad \x00\x1b byte")
    result = RunResult(run_id="r", started_at="", clients=[ClientResult("c\x07", checks=[check])])
    root = _parse(result, tmp_path)
    assert root.find("testsuite").get("name") == "c"
    assert root.find("testsuite/testcase/error").get("message") == \
        "x (S1) undecided: bad  byte (report: index.html#c--x--x)"


def _two_specs() -> RunResult:
    """kafka-python 2.0.2 and 3.0.12 in one run, each with a generated and a fixed entry."""
    def entry(spec: str, version: str, label: str, verdict: Verdict) -> ClientResult:
        return ClientResult("kafka-python", "kafka-python", version, label, spec=spec,
                            checks=[CheckResult("no-loss", "S1", Verdict.PASS, seconds=1.0),
                                    CheckResult("order", "S9", verdict, seconds=2.0)])
    gen, fixed = "classic range reset=earliest BATCH+revoke", "classic fixed scenarios"
    return RunResult(run_id="r", started_at="", clients=[
        entry("kafka-python==2.0.2", "2.0.2", gen, Verdict.PASS),
        entry("kafka-python==2.0.2", "2.0.2", fixed, Verdict.PASS),
        entry("kafka-python==3.0.12", "3.0.12", gen, Verdict.FAIL),
        entry("kafka-python==3.0.12", "3.0.12", fixed, Verdict.PASS)])


def test_two_specs_of_one_client_get_distinct_suites(tmp_path: Path) -> None:
    suites = _parse(_two_specs(), tmp_path).findall("testsuite")
    names = [s.get("name") for s in suites]
    assert names == ["kafka-python==2.0.2 [classic range reset=earliest BATCH+revoke]",
                     "kafka-python==2.0.2 [classic fixed scenarios]",
                     "kafka-python==3.0.12 [classic range reset=earliest BATCH+revoke]",
                     "kafka-python==3.0.12 [classic fixed scenarios]"]
    assert [s.get("id") for s in suites] == names
    assert [_counts(s)[1] for s in suites] == [0, 0, 1, 0]
    for suite in suites:
        assert {c.get("classname") for c in suite.findall("testcase")} == {suite.get("name")}
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert props["spec"] == suite.get("name").split(" [")[0]
        assert props["adapter"] == "kafka-python"
        assert props["client_version"] in props["spec"]


def test_repeated_spec_and_label_get_numbered_ids(tmp_path: Path) -> None:
    result = _two_specs()
    result.clients.append(result.clients[0])
    suites = _parse(result, tmp_path).findall("testsuite")
    ids = [s.get("id") for s in suites]
    assert len(set(ids)) == len(ids) == 5
    assert ids[-1] == "kafka-python==2.0.2 [classic range reset=earliest BATCH+revoke] #2"


def _confluent_both_protocols() -> RunResult:
    """The issue's case: one client, classic and consumer, generated and fixed scenarios."""
    labels = ["classic range reset=earliest BATCH+revoke", "classic fixed scenarios",
              "consumer range reset=earliest BATCH+revoke", "consumer fixed scenarios"]
    return RunResult(run_id="r", started_at="", clients=[
        ClientResult("confluent-kafka", "confluent-kafka", "2.12.0", label,
                     spec="confluent-kafka",
                     checks=[CheckResult("no-loss", "S1", Verdict.PASS, seconds=1.0)])
        for label in labels])


def test_suites_are_unique_per_client_protocol_and_version(tmp_path: Path) -> None:
    result = _confluent_both_protocols()
    result.clients += _two_specs().clients
    suites = _parse(result, tmp_path).findall("testsuite")
    names = [s.get("name") for s in suites]
    ids = [s.get("id") for s in suites]
    assert len(set(names)) == len(names) == 8 and len(set(ids)) == len(ids) == 8
    assert names[:4] == ["confluent-kafka [classic range reset=earliest BATCH+revoke]",
                         "confluent-kafka [classic fixed scenarios]",
                         "confluent-kafka [consumer range reset=earliest BATCH+revoke]",
                         "confluent-kafka [consumer fixed scenarios]"]
    for suite in suites:  # the version of a spec without one is a property
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert props["client_version"] in ("2.12.0", "2.0.2", "3.0.12")


def _failing(check: CheckResult) -> RunResult:
    return RunResult(run_id="r", started_at="", clients=[
        ClientResult("kafka-python", "kafka-python", "3.0.12", "classic fixed scenarios",
                     checks=[CheckResult("no-loss", "S1", Verdict.PASS), check])])


def test_a_failure_without_violations_says_what_failed_from_its_note(tmp_path: Path) -> None:
    check = CheckResult("S1-resume-after-empty-group", "S1", Verdict.FAIL,
                        note="read 7..11 then 13..19 instead of 7..19: offset 12 missing\nmore")
    failure = _parse(_failing(check), tmp_path).find("testsuite/testcase/failure")
    message = failure.get("message")
    assert message.startswith("S1-resume-after-empty-group (S1) failed: read 7..11 then 13..19 "
                              "instead of 7..19: offset 12 missing")
    assert "0 violation" not in message and "violation(s)" not in message
    assert "\n" not in message and "more" not in message
    bare = CheckResult("S1-resume-after-empty-group", "S1", Verdict.FAIL)
    failure = _parse(_failing(bare), tmp_path).find("testsuite/testcase/failure")
    assert "failed: no violation recorded" in failure.get("message")


def test_a_failure_with_violations_names_the_first_and_counts_the_others(tmp_path: Path) -> None:
    violations = [Violation("no-loss", "lost-record", "S1", f"offset {n} of t-0 never processed")
                  for n in (12, 13, 14)]
    check = CheckResult("no-loss", "S1", Verdict.FAIL, violations=violations, note="shrunk")
    failure = _parse(_failing(check), tmp_path).findall("testsuite/testcase")[1].find("failure")
    assert failure.get("message").startswith(
        "no-loss (S1) failed: offset 12 of t-0 never processed (+2 more violations)")


def test_every_case_that_is_not_a_pass_links_to_its_cell_in_the_html(tmp_path: Path) -> None:
    from conformance.report.html import render_html

    result = sample_run()
    root = _parse(result, tmp_path)
    ids = set(re.findall(r'\sid="([^"]+)"', render_html(result)))
    linked = {}
    for case in root.iter("testcase"):
        prop = case.find("properties/property[@name='html']")
        if prop is not None:
            linked[case.get("name")] = prop.get("value")
    assert set(linked) == {"no-duplicates", "latest-hazard", "manual-assign", "order",
                           "commit-validity"}  # every verdict but pass
    assert {v.split("#")[0] for v in linked.values()} == {"index.html"}
    anchors = {v.split("#")[1] for v in linked.values()}
    assert anchors <= ids, anchors - ids  # the html's own ids
    assert "confluent-kafka-batch--batch-classic--no-duplicates" in anchors, "named, not numbered"
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["no-duplicates"].find("failure")
    assert linked["no-duplicates"] in failure.get("message")
    assert linked["no-duplicates"] in failure.text
    assert linked["order"] in cases["order"].find("error").get("message")


def test_an_incomplete_run_is_marked_in_every_suite_and_as_an_error(tmp_path: Path) -> None:
    result = sample_run()
    for incomplete in (False, True):
        result.incomplete = incomplete
        root = _parse(result, tmp_path)
        for suite in root.findall("testsuite"):
            props = {p.get("name"): p.get("value") for p in suite.find("properties")}
            assert props["incomplete"] == str(incomplete).lower()
    run = root.find("testsuite[@name='run']")
    assert _counts(run) == (1, 0, 1, 0)
    error = run.find("testcase[@name='incomplete']/error")
    assert error.get("type") == "incomplete" and "interrupted" in error.get("message")
    assert _counts(root)[2] == 2  # the order check's error and the interruption


def test_an_adapter_reference_is_a_property_beside_the_declared_name(tmp_path: Path) -> None:
    result = _failing(CheckResult("x", "S1", Verdict.PASS))
    entry = result.clients[0]
    entry.name, entry.spec, entry.adapter = "broken:skip-record", "broken:skip-record", \
        "/home/u/broken_adapters.py:SkipsRecords"
    suite = _parse(result, tmp_path).find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert suite.get("name") == "broken:skip-record [classic fixed scenarios]"
    assert props["adapter"] == "broken:skip-record"
    assert props["adapter_ref"] == "/home/u/broken_adapters.py:SkipsRecords"


def test_a_generated_failure_carries_its_replay_command(tmp_path: Path) -> None:
    """The failure body says how to replay it, relative to the report's folder."""
    failure = _parse(sample_run(), tmp_path).find("testsuite/testcase[@name='no-duplicates']"
                                                  "/failure")
    assert "replay (in the report's folder): kafka-conformance replay histories/replay.json" \
        in failure.text
