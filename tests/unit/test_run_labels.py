"""run: an adapter given by reference is labelled by its declared name; the progress board of a
run's jobs."""

from __future__ import annotations

from pathlib import Path

from conformance.clients import Client, ClientSpec
from conformance.options import RunOptions
from conformance.run import Job, Prepared, _client_result, declared_labels, progress_board


def _prep(adapter: str, name: str | None, version: str | None = None) -> Prepared:
    spec = ClientSpec(adapter, version=version)
    if name is None:
        return Prepared(spec, None, "could not start", spec.label)
    return Prepared(spec, Client(spec, "python", info={"adapter": name, "client": "x",
                                                       "client_version": "1.0"}),
                    label=spec.label)


def test_a_reference_is_labelled_by_the_declared_name_and_kept_in_the_entry() -> None:
    ref = "/home/u/broken_adapters.py:SkipsRecords"
    [prep] = declared_labels([_prep(ref, "broken:skip-record")])
    assert prep.label == "broken:skip-record" and prep.reference == ref
    entry = _client_result(prep, "classic fixed scenarios", "classic")
    assert (entry.name, entry.spec, entry.adapter) == ("broken:skip-record",
                                                       "broken:skip-record", ref)
    assert entry.to_json()["adapter"] == ref
    assert entry.protocol == "classic" and entry.to_json()["protocol"] == "classic"


def test_built_in_names_and_undeclared_or_clashing_names_keep_the_spec() -> None:
    preps = declared_labels([
        _prep("confluent-kafka:batch", "confluent-kafka:batch"),   # a built-in variant
        _prep("kafka-python", "kafka-python", version="2.0.2"),
        _prep("my_pkg.adapters:Mine", "my_pkg.adapters:Mine"),     # no declared name
        _prep("a.py:One", "same"), _prep("b.py:Two", "same"),       # two columns, one name
        _prep("c.py:Three", "kafka-python"),                       # a built-in's name
        _prep("d.py:Four", None),                                  # could not start
    ])
    assert [p.label for p in preps] == [
        "confluent-kafka:batch", "kafka-python==2.0.2", "my_pkg.adapters:Mine", "a.py:One",
        "b.py:Two", "c.py:Three", "d.py:Four"]
    assert all(p.reference == "" for p in preps)
    entry = _client_result(preps[-1], "consumer fixed scenarios", "consumer")
    assert entry.spec == "d.py:Four" and entry.adapter == "" and entry.protocol == "consumer"


def test_the_board_of_a_plan_expects_examples_and_scenarios(tmp_path: Path) -> None:
    def run(board, index):  # never called here
        raise AssertionError

    jobs = [Job(run, "generated", tmp_path / "g1"), Job(run, "generated", tmp_path / "g2"),
            Job(run, "fixed", scenarios=1), Job(run, "fixed", scenarios=1)]
    board = progress_board(jobs, RunOptions(profile="smoke", jobs=2))
    assert board.counts() == {"configurations": (0, 4), "examples": (0, 6),
                              "scenarios": (0, 2)}  # smoke: 2 examples + the canonical one
    assert board.kinds == ["generated", "generated", "fixed", "fixed"] and board.jobs == 2


def test_the_summary_of_an_interrupted_run_says_so(capsys) -> None:
    from conformance.console import print_summary
    from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

    result = RunResult("r", "", incomplete=True, clients=[ClientResult(
        "kafka-python", label="classic fixed scenarios",
        checks=[CheckResult("S1-resume-after-empty-group", "S1", Verdict.UNSUPPORTED)])])
    print_summary(result)
    assert "exit code 130: interrupted" in capsys.readouterr().err


def test_a_finished_task_counts_all_its_units_done() -> None:
    from conformance.jobs import Board

    board = Board(2)
    board.expect("scenarios", 0, 1)
    board.expect("scenarios", 1, 1)
    board.finish(0)
    assert board.counts()["scenarios"] == (1, 2)
