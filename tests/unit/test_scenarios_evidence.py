"""The fixed scenarios' evidence: expected offsets against offsets read, on hand-made histories."""

from __future__ import annotations

from conformance.history import History
from conformance.scenarios import evidence
from conformance.scenarios.assignment import judge_assign_seek, judge_revoke_commit
from conformance.scenarios.evidence import compare, offsets_text
from conformance.scenarios.offsets import judge_recreated, judge_resume, reset_violation
from conformance.verdicts import CheckResult, Verdict, Violation
from tests.unit.histories import H


def by_anomaly(violations: list[Violation]) -> dict[str, Violation]:
    out = {v.anomaly: v for v in violations}
    assert len(out) == len(violations), violations
    return out


def assert_evidence_in(history: History, v: Violation, *types: str) -> None:
    assert v.evidence, v
    assert all(0 <= i < len(history) for i in v.evidence), v
    assert {history[i].type for i in v.evidence} <= set(types), v


def test_every_expected_offset_read_once_is_no_violation():
    h = H().scenario().produce(0, range(10)).consumed("m1", 0, range(5)) \
        .consumed("m1", 0, range(5, 10)).build()
    assert compare(h, "c", "S1", topic="t", partition=0, expected=range(10), member="m1") == []


def test_a_skipped_offset_is_missing_with_its_produced_event_and_the_reads_around_it():
    b = (H().scenario().produce(0, range(20)).as_("produced")
         .processed("m1", 0, range(7, 10)).as_("before")
         .processed("m1", 0, range(11, 17)).as_("after")
         .processed("m1", 0, range(18, 20)).as_("last"))
    h = b.build()
    [v] = compare(h, "S7-assign-seek", "S7", topic="t", partition=0, expected=range(7, 20),
                  member="m1")
    assert v.anomaly == "missing"
    assert v.details["missing"] == [10, 17] and v.details["partition"] == 0
    assert v.details["member"] == "m1" and v.details["topic"] == "t"
    assert set(v.evidence) == {b.at["produced"], b.at["before"], b.at["after"], b.at["last"]}
    assert "10, 17" in v.message and "7..19" in v.message


def test_a_wrong_start_names_the_first_offset_and_the_commit_it_should_resume_from():
    b = (H().scenario().produce(0, range(30)).as_("produced").committed("m1", {0: 20})
         .as_("commit")
         .started("m2").as_("start").processed("m2", 0, range(25, 30)).as_("read"))
    h = b.build()
    found = by_anomaly(compare(h, "c", "S1", topic="t", partition=0, expected=range(20, 30),
                               member="m2", since=b.at["start"], context=[b.at["commit"]]))
    assert set(found) == {"wrong-start", "missing"}
    start = found["wrong-start"]
    assert start.details["first"] == 25 and start.details["expected_start"] == 20
    assert start.details["missing"] == [20, 21, 22, 23, 24]
    assert start.evidence == [b.at["produced"], b.at["commit"], b.at["read"]]
    assert found["missing"].details["missing"] == [20, 21, 22, 23, 24]
    assert "20..24" in found["missing"].message


def test_duplicated_and_unexpected_offsets_carry_the_processed_events():
    b = (H().scenario().produce(0, range(5))
         .processed("m1", 0, range(0, 3)).as_("first")
         .processed("m2", 0, [2, 3, 4, 20]).as_("second"))
    h = b.build()
    found = by_anomaly(compare(h, "c", "S8", topic="t", partition=0, expected=range(5),
                               start=False))
    assert set(found) == {"duplicated", "unexpected"}
    assert found["duplicated"].details["duplicated"] == [2]
    assert found["duplicated"].details["members"] == ["m1", "m2"]
    assert found["duplicated"].evidence == [b.at["first"], b.at["second"]]
    assert found["unexpected"].details["unexpected"] == [20]
    assert found["unexpected"].evidence == [b.at["second"]]
    assert found["unexpected"].details["member"] is None


