"""zombie-fencing (S8, S5): a member frozen past its session timeout is fenced when thawed."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.ownership import check_exclusive_ownership
from conformance.checkers.zombies import check_zombie_fencing
from conformance.verdicts import Verdict


def frozen_m1() -> H:
    """m1 owns 0 and is frozen; the group moves on: m2 gets 0; m1 is thawed."""
    return (H().scenario(reset="earliest", heartbeat_interval_ms=500).produce(0, range(10))
            .started("m1").started("m2").assigned("m1", 0).consumed("m1", 0, range(3))
            .committed("m1", {0: 3}).frozen("m1").as_("freeze")
            .assigned("m2", 0).as_("taken").consumed("m2", 0, range(3, 6))
            .committed("m2", {0: 6}).thawed("m1").as_("thaw"))


def test_a_fenced_zombie_passes() -> None:
    """Its commit fails, it sees the partition lost, rejoins and gets nothing back."""
    h = (frozen_m1().commit_requested("m1", None, "batch")
         .committed("m1", {0: 3}, mode="batch", ok=False, error="commit-failed")
         .lost("m1", 0).assigned("m1").consumed("m2", 0, range(6, 10)))
    assert check_zombie_fencing(h.build()) == []
    results = {r.check: r.verdict for r in run_checks(h.build())}
    assert results["zombie-fencing"] == Verdict.PASS
    assert results["exclusive-ownership"] == Verdict.PASS


def test_a_zombie_may_finish_records_in_hand_and_get_the_partition_back() -> None:
    h = (H().scenario().produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).polled("m1", 0, range(3))
         .processed("m1", 0, 0).frozen("m1").assigned("m2", 0).consumed("m2", 0, range(5))
         .committed("m2", {0: 5}).thawed("m1").processed("m1", 0, 1, 2)
         .lost("m1", 0).revoked("m2", 0).assigned("m1", 0).consumed("m1", 0, range(5, 10))
         .committed("m1", {0: 10}))
    assert check_zombie_fencing(h.build()) == []
    assert check_exclusive_ownership(h.build()) == []


def test_a_commit_accepted_after_the_thaw_fails() -> None:
    h = (frozen_m1().processed("m1", 0, 3, 4).commit_requested("m1", None, "batch")
         .committed("m1", {0: 5}, mode="batch").as_("ack"))
    [v] = check_zombie_fencing(h.build())
    assert (v.anomaly, v.section) == ("zombie-commit-accepted", "S5")
    assert v.evidence == [h.at["freeze"], h.at["taken"], h.at["thaw"], h.at["ack"]]
    assert v.details["member"] == "m1" and v.details["owner"] == "m2"
    assert v.details["offsets"] == [5] and v.details["isolated_seconds"] == 5.0
    assert v.details["fault"] == "frozen" and "after it had been frozen for 5 s" in v.message
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.FAIL


def test_a_poll_after_the_thaw_of_a_taken_partition_fails() -> None:
    h = frozen_m1().polled("m1", 0, range(3, 8)).as_("read").processed("m1", 0, range(3, 8))
    [v] = [v for v in check_zombie_fencing(h.build()) if v.anomaly == "zombie-read"]
    assert v.section == "S8"
    assert v.evidence == [h.at["freeze"], h.at["taken"], h.at["thaw"], h.at["read"]]
    assert v.details["offsets"] == [3, 4, 5, 6, 7] and v.details["count"] == 5
    assert v.details["events"] == [h.at["read"]]


def test_reads_after_the_zombie_saw_the_partition_lost_are_not_zombie_reads() -> None:
    h = frozen_m1().lost("m1", 0).polled("m1", 0, range(3, 5))
    assert check_zombie_fencing(h.build()) == []


def test_a_late_answer_to_a_commit_requested_before_the_freeze_passes() -> None:
    h = (H().scenario().produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).consumed("m1", 0, range(3))
         .commit_requested("m1", {0: 3}, "async").frozen("m1")
         .assigned("m2", 0).consumed("m2", 0, range(3, 6)).thawed("m1")
         .committed("m1", {0: 3}, mode="async").lost("m1", 0))
    assert check_zombie_fencing(h.build()) == []


def test_an_auto_commit_at_the_position_before_the_freeze_may_be_a_late_answer() -> None:
    h = frozen_m1().committed("m1", {0: 3}, mode="auto")
    assert check_zombie_fencing(h.build()) == []
    h.committed("m1", {0: 4}, mode="auto").as_("ack")
    [v] = check_zombie_fencing(h.build())
    assert v.anomaly == "zombie-commit-accepted" and v.evidence[-1] == h.at["ack"]


def test_an_event_written_before_sigstop_but_recorded_after_it_is_not_after_the_thaw() -> None:
    h = (H().scenario().produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).frozen("m1")
         .polled("m1", 0, range(3)).backdated(1.0)
         .assigned("m2", 0).thawed("m1").lost("m1", 0))
    assert check_zombie_fencing(h.build()) == []


def test_a_member_that_was_never_thawed_or_never_owned_the_partition_is_not_judged() -> None:
    never_thawed = (H().scenario().produce(0, range(5)).started("m1").started("m2")
                    .assigned("m1", 0).frozen("m1").assigned("m2", 0).killed("m1"))
    assert check_zombie_fencing(never_thawed.build()) == []
    other = (H().scenario(partitions=2).produce(0, range(5)).started("m1").started("m2")
             .assigned("m1", 1).frozen("m1").assigned("m2", 0).thawed("m1")
             .polled("m1", 0, range(2)))
    assert check_zombie_fencing(other.build()) == []


def test_a_zombie_that_keeps_processing_is_left_to_zombie_fencing() -> None:
    """exclusive-ownership does not judge a thawed member before it hears of the group."""
    h = frozen_m1().consumed("m1", 0, range(3, 6))
    results = {r.check: r for r in run_checks(h.build())}
    assert results["zombie-fencing"].verdict == Verdict.FAIL
    assert [v.anomaly for v in results["zombie-fencing"].violations] == ["zombie-read"]
    assert results["exclusive-ownership"].verdict == Verdict.PASS


def test_an_owner_assigned_again_after_the_freeze_takes_the_partition() -> None:
    """The other member's span began before the freeze (its revoke was never reported), but
    it was assigned the partition again after the freeze: the zombie's read counts."""
    h = (H().scenario().produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).assigned("m2", 0)
         .frozen("m1").as_("freeze").assigned("m2", 0).as_("again").thawed("m1")
         .polled("m1", 0, range(3)).as_("read"))
    [v] = check_zombie_fencing(h.build())
    assert v.anomaly == "zombie-read" and h.at["again"] in v.evidence
    stale = (H().scenario().produce(0, range(10))
             .started("m1").started("m2").assigned("m1", 0).assigned("m2", 0)
             .frozen("m1").thawed("m1").polled("m1", 0, range(3)))
    assert check_zombie_fencing(stale.build()) == []


