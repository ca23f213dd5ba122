"""`kafka-conformance bisect`'s pure parts: the binary search over releases, the range between
--good and --bad, the --only each release runs with and a check's verdict in results.json (no
broker, no registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.bisect import (
    AGREE,
    FOUND,
    NOT_RUN,
    STOPPED,
    BisectLog,
    Range,
    boundary_line,
    check_verdict,
    max_runs,
    run_only,
    search,
    select_range,
)
from conformance.clients.releases import Release, python_key, release_key
from conformance.errors import UsageError

RELEASES = ["2.0.2", "2.1.0", "2.1.1", "2.2.0", "2.3.0", "2.4.0", "2.5.0"]


class Oracle:
    """Verdicts per release; records what was asked, in order."""

    def __init__(self, verdicts: dict[str, str]) -> None:
        self.verdicts = verdicts
        self.asked: list[str] = []

    def __call__(self, release: str) -> str:
        self.asked.append(release)
        return self.verdicts[release]


def step_at(releases: list[str], first_new: int, old: str = "fail", new: str = "pass"
            ) -> dict[str, str]:
    return {r: old if i < first_new else new for i, r in enumerate(releases)}


# -- search ------------------------------------------------------------------------------------
def test_the_first_release_of_a_fix_is_found_with_the_ends_run_first() -> None:
    oracle = Oracle(step_at(RELEASES, RELEASES.index("2.4.0")))
    out = search(RELEASES, oracle)
    assert out.status == FOUND and out.exit_code == 0
    assert (out.old, out.new) == ("2.3.0", "2.4.0")
    assert oracle.asked[:2] == ["2.0.2", "2.5.0"]
    assert oracle.asked == ["2.0.2", "2.5.0", "2.2.0", "2.3.0", "2.4.0"]
    assert [r for r, _v in out.tried] == oracle.asked
    assert out.verdict("2.3.0") == "fail" and out.verdict("2.4.0") == "pass"
    assert out.verdict("2.1.0") is None  # never run
    assert boundary_line("order", out) == "order fails on 2.3.0, passes from 2.4.0"


@pytest.mark.parametrize("count", range(2, 18))
def test_every_boundary_is_found_within_the_bound_each_release_once(count: int) -> None:
    releases = [f"1.{i}.0" for i in range(count)]
    for first_new in range(1, count):
        oracle = Oracle(step_at(releases, first_new, "pass", "fail"))
        out = search(releases, oracle)
        assert out.status == FOUND
        assert (out.old, out.new) == (releases[first_new - 1], releases[first_new])
        assert len(oracle.asked) == len(set(oracle.asked)) <= max_runs(count)
    assert max_runs(count) <= count


def test_max_runs_is_two_ends_and_a_halving() -> None:
    assert [max_runs(n) for n in (2, 3, 4, 5, 7, 9, 17)] == [2, 3, 4, 4, 5, 5, 6]


def test_ends_that_agree_stop_after_two_runs() -> None:
    oracle = Oracle({"2.0.2": "pass", "2.1.0": "fail", "2.2.0": "pass"})
    out = search(["2.0.2", "2.1.0", "2.2.0"], oracle)
    assert out.status == AGREE and out.exit_code == 2
    assert oracle.asked == ["2.0.2", "2.2.0"]  # the middle one's failure is never seen
    assert boundary_line("no-loss", out) == (
        "no-loss passes on both 2.0.2 and 2.2.0: nothing to bisect")


def test_verdicts_not_monotone_report_an_adjacent_change_not_necessarily_the_first() -> None:
    """pass, fail, pass, fail, fail: the verdict leaves V1's at 2.1.0, comes back at 2.1.1 and
    leaves again at 2.2.0. Bisect reports the change it lands on, 2.1.1 -> 2.2.0: adjacent,
    its older release with V1's verdict, its newer one without, but not the first (2.1.0)."""
    releases = RELEASES[:5]
    verdicts = dict(zip(releases, ["pass", "fail", "pass", "fail", "fail"], strict=True))
    oracle = Oracle(verdicts)
    out = search(releases, oracle)
    assert out.status == FOUND
    assert (out.old, out.new) == ("2.1.1", "2.2.0")
    assert releases.index(out.new) - releases.index(out.old) == 1
    assert verdicts[out.old] == verdicts["2.0.2"] != verdicts[out.new]
    assert "2.1.0" not in oracle.asked  # the first change is never run
    assert oracle.asked == ["2.0.2", "2.3.0", "2.1.1", "2.2.0"]