def test_out_of_order_reads_of_one_member_when_order_is_judged():
    b = (H().scenario().produce(0, range(6)).processed("m1", 0, [0, 1, 2]).as_("first")
         .processed("m1", 0, [5, 3, 4]).as_("second"))
    h = b.build()
    assert compare(h, "c", "S7", topic="t", partition=0, expected=range(6), member="m1") == []
    [v] = compare(h, "c", "S7", topic="t", partition=0, expected=range(6), member="m1",
                  ordered=True)
    assert v.anomaly == "out-of-order" and v.details["offsets"] == [3]
    assert v.evidence == [b.at["second"]] and "3 after 5" in v.message


def test_reads_outside_the_window_do_not_count():
    b = (H().scenario().produce(0, range(5)).processed("m1", 0, range(5))
         .add("topic_recreated", topic="t", partitions=1).as_("recreated")
         .produce(0, range(3)).processed("m1", 0, range(3)))
    h = b.build()
    assert compare(h, "c", "S1", topic="t", partition=0, expected=range(5), member="m1",
                   until=b.at["recreated"]) == []
    assert compare(h, "c", "S1", topic="t", partition=0, expected=range(3), member="m1",
                   since=b.at["recreated"]) == []


def test_nothing_read_is_all_missing_with_the_produced_events():
    b = H().scenario().produce(0, range(3)).as_("p")
    h = b.build()
    [v] = compare(h, "c", "S1", topic="t", partition=0, expected=range(3), member="m1")
    assert v.anomaly == "missing" and v.evidence == [b.at["p"]]


def test_offsets_text_starts_at_the_first_offending_offset():
    assert offsets_text([24]) == "24"
    assert offsets_text([3, 10, 17, 24]) == "3, 10, 17, 24"
    assert offsets_text([20, 21, 22, 23, 24, 27]) == "20..24, 27"
    many = list(range(0, 100, 7))
    text = offsets_text(many, limit=3)
    assert text.startswith("0, 7, 14, ...") and f"({len(many)} in all)" in text


def test_note_of_counts_what_it_leaves_out():
    vs = [Violation("c", "missing", "S1", f"m{i}") for i in range(5)]
    assert evidence.note_of(vs, 2) == "m0; m1; and 3 more violation(s)"


def test_combined_histories_shift_each_parts_evidence(tmp_path):
    a = H("ta").scenario().produce(0, range(3)).consumed("m1", 0, range(3)).build()
    b = H("tb").scenario().produce(0, range(3)).processed("m1", 0, [0, 2]).build()
    [v] = compare(b, "c", "S8", topic="tb", partition=0, expected=range(3), start=False)
    path, starts = evidence.write_combined(tmp_path / "history.jsonl", [a, b])
    assert starts == [0, len(a)]
    [moved] = evidence.shifted([v], starts[1], part="b")
    merged = History.from_jsonl(path)
    assert len(merged) == len(a) + len(b) and moved.details["part"] == "b"
    for old, new in zip(v.evidence, moved.evidence, strict=True):
        assert merged[new].to_json() == b[old].to_json()


# -- the scenarios' judgements ------------------------------------------------------------------
def resume_history(m1: list[int], m2: list[int], commit: int = 20) -> H:
    return (H().scenario().produce(0, range(20)).started("m1")
            .processed("m1", 0, m1).committed("m1", {0: commit}).as_("commit").stopped("m1")
            .produce(0, range(20, 30)).started("m2").processed("m2", 0, m2).as_("read")
            .stopped("m2"))


def test_s1_resume_passes_when_both_members_read_everything():
    assert judge_resume(resume_history(list(range(20)), list(range(20, 30))).build()) == []


def test_s1_resume_names_the_skipped_offsets_of_both_members():
    skip = [o for o in range(30) if o % 7 != 3]
    b = resume_history([o for o in skip if o < 20], [o for o in skip if o >= 20])
    h = b.build()
    found = judge_resume(h)
    assert [(v.details["member"], v.anomaly, v.details["missing"]) for v in found] == [
        ("m2", "missing", [24]), ("m1", "missing", [3, 10, 17])]
    for v in found:
        assert_evidence_in(h, v, "produced", "processed")