# -- network faults: a member cut off, black-holed or slowed is judged like a thawed one --------
def isolated_m1(kind: str = "cut", delay_ms: int = 0) -> H:
    """m1 owns 0 with records in hand; a network fault isolates it past its session while it
    goes on processing them; the group moves on: m2 gets 0; the network is healed."""
    return (H().scenario(reset="earliest").produce(0, range(12))
            .started("m1").started("m2").assigned("m1", 0).polled("m1", 0, range(6))
            .processed("m1", 0, 0, 1).committed("m1", {0: 2})
            .network_fault("m1", kind, delay_ms=delay_ms).as_("fault")
            .processed("m1", 0, 2, 3).commit_requested("m1", None, "batch")
            .assigned("m2", 0).as_("taken").consumed("m2", 0, range(2, 8))
            .committed("m2", {0: 8}).network_healed("m1").as_("heal"))


def test_a_fenced_network_isolated_member_passes() -> None:
    """It finishes what it had in hand, its commits fail, it hears the partition is lost."""
    h = (isolated_m1().committed("m1", {0: 4}, mode="batch", ok=False, error="fenced")
         .processed("m1", 0, 4, 5).lost("m1", 0).assigned("m1")
         .consumed("m2", 0, range(8, 12)).committed("m2", {0: 12}))
    assert check_zombie_fencing(h.build()) == []
    results = {r.check: r.verdict for r in run_checks(h.build())}
    assert results["zombie-fencing"] == Verdict.PASS
    assert results["exclusive-ownership"] == Verdict.PASS


