"""The reference column: every client against the Java client of the same run."""

import json

from conformance.report import write_reports
from conformance.report.html import render_html
from conformance.report.reference import against_reference, reference_json
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict, Violation

GEN = "classic range reset=earliest BATCH"
FIXED = "classic fixed scenarios"
V = Verdict


def _check(check: str, verdict: Verdict, **figures: float) -> CheckResult:
    violations = [Violation(check, "lost", "S1", f"{check} broke")] if verdict == V.FAIL else []
    return CheckResult(check, "S1", verdict, violations=violations, figures=dict(figures))


def _entry(name: str, label: str, *checks: CheckResult) -> ClientResult:
    return ClientResult(name, name, "1.0", label, spec=name, checks=list(checks))


def _run() -> RunResult:
    return RunResult(run_id="r1", started_at="", clients=[
        _entry("java", GEN, _check("no-loss", V.PASS), _check("duplicates-bounded", V.PASS,
                                                               duplicates=3)),
        _entry("java", FIXED, _check("S4-auto-commit-crash", V.PASS)),
        _entry("kafkajs", GEN, _check("no-loss", V.FAIL), _check("duplicates-bounded", V.PASS,
                                                                 duplicates=7)),
        _entry("kafkajs", FIXED, _check("S4-auto-commit-crash", V.UNSUPPORTED)),
        _entry("franz-go", GEN, _check("no-loss", V.PASS), _check("duplicates-bounded", V.PASS,
                                                                  duplicates=3,
                                                                  processings=99)),
    ])


def test_each_client_lists_the_cells_that_differ_from_java() -> None:
    kafkajs, franz = against_reference(_run())
    assert kafkajs.spec == "kafkajs" and franz.spec == "franz-go"
    assert [(d.check, d.kind, d.old, d.new) for d in kafkajs.differences] == [
        ("no-loss", "new-failure", "pass", "fail"),
        ("duplicates-bounded", "figures", "pass", "pass")]
    assert kafkajs.differences[1].figures == {"duplicates": {"old": 3, "new": 7}}
    assert (kafkajs.same, kafkajs.undecided) == (0, 1)  # S4 unsupported: not compared
    # records read moved (99 against none): not behaviour, no difference
    assert franz.differences == [] and (franz.same, franz.undecided) == (2, 1)  # S4 not run


def test_without_java_there_is_no_reference() -> None:
    run = _run()
    run.clients = [c for c in run.clients if c.name != "java"]
    assert against_reference(run) == [] and reference_json(run) is None


def test_results_json_and_html_carry_it(tmp_path) -> None:
    paths = write_reports(_run(), tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["reference"]["spec"] == "java"
    [kafkajs, _] = data["reference"]["clients"]
    assert kafkajs["differences"][0]["check"] == "no-loss"
    page = render_html(_run(), tmp_path)
    assert "Against the reference client" in page and "kafkajs" in page