def test_a_third_verdict_counts_as_a_change() -> None:
    """fail on V1, pass on V2, a hazard between: the verdict changes where it stops being
    V1's, whatever it becomes."""
    verdicts = dict(zip(RELEASES[:4], ["fail", "fail", "hazard", "pass"], strict=True))
    out = search(RELEASES[:4], Oracle(verdicts))
    assert out.status == FOUND and (out.old, out.new) == ("2.1.0", "2.1.1")
    assert boundary_line("order", out) == "order fails on 2.1.0, is a hazard from 2.1.1"


def test_an_undecided_release_stops_the_search_where_it_is_met() -> None:
    verdicts = {**step_at(RELEASES, 5), "2.2.0": "unknown"}
    oracle = Oracle(verdicts)
    out = search(RELEASES, oracle)
    assert out.status == STOPPED and out.exit_code == 3
    assert out.stopped_at == "2.2.0" and (out.old, out.new) == ("2.0.2", "2.5.0")
    assert oracle.asked == ["2.0.2", "2.5.0", "2.2.0"]
    assert boundary_line("order", out) == ("order is undecided on 2.2.0: bisect stopped; the "
                                           "change lies between 2.0.2 and 2.5.0")


@pytest.mark.parametrize("end", ["2.0.2", "2.5.0"])
def test_an_undecided_end_stops_before_any_search(end: str) -> None:
    oracle = Oracle({**step_at(RELEASES, 3), end: NOT_RUN})
    out = search(RELEASES, oracle)
    assert out.status == STOPPED and out.stopped_at == end
    assert oracle.asked[-1] == end and len(oracle.asked) <= 2


def test_two_adjacent_releases_that_differ_are_their_own_boundary() -> None:
    out = search(["1.0", "1.1"], Oracle({"1.0": "pass", "1.1": "fail"}))
    assert out.status == FOUND and (out.old, out.new) == ("1.0", "1.1") and len(out.tried) == 2


@pytest.mark.parametrize("releases", [[], ["1.0"], ["1.0", "1.0"]])
def test_fewer_than_two_distinct_releases_is_an_error(releases: list[str]) -> None:
    with pytest.raises(ValueError, match="two or more distinct"):
        search(releases, Oracle({}))


# -- the range ---------------------------------------------------------------------------------
#: newest first, as ``releases()`` lists them
LISTING = [Release("2.5.0"), Release("2.4.0"), Release("2.4.0rc1", pre=True),
           Release("2.3.0", "no wheel for Python 3.11 on this platform"), Release("2.2.0"),
           Release("2.1.1"), Release("2.1.0"), Release("2.0.2"),
           Release("1.4.7", "needs Python <3.10 (this is Python 3.11)")]


def test_the_range_is_the_ends_and_the_usable_final_releases_between() -> None:
    span = select_range(LISTING, "2.0.2", "2.5.0", "confluent-kafka", python_key)
    assert span.releases == ("2.0.2", "2.1.0", "2.1.1", "2.2.0", "2.4.0", "2.5.0")
    assert span.skipped == (("2.3.0", "no wheel for Python 3.11 on this platform"),)


def test_a_pre_release_end_is_taken_exactly() -> None:
    span = select_range(LISTING, "2.1.0", "2.4.0rc1", "confluent-kafka", python_key)
    assert span.releases == ("2.1.0", "2.1.1", "2.2.0", "2.4.0rc1")


def test_an_end_a_partial_listing_omits_is_taken_as_written() -> None:
    go = [Release("v1.20.0"), Release("v1.18.0")]
    span = select_range(go, "1.18.0", "v1.21.0", "franz-go", release_key, partial=True)
    assert span.releases == ("v1.18.0", "v1.20.0", "v1.21.0")
    with pytest.raises(UsageError, match=r"franz-go has no release 'v1\.21\.0'"):
        select_range(go, "1.18.0", "v1.21.0", "franz-go", release_key)