def test_a_late_answer_to_a_commit_requested_while_isolated_passes() -> None:
    """Requested during the fault (a slowed member's request may reach the broker before it
    removes the member), acknowledged after the heal: a late answer, not judged."""
    h = isolated_m1("delay", 2500).committed("m1", {0: 4}, mode="batch").lost("m1", 0)
    assert check_zombie_fencing(h.build()) == []


def test_a_poll_after_the_heal_of_a_taken_partition_fails() -> None:
    h = isolated_m1("cut").polled("m1", 0, range(6, 9)).as_("read")
    [v] = check_zombie_fencing(h.build())
    assert (v.anomaly, v.section) == ("zombie-read", "S8")
    assert v.evidence == [h.at["fault"], h.at["taken"], h.at["heal"], h.at["read"]]
    assert v.details["fault"] == "cut" and v.details["offsets"] == [6, 7, 8]
    assert v.details["member"] == "m1" and v.details["owner"] == "m2"
    assert "after it had been cut off" in v.message
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.FAIL


def test_a_commit_accepted_after_the_heal_fails() -> None:
    h = (isolated_m1("drop").processed("m1", 0, 4, 5).commit_requested("m1", None, "batch")
         .committed("m1", {0: 6}, mode="batch").as_("ack"))
    [v] = check_zombie_fencing(h.build())
    assert (v.anomaly, v.section) == ("zombie-commit-accepted", "S5")
    assert v.evidence == [h.at["fault"], h.at["taken"], h.at["heal"], h.at["ack"]]
    assert v.details["fault"] == "drop" and v.details["offsets"] == [6]
    assert "black-holed" in v.message and "not fenced" in v.message


def test_a_slowed_member_says_so() -> None:
    h = isolated_m1("delay", 2500).polled("m1", 0, 6)
    [v] = check_zombie_fencing(h.build())
    assert v.details["fault"] == "delay" and v.details["delay_ms"] == 2500
    assert "slowed" in v.message


def test_what_an_isolated_member_emitted_before_the_heal_is_not_judged() -> None:
    """Polls while cut off return what it had buffered; an event emitted before the heal but
    recorded after it is still before it; an auto commit up to the position reached before
    the heal may be a late answer."""
    h = (H().scenario().produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).network_fault("m1", "drop")
         .polled("m1", 0, range(3)).assigned("m2", 0).polled("m1", 0, range(3, 5))
         .network_healed("m1").polled("m1", 0, 5).backdated(1.0)
         .committed("m1", {0: 6}, mode="auto").revoked("m1", 0))
    assert check_zombie_fencing(h.build()) == []


def test_a_member_assigned_the_partition_again_while_isolated_is_not_a_zombie() -> None:
    """Slowed, it was removed and m2 got the partition; it rejoined and got it back before the
    heal (m2's revoke is reported late): its reads after the heal are its own."""
    h = (H().scenario().produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).network_fault("m1", "delay")
         .assigned("m2", 0).lost("m1", 0).assigned("m1", 0)
         .network_healed("m1").polled("m1", 0, range(3)).revoked("m2", 0))
    assert check_zombie_fencing(h.build()) == []


def test_a_network_fault_that_never_healed_is_not_judged() -> None:
    h = (H().scenario().produce(0, range(10)).started("m1").started("m2")
         .assigned("m1", 0).network_fault("m1", "cut").assigned("m2", 0)
         .polled("m1", 0, range(3)).killed("m1"))
    assert check_zombie_fencing(h.build()) == []


