"""results.json schema /2 (issue 24): entries carry ``fixed`` and ``config``; /1 files still
load (``fixed`` and a missing protocol told from the label, ``config`` empty) and merge and
the report's matrices order them as their /2 twins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.clients import Client, ClientSpec
from conformance.matrix import specs_for
from conformance.merge import merge_results
from conformance.protocols import GroupProtocol
from conformance.report.json_report import (
    SCHEMA,
    SCHEMA_1,
    ResultsError,
    load_results,
    run_result_from_json,
    write_results,
)
from conformance.report.matrix import matrices
from conformance.run import Prepared, _client_result
from conformance.scenarios.runner import semantics_config
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

GEN_CONFIG = {"group_protocol": "classic", "assignment_strategy": "range",
              "auto_offset_reset": "earliest", "enable_auto_commit": False,
              "strategy": {"name": "BATCH", "commit_on_revoke": True}}


def _entry(spec: str, protocol: str, fixed: bool, *checks: str,
           config: dict[str, Any] | None = None) -> ClientResult:
    label = f"{protocol} fixed scenarios" if fixed else f"{protocol} range reset=earliest BATCH"
    return ClientResult(spec, spec, "1.0", label, spec=spec, protocol=protocol, fixed=fixed,
                        config=dict(config or {}),
                        checks=[CheckResult(c, c[:2] if fixed else "S1", Verdict.PASS)
                                for c in checks])


def _run(name: str = "r") -> RunResult:
    """Entries out of canonical order: fixed before generated, consumer before classic."""
    return RunResult(name, "2026-01-01T00:00:00", tool_version="0.1.0", clients=[
        _entry("a", "consumer", True, "S1-topic-recreated"),
        _entry("a", "classic", True, "S2-reset-matrix", "S1-topic-recreated"),
        _entry("a", "consumer", False, "order", "no-loss"),
        _entry("a", "classic", False, "no-loss", config=GEN_CONFIG),
        _entry("b", "classic", True, "S2-reset-matrix")])


def _as_v1(path: Path) -> Path:
    """The same file as a /1 writer wrote it: no ``fixed``, ``config`` or ``protocol``."""
    data = json.loads(path.read_text())
    data["schema"] = SCHEMA_1
    for entry in data["clients"]:
        for key in ("fixed", "config", "protocol"):
            entry.pop(key, None)
    out = path.parent.parent / f"{path.parent.name}-v1" / path.name
    out.parent.mkdir()
    out.write_text(json.dumps(data))
    return out


def test_a_v2_round_trip_keeps_fixed_and_config(tmp_path: Path) -> None:
    result = _run()
    data = load_results(write_results(result, tmp_path / "results.json"))
    assert data["schema"] == SCHEMA == "kafka-conformance/results/2"
    assert [(e["fixed"], e["config"]) for e in data["clients"]] == [
        (True, {}), (True, {}), (False, {}), (False, GEN_CONFIG), (True, {})]
    again = run_result_from_json(data)
    assert [(e.fixed, e.config) for e in again.clients] == \
        [(e.fixed, e.config) for e in result.clients]
    assert again.to_json() == data


def test_a_v1_file_loads_with_fixed_from_its_label_and_no_config(tmp_path: Path) -> None:
    v1 = _as_v1(write_results(_run(), tmp_path / "r" / "results.json"))
    data = load_results(v1)
    assert data["schema"] == SCHEMA_1  # as read
    again = run_result_from_json(data)
    assert [(e.fixed, e.protocol, e.config) for e in again.clients] == [
        (True, "consumer", {}), (True, "classic", {}), (False, "consumer", {}),
        (False, "classic", {}), (True, "classic", {})]
    # a label that names no protocol leaves it unknown; a recorded protocol is kept
    raw = json.loads(v1.read_text())
    raw["clients"][0]["label"] = "custom"
    raw["clients"][1]["protocol"] = "consumer"
    entries = run_result_from_json(raw).clients
    assert (entries[0].fixed, entries[0].protocol) == (False, "")
    assert entries[1].protocol == "consumer"


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("fixed", "yes", "clients[0].fixed"), ("config", [], "clients[0].config")])
def test_off_schema_fields_are_rejected(tmp_path: Path, key: str, value: Any,
                                        problem: str) -> None:
    path = write_results(_run(), tmp_path / "results.json")
    data = json.loads(path.read_text())
    data["clients"][0][key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_results(path)


def test_merge_and_the_matrices_order_v1_and_v2_alike(tmp_path: Path) -> None:
    v2 = write_results(_run(), tmp_path / "r" / "results.json")
    v1 = _as_v1(v2)
    merged = {name: merge_results([path], tmp_path / f"merged-{name}")
              for name, path in (("v1", v1), ("v2", v2))}

    def order(run: RunResult) -> list[tuple[str, str, bool, list[str]]]:
        return [(e.spec, e.label, e.fixed, [c.check for c in e.checks]) for e in run.clients]

    assert order(merged["v1"]) == order(merged["v2"]) == [
        ("a", "classic range reset=earliest BATCH", False, ["no-loss"]),
        ("a", "consumer range reset=earliest BATCH", False, ["no-loss", "order"]),
        ("a", "classic fixed scenarios", True, ["S1-topic-recreated", "S2-reset-matrix"]),
        ("a", "consumer fixed scenarios", True, ["S1-topic-recreated"]),
        ("b", "classic fixed scenarios", True, ["S2-reset-matrix"])]

    def shape(run: RunResult) -> list[Any]:
        return [(m["kind"], [c.get("label", c.get("check")) for c in m["columns"]],
                 [r["head"].get("label", r["head"].get("check")) for r in m["rows"]])
                for m in matrices(run)]

    assert shape(merged["v1"]) == shape(merged["v2"])
    fixed = shape(merged["v2"])[1]
    assert fixed[1] == ["classic", "consumer", "classic"]  # fixed columns: their protocol


def test_run_records_the_configuration_as_asked_for() -> None:
    [spec] = specs_for("kafka-python", (GroupProtocol.CLASSIC,), "ci")
    config = spec.config_json()
    assert config["group_protocol"] == "classic" and config["assignment_strategy"] == "range"
    assert config["auto_offset_reset"] == "earliest"
    assert config["strategy"] == spec.strategy.to_json()
    assert json.loads(json.dumps(config)) == config
    fixed = semantics_config("consumer", early_access=True)
    assert fixed["group_protocol"] == "consumer" and fixed["early_access"] is True
    assert "strategy" not in fixed
    prep = Prepared(ClientSpec("x"), Client(ClientSpec("x"), "python", info={
        "adapter": "x", "client": "x", "client_version": "1.0"}), label="x")
    entry = _client_result(prep, "consumer fixed scenarios", "consumer", fixed=True,
                           config=fixed)
    assert entry.fixed and entry.config == fixed and entry.config is not fixed
    assert entry.to_json()["fixed"] is True and entry.to_json()["config"] == fixed
