"""Shards of a run's matrix and their merge: every task in exactly one shard, and a merge in
the canonical order of an unsharded run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import UsageError
from conformance.merge import canonical_order, in_shard, merge_results, parse_shard
from conformance.report import write_results
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict


def entry(spec: str, label: str, *checks: str, verdict: Verdict = Verdict.PASS,
          history: str | None = None) -> ClientResult:
    """An entry as run writes it: protocol and ``fixed`` as its label says."""
    return ClientResult(spec.split("==")[0], label=label, spec=spec,
                        protocol=label.split()[0], fixed=label.endswith(" fixed scenarios"),
                        checks=[CheckResult(c, "S1", verdict, history_file=history)
                                for c in checks])


def test_parse_shard():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/2", "3/2", "1", "a/b", "1/0"):
        with pytest.raises(UsageError, match="K/N"):
            parse_shard(bad)


def test_shards_cover_every_task_exactly_once():
    for n in range(1, 5):
        owners = [[k for k in range(1, n + 1) if in_shard(i, (k, n))] for i in range(11)]
        assert all(len(o) == 1 for o in owners)
    assert all(in_shard(i, None) for i in range(5))


def test_canonical_order_merges_and_sorts():
    entries = [entry("a", "consumer fixed scenarios", "S1-topic-recreated"),
               entry("b", "classic fixed scenarios", "S2-reset-matrix"),
               entry("a", "classic fixed scenarios", "S2-reset-matrix"),
               entry("a", "consumer reset=earliest BATCH", "order", "no-loss"),
               entry("a", "classic fixed scenarios", "S1-topic-recreated"),
               entry("a", "classic range reset=earliest BATCH", "no-loss")]
    out = canonical_order(entries)
    assert [(e.spec, e.label, [c.check for c in e.checks]) for e in out] == [
        ("a", "classic range reset=earliest BATCH", ["no-loss"]),
        ("a", "consumer reset=earliest BATCH", ["no-loss", "order"]),
        ("a", "classic fixed scenarios", ["S1-topic-recreated", "S2-reset-matrix"]),
        ("a", "consumer fixed scenarios", ["S1-topic-recreated"]),
        ("b", "classic fixed scenarios", ["S2-reset-matrix"])]
    assert len(entries[2].checks) == 1  # inputs are not changed
    # specs keep the order in which they first appear
    assert canonical_order(entries[1:2] + entries)[0].spec == "b"


def shard_file(tmp_path: Path, name: str, clients: list[ClientResult],
               errors: list[str] = ()) -> Path:
    run = RunResult(name, "2026-01-01T00:00:0" + name[-1], finished_at="2026-01-01T01:00:00",
                    tool_version="0.1.0", clients=clients, errors=list(errors))
    return write_results(run, tmp_path / name / "results.json")


def test_merge_equals_the_unsharded_matrix(tmp_path):
    whole = [entry("a", "classic fixed scenarios", "S1-topic-recreated", "S2-reset-matrix"),
             entry("a", "classic range reset=earliest BATCH", "no-loss", "order")]
    one = shard_file(tmp_path, "s1", [entry("a", "classic fixed scenarios", "S2-reset-matrix",
                                            history="S2/history.jsonl"),
                                      entry("a", "classic range reset=earliest BATCH",
                                            "no-loss", "order")])
    two = shard_file(tmp_path, "s2", [entry("a", "classic fixed scenarios",
                                            "S1-topic-recreated")], errors=["boom"])
    merged = merge_results([one, two], tmp_path / "merged")
    matrix = [(e.spec, e.label, [c.check for c in e.checks]) for e in merged.clients]
    assert matrix == [(e.spec, e.label, [c.check for c in e.checks])
                      for e in canonical_order(whole)]
    s2 = next(c for e in merged.clients for c in e.checks if c.check == "S2-reset-matrix")
    assert s2.history_file == "../s1/S2/history.jsonl"
    assert merged.errors == ["boom"] and merged.exit_code == 3
    assert merged.started_at.endswith("01")


def test_merge_rejects_a_file_that_is_no_results(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(UsageError, match="not a kafka-conformance results file"):
        merge_results([bad], tmp_path / "out")


def test_a_merge_of_an_interrupted_shard_is_incomplete(tmp_path):
    one = shard_file(tmp_path, "s1", [entry("a", "classic fixed scenarios", "S2-reset-matrix")])
    path = shard_file(tmp_path, "s2", [entry("a", "classic fixed scenarios", "S1-topic-recreated")])
    data = json.loads(path.read_text())
    data["incomplete"] = True
    path.write_text(json.dumps(data))
    merged = merge_results([one, path], tmp_path / "merged")
    assert merged.incomplete and merged.exit_code == 130
    assert not merge_results([one], tmp_path / "merged-one").incomplete