def test_s1_resume_at_the_wrong_offset_is_a_wrong_start_with_the_commit():
    b = resume_history(list(range(20)), list(range(10, 30)))
    found = by_anomaly(judge_resume(b.build()))
    assert set(found) == {"wrong-start", "unexpected"}
    assert b.at["commit"] in found["wrong-start"].evidence
    assert found["unexpected"].details["unexpected"] == list(range(10, 20))


def test_s1_recreated_topic_read_from_the_old_offset():
    b = (H().scenario().produce(0, range(20)).processed("m1", 0, range(20))
         .committed("m1", {0: 20}).stopped("m1")
         .add("topic_recreated", topic="t", partitions=1).as_("recreated")
         .produce(0, range(5)).as_("new").started("m2"))
    assert judge_recreated(b.processed("m2", 0, range(5)).build()) == []
    b2 = (H().scenario().produce(0, range(20)).processed("m1", 0, range(20))
          .committed("m1", {0: 20}).add("topic_recreated", topic="t", partitions=1)
          .as_("recreated").produce(0, range(5)).as_("new").started("m2"))
    [v] = judge_recreated(b2.build())
    assert v.anomaly == "missing" and v.details["missing"] == [0, 1, 2, 3, 4]
    assert v.evidence == [b2.at["new"]]  # the new topic's records, not the old topic's


def test_s7_seek_skip_callbacks_and_committed():
    b = (H().scenario(partitions=2).produce(0, range(20)).assigned("m1", 0, manual=True)
         .seeked("m1", 0, 7).as_("seek").processed("m1", 0, [7, 8, 9, 11, 12])
         .revoked("m1", 0).as_("revoked").committed("m1", {0: 15}).as_("commit"))
    h = b.build()
    found = by_anomaly(judge_assign_seek(h, [["t", 0, 14]]))
    assert set(found) == {"missing", "callback-without-group", "committed-mismatch"}
    assert found["missing"].details["missing"] == [10, *range(13, 20)]
    assert found["callback-without-group"].evidence == [b.at["revoked"]]
    assert found["committed-mismatch"].evidence == [b.at["commit"]]
    ok = (H().scenario(partitions=2).produce(0, range(20)).assigned("m1", 0, manual=True)
          .seeked("m1", 0, 7).processed("m1", 0, range(7, 20)).committed("m1", {0: 15}))
    assert judge_assign_seek(ok.build(), [["t", 0, 15]]) == []


def test_s8_revoke_commit_judges_every_partition():
    b = (H().scenario(partitions=2).produce(0, range(4)).produce(1, range(4))
         .processed("m1", 0, range(4)).processed("m1", 1, range(3)).as_("m1")
         .processed("m2", 1, [2, 3]).as_("m2"))
    h = b.build()
    found = by_anomaly(judge_revoke_commit(h))
    assert set(found) == {"duplicated"}
    v = found["duplicated"]
    assert v.details["partition"] == 1 and v.details["duplicated"] == [2]
    assert v.evidence == [b.at["m1"], b.at["m2"]]
    gone = H().scenario(partitions=2).produce(0, range(4)).produce(1, range(2)) \
        .processed("m1", 0, [0, 1, 3]).processed("m1", 1, range(2)).build()
    [v] = judge_revoke_commit(gone)
    assert (v.anomaly, v.details["partition"], v.details["missing"]) == ("missing", 0, [2])


def test_s2_cell_that_starts_at_the_wrong_offset():
    b = (H().scenario(reset="earliest").produce(0, range(5)).as_("produced").started("m1")
         .assigned("m1", 0).produce(0, range(5, 8)).processed("m1", 0, range(5, 8)).as_("read"))
    h = b.build()
    v = reset_violation(h, "earliest/no-commit", "starts at 5", "starts at 0")
    assert v is not None and v.anomaly == "wrong-start"
    assert v.details["first"] == 5 and v.details["expected_start"] == 0
    assert v.details["cell"] == "earliest/no-commit" and v.details["partition"] == 0
    assert v.details["missing"] == [0, 1, 2, 3, 4] and "0..4 never read" in v.message
    assert b.at["read"] in v.evidence and b.at["produced"] in v.evidence
    assert reset_violation(h, "latest/no-commit", "starts at 5", "starts at 5") is None


