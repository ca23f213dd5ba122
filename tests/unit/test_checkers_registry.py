"""The checker registry: order, verdicts via policy, unknown on error, figures, JSONL."""

import pytest
from histories import H
from hypothesis import given, settings
from hypothesis import strategies as st

import conformance.checkers as checkers
from conformance.checkers import CHECKS, run_checks
from conformance.history import History
from conformance.verdicts import Verdict


def clean_run() -> H:
    return (H().scenario(partitions=2, reset="earliest", bound=5).produce(0, range(6))
            .produce(1, range(4)).started("m1").assigned("m1", 0, 1)
            .consumed("m1", 0, range(3)).consumed("m1", 1, range(2))
            .committed("m1", {0: 3, 1: 2}).settled({0: "m1", 1: "m1"})
            .consumed("m1", 0, 3).killed("m1")
            .started("drain").assigned("drain", 0, 1)
            .consumed("drain", 0, range(3, 6)).consumed("drain", 1, 2, 3)
            .settled({0: "drain", 1: "drain"})
            .commit_requested("drain", None).committed("drain", {0: 6, 1: 4})
            .stopped("drain"))


def test_registry_order_and_sections() -> None:
    assert [(k, s) for k, (s, _) in CHECKS.items()] == [
        ("no-loss", "S1"), ("duplicates-bounded", "S5"), ("order", "S9"),
        ("start-position", "S1"), ("commit-validity", "S5"), ("exclusive-ownership", "S8"),
        ("zombie-fencing", "S8"), ("member-assigned", "S8"), ("isolation", "S1"),
        ("pause-honored", "S7"), ("calls-return", "S8"),
        ("progress", "S8"), ("member-rejoined", "S8")]


def test_clean_history_passes_every_check_with_figures() -> None:
    results = run_checks(clean_run().build())
    assert [(r.check, r.verdict) for r in results] == [(k, Verdict.PASS) for k in CHECKS]
    assert all(r.examples == 1 and r.violations == [] and r.seconds >= 0 for r in results)
    dup = results[1].figures
    assert dup["duplicates"] == 1 and dup["max_duplicates_per_handover"] == 1
    assert results[2].figures["key_order_inversions"] == 0


def test_failing_check_carries_violations_and_anomaly_counts() -> None:
    h = clean_run().produce(0, 6, 7)
    [result] = run_checks(h.build(), only=["no-loss"])
    assert result.verdict == Verdict.FAIL
    assert result.figures["anomalies"] == {"lost": 1}
    assert result.violations[0].details["offsets"] == [6, 7]


def test_a_checker_that_raises_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(history: History) -> list:
        raise RuntimeError("cannot read this")

    monkeypatch.setitem(checkers.CHECKS, "order", ("S9", boom))
    results = run_checks(clean_run().build())
    order = next(r for r in results if r.check == "order")
    assert order.verdict == Verdict.UNKNOWN and order.section == "S9"
    assert "RuntimeError: cannot read this" in order.note
    others = [r.verdict for r in results if r.check != "order"]
    assert others == [Verdict.PASS] * (len(checkers.CHECKS) - 1)


def test_malformed_events_make_checks_unknown_not_crash() -> None:
    h = clean_run()
    h.add("processed", "m9", records=[["t", "not-a-number", 1, None]])
    results = run_checks(h.build())
    assert Verdict.UNKNOWN in {r.verdict for r in results}
    assert all(r.verdict in (Verdict.UNKNOWN, Verdict.PASS, Verdict.FAIL) for r in results)


