"""Issue 23, items 4 and 6: a report that travels (paths relative to its folder, commands
narrowed to the failing cell, the replay command in JUnit) and a header that says what ran
(suite commit, baseline, command line, what changed since the previous run)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest
from test_report_fixtures import HISTORY_FILE, sample_run

from conformance import cli
from conformance.report import Baseline, write_html, write_junit, write_reports
from conformance.report import environment as env_mod
from conformance.report.reproduce import rerun_command
from conformance.report.since import since_last_run
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict, Violation

FOLDER = HISTORY_FILE.rsplit("/", 1)[0]


def _portable_run(run_dir: Path) -> RunResult:
    """sample_run with its failing generated cell's replay.json and worker logs on disk, the
    protocol recorded, and the header fields of a real run."""
    result = sample_run(run_dir)
    (run_dir / FOLDER / "replay.json").write_text("{}")
    (run_dir / FOLDER / "m1.stderr").write_text("")
    (run_dir / FOLDER / "m2.stderr").write_text("WARN: rebalance in progress\n")
    result.clients[0].protocol = "classic"
    result.command_line = "kafka-conformance run --client confluent-kafka --seed 1234"
    result.environment = {"python": "3.11.7", "commit": "431d738-dirty",
                          "baseline": "baselines/known-deviations.toml", "clients": {}}
    return result


def _failures_box(html: str) -> str:
    return html.split('<section id="failures"', 1)[1].split("</section>", 1)[0]


def test_the_html_links_and_replay_resolve_in_a_copy_of_the_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "run-1"
    write_reports(_portable_run(run_dir), run_dir)
    copy = tmp_path / "unpacked" / "artifact"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(tmp_path / "reports")  # the original is gone, as on another machine
    html = (copy / "index.html").read_text(encoding="utf-8")
    assert str(tmp_path) not in html, "no absolute path anywhere in the page"
    files = {unescape(h) for h in re.findall(r'href="([^"#][^"]*)"', html)}
    assert not any(".md" in h for h in files), "no link into the repository's docs (item 7)"
    assert {f"{FOLDER}/replay.json", HISTORY_FILE, f"{FOLDER}/m1.stderr"} <= files
    for href in files:
        assert not Path(href).is_absolute() and (copy / href).is_file(), href
    assert "log m1 (empty)" in html and "log m2 (empty)" not in html
    [command] = re.findall(r"<code>(kafka-conformance replay [^<]+)</code>", _failures_box(html))
    assert command == f"kafka-conformance replay {FOLDER}/replay.json"
    assert (copy / command.split()[-1]).is_file()
    data = json.loads((copy / "results.json").read_text())
    for client in data["clients"]:
        for check in client["checks"]:
            if check.get("history_file"):
                assert (copy / check["history_file"]).is_file()


def test_junit_carries_relative_replay_and_narrowed_run_commands(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    paths = write_reports(_portable_run(run_dir), run_dir)
    failure = ET.parse(paths["junit"]).getroot().find(
        "testsuite/testcase[@name='no-duplicates']/failure")
    text = failure.text
    assert str(tmp_path) not in text
    assert (f"replay (in the report's folder): kafka-conformance replay {FOLDER}/replay.json"
            in text)
    assert ("run again (this client, protocol and seed): kafka-conformance run --only generated "
            "--client 'confluent-kafka[BATCH]' --protocol classic --profile ci --seed 1234"
            in text)
    # without its folder, the replay file is the one the failing example wrote beside its
    # history (it recorded steps); a cell without a replay.json on disk gets none
    alone = write_junit(sample_run(), tmp_path / "alone.xml")
    assert f"kafka-conformance replay {FOLDER}/replay.json" in alone.read_text()
    gone = tmp_path / "gone"
    result = sample_run(gone)
    missing = write_junit(result, gone / "junit.xml", gone).read_text()
    assert "kafka-conformance replay" not in missing and "run again" in missing


def _matrix_run() -> RunResult:
    """Three clients, two protocols each; only kafka-python on consumer fails."""
    clients = []
    for spec in ("java", "confluent-kafka", "kafka-python"):
        for protocol in ("classic", "consumer"):
            verdict = Verdict.FAIL if (spec, protocol) == ("kafka-python", "consumer") \
                else Verdict.PASS
            clients.append(ClientResult(
                spec, spec, "1.0", f"{protocol} fixed scenarios", spec=spec, protocol=protocol,
                checks=[CheckResult("S5-BATCH-crash-bound", "S5", verdict, examples=1),
                        CheckResult("no-loss", "S1", Verdict.PASS, examples=1)]))
    return RunResult("r", "2026-01-01T00:00:00+00:00", tool_version="0.1.0", profile="smoke",
                     seed=77, broker={"provider": "embedded", "version": "4.3.1", "nodes": 1},
                     clients=clients)


def test_the_rerun_names_only_the_failing_client_protocol_and_seed(tmp_path: Path) -> None:
    result = _matrix_run()
    failing = result.clients[5]
    command = rerun_command(result, failing, failing.checks[0])
    assert command == ("kafka-conformance run --only S5-BATCH-crash-bound --client kafka-python "
                       "--protocol consumer --profile smoke --seed 77")
    html = write_html(result, tmp_path / "index.html").read_text(encoding="utf-8")
    [line] = re.findall(r"<li>.*?</li>", _failures_box(html), re.S)
    assert command in line
    assert "java" not in line and "confluent-kafka" not in line and "classic" not in line
    # an adapter given by reference reruns by that reference, not its declared name; a spec
    # naming an interpreter stays a --client; a 3-node embedded cluster is asked for again
    ref = ClientResult("broken:skip", "broken", label="classic x", spec="broken:skip",
                       adapter="/src/broken.py:Skips", protocol="classic")
    python = ClientResult("kafka-python", "kafka-python", spec="kafka-python@/opt/py/bin/python",
                          protocol="classic")
    result.broker["nodes"] = 3
    gen = CheckResult("no-loss", "S1", Verdict.FAIL)
    assert "--adapter /src/broken.py:Skips --protocol classic" in rerun_command(result, ref, gen)
    assert "--only generated --client kafka-python@/opt/py/bin/python" in \
        rerun_command(result, python, gen)
    assert rerun_command(result, python, gen).endswith("--seed 77 --nodes 3")


def test_the_header_shows_commit_baseline_and_command_line(tmp_path: Path) -> None:
    html = write_html(_portable_run(tmp_path), tmp_path / "index.html").read_text()
    meta = html.split('<dl class="meta">', 1)[1].split("</dl>", 1)[0]
    assert "kafka-conformance 0.1.0 &middot; commit <code class=\"commit\">431d738-dirty</code>" \
        in meta
    assert "<code>baselines/known-deviations.toml</code>" in meta
    assert "<code>kafka-conformance run --client confluent-kafka --seed 1234</code>" in meta
    assert "since the last run" not in meta, "only with --previous"
    bare = sample_run(tmp_path)  # results written before the baseline file was recorded
    plain = write_html(bare, tmp_path / "plain.html").read_text()
    assert '<dd class="baseline">applied, file not recorded</dd>' in plain, "an expected cell"
    assert "commit" not in plain.split('<dl class="meta">', 1)[1].split("</dl>", 1)[0]
    bare.clients[0].checks.pop()  # the expected cell
    plain = write_html(bare, tmp_path / "plain.html").read_text()
    assert '<dd class="baseline">none</dd>' in plain
    # applying a baseline records its file in the environment (results.json keeps it)
    baselined = Baseline([], source="ci/baseline.toml").apply(bare)
    assert baselined.environment["baseline"] == "ci/baseline.toml" and not bare.environment


def test_the_environment_records_the_suite_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env_mod, "suite_commit", lambda: "abc1234")
    assert env_mod.run_environment([])["commit"] == "abc1234"
    monkeypatch.setattr(env_mod, "suite_commit", lambda: "")
    assert "commit" not in env_mod.run_environment([])


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True, timeout=30)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_suite_commit_of_a_checkout_dirty_and_elsewhere(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "suite"
    (repo / "conformance").mkdir(parents=True)
    (repo / "conformance" / "__init__.py").write_text("")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, text=True,
                          capture_output=True, check=True).stdout.strip()
    assert env_mod.suite_commit(repo / "conformance") == head
    (repo / "conformance" / "new.py").write_text("")
    assert env_mod.suite_commit(repo / "conformance") == f"{head}-dirty"
    # installed inside someone else's repository (a venv in a project): not the suite's commit
    nested = repo / "venv" / "site-packages" / "conformance"
    nested.mkdir(parents=True)
    assert env_mod.suite_commit(nested) == ""
    plain = tmp_path / "plain" / "conformance"
    plain.mkdir(parents=True)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert env_mod.suite_commit(plain) == ""
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # git missing
    assert env_mod.suite_commit(repo / "conformance") == ""


def test_since_the_last_run_lists_a_new_failure_and_a_fixed_check(tmp_path: Path) -> None:
    current = _matrix_run()
    previous = _matrix_run()
    previous.run_id = "20260101-000000-prev"
    previous.clients[5].checks[0].verdict = Verdict.PASS  # kafka-python consumer: new failure
    fixed = previous.clients[2].checks[1]  # confluent-kafka classic no-loss: fixed
    fixed.verdict = Verdict.FAIL
    fixed.violations = [Violation("no-loss", "missing", "S1", "7 never processed", [1])]
    since = since_last_run(previous, current, "old/results.json")
    kinds = {k["kind"]: k for k in since["kinds"]}
    assert kinds["new-failure"]["cells"] == [
        "kafka-python [consumer fixed scenarios] S5-BATCH-crash-bound"]
    assert kinds["fixed"]["cells"] == ["confluent-kafka [classic fixed scenarios] no-loss"]
    assert kinds["new-hazard"]["count"] == 0
    assert since["summary"] == "1 new failure, 1 fixed, 0 new hazards"
    # through write_reports, from the previous run's results.json
    (tmp_path / "old").mkdir()
    old = write_reports(previous, tmp_path / "old")["json"]
    html = write_reports(current, tmp_path / "new", previous=old)["html"].read_text()
    line = html.split("<dt>since the last run</dt>", 1)[1].split("</dd>", 1)[0]
    assert "20260101-000000-prev" in line
    assert "<b>1 new failure</b>: kafka-python [consumer fixed scenarios] " \
        "S5-BATCH-crash-bound" in line
    assert "<b>1 fixed</b>: confluent-kafka [classic fixed scenarios] no-loss" in line
    assert "<b>0 new hazard</b>" not in line and "<b>0 new hazards</b>" in line
    # a previous file gone by the time the reports are written: said, the reports still written
    old.unlink()
    html = write_reports(current, tmp_path / "again", previous=old)["html"].read_text()
    assert "not compared: " in html and "file not found" in html


def test_a_bad_previous_file_is_a_usage_error_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance import run as run_mod

    def never(*_args: object) -> int:
        raise AssertionError("the run started")

    monkeypatch.setattr(run_mod, "execute", never)
    bad = tmp_path / "results.json"
    bad.write_text("{}")
    for path in (tmp_path / "missing.json", bad):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["run", "--previous", str(path)])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --previous {path}: ") and err.count("\n") == 1, err