def test_a_read_of_a_partition_handed_away_is_a_zombie_read_even_mid_rebalance() -> None:
    """The new owner already gave the partition up again (the rebalance the zombie's return
    causes) when the zombie reads it without having heard: still a zombie read."""
    h = (H().scenario().produce(0, range(20))
         .assigned("m1", 0).consumed("m1", 0, range(5))
         .add("member_frozen", member="m1")
         .assigned("m2", 0).consumed("m2", 0, range(5, 10))
         .add("member_thawed", member="m1", frozen_seconds=3.0)
         .revoked("m2", 0)
         .polled("m1", 0, range(5, 10)))
    [v] = check_zombie_fencing(h.build())
    assert v.anomaly == "zombie-read" and v.details["owner"] == "m2"


def test_an_async_commit_requested_before_the_freeze_and_answered_late_is_not_a_zombie_commit(
) -> None:
    """franz-go sends async commits one at a time: the answer to a commit requested before the
    freeze arrives after the thaw, after the zombie's next request (whose commit fails)."""
    h = (H().scenario(reset="earliest").produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).consumed("m1", 0, range(3))
         .commit_requested("m1", {0: 3}, "async").frozen("m1")
         .assigned("m2", 0).consumed("m2", 0, range(3, 6)).committed("m2", {0: 6})
         .thawed("m1").processed("m1", 0, 3).commit_requested("m1", {0: 4}, "async")
         .committed("m1", {0: 3}, mode="async")
         .committed("m1", {0: 4}, mode="async", ok=False, error="commit-failed")
         .lost("m1", 0))
    assert check_zombie_fencing(h.build()) == []
    # the same answer to the request made after the thaw is a zombie commit
    late = (H().scenario(reset="earliest").produce(0, range(10))
            .started("m1").started("m2").assigned("m1", 0).consumed("m1", 0, range(3))
            .frozen("m1").assigned("m2", 0).consumed("m2", 0, range(3, 6))
            .committed("m2", {0: 6}).thawed("m1").processed("m1", 0, 3)
            .commit_requested("m1", {0: 4}, "async").committed("m1", {0: 4}, mode="async"))
    [v] = check_zombie_fencing(late.build())
    assert v.anomaly == "zombie-commit-accepted"


def test_one_stale_batch_then_the_loss_heard_at_the_next_poll_is_a_hazard() -> None:
    """The Java client's way: the first poll after the thaw returns records fetched before it
    knows it was removed; its commits fail and the next poll reports the partition lost."""
    h = (frozen_m1().polled("m1", 0, range(6, 8)).as_("read").processed("m1", 0, 6, 7)
         .committed("m1", {0: 8}, mode="record", ok=False, error="commit-failed")
         .lost("m1", 0).as_("heard"))
    [v] = check_zombie_fencing(h.build())
    assert v.anomaly == "zombie-read"
    assert (v.details["polls"], v.details["heard"]) == (1, h.at["heard"])
    assert h.at["heard"] in v.evidence
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.HAZARD, result.note


def test_a_zombie_that_polls_the_partition_twice_before_hearing_of_the_loss_fails() -> None:
    """Two heartbeat intervals after its return (2 x 500 ms here), it must have heard."""
    h = (frozen_m1().polled("m1", 0, range(6, 8)).waited(1.1).polled("m1", 0, range(8, 10))
         .lost("m1", 0))
    [v] = check_zombie_fencing(h.build())
    assert v.details["polls"] == 2 and v.details["last_seconds_after_end"] > 1.0
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.FAIL and "2 polls" in result.note
    assert "two heartbeat intervals" in result.note


