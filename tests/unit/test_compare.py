"""The upgrade gate: changes between two columns of results, the exit code, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.compare import SCHEMA, Comparison, compare, compare_files
from conformance.errors import UsageError
from conformance.report.cells import classify, moved_figures
from conformance.report.json_report import write_results
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict, Violation

GEN = "classic range reset=earliest BATCH+revoke"
FIXED = "classic fixed scenarios"
OLD, NEW = "kafka-python==2.0.2", "kafka-python==3.0.12"
V = Verdict


def _check(check: str, verdict: Verdict, **figures: float) -> CheckResult:
    violations = [Violation(check, "lost", "S1", f"{check} broke\nsecond line")] \
        if verdict in (V.FAIL, V.EXPECTED) else []
    return CheckResult(check, "S1", verdict, violations=violations, figures=dict(figures),
                       note="why" if verdict == V.UNKNOWN else "")


def _entry(spec: str, label: str, *checks: CheckResult) -> ClientResult:
    version = spec.partition("==")[2]
    return ClientResult("kafka-python", "kafka-python", version, label, spec=spec,
                        checks=list(checks))


def _run(*entries: ClientResult, run_id: str = "r1") -> RunResult:
    return RunResult(run_id=run_id, started_at="", clients=list(entries))


def _two_specs(old: list[CheckResult], new: list[CheckResult]) -> RunResult:
    return _run(_entry(OLD, GEN, *old), _entry(NEW, GEN, *new))


def _kinds(result: Comparison) -> dict[str, str]:
    return {c.check: c.kind for c in result.changes}


# -- classification --------------------------------------------------------------------------
@pytest.mark.parametrize(("old", "new", "kind"), [
    (V.PASS, V.FAIL, "new-failure"), (V.HAZARD, V.FAIL, "new-failure"),
    (V.EXPECTED, V.FAIL, "new-failure"), (V.UNSUPPORTED, V.FAIL, "new-failure"),
    (None, V.FAIL, "new-failure"), (V.PASS, V.EXPECTED, "new-deviation"),
    (V.FAIL, V.PASS, "fixed"), (V.EXPECTED, V.PASS, "fixed"), (V.FAIL, V.HAZARD, "fixed"),
    (V.PASS, V.HAZARD, "new-hazard"), (V.PASS, V.UNKNOWN, "to-unknown"),
    (V.FAIL, V.UNSUPPORTED, "to-unsupported"), (V.UNKNOWN, V.PASS, "from-unknown"),
    (V.UNSUPPORTED, V.PASS, "from-unsupported"), (V.PASS, None, "removed"),
    (V.UNKNOWN, None, "removed"), (None, V.PASS, "added"), (V.HAZARD, V.PASS, "changed"),
    (V.FAIL, V.EXPECTED, "changed"), (V.PASS, V.PASS, None), (V.HAZARD, V.HAZARD, None),
])
def test_classify(old: Verdict | None, new: Verdict | None, kind: str | None) -> None:
    assert classify(old, new) == kind


def test_moved_figures_are_numeric_differences() -> None:
    moved = moved_figures({"lost": 0, "bound": 5, "window_ms": 1.5, "partitions": [0, 1],
                           "flag": True, "gone": 3},
                          {"lost": 4, "bound": 5, "window_ms": 2.0, "partitions": [0],
                           "flag": False, "new": 1})
    assert moved == {"lost": {"old": 0, "new": 4}, "window_ms": {"old": 1.5, "new": 2.0},
                     "gone": {"old": 3, "new": None}, "new": {"old": None, "new": 1}}
    assert moved_figures({"n": 1}, {"n": 1.0}) == {}


# -- the gate --------------------------------------------------------------------------------
def test_new_failure_gates() -> None:
    result = compare(*[_two_specs([_check("no-loss", V.PASS), _check("order", V.PASS)],
                                  [_check("no-loss", V.PASS), _check("order", V.FAIL)])] * 2,
                     OLD, NEW)
    assert result.exit_code == 1
    [change] = result.changes
    assert (change.label, change.check, change.kind, change.old, change.new, change.gates) == \
        (GEN, "order", "new-failure", "pass", "fail", True)
    assert change.detail == "order broke", "first line of the first violation"
    assert result.unchanged == 1
    assert (result.old.spec, result.new.spec) == (OLD, NEW)
    assert (result.old.client_version, result.new.client_version) == ("2.0.2", "3.0.12")


def test_only_fixes_pass_the_gate() -> None:
    run = _two_specs([_check("no-loss", V.FAIL), _check("order", V.EXPECTED)],
                     [_check("no-loss", V.PASS), _check("order", V.PASS)])
    result = compare(run, run, OLD, NEW)
    assert _kinds(result) == {"no-loss": "fixed", "order": "fixed"}
    assert result.exit_code == 0


@pytest.mark.parametrize(("old", "gates"), [
    (V.PASS, True), (V.HAZARD, True), (V.EXPECTED, True), (V.FAIL, False),
    (V.UNKNOWN, False), (V.UNSUPPORTED, False), (None, False),
])
def test_which_old_verdicts_a_failure_gates_from(old: Verdict | None, gates: bool) -> None:
    run = _two_specs([_check("order", old)] if old else [], [_check("order", V.FAIL)])
    result = compare(run, run, OLD, NEW)
    assert result.exit_code == int(gates)
    assert [c.gates for c in result.changes] == ([gates] if old != V.FAIL else [])


def test_hazards_deviations_and_undecided_cells_do_not_gate() -> None:
    run = _two_specs(
        [_check("a", V.PASS), _check("b", V.PASS), _check("c", V.PASS), _check("d", V.HAZARD)],
        [_check("a", V.HAZARD), _check("b", V.EXPECTED), _check("c", V.UNKNOWN),
         _check("d", V.HAZARD)])
    result = compare(run, run, OLD, NEW)
    assert _kinds(result) == {"a": "new-hazard", "b": "new-deviation", "c": "to-unknown"}
    assert result.exit_code == 0
    assert result.new.unknown == 1
    assert [c.detail for c in result.changes if c.check == "c"] == ["why"]


def test_figures_moved_are_reported() -> None:
    run = _run(_entry(OLD, FIXED, _check("S3-latest-growth-hazard", V.HAZARD, lost=12, bound=0)),
               _entry(NEW, FIXED, _check("S3-latest-growth-hazard", V.HAZARD, lost=30, bound=0)))
    result = compare(run, run, OLD, NEW)
    [change] = result.changes
    assert (change.kind, change.old, change.new, change.gates) == \
        ("figures", "hazard", "hazard", False)
    assert change.figures == {"lost": {"old": 12, "new": 30}}
    assert result.exit_code == 0


def test_cells_are_keyed_by_label_and_check() -> None:
    run = _run(_entry(OLD, GEN, _check("order", V.PASS)), _entry(OLD, FIXED, _check("x", V.PASS)),
               _entry(NEW, GEN, _check("order", V.PASS)), _entry(NEW, FIXED, _check("x", V.FAIL)),
               _entry(NEW, "consumer fixed scenarios", _check("x", V.PASS)))
    result = compare(run, run, OLD, NEW)
    assert [(c.label, c.check, c.kind) for c in result.changes] == [
        (FIXED, "x", "new-failure"), ("consumer fixed scenarios", "x", "added")]


def test_gating_changes_come_first() -> None:
    run = _two_specs([_check("a", V.FAIL), _check("b", V.PASS), _check("c", V.UNSUPPORTED)],
                     [_check("a", V.PASS), _check("b", V.FAIL), _check("c", V.FAIL)])
    result = compare(run, run, OLD, NEW)
    assert [(c.check, c.gates) for c in result.changes] == [
        ("b", True), ("c", False), ("a", False)]


def test_json_document() -> None:
    run = _two_specs([_check("order", V.PASS, lost=0)], [_check("order", V.FAIL, lost=2)])
    doc = json.loads(json.dumps(compare(run, run, OLD, NEW, "r.json", "r.json").to_json()))
    assert doc["schema"] == SCHEMA
    assert doc["exit_code"] == 1
    assert doc["old"] == {"file": "r.json", "run_id": "r1", "spec": OLD,
                          "client": "kafka-python", "client_version": "2.0.2", "entries": 1,
                          "unknown": 0, "errors": []}
    assert doc["summary"]["new-failure"] == 1 and doc["summary"]["gating"] == 1
    assert doc["summary"]["unchanged"] == 0
    assert doc["changes"] == [{
        "label": GEN, "check": "order", "section": "S1", "kind": "new-failure", "old": "pass",
        "new": "fail", "gates": True, "figures": {"lost": {"old": 0, "new": 2}},
        "detail": "order broke"}]


# -- choosing the columns --------------------------------------------------------------------
def test_ambiguous_spec_is_a_usage_error_listing_the_specs() -> None:
    run = _two_specs([_check("order", V.PASS)], [_check("order", V.PASS)])
    with pytest.raises(UsageError) as info:
        compare(run, run, None, NEW, "reports/r/results.json")
    message = str(info.value)
    assert "\n" not in message
    assert OLD in message and NEW in message and "--old-client" in message


def test_unknown_spec_is_a_usage_error_listing_the_specs() -> None:
    run = _two_specs([_check("order", V.PASS)], [_check("order", V.PASS)])
    with pytest.raises(UsageError, match=r"'kafka-python==9\.9'.*specs present: "
                                         r"kafka-python==2\.0\.2, kafka-python==3\.0\.12"):
        compare(run, run, OLD, "kafka-python==9.9")


def test_a_single_spec_per_file_needs_no_choice() -> None:
    old = _run(_entry(OLD, GEN, _check("order", V.PASS)))
    new = _run(_entry(NEW, GEN, _check("order", V.PASS)), run_id="r2")
    result = compare(old, new)
    assert (result.old.spec, result.new.spec, result.new.run_id) == (OLD, NEW, "r2")
    assert result.changes == [] and result.exit_code == 0


def test_results_without_spec_use_the_adapter_name() -> None:
    old = _run(ClientResult("kafka-python", label=GEN, checks=[_check("order", V.PASS)]))
    assert compare(old, old, "kafka-python", None).old.spec == "kafka-python"


# -- files -----------------------------------------------------------------------------------
def test_round_trip_through_results_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = _run(_entry(OLD, GEN, _check("no-loss", V.PASS), _check("order", V.PASS)),
               _entry(OLD, FIXED, _check("S3-hazard", V.HAZARD, lost=1)),
               _entry(NEW, GEN, _check("no-loss", V.FAIL), _check("order", V.PASS)),
               _entry(NEW, FIXED, _check("S3-hazard", V.HAZARD, lost=3)))
    path = str(write_results(run, tmp_path / "r" / "results.json"))
    out = tmp_path / "out" / "compare.json"
    assert compare_files(path, path, OLD, NEW, str(out)) == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc == json.loads(json.dumps(compare(run, run, OLD, NEW, path, path).to_json()))
    assert [(c["check"], c["kind"]) for c in doc["changes"]] == [
        ("no-loss", "new-failure"), ("S3-hazard", "figures")]
    printed = capsys.readouterr().out
    assert "new-failure" in printed and "lost 1 -> 3" in printed and "exit code 1" in printed

    assert compare_files(path, path, NEW, OLD, None) == 0, "backwards: a fix"
    assert "exit code 0" in capsys.readouterr().out


def test_two_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    old = write_results(_run(_entry(OLD, GEN, _check("order", V.PASS))), tmp_path / "a.json")
    new = write_results(_run(_entry(NEW, GEN, _check("order", V.PASS))), tmp_path / "b.json")
    assert compare_files(str(old), str(new), None, None, None) == 0
    assert "no changes; 1 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "expected"), [
    (None, "file not found"), ("{", "not JSON"), ('{"schema": "x"}', "not a kafka-conformance"),
])
def test_bad_files_are_usage_errors(tmp_path: Path, content: str | None, expected: str) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    good = write_results(_run(_entry(OLD, GEN, _check("order", V.PASS))), tmp_path / "ok.json")
    for old, new in ((bad, good), (good, bad)):
        with pytest.raises(UsageError, match=expected) as info:
            compare_files(str(old), str(new), None, None, None)
        assert info.value.exit_code == 2 and "\n" not in str(info.value)


def test_unwritable_json_out_is_a_usage_error(tmp_path: Path) -> None:
    path = str(write_results(_run(_entry(OLD, GEN, _check("order", V.PASS))),
                             tmp_path / "r.json"))
    (tmp_path / "dir").mkdir()
    with pytest.raises(UsageError, match="cannot write"):
        compare_files(path, path, None, None, str(tmp_path / "dir"))


def test_strict_exits_3_when_new_is_undecided(tmp_path: Path) -> None:
    old = write_results(_run(_entry(OLD, GEN, _check("order", V.PASS))), tmp_path / "a.json")
    undecided = write_results(_run(_entry(NEW, GEN, _check("order", V.UNKNOWN))),
                              tmp_path / "b.json")
    failing = write_results(_run(_entry(NEW, GEN, _check("order", V.FAIL))),
                            tmp_path / "c.json")
    assert compare_files(str(old), str(undecided), None, None, None) == 0
    assert compare_files(str(old), str(undecided), None, None, None, strict=True) == 3
    assert compare_files(str(old), str(failing), None, None, None, strict=True) == 1
    assert compare_files(str(old), str(old), None, None, None, strict=True) == 0


def test_an_early_access_column_pairs_with_the_generally_available_one() -> None:
    """java==3.9.0 with --early-access against java 4.x: the consumer-protocol cells pair by
    configuration, not by the label that carries the early-access mark."""
    label = "consumer reset=earliest BATCH+revoke"
    old = ClientResult("java", "kafka-clients", "3.9.0", "consumer early-access reset=earliest "
                       "BATCH+revoke", spec="java==3.9.0", early_access=True,
                       checks=[_check("no-loss", V.PASS), _check("order", V.FAIL)])
    new = ClientResult("java", "kafka-clients", "4.1.0", label, spec="java==4.1.0",
                       checks=[_check("no-loss", V.PASS), _check("order", V.PASS)])
    result = compare(_run(old), _run(new))
    assert [(c.label, c.check, c.kind) for c in result.changes] == [(label, "order", "fixed")]
    assert result.unchanged == 1