def test_s2_cell_that_should_have_raised():
    b = (H().scenario(reset="none").produce(0, range(5)).started("m1")
         .assigned("m1", 0).processed("m1", 0, range(5)).as_("read"))
    v = reset_violation(b.build(), "none/no-commit", "starts at 0",
                        "error no-offset-for-partition")
    assert v is not None and v.anomaly == "no-error" and b.at["read"] in v.evidence
    assert v.details["offsets"] == [0]
    c = (H().scenario(reset="earliest").produce(0, range(5)).started("m1").as_("start")
         .add("note", text="m1: error adapter-error: boom").as_("note"))
    v = reset_violation(c.build(), "earliest/no-commit", "error adapter-error", "starts at 0")
    assert v is not None and v.anomaly == "unexpected-error"
    assert v.evidence == [c.at["start"], c.at["note"]]


def test_generic_violations_name_the_partitions_owners():
    from conformance.checkers import run_check

    h = (H().scenario().produce(0, range(4)).assigned("m1", 0).consumed("m1", 0, [0, 1, 3])
         .revoked("m1", 0).assigned("m2", 0).build())
    loss = run_check(h, "no-loss")
    [v] = evidence.from_results(h, loss)
    assert v.anomaly == "lost" and v.details["offsets"] == [2]
    assert v.details["member"] == "m1, m2" and v.details["owners"] == ["m1", "m2"]
    [skip] = evidence.from_results(h, run_check(h, "order"))
    assert skip.anomaly == "skip" and skip.details["offsets"] == [2]
    assert skip.details["member"] == "m1"
    hazard = CheckResult("no-loss", "S1", Verdict.HAZARD, violations=loss.violations)
    assert evidence.from_results(h, hazard) == []  # failing results only, unless asked
    assert evidence.from_results(h, hazard, bad_only=False) == [v]


def test_s4_hazard_and_failure_carry_the_lost_records():
    from conformance.scenarios.commits import auto_commit_violations, judge_auto_commit_crash
    from tests.unit.test_checkers_policy import s4_run

    hazard = s4_run().build()
    verdict, _note, _figures = judge_auto_commit_crash(hazard, landed=True)
    assert verdict == Verdict.HAZARD
    found = auto_commit_violations(hazard, verdict)
    lost = [v for v in found if v.check == "no-loss"]
    assert [v.details["offsets"] for v in lost] == [[5, 6, 7, 8, 9]]
    assert lost[0].details["member"] == "m1, m2"
    assert_evidence_in(hazard, lost[0], "produced")
    broken = s4_run(drop_every_7th=True).build()
    verdict, _note, _figures = judge_auto_commit_crash(broken, landed=True)
    failing = auto_commit_violations(broken, verdict)
    assert verdict == Verdict.FAIL and any(6 in v.details.get("offsets", []) for v in failing)
    assert auto_commit_violations(broken, Verdict.PASS) == []


def test_s5_a_commit_after_removal_that_got_through():
    from conformance.scenarios.commits import removal_violations

    b = (H().scenario().produce(0, range(10)).assigned("m1", 0).consumed("m1", 0, range(5))
         .assigned("m2", 0).as_("taken")
         .commit_requested("m1", {0: 5}).as_("request").committed("m1", {0: 5}).as_("ok"))
    h = b.build()
    [v] = removal_violations(h, {"sync": False, "async": True}, {"sync": "accepted"})
    assert v.anomaly == "commit-after-removal" and v.details["mode"] == "sync"
    assert v.details["offsets"] == [5] and v.details["partition"] == 0
    assert v.evidence == [b.at["taken"], b.at["request"], b.at["ok"]]