def test_polls_before_the_first_heartbeat_after_the_return_is_answered_are_a_hazard() -> None:
    """Seed 12 (java, consumer protocol): the thawed member's first poll returned what it had
    buffered, its second (200 ms later) what it fetched after the thaw; its heartbeat's answer
    (fenced) reached the application 356 ms after the thaw, as onPartitionsLost. Fetches are
    not fenced by the group: within two heartbeat intervals that is Kafka's behaviour."""
    h = (frozen_m1().polled("m1", 0, range(6, 8)).waited(0.2).polled("m1", 0, range(8, 10))
         .waited(0.15).lost("m1", 0))
    [v] = check_zombie_fencing(h.build())
    assert v.details["polls"] == 2 and v.details["last_seconds_after_end"] < 1.0
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.HAZARD, result.note


def test_a_zombie_that_hears_of_the_loss_only_when_it_closes_fails() -> None:
    """The revoke of its own close is not hearing that the group moved on."""
    h = frozen_m1().polled("m1", 0, range(6, 8)).revoked("m1", 0).closed("m1")
    [v] = check_zombie_fencing(h.build())
    assert v.details["heard"] is None
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.FAIL and "never heard" in result.note


def test_late_answers_to_commits_without_offsets_requested_before_the_freeze_pass() -> None:
    """Soak seed 37 (confluent-kafka 2.16.2, classic, the ``stored`` consume path): m2 asked
    for async commits of its stored offsets (``offsets`` null, ``tracked`` 1 and 2) just before
    the SIGSTOP; the broker applied them (m1, given the partition 2.6 s later, began at 2);
    librdkafka reported both answers only after the thaw, after m2's new requests (answered
    UNKNOWN_MEMBER_ID). Each answer carries the offsets its request tracked: a late answer."""
    h = (H().scenario(reset="earliest", heartbeat_interval_ms=500).produce(0, range(10))
         .started("m1").started("m2").assigned("m2", 0).polled("m2", 0, range(7))
         .processed("m2", 0, 0).commit_requested("m2", None, "record", tracked={0: 1})
         .processed("m2", 0, 1).commit_requested("m2", None, "record", tracked={0: 2})
         .frozen("m2").as_("freeze").assigned("m1", 0).consumed("m1", 0, range(2, 7))
         .committed("m1", {0: 7}, mode="record").thawed("m2", 6.558).as_("thaw")
         .processed("m2", 0, 2).commit_requested("m2", None, "record", tracked={0: 3})
         .processed("m2", 0, 3).commit_requested("m2", None, "record", tracked={0: 4})
         .committed("m2", {0: 1}, mode="record").committed("m2", {0: 2}, mode="record")
         .lost("m2", 0)
         .committed("m2", {0: 3}, mode="record", ok=False, error="commit-failed")
         .committed("m2", {0: 4}, mode="record", ok=False, error="commit-failed"))
    assert check_zombie_fencing(h.build()) == []
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.PASS


def test_an_accepted_commit_without_offsets_requested_after_the_thaw_still_fails() -> None:
    """The answer carries the offsets tracked at a request made after the thaw (the request
    still pending from before the freeze tracked others): a zombie's commit, accepted."""
    h = (H().scenario(reset="earliest").produce(0, range(10))
         .started("m1").started("m2").assigned("m2", 0).polled("m2", 0, range(7))
         .processed("m2", 0, 0).commit_requested("m2", None, "record", tracked={0: 1})
         .frozen("m2").as_("freeze").assigned("m1", 0).as_("taken")
         .consumed("m1", 0, range(1, 7)).thawed("m2").as_("thaw")
         .processed("m2", 0, 1, 2).commit_requested("m2", None, "record", tracked={0: 3})
         .committed("m2", {0: 3}, mode="record").as_("ack"))
    [v] = check_zombie_fencing(h.build())
    assert v.anomaly == "zombie-commit-accepted" and v.details["offsets"] == [3]
    assert v.evidence == [h.at["freeze"], h.at["taken"], h.at["thaw"], h.at["ack"]]
    [result] = run_checks(h.build(), only=["zombie-fencing"])
    assert result.verdict == Verdict.FAIL
