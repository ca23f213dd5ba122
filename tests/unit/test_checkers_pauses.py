"""pause-honored (S7): a paused partition stays quiet until it is resumed."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.pauses import check_pause_honored
from conformance.verdicts import Verdict


def paused_m1() -> H:
    """m1 owns 0 and 1, reads 0..2 of each, pauses 0; more records arrive on both."""
    return (H().scenario(partitions=2).produce(0, range(6)).produce(1, range(6))
            .assigned("m1", 0, 1).consumed("m1", 0, range(3)).consumed("m1", 1, range(3))
            .paused("m1", 0).as_("pause"))


def test_a_paused_partition_that_stays_quiet_until_resumed_passes() -> None:
    h = (paused_m1().consumed("m1", 1, range(3, 6)).resumed("m1", 0)
         .consumed("m1", 0, range(3, 6)))
    assert check_pause_honored(h.build()) == []
    [result] = run_checks(h.build(), only=["pause-honored"])
    assert result.verdict == Verdict.PASS


def test_records_in_hand_at_the_pause_may_still_be_processed() -> None:
    h = (H().scenario().produce(0, range(6)).assigned("m1", 0).polled("m1", 0, range(6))
         .processed("m1", 0, range(3)).paused("m1", 0).processed("m1", 0, range(3, 6)))
    assert check_pause_honored(h.build()) == []


def test_a_poll_that_returns_a_paused_partition_fails() -> None:
    h = (paused_m1().polled("m1", 0, 3, 4).as_("first").polled("m1", 1, 3)
         .polled("m1", 0, 5).as_("second").resumed("m1", 0))
    [v] = check_pause_honored(h.build())
    assert (v.check, v.anomaly, v.section) == ("pause-honored", "paused-partition-delivered",
                                               "S7")
    assert v.evidence == [h.at["pause"], h.at["first"], h.at["second"]]
    assert v.details["offsets"] == [3, 4, 5] and v.details["polls"] == 2
    assert v.details["member"] == "m1" and v.details["partition"] == 0
    assert "m1 paused t-0" in v.message
    [result] = run_checks(h.build(), only=["pause-honored"])
    assert result.verdict == Verdict.FAIL


def test_a_pause_that_is_never_resumed_is_judged_to_the_end() -> None:
    h = paused_m1().polled("m1", 0, 3).closed("m1")
    [v] = check_pause_honored(h.build())
    assert v.details["offsets"] == [3]


def test_a_rebalance_ends_the_pause() -> None:
    """The pause does not outlive the assignment: a partition given back is fetched again."""
    for end in ("revoked", "lost"):
        h = paused_m1()
        getattr(h, end)("m1", 0, 1)
        h.assigned("m1", 0, 1).consumed("m1", 0, range(3, 6))
        assert check_pause_honored(h.build()) == [], end
    cooperative = paused_m1().assigned("m1", 0).consumed("m1", 0, range(3, 6))
    assert check_pause_honored(cooperative.build()) == []
    left = paused_m1().unsubscribed("m1").assigned("m1", 0).consumed("m1", 0, range(3, 6))
    assert check_pause_honored(left.build()) == []


def test_pausing_twice_or_another_members_pause_changes_nothing() -> None:
    twice = paused_m1().paused("m1", 0).polled("m1", 0, 3)
    [v] = check_pause_honored(twice.build())
    assert v.details["paused"] == twice.at["pause"]
    other = paused_m1().revoked("m1", 0).assigned("m2", 0).consumed("m2", 0, range(3, 6))
    assert check_pause_honored(other.build()) == []


def test_one_violation_per_pause() -> None:
    h = (paused_m1().polled("m1", 0, 3).resumed("m1", 0).paused("m1", 0)
         .polled("m1", 0, 4))
    first, second = check_pause_honored(h.build())
    assert first.details["offsets"] == [3] and second.details["offsets"] == [4]


def test_spring_kafkas_one_poll_in_flight_is_a_hazard_and_more_fail() -> None:
    """spring-kafka's container applies pausePartition() before its next poll (seen in CI:
    one poll returned 8 records 1.26 s after the pause); other clients pause at once."""
    def run(adapter: str, polls: int) -> Verdict:
        h = (H().scenario(partitions=2).produce(0, range(8)).started("m1")
             .add("ready", "m1", adapter=adapter, capabilities={})
             .assigned("m1", 0, 1).consumed("m1", 0, range(2)).paused("m1", 0))
        for n in range(polls):
            h.polled("m1", 0, 2 + n)
        [result] = run_checks(h.resumed("m1", 0).build(), only=["pause-honored"])
        return result.verdict

    assert run("spring-kafka", 1) == Verdict.HAZARD
    assert run("spring-kafka", 2) == Verdict.FAIL
    assert run("java", 1) == Verdict.FAIL
