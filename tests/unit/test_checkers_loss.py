"""no-loss (S1, S3): hand-made histories that pass and that must fail."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.loss import check_no_loss, lost_records
from conformance.verdicts import Verdict


def test_everything_processed_passes() -> None:
    h = (H().scenario(reset="earliest").produce(0, range(5))
         .assigned("m1", 0).consumed("m1", 0, range(3)).committed("m1", {0: 3}).killed("m1")
         .assigned("drain", 0).consumed("drain", 0, range(3, 5)).stopped("drain"))
    assert check_no_loss(h.build()) == []


def test_unprocessed_records_are_lost_one_violation_per_partition() -> None:
    h = (H().scenario(partitions=2, reset="earliest")
         .produce(0, range(5)).as_("p0").produce(1, range(2)).as_("p1")
         .assigned("m1", 0, 1).consumed("m1", 0, 0, 1, 3).consumed("m1", 1, 0, 1))
    [v] = check_no_loss(h.build())
    assert v.anomaly == "lost" and v.check == "no-loss" and v.section == "S1"
    assert v.evidence == [h.at["p0"]]
    assert v.details["partition"] == 0
    assert v.details["offsets"] == [2, 4] and v.details["count"] == 2


def test_polled_but_not_processed_is_lost() -> None:
    h = H().scenario().produce(0, range(2)).assigned("m1", 0).polled("m1", 0, range(2))
    assert [r.offset for r in lost_records(h.build())] == [0, 1]


def test_latest_records_before_first_assignment_are_a_separate_anomaly() -> None:
    h = (H().scenario(reset="latest").produce(0, range(3)).as_("early")
         .assigned("m1", 0).produce(0, 3, 4, 5).as_("late").consumed("m1", 0, 3, 4))
    violations = check_no_loss(h.build())
    assert [(v.anomaly, v.evidence, v.details["offsets"]) for v in violations] == [
        ("lost", [h.at["late"]], [5]),
        ("lost-before-first-assignment", [h.at["early"]], [0, 1, 2]),
    ]
    assert violations[1].section == "S3"


def test_latest_loss_is_a_hazard_and_the_same_loss_under_earliest_fails() -> None:
    def run(reset: str):
        h = (H().scenario(reset=reset).produce(0, range(3))
             .assigned("m1", 0).produce(0, 3).consumed("m1", 0, 3))
        [result] = run_checks(h.build(), only=["no-loss"])
        return result

    latest, earliest = run("latest"), run("earliest")
    assert latest.verdict == Verdict.HAZARD and "S3" in latest.note
    assert [v.anomaly for v in latest.violations] == ["lost-before-first-assignment"]
    assert earliest.verdict == Verdict.FAIL
    assert [v.anomaly for v in earliest.violations] == ["lost"]


def test_never_assigned_partition_under_latest_is_before_first_assignment() -> None:
    h = H().scenario(partitions=2, reset="latest").produce(1, 0).assigned("m1", 0)
    [v] = check_no_loss(h.build())
    assert v.anomaly == "lost-before-first-assignment" and v.details["first_assigned"] is None


def test_huge_loss_is_condensed_to_the_first_fifty_offsets() -> None:
    h = H().scenario().produce(0, range(120)).as_("p").assigned("m1", 0)
    [v] = check_no_loss(h.build())
    assert v.details["count"] == 120
    assert v.details["offsets"] == list(range(50))
    assert v.evidence == [h.at["p"]]


def test_latest_records_skipped_by_the_reset_are_before_first_assignment() -> None:
    # the produced event is written after the whole batch was acknowledged, so it may follow
    # the assignment although records 0..2 existed when the position was reset to the log end
    h = (H().scenario(reset="latest").assigned("m1", 0).produce(0, range(5)).as_("batch")
         .consumed("m1", 0, 3, 4))
    [v] = check_no_loss(h.build())
    assert (v.anomaly, v.details["offsets"], v.evidence) == (
        "lost-before-first-assignment", [0, 1, 2], [h.at["batch"]])


def test_reset_does_not_excuse_records_below_a_committed_position() -> None:
    h = (H().scenario(reset="latest").assigned("m1", 0).produce(0, range(5))
         .consumed("m1", 0, 0, 1).committed("m1", {0: 2}).killed("m1")
         .assigned("m2", 0).consumed("m2", 0, 4))
    [v] = check_no_loss(h.build())
    assert (v.anomaly, v.details["offsets"]) == ("lost", [2, 3])


def test_loss_after_an_incomplete_drain_is_undecided() -> None:
    from conformance.checkers import run_check
    from conformance.verdicts import Verdict

    base = H().scenario().produce(0, range(4)).assigned("m1", 0).consumed("m1", 0, range(2))
    incomplete = base.add("drain_finished", member="drain", complete=False)
    result = run_check(incomplete.build(), "no-loss")
    assert result.verdict == Verdict.UNKNOWN and "undecided" in result.note
    assert [v.anomaly for v in result.violations] == ["lost"]
    complete = (H().scenario().produce(0, range(4)).assigned("m1", 0)
                .consumed("m1", 0, range(2)).add("drain_finished", member="drain",
                                                 complete=True))
    assert run_check(complete.build(), "no-loss").verdict == Verdict.FAIL
