"""run: an interrupted or crashed run writes the reports of the configurations that finished,
marked incomplete (no broker: the broker, clients and plan are stand-ins)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import conformance.run as run
from conformance.jobs import Board
from conformance.options import RunOptions
from conformance.verdicts import CheckResult, ClientResult, Verdict


class FakeBroker:
    provider, version, bootstrap_servers, nodes = "fake", "4.3.1", "127.0.0.1:1", 1

    def __init__(self) -> None:
        self.stopped = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True

    def describe(self) -> dict[str, str]:
        return {"provider": "fake"}


def _finished(board: Board, index: int) -> ClientResult:
    return ClientResult("kafka-python", label="classic fixed scenarios", spec="kafka-python",
                        checks=[CheckResult("S1-resume-after-empty-group", "S1", Verdict.PASS)])


def _execute(monkeypatch, tmp_path: Path, failing) -> tuple[Path, FakeBroker, list]:
    broker = FakeBroker()
    stopped: list = []
    monkeypatch.setattr(run, "make_broker", lambda **kw: broker)
    monkeypatch.setattr(run, "resolve_clients", lambda specs, result: [])
    monkeypatch.setattr(run, "plan", lambda *a: [run.Job(_finished, "fixed", scenarios=1),
                                                 run.Job(failing, "fixed", scenarios=1)])
    monkeypatch.setattr(run, "stop_children", lambda keep=(): stopped.append(set(keep)))
    monkeypatch.setattr(run.console, "_width", 400)  # lines unwrapped
    return tmp_path / "out", broker, stopped


@pytest.mark.parametrize(("error", "exit_code", "errors"), [
    (KeyboardInterrupt(), 130, []),
    (ValueError("boom"), 3, ["internal error: ValueError: boom"]),
])
def test_a_stopped_run_reports_what_finished(monkeypatch, tmp_path, capsys, error, exit_code,
                                             errors) -> None:
    def failing(board: Board, index: int) -> ClientResult:
        raise error

    out, broker, stopped = _execute(monkeypatch, tmp_path, failing)
    with pytest.raises(type(error)):
        run.execute(RunOptions(clients=(), out=out, jobs=1, profile="smoke",
                               only=("semantics",)))
    assert broker.stopped and stopped  # the broker and whatever the run still had running
    [run_dir] = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["incomplete"] is True and results["exit_code"] == exit_code
    assert results["errors"] == errors
    [entry] = results["clients"]
    assert [c["check"] for c in entry["checks"]] == ["S1-resume-after-empty-group"]
    assert (run_dir / "index.html").is_file() and (run_dir / "junit.xml").is_file()
    err = capsys.readouterr().err
    assert "1 of 2 configurations finished; partial report: " in err
    assert str(run_dir / "index.html") in err


def test_a_complete_run_is_not_marked_incomplete(monkeypatch, tmp_path) -> None:
    out, broker, stopped = _execute(monkeypatch, tmp_path, _finished)
    assert run.execute(RunOptions(clients=(), out=out, jobs=1, profile="smoke",
                                  only=("semantics",))) == 0
    [run_dir] = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["incomplete"] is False and results["exit_code"] == 0
    assert broker.stopped and not stopped


def test_an_interrupted_broker_start_still_stops_the_broker(monkeypatch, tmp_path) -> None:
    """Ctrl-C while the broker starts (a node may be up already): what it started is stopped,
    and the interruption goes on up (no run has begun: no report)."""
    out, broker, _stopped = _execute(monkeypatch, tmp_path, _finished)

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(broker, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.execute(RunOptions(clients=(), out=out, jobs=1, profile="smoke",
                               only=("semantics",)))
    assert broker.stopped
    assert not out.exists()


def test_an_interrupted_run_says_130_even_after_a_configurations_error() -> None:
    """results.json's exit code is the process's: a configuration's own error earlier does not
    turn an interruption into 3; an internal error that stopped the run does."""
    result = run.RunResult("r", "now", incomplete=True,
                           errors=["kafka-python==9.9: cannot build its environment"])
    assert result.exit_code == 130
    result.errors.append(f"{run.INTERNAL_ERROR}ValueError: boom")
    assert result.exit_code == 3
