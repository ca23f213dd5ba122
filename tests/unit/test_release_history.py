"""`kafka-conformance history`: release selection, the matrix and its change marks, the
console table, the files, and the CLI's usage errors (release listing and run faked: no
registry, no broker)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conformance import cli
from conformance.clients import releases as rel
from conformance.clients.releases import Release, release_key
from conformance.errors import UsageError
from conformance.options import RunOptions
from conformance.release_history import (
    ReleaseHistory,
    print_history,
    release_history,
    render_html,
    select_releases,
    write_history,
)

OLD_PYTHON = "needs Python <3.12 (this is Python 3.12)"
#: newest first, as ``releases()`` lists them
LISTING = [
    Release("3.0.12"), Release("3.0.11"), Release("3.0.0"), Release("2.3.0"),
    Release("2.2.16", "no wheel for Python 3.12"), Release("2.2.15"),
    Release("2.2.14", "no wheel for Python 3.12"), Release("2.1.0rc1", pre=True),
    Release("2.0.2"), Release("2.0.1"), Release("1.4.7", OLD_PYTHON),
]


def pick(spec: str, listing: list[Release] = LISTING, client: str = "kafka-python"
         ) -> tuple[list[str], list[str]]:
    sel = select_releases(listing, spec, client)
    return sel.versions, [v for v, _why in sel.skipped]


# -- selection ---------------------------------------------------------------------------------
def test_a_range_is_inclusive_in_version_order_and_skips_unusable_and_pre_releases() -> None:
    assert pick("2.0.2..2.3.0") == (["2.0.2", "2.2.15", "2.3.0"], ["2.2.14", "2.2.16"])
    assert pick("3.0.0..") == (["3.0.0", "3.0.11", "3.0.12"], [])
    assert pick("..2.0.2") == (["2.0.1", "2.0.2"], ["1.4.7"])
    assert pick("2.1.0rc1..2.2.15") == (["2.1.0rc1", "2.2.15"], ["2.2.14"])  # named: kept


def test_every_minor_is_the_newest_usable_patch_of_each_minor() -> None:
    versions, skipped = pick("every-minor")
    assert versions == ["2.0.2", "2.2.15", "2.3.0", "3.0.12"]
    assert skipped == ["1.4.7", "2.2.16"]  # a minor with none usable; a newer unusable patch


def test_last_n_and_explicit_lists() -> None:
    assert pick("last:3") == (["3.0.0", "3.0.11", "3.0.12"], [])
    assert pick("last:6") == (["2.0.2", "2.2.15", "2.3.0", "3.0.0", "3.0.11", "3.0.12"],
                              ["2.2.14", "2.2.16"])  # the unusable ones passed over
    assert pick(" 3.0.12, 2.0.2,2.2.14,2.0.2 ") == (["2.0.2", "3.0.12"], ["2.2.14"])
    sel = select_releases(LISTING, "2.2.14,2.0.2", "kafka-python")
    assert sel.skipped == (("2.2.14", "no wheel for Python 3.12"),)


def test_go_releases_match_with_or_without_v() -> None:
    listing = [Release("v1.22.3"), Release("v1.20.0"), Release("v1.9.0")]
    assert pick("1.9.0..v1.22.3", listing, "franz-go")[0] == ["v1.9.0", "v1.20.0", "v1.22.3"]
    assert pick("1.20.0", listing, "franz-go")[0] == ["v1.20.0"]


@pytest.mark.parametrize(("spec", "message"), [
    ("9.9.9", r"kafka-python has no release '9.9.9' \(newest: 3.0.12"),
    ("2.0.2..9.9.9", r"no release '9.9.9'"),
    ("2.3.0..2.0.2", r"2.3.0 is newer than 2.0.2; write the older release first"),
    ("1.4.7", r"no usable release of kafka-python selected \(1 unusable: needs Python"),
    ("2.2.14,2.2.16", r"no usable release"),
    ("last:0", r"expected last:N with N a positive number"),
    ("last:x", r"expected last:N"),
    ("1..2..3", r"expected one range A..B"),
    ("", r"--releases needs a selection"),
    (",", r"no release named"),
])
def test_bad_selections_are_one_line_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        select_releases(LISTING, spec, "kafka-python")
    assert "\n" not in str(err.value)


# -- the matrix --------------------------------------------------------------------------------
def _check(check: str, section: str, verdict: str, note: str = "") -> dict[str, Any]:
    return {"check": check, "section": section, "verdict": verdict, "note": note}


def _entry(spec: str, label: str, protocol: str, *checks: dict[str, Any]) -> dict[str, Any]:
    version = spec.partition("==")[2]
    return {"name": "kafka-python", "spec": spec, "client_version": version, "label": label,
            "protocol": protocol, "checks": list(checks)}


GEN = "classic range reset=earliest BATCH+revoke"
GEN_848 = "consumer reset=earliest BATCH+revoke"
FIXED = "classic fixed scenarios"
S1 = "S1-resume-after-empty-group"


def results_dict() -> dict[str, Any]:
    """Three releases, written out of order: S1 starts failing at 2.2.15; consumer no-loss is
    unsupported at 2.0.2 (no KIP-848); a java column and the client beside the suite, ignored."""
    clients = [_entry("java", GEN, "classic", _check("no-loss", "S9", "pass"))]
    clients[0]["name"] = "java"
    for version, s1, consumer in (("3.0.12", "fail", "pass"), ("2.0.2", "pass", "unsupported"),
                                  ("2.2.15", "fail", "pass")):
        spec = f"kafka-python=={version}"
        clients += [
            _entry(spec, GEN, "classic", _check("no-loss", "S9", "pass"),
                   _check("order", "S9", "hazard", "a documented hazard")),
            _entry(spec, GEN_848, "consumer", _check(
                "no-loss", "S9", consumer, "KIP-848 needs a newer release"
                if consumer == "unsupported" else "")),
            _entry(spec, FIXED, "classic", _check(S1, "S1", s1, "re-read a resumed partition")),
        ]
    clients.append(_entry("kafka-python", FIXED, "classic", _check(S1, "S1", "fail")))
    return {"schema": "kafka-conformance/results/1", "run_id": "20260101-000000-abcd",
            "clients": clients, "exit_code": 1, "seed": 7, "profile": "ci"}


def test_matrix_rows_are_releases_in_version_order_one_matrix_per_protocol() -> None:
    h = release_history(results_dict(), "kafka-python", [("2.2.14", "no wheel")])
    assert [r.version for r in h.releases] == ["2.0.2", "2.2.15", "3.0.12"]
    assert h.releases[0].spec == "kafka-python==2.0.2"
    assert [m.protocol for m in h.matrices] == ["classic", "consumer"]
    classic, consumer = h.matrices
    assert classic.checks == (("no-loss", "S9"), ("order", "S9"), (S1, "S1"))
    assert consumer.checks == (("no-loss", "S9"),)
    assert classic.cells["2.0.2", S1].verdict == "pass"
    assert consumer.cells["2.0.2", "no-loss"].verdict == "unsupported"
    # the named places of index.html's sections, <spec>--<label>--<check> (none for a pass):
    # the same in every run that ran the configuration, whatever the order of its entries
    assert classic.cells["2.0.2", S1].anchor == ""
    assert classic.cells["2.2.15", S1].anchor == (
        "kafka-python-2.2.15--classic-fixed-scenarios--s1-resume-after-empty-group")
    assert classic.cells["2.0.2", "order"].anchor == (
        "kafka-python-2.0.2--classic-range-reset-earliest-batch-revoke--order")
    assert consumer.cells["2.0.2", "no-loss"].anchor == (
        "kafka-python-2.0.2--consumer-reset-earliest-batch-revoke--no-loss")
    shuffled = results_dict()
    shuffled["clients"].reverse()
    again = release_history(shuffled, "kafka-python").matrices[0]
    assert again.cells["2.2.15", S1].anchor == classic.cells["2.2.15", S1].anchor
    assert h.skipped == (("2.2.14", "no wheel"),) and h.exit_code == 1


def test_the_first_release_of_a_changed_verdict_is_marked() -> None:
    classic, consumer = release_history(results_dict(), "kafka-python").matrices
    marked = {(v, c): (cell.changed_since, cell.was) for (v, c), cell in
              {**{(k, "classic"): x for k, x in classic.cells.items()},
               **{(k, "consumer"): x for k, x in consumer.cells.items()}}.items()
              if cell.changed_since}
    assert marked == {(("2.2.15", S1), "classic"): ("2.0.2", "pass"),
                      (("2.2.15", "no-loss"), "consumer"): ("2.0.2", "unsupported")}
    assert classic.cells["3.0.12", S1].changed_since is None  # still failing: no new mark


def test_changes_list_kinds_and_json() -> None:
    h = release_history(results_dict(), "kafka-python")
    assert [(c["protocol"], c["check"], c["release"], c["since"], c["old"], c["new"],
             c["kind"]) for c in h.changes] == [
        ("classic", S1, "2.2.15", "2.0.2", "pass", "fail", "new-failure"),
        ("consumer", "no-loss", "2.2.15", "2.0.2", "unsupported", "pass", "from-unsupported")]
    data = json.loads(json.dumps(h.to_json()))
    assert data["schema"] == "kafka-conformance/history/1"
    assert [r["release"] for r in data["releases"]] == ["2.0.2", "2.2.15", "3.0.12"]
    assert data["releases"][1]["verdicts"] == {
        "classic": {"no-loss": "pass", "order": "hazard", S1: "fail"},
        "consumer": {"no-loss": "pass"}}
    assert data["checks"]["classic"] == ["no-loss", "order", S1]
    assert len(data["changes"]) == 2


def test_configurations_of_one_release_combine_worst_first_and_missing_cells_change() -> None:
    data = results_dict()
    spec = "kafka-python==3.0.12"
    data["clients"].append(_entry(spec, "classic cooperative-sticky reset=earliest RECORD+async",
                                  "classic", _check("no-loss", "S9", "fail", "lost 3")))
    del data["clients"][1]["checks"][1]  # 3.0.12 did not run "order"
    classic = release_history(data, "kafka-python").matrices[0]
    cell = classic.cells["3.0.12", "no-loss"]
    assert (cell.verdict, cell.anchor, cell.note) == (
        "fail", "kafka-python-3.0.12--classic-cooperative-sticky-reset-earliest-record-async"
        "--no-loss", "lost 3")
    assert cell.changed_since == "2.2.15" and cell.was == "pass"
    assert ("3.0.12", "order") not in classic.cells
    removed = [c for c in release_history(data, "kafka-python").changes
               if c["check"] == "order"]
    assert removed == [{"protocol": "classic", "check": "order", "section": "S9",
                        "release": "3.0.12", "since": "2.2.15", "old": "hazard", "new": None,
                        "kind": "removed"}]


def test_no_results_for_the_client_is_an_empty_history() -> None:
    h = release_history({"run_id": "r", "clients": []}, "kafka-python")
    assert h.releases == () and h.matrices == () and h.changes == ()
    assert "No results for any release" in render_html(h)


# -- console and HTML --------------------------------------------------------------------------
def console_text(history: ReleaseHistory) -> str:
    out = Console(record=True, width=110, color_system=None, force_terminal=False)
    print_history(history, out)
    return out.export_text()


def test_console_table_one_row_per_release_with_counts_failures_and_changes() -> None:
    text = console_text(release_history(results_dict(), "kafka-python",
                                        [("2.2.14", "no wheel for Python 3.12")]))
    lines = text.splitlines()
    assert "kafka-python: release history, classic protocol (3 checks)" in text
    assert "kafka-python: release history, consumer protocol (1 check)" in text
    row = next(ln for ln in lines if "2.2.15" in ln and S1 in ln)
    assert "1 \u2717" in row and "2 \u2713" not in row and "1 \u26a0" in row
    assert f"{S1} \u2713\u2192\u2717" in row
    assert "no-loss \u2013\u2192\u2713" in text
    assert any("3.0.12" in ln and "none" in ln for ln in lines)
    assert "not run: kafka-python==2.2.14: no wheel for Python 3.12" in text
    assert "2 change(s) across 3 release(s)" in text
    assert len(lines) < 40  # one screen
    assert max(len(ln) for ln in lines) <= 110


def test_html_links_cells_into_index_and_marks_changes(tmp_path: Path) -> None:
    paths = write_history(release_history(results_dict(), "kafka-python"), tmp_path)
    html = paths["html"].read_text()
    assert ('<a href="index.html#kafka-python-2.2.15--classic-fixed-scenarios--'
            's1-resume-after-empty-group">\u2717 fail</a>') in html
    assert 'class="cell v-fail changed" title="changed since 2.0.2 (was pass); ' in html
    assert 'class="cell v-pass changed" title="changed since 2.0.2 (was unsupported)"' in html
    assert '<a href="index.html">\u2713 pass</a>' in html  # a pass has no section: the page
    assert html.index(">2.0.2<") < html.index(">2.2.15<") < html.index(">3.0.12<")
    assert "One matrix per group protocol" in html
    assert json.loads(paths["json"].read_text())["run_id"] == "20260101-000000-abcd"


# -- the CLI -----------------------------------------------------------------------------------
def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """``releases()`` answering LISTING without a registry; records (name, pre) asked."""
    asked: list[tuple[str, bool]] = []

    def fake(name: str, *, pre: bool = False, refresh: bool = False) -> list[Release]:
        if name not in ("kafka-python", "franz-go"):
            raise UsageError(f"unknown client {name!r}: releases are listed for ...")
        asked.append((name, pre))
        return [r for r in LISTING if pre or not r.pre]

    monkeypatch.setattr(rel, "releases", fake)
    return asked


@pytest.mark.parametrize(("args", "start"), [
    (["--client", "kafka-python", "--releases", "9.9.9"],
     "error: --releases: kafka-python has no release '9.9.9'"),
    (["--client", "kafka-python", "--releases", "3.0.0..2.0.2"],
     "error: --releases '3.0.0..2.0.2': 3.0.0 is newer than 2.0.2"),
    (["--client", "kafka-python", "--releases", "1.4.7"],
     "error: --releases '1.4.7': no usable release of kafka-python selected"),
    (["--client", "kafka-python==2.0.2", "--releases", "last:2"],
     "error: --client 'kafka-python==2.0.2': give the client's name only"),
    (["--client", "nope", "--releases", "last:2"], "error: unknown client 'nope'"),
    (["--client", "kafka-python", "--releases", "last:2", "--client-property", "x"],
     "error: --client-property must be KEY=VALUE"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str], start: str, listed: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(["history", *args], capsys)
    assert code == 2 and out == ""
    assert err.startswith(start) and err.count("\n") == 1 and "Traceback" not in err


def test_cli_missing_releases_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _main(["history", "--client", "kafka-python"], capsys)
    assert code == 2 and "Missing option '--releases'" in err and "Traceback" not in err


def test_cli_runs_the_selection_as_one_run_and_writes_the_history(
        listed: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from conformance import run

    seen: list[RunOptions] = []

    def fake_execute(opts: RunOptions) -> int:
        seen.append(opts)
        data = copy.deepcopy(results_dict())
        data["clients"] = [c for c in data["clients"]
                           if c["spec"] in {s.label for s in opts.clients}]
        (opts.out / "elsewhere").mkdir(parents=True)  # a folder without results: not it
        folder = opts.out / data["run_id"]
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps(data))
        return 1

    (tmp_path / "older-run").mkdir()
    (tmp_path / "older-run" / "results.json").write_text(json.dumps(results_dict()))
    monkeypatch.setattr(run, "execute", fake_execute)
    code, out, err = _main(["history", "--client", "kafka-python", "--releases",
                            "2.0.2..2.2.16", "--protocol", "classic", "--jobs", "3",
                            "--seed", "5", "--out", str(tmp_path)], capsys)
    assert code == 1  # the run's exit code: a violation
    [opts] = seen
    assert [s.label for s in opts.clients] == ["kafka-python==2.0.2", "kafka-python==2.2.15"]
    assert (opts.jobs, opts.seed, opts.protocols) == (3, 5, ("classic",))
    assert listed == [("kafka-python", True)]
    assert "skipping kafka-python==2.2.14: no wheel for Python 3.12" in err
    assert "skipping kafka-python==2.2.16" in err
    assert "release history, classic protocol" in out
    folder = tmp_path / "20260101-000000-abcd"
    data = json.loads((folder / "history.json").read_text())
    assert [r["release"] for r in data["releases"]] == ["2.0.2", "2.2.15"]
    assert [s["release"] for s in data["skipped"]] == ["2.2.14", "2.2.16"]
    assert (folder / "history.html").is_file()
    assert not (tmp_path / "older-run" / "history.json").exists()


def test_version_keys_order_maven_and_go_releases() -> None:
    listing = [Release("3.9.0"), Release("3.10.0"), Release("3.10.0-rc1", pre=True)]
    sel = select_releases(listing, "3.9.0..3.10.0", "java", key=release_key)
    assert sel.versions == ["3.9.0", "3.10.0"]
