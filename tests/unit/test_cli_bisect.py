"""`kafka-conformance bisect` on the command line: bad input is one line on stderr and exit 2
before anything runs, and a bisect runs each release it tries as one `run` with the same seed
and --only (release listing and runs faked: no registry, no broker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import cli
from conformance.clients import releases as rel
from conformance.clients.releases import Release
from conformance.errors import UsageError
from conformance.options import RunOptions
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

#: newest first, as ``releases()`` lists them
LISTING = [Release("2.5.0"), Release("2.4.0"), Release("2.3.0"),
           Release("2.2.0", "no wheel for Python 3.11 on this platform"), Release("2.1.1"),
           Release("2.1.0"), Release("2.0.2")]
REPLAY = {"format": "kafka-conformance/replay/1", "seed": None,
          "spec": {"client": "confluent-kafka==2.0.2", "adapter": "confluent-kafka",
                   "config": {"group_protocol": "classic"}, "strategy": {"name": "BATCH"},
                   "partitions": 2, "growth": False, "faults": []},
          "steps": [["start_member", {}], ["consume", {}]]}


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``releases()`` answering LISTING for confluent-kafka without a registry; the real
    answer (a usage error, before any registry is asked) for a client it does not know."""
    asked: list[str] = []
    real = rel.releases

    def fake(name: str, *, pre: bool = False, refresh: bool = False) -> list[Release]:
        asked.append(name)
        if name.split(":", 1)[0] != "confluent-kafka":
            return real(name, pre=pre, refresh=refresh)
        return [r for r in LISTING if pre or not r.pre]

    monkeypatch.setattr(rel, "releases", fake)
    return asked


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err


def _replay(tmp_path: Path, **spec: object) -> str:
    path = tmp_path / "replay.json"
    path.write_text(json.dumps({**REPLAY, "spec": {**REPLAY["spec"], **spec}}))
    return str(path)


BASE = ["bisect", "--client", "confluent-kafka", "--good", "2.0.2", "--bad", "2.5.0",
        "--check", "order"]


def _with(**changes: str) -> list[str]:
    args = list(BASE)
    for option, value in changes.items():
        args[args.index(f"--{option}") + 1] = value
    return args