@pytest.mark.parametrize(("good", "bad", "message"), [
    ("2.0.2", "9.9.9", "--bad: confluent-kafka has no release '9.9.9' (newest: 2.5.0;"),
    ("2.5.0", "2.0.2", "--good 2.5.0 is newer than --bad 2.0.2"),
    ("2.1.0", "2.1.0", "--good and --bad both name confluent-kafka 2.1.0"),
    ("2.1.0", "2.1.1", "no release of confluent-kafka lies between 2.1.0 and 2.1.1"),
    ("2.2.0", "2.4.0", "no release of confluent-kafka lies between 2.2.0 and 2.4.0 "
                       "(1 cannot run here)"),
    ("1.4.7", "2.0.2", "--good: confluent-kafka==1.4.7 cannot run here: needs Python"),
])
def test_bad_ranges_are_one_line_usage_errors(good: str, bad: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        select_range(LISTING, good, bad, "confluent-kafka", python_key)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


# -- --only and the check ----------------------------------------------------------------------
def test_only_defaults_to_the_least_that_runs_the_check() -> None:
    assert run_only("order", (), ("classic",)) == ("generated",)
    assert run_only("S5-BATCH-crash-bound", (), ("classic",)) == ("S5-BATCH-crash-bound",)
    assert run_only("S5-BATCH-crash-bound", ("S5",), ("classic",)) == ("S5",)
    assert run_only("order", ("generated", "S1"), ("classic",)) == ("generated", "S1")


@pytest.mark.parametrize(("check", "only", "message"), [
    ("nope", (), "--check 'nope' names no check"),
    ("order", ("S5",), "--only S5 does not run order, a check of the generated scenarios"),
    ("S5-BATCH-crash-bound", ("S1",), "--only S1 does not run the fixed scenario"),
    ("S5-BATCH-crash-bound", ("generated",), "--only generated does not run the fixed"),
    ("order", ("generated", "bogus"), "--only 'bogus' names no check"),
])
def test_a_check_the_selection_does_not_run_is_a_usage_error(check: str, only: tuple[str, ...],
                                                             message: str) -> None:
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(")):
        run_only(check, only, ("classic", "consumer"))


def _results() -> dict[str, object]:
    def entry(spec: str, protocol: str, verdicts: dict[str, str]) -> dict[str, object]:
        return {"spec": spec, "protocol": protocol,
                "checks": [{"check": c, "verdict": v} for c, v in verdicts.items()]}

    return {"clients": [
        entry("confluent-kafka==2.3.0", "classic", {"order": "pass", "no-loss": "pass"}),
        entry("confluent-kafka==2.3.0", "classic", {"order": "fail"}),
        entry("confluent-kafka==2.3.0", "consumer", {"order": "hazard"}),
        entry("confluent-kafka==2.4.0", "classic", {"order": "pass"}),
    ]}


def test_a_checks_verdict_combines_its_configurations_worst_first() -> None:
    results = _results()
    assert check_verdict(results, "confluent-kafka==2.3.0", "order") == "fail"
    assert check_verdict(results, "confluent-kafka==2.3.0", "order", ("consumer",)) == "hazard"
    assert check_verdict(results, "confluent-kafka==2.4.0", "order") == "pass"
    assert check_verdict(results, "confluent-kafka==2.4.0", "no-loss") == NOT_RUN
    assert check_verdict(results, "confluent-kafka==2.2.0", "order") == NOT_RUN


def test_bisect_json_names_the_boundary_and_every_release_tried(tmp_path: Path) -> None:
    from conformance.bisect import Tried

    span = Range(tuple(RELEASES), (("2.3.1", "no wheel"),))
    log = BisectLog("confluent-kafka", "order", "2.0.2", "2.5.0", "replay", tmp_path,
                    {"seed": 7}, span)
    out = search(RELEASES, lambda v: log.tried.append(Tried(
        v, step_at(RELEASES, 5)[v], f"{v}/index.html")) or log.tried[-1].verdict)
    log.outcome = out
    data = json.loads(log.write().read_text())
    assert data["schema"] == "kafka-conformance/bisect/1" and data["status"] == "found"
    assert data["boundary"] == {"old": {"release": "2.3.0", "verdict": "fail",
                                        "report": "2.3.0/index.html"},
                                "new": {"release": "2.4.0", "verdict": "pass",
                                        "report": "2.4.0/index.html"}}
    assert [t["release"] for t in data["tried"]] == [r for r, _v in out.tried]
    assert data["skipped"] == [{"release": "2.3.1", "reason": "no wheel"}]
    assert data["line"] == "order fails on 2.3.0, passes from 2.4.0"
    assert data["exit_code"] == 0 and data["seed"] == 7 and data["max_runs"] == 5
