"""results.json: written from RunResult.to_json, read back, malformed files rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_fixtures import sample_run

from conformance.errors import UsageError
from conformance.report.json_report import (
    SCHEMA,
    ResultsError,
    load_results,
    run_result_from_json,
    write_results,
)


def test_round_trip_carries_exit_code(tmp_path: Path) -> None:
    result = sample_run(tmp_path)
    path = write_results(result, tmp_path / "results.json")
    data = load_results(path)
    assert data == json.loads(json.dumps(result.to_json()))
    assert data["schema"] == SCHEMA
    assert data["exit_code"] == result.exit_code == 1


def test_rebuilt_result_serializes_identically(tmp_path: Path) -> None:
    result = sample_run(tmp_path)
    data = load_results(write_results(result, tmp_path / "results.json"))
    again = run_result_from_json(data)
    assert again.to_json() == data
    assert again.exit_code == 1


def test_no_temp_file_left(tmp_path: Path) -> None:
    write_results(sample_run(), tmp_path / "out" / "results.json")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["results.json"]


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('{"schema": "other/1"}', "'schema'"),
    (json.dumps({"schema": SCHEMA, "run_id": "r", "clients": []}), "'exit_code'"),
    (json.dumps({"schema": SCHEMA, "run_id": "r", "exit_code": 0,
                 "clients": [{"name": "c", "checks": [{"check": "x", "verdict": "great"}]}]}),
     "clients[0].checks[0].verdict"),
    (json.dumps({"schema": SCHEMA, "run_id": "r", "exit_code": 0, "clients": [{"name": "c"}]}),
     "clients[0].checks"),
])
def test_malformed_file_gives_one_line_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ResultsError) as info:
        load_results(path)
    message = str(info.value)
    assert expected in message and str(path) in message
    assert "\n" not in message
    assert isinstance(info.value, UsageError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="file not found"):
        load_results(tmp_path / "nope.json")


def test_two_specs_of_one_client_round_trip(tmp_path: Path) -> None:
    from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

    entries = [ClientResult("kafka-python", "kafka-python", v, "classic fixed scenarios",
                            spec=f"kafka-python=={v}",
                            checks=[CheckResult("S1-resume", "S1", Verdict.PASS)])
               for v in ("2.0.2", "3.0.12")]
    result = RunResult(run_id="r", started_at="", clients=entries)
    data = load_results(write_results(result, tmp_path / "results.json"))
    assert [(c["spec"], c["label"]) for c in data["clients"]] == [
        ("kafka-python==2.0.2", "classic fixed scenarios"),
        ("kafka-python==3.0.12", "classic fixed scenarios")]
    assert [c.spec for c in run_result_from_json(data).clients] == [
        "kafka-python==2.0.2", "kafka-python==3.0.12"]
    del data["clients"][0]["spec"]
    assert run_result_from_json(data).clients[0].spec == "kafka-python", "older files: the name"


def test_a_run_where_every_cell_is_unsupported_is_not_a_pass() -> None:
    from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

    cells = [CheckResult("no-loss", "S1", Verdict.UNSUPPORTED, note="no KIP-848")]
    run = RunResult(run_id="r", started_at="", clients=[ClientResult("x", checks=cells)])
    assert run.exit_code == 3
    run.clients[0].checks.append(CheckResult("order", "S9", Verdict.PASS))
    assert run.exit_code == 0


def test_an_incomplete_run_says_so_and_round_trips(tmp_path: Path) -> None:
    result = sample_run(tmp_path)
    result.incomplete = True
    result.errors = []
    data = load_results(write_results(result, tmp_path / "results.json"))
    assert data["incomplete"] is True
    assert data["exit_code"] == 130  # interrupted, whatever the finished cells say
    again = run_result_from_json(data)
    assert again.incomplete and again.to_json() == data
    result.errors = ["internal error: ValueError: boom"]  # stopped by a crash
    assert result.exit_code == 3


def test_a_complete_run_is_not_incomplete_and_old_files_read_as_complete(tmp_path: Path) -> None:
    data = load_results(write_results(sample_run(tmp_path), tmp_path / "results.json"))
    assert data["incomplete"] is False
    del data["incomplete"]
    assert run_result_from_json(data).incomplete is False


def test_an_adapter_reference_stays_in_the_json(tmp_path: Path) -> None:
    result = sample_run(tmp_path)
    result.clients[0].adapter = "/home/u/my_adapter.py:MyAdapter"
    data = load_results(write_results(result, tmp_path / "results.json"))
    assert data["clients"][0]["adapter"] == "/home/u/my_adapter.py:MyAdapter"
    assert "adapter" not in data["clients"][1]  # an adapter given by name: no reference
    assert run_result_from_json(data).clients[0].adapter == "/home/u/my_adapter.py:MyAdapter"


def test_incomplete_must_be_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema": SCHEMA, "run_id": "r", "exit_code": 0, "clients": [],
                                "incomplete": "yes"}), encoding="utf-8")
    with pytest.raises(ResultsError, match="'incomplete'"):
        load_results(path)