@pytest.mark.parametrize(("args", "start"), [
    (_with(client="nope"), "error: unknown client 'nope': releases are listed for"),
    (_with(client="confluent-kafka==2.0.2"),
     "error: --client 'confluent-kafka==2.0.2': give the client's name only"),
    (_with(good="9.9.9"), "error: --good: confluent-kafka has no release '9.9.9' (newest: "
                          "2.5.0; 'kafka-conformance releases confluent-kafka' lists them)"),
    (_with(bad="2.0.3"), "error: --bad: confluent-kafka has no release '2.0.3'"),
    (_with(good="2.5.0", bad="2.0.2"),
     "error: --good 2.5.0 is newer than --bad 2.0.2: give the older release as --good"),
    (_with(good="2.4.0", bad="2.5.0"),
     "error: no release of confluent-kafka lies between 2.4.0 and 2.5.0: nothing to bisect"),
    (_with(good="2.1.1", bad="2.3.0"),
     "error: no release of confluent-kafka lies between 2.1.1 and 2.3.0 (1 cannot run here)"),
    (_with(good="2.2.0"), "error: --good: confluent-kafka==2.2.0 cannot run here: no wheel"),
    (_with(check="no-such-check"), "error: --check 'no-such-check' names no check"),
    ([*BASE, "--only", "S5"], "error: --only S5 does not run order, a check of the generated "
                              "scenarios: add --only generated"),
    ([*BASE, "--only", "S9-nope"], "error: --only 'S9-nope' names no check"),
    ([*_with(check="S5-BATCH-crash-bound"), "--only", "generated"],
     "error: --only generated does not run the fixed scenario S5-BATCH-crash-bound"),
    ([*BASE, "--client-property", "x"], "error: --client-property must be KEY=VALUE"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], start: str, listed: list[str],
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main([*args, "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and out == ""
    assert err.startswith(start), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing ran


@pytest.mark.parametrize(("check", "extra", "spec", "start"), [
    ("order", ["--only", "generated"], {}, "error: --only does not apply with --replay"),
    ("order", [], {"client": "kafka-python==2.0.2", "adapter": "kafka-python"},
     "error: --replay {path} was recorded with kafka-python==2.0.2, not with confluent-kafka"),
    ("order", ["--protocol", "consumer"], {},
     "error: --replay {path} runs the classic protocol, not --protocol consumer"),
    ("S5-BATCH-crash-bound", [], {},
     "error: --check S5-BATCH-crash-bound: a replay judges the checks of the generated"),
])
def test_bad_replays_are_one_line_and_exit_2(check: str, extra: list[str], spec: dict[str, str],
                                             start: str, listed: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _replay(tmp_path, **spec)
    code, out, err = _main([*_with(check=check), "--replay", path, *extra,
                            "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and out == ""
    assert err.startswith(start.format(path=path)), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "start"), [
    (None, "error: replay file not found: "),
    ("{}", "error: {path} is not a kafka-conformance replay file"),
])
def test_a_missing_or_foreign_replay_file_is_exit_2(content: str | None, start: str,
                                                    listed: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "replay.json"
    if content is not None:
        path.write_text(content)
    code, out, err = _main([*BASE, "--replay", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and out == ""
    assert err.startswith(start.format(path=path)) and err.count("\n") == 1, err


def test_a_missing_option_is_a_click_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _main(["bisect", "--client", "confluent-kafka", "--good", "2.0.2",
                             "--bad", "2.5.0"], capsys)
    assert code == 2 and "Missing option '--check'" in err and "Traceback" not in err


# -- a bisect with the runs faked --------------------------------------------------------------
def _fake_execute(verdicts: dict[str, str], seen: list[RunOptions]):
    """An ``execute`` writing a results.json where ``order`` has the release's verdict."""
    def execute(opts: RunOptions) -> int:
        seen.append(opts)
        [spec] = opts.clients
        result = RunResult(f"run-{spec.version}", "2026-01-01T00:00:00+00:00",
                           seed=opts.seed, profile=opts.profile)
        for protocol in opts.protocols:
            result.clients.append(ClientResult(
                spec.adapter, spec=spec.label, protocol=protocol,
                label=f"{protocol} range reset=earliest BATCH+revoke",
                checks=[CheckResult("order", "S9", Verdict(verdicts[spec.version])),
                        CheckResult("no-loss", "S1", Verdict.PASS)]))
        folder = opts.out / result.run_id
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(result.to_json()))
        (folder / "index.html").write_text("<html></html>")
        return result.exit_code
    return execute


def test_a_bisect_runs_each_release_once_with_one_seed_and_writes_bisect_json(
        listed: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from conformance import run

    verdicts = {"2.0.2": "fail", "2.1.0": "fail", "2.1.1": "fail", "2.3.0": "fail",
                "2.4.0": "pass", "2.5.0": "pass"}
    seen: list[RunOptions] = []
    monkeypatch.setattr(run, "execute", _fake_execute(verdicts, seen))
    code, out, err = _main([*BASE, "--protocol", "classic", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    tried = [o.clients[0].version for o in seen]
    assert tried[:2] == ["2.0.2", "2.5.0"] and len(tried) == len(set(tried)) <= 5
    assert "2.2.0" not in tried  # cannot run here: skipped
    assert len({o.seed for o in seen}) == 1 and seen[0].seed is not None
    assert {o.only for o in seen} == {("generated",)}
    assert {o.protocols for o in seen} == {("classic",)}
    assert listed == ["confluent-kafka"]
    assert "skipping confluent-kafka==2.2.0: no wheel" in err
    [folder] = [p for p in tmp_path.iterdir() if p.name.startswith("bisect-")]
    old = folder / "confluent-kafka==2.3.0" / "run-2.3.0" / "index.html"
    new = folder / "confluent-kafka==2.4.0" / "run-2.4.0" / "index.html"
    lines = out.splitlines()
    assert lines[0] == "order fails on 2.3.0, passes from 2.4.0"
    assert lines[1] == f"  confluent-kafka==2.3.0: fail, report {old}"
    assert lines[2] == f"  confluent-kafka==2.4.0: pass, report {new}"
    assert lines[3].startswith(f"bisect: {folder / 'bisect.json'} (")
    data = json.loads((folder / "bisect.json").read_text())
    assert data["status"] == "found" and data["exit_code"] == 0 and data["mode"] == "run"
    assert data["releases"] == ["2.0.2", "2.1.0", "2.1.1", "2.3.0", "2.4.0", "2.5.0"]
    assert [t["release"] for t in data["tried"]] == tried
    assert all(t["verdict"] == verdicts[t["release"]] for t in data["tried"])
    assert data["boundary"]["old"] == {"release": "2.3.0", "verdict": "fail",
                                       "report": str(old)}
    assert data["boundary"]["new"]["release"] == "2.4.0"
    assert data["seed"] == seen[0].seed and data["only"] == ["generated"]


def test_ends_that_agree_exit_2_after_two_runs(listed: list[str], monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from conformance import run

    seen: list[RunOptions] = []
    verdicts = dict.fromkeys(["2.0.2", "2.1.0", "2.1.1", "2.3.0", "2.4.0", "2.5.0"], "pass")
    monkeypatch.setattr(run, "execute", _fake_execute(verdicts, seen))
    code, out, _err = _main([*BASE, "--seed", "11", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert [o.clients[0].version for o in seen] == ["2.0.2", "2.5.0"]
    assert {o.seed for o in seen} == {11}
    assert out.splitlines()[0] == "order passes on both 2.0.2 and 2.5.0: nothing to bisect"
    [folder] = list(tmp_path.glob("bisect-*"))
    assert json.loads((folder / "bisect.json").read_text())["status"] == "agree"


def test_an_unknown_client_is_refused_by_the_real_listing_before_any_registry() -> None:
    with pytest.raises(UsageError, match="unknown client 'nope'"):
        rel.releases("nope")


def test_an_undecided_release_stops_the_bisect_with_exit_3(
        listed: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from conformance import run

    seen: list[RunOptions] = []
    verdicts = {"2.0.2": "fail", "2.1.0": "fail", "2.1.1": "unknown", "2.3.0": "fail",
                "2.4.0": "pass", "2.5.0": "pass"}
    monkeypatch.setattr(run, "execute", _fake_execute(verdicts, seen))
    code, out, _err = _main([*BASE, "--out", str(tmp_path)], capsys)
    assert code == 3
    assert [o.clients[0].version for o in seen] == ["2.0.2", "2.5.0", "2.1.1"]
    lines = out.splitlines()
    assert lines[0] == ("order is undecided on 2.1.1: bisect stopped; the change lies between "
                        "2.0.2 and 2.5.0")
    assert [ln.split(":")[0].strip() for ln in lines[1:4]] == [
        "confluent-kafka==2.0.2", "confluent-kafka==2.1.1", "confluent-kafka==2.5.0"]
    [folder] = list(tmp_path.glob("bisect-*"))
    data = json.loads((folder / "bisect.json").read_text())
    assert (data["status"], data["stopped_at"], data["exit_code"]) == ("undecided", "2.1.1", 3)