def test_figures_error_is_noted_without_hiding_the_verdict(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(checkers.FIGURES, "order", lambda history: 1 / 0)
    [result] = run_checks(clean_run().build(), only=["order"])
    assert result.verdict == Verdict.PASS and "figures unavailable" in result.note


def test_only_selects_and_unknown_ids_are_refused() -> None:
    assert [r.check for r in run_checks(clean_run().build(), only=["order", "no-loss"])] == [
        "order", "no-loss"]
    with pytest.raises(ValueError, match="unknown check id"):
        run_checks(clean_run().build(), only=["nope"])


def test_empty_history_passes() -> None:
    assert {r.verdict for r in run_checks(History())} == {Verdict.PASS}


def test_jsonl_round_trip_keeps_events_and_results(tmp_path) -> None:
    h = clean_run().produce(0, 6)  # one lost record so a violation with evidence survives
    original = h.build()
    loaded = History.from_jsonl(original.to_jsonl(tmp_path / "history.jsonl"))
    assert [e.to_json() for e in loaded] == [e.to_json() for e in original]
    assert [e.index for e in loaded] == list(range(len(original)))

    def results(history: History) -> list:
        return [(r.check, r.verdict, [v.to_json() for v in r.violations], r.figures)
                for r in run_checks(history)]

    assert results(loaded) == results(original)


# -- generated clean runs -----------------------------------------------------------------------
@st.composite
def clean_runs(draw: st.DrawFn) -> H:
    """Members take turns; each resumes at the committed offset, hands over by a revoke commit
    or by a crash (re-delivery from the last commit); a drain member finishes."""
    parts = draw(st.integers(1, 3))
    n = draw(st.integers(0, 12))
    h = H().scenario(partitions=parts, reset="earliest", strategy="BATCH")
    for p in range(parts):
        if n:
            h.produce(p, range(n))
    committed = dict.fromkeys(range(parts), 0)
    members = [f"m{k}" for k in range(1, draw(st.integers(1, 4)) + 1)] + ["drain"]
    for m in members:
        h.started(m).assigned(m, *range(parts))
        pos = dict(committed)
        steps = [] if m == "drain" else draw(st.lists(
            st.tuples(st.integers(0, parts - 1), st.integers(1, 5), st.booleans()), max_size=6))
        steps += [(p, n, True) for p in range(parts)] if m == "drain" else []
        for p, count, commit in steps:
            take = range(pos[p], min(pos[p] + count, n))
            if take:
                h.consumed(m, p, take)
                pos[p] = take.stop
            if commit:
                h.committed(m, {p: pos[p]})
                committed[p] = pos[p]
        h.settled(dict.fromkeys(range(parts), m))
        if m == "drain" or draw(st.booleans()):
            h.revoked(m, *range(parts)).committed(m, pos, mode="revoke")
            committed = dict(pos)
            h.stopped(m)
        else:
            h.killed(m)
    return h


@settings(max_examples=60, deadline=None)
@given(clean_runs())
def test_generated_clean_runs_pass_every_check(h: H) -> None:
    results = run_checks(h.build())
    assert {r.check: r.verdict for r in results} == dict.fromkeys(CHECKS, Verdict.PASS), [
        v.to_json() for r in results for v in r.violations]


@settings(max_examples=30, deadline=None)
@given(clean_runs())
def test_generated_runs_with_an_unread_record_fail_no_loss(h: H) -> None:
    h.produce(0, 1000).as_("extra")
    [result] = run_checks(h.build(), only=["no-loss"])
    assert result.verdict == Verdict.FAIL
    assert [(v.anomaly, v.evidence) for v in result.violations] == [("lost", [h.at["extra"]])]


# -- the registry: a check is its module ---------------------------------------------------------
def test_every_checker_module_registers_its_check_with_a_line_for_the_legend() -> None:
    import pkgutil

    helpers = {"__init__", "policy", "registry", "spans", "group_offsets", "outages"}
    modules = {m.name for m in pkgutil.iter_modules(checkers.__path__)} - helpers
    assert {e.fn.__module__.rsplit(".", 1)[1] for e in checkers.REGISTERED.values()} == modules
    for entry in checkers.REGISTERED.values():
        module = __import__(entry.fn.__module__, fromlist=["CHECK"])
        assert entry.id == module.CHECK
        assert entry.line and entry.line == entry.line.strip() and len(entry.line) < 90
    assert checkers.NEEDS == {"calls-return": "reports_calls"}
    assert set(checkers.FIGURES) == {"duplicates-bounded", "order"}


CHECKER_MODULE = '''
from conformance.checkers.registry import figures, registers

@registers("{check}", section="S9", rank={rank}, line="{line}")
def check_it(history):
    return []

@figures("{check}")
def it_figures(history):
    return {{"answer": 42}}
'''


def test_a_new_module_is_all_a_new_check_needs(tmp_path, monkeypatch) -> None:
    from conformance.checkers.registry import discover
    from conformance.report.legend import describe

    pkg = tmp_path / "more_checks"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "second.py").write_text(CHECKER_MODULE.format(check="x-second", rank=2, line="b"))
    (pkg / "first.py").write_text(CHECKER_MODULE.format(check="x-first", rank=1, line="a"))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = discover("more_checks")
    assert list(found) == ["x-first", "x-second"]  # by rank, not by file name
    assert found["x-first"].figures(History()) == {"answer": 42}
    assert found["x-second"].line == "b" and found["x-second"].section == "S9"
    assert "x-first" not in checkers.CHECKS and describe("no-loss") == (
        "every produced record is processed by some member")


def test_two_checks_may_not_share_an_id_or_a_rank(tmp_path, monkeypatch) -> None:
    from conformance.checkers.registry import discover

    for name, body in {"same_rank": [("y-one", 5), ("y-two", 5)],
                       "same_id": [("z-one", 5), ("z-one", 6)]}.items():
        pkg = tmp_path / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        for n, (check, rank) in enumerate(body):
            # the same function name in two modules is still two registrations
            (pkg / f"m{n}.py").write_text(CHECKER_MODULE.format(check=check, rank=rank, line="l"))
        monkeypatch.syspath_prepend(str(tmp_path))
        with pytest.raises(ValueError, match=r"share rank|registered twice"):
            discover(name)
