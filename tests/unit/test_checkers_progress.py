"""progress (S8, liveness): a member that owns a partition with records to read reads them."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.outages import BROKER_GRACE
from conformance.checkers.progress import MIN_BOUND, check_progress
from conformance.verdicts import Verdict


def reading_m1() -> H:
    """m1 owns 0, reads 0..2; records 3..5 arrive."""
    return (H().scenario(heartbeat_interval_ms=500).produce(0, range(3)).started("m1")
            .assigned("m1", 0).as_("assigned").polled("m1", 0, range(3)).as_("read")
            .processed("m1", 0, range(3))
            .produce(0, range(3, 6)).as_("more"))


def test_a_member_that_reads_what_arrives_passes() -> None:
    h = reading_m1().waited(1.0).consumed("m1", 0, range(3, 6)).waited(MIN_BOUND + 1)
    assert check_progress(h.build()) == []
    [result] = run_checks(h.add("teardown").build(), only=["progress"])
    assert result.verdict == Verdict.PASS


def test_records_that_wait_past_the_bound_for_a_polling_owner_fail() -> None:
    h = reading_m1().waited(MIN_BOUND + 2).produce(0, 6).as_("late").add("teardown")
    [v] = check_progress(h.build())
    assert (v.check, v.anomaly, v.section) == ("progress", "owned-partition-stalled", "S8")
    # the last: the first event once the bound ran out (the step it falls in keeps a shrunk
    # program long enough to stall)
    assert v.evidence == [h.at["assigned"], h.at["read"], h.at["more"], h.at["late"]]
    assert v.details["position"] == 3 and v.details["waiting"] == 3
    assert v.details["seconds"] > MIN_BOUND and v.details["bound_seconds"] == MIN_BOUND
    [result] = run_checks(h.build(), only=["progress"])
    assert result.verdict == Verdict.FAIL


def test_only_time_the_member_could_read_counts() -> None:
    """Paused, frozen, cut off, a broker down: the wait restarts after it, plus the bound."""
    paused = (reading_m1().paused("m1", 0).waited(MIN_BOUND + 2).resumed("m1", 0)
              .waited(1.0).consumed("m1", 0, range(3, 6)).add("teardown"))
    assert check_progress(paused.build()) == []
    frozen = (reading_m1().frozen("m1").waited(MIN_BOUND + 2).thawed("m1").waited(MIN_BOUND)
              .consumed("m1", 0, range(3, 6)).add("teardown"))
    assert check_progress(frozen.build()) == []
    broker = (reading_m1().add("broker_stopped", node=1).waited(MIN_BOUND + 2)
              .add("broker_started", node=1).waited(MIN_BOUND).add("teardown"))
    assert check_progress(broker.build()) == []
    # another member frozen: the group may be rebalancing, waiting on it
    other = (reading_m1().frozen("m2").waited(MIN_BOUND + 2).thawed("m2").waited(MIN_BOUND)
             .consumed("m1", 0, range(3, 6)).add("teardown"))
    assert check_progress(other.build()) == []
    never = reading_m1().paused("m1", 0).waited(3 * MIN_BOUND).add("teardown")
    assert check_progress(never.build()) == []


def test_a_broker_fault_grants_the_clients_reconnect_backoff_too() -> None:
    """After a node restart or a moved leader a client reconnects and refreshes its metadata on
    its own backoff (librdkafka's reaches 10 s): the bound plus that grace, then a stall."""
    for fault in (("broker_stopped", "broker_started"), ("leader_moved", None)):
        h = reading_m1().add(fault[0], node=1)
        if fault[1]:
            h = h.waited(1.0).add(fault[1], node=1)
        slow = h.waited(MIN_BOUND + BROKER_GRACE - 1).consumed("m1", 0, range(3, 6))
        assert check_progress(slow.add("teardown").build()) == [], fault
        h = reading_m1().add(fault[0], node=1)
        if fault[1]:
            h = h.waited(1.0).add(fault[1], node=1)
        never = h.waited(2 * MIN_BOUND + BROKER_GRACE + 2).add("teardown")
        [v] = check_progress(never.build())
        assert v.anomaly == "owned-partition-stalled", fault


def test_the_span_and_the_example_bound_the_wait() -> None:
    """A partition revoked, or the example's teardown, ends what the member owes."""
    revoked = reading_m1().waited(1.0).revoked("m1", 0).waited(2 * MIN_BOUND).add("teardown")
    assert check_progress(revoked.build()) == []
    torn = reading_m1().waited(1.0).add("teardown").waited(2 * MIN_BOUND)
    assert check_progress(torn.build()) == []


def test_a_new_owner_that_never_reads_from_the_committed_offset_fails() -> None:
    """No read in the span: the committed offset (or the earliest reset) is its position."""
    h = (H().scenario(heartbeat_interval_ms=500).produce(0, range(6)).started("m1")
         .assigned("m1", 0).consumed("m1", 0, range(3)).committed("m1", {0: 3})
         .revoked("m1", 0).assigned("m2", 0).as_("taken").waited(MIN_BOUND + 2)
         .add("teardown"))
    [v] = check_progress(h.build())
    assert v.details["member"] == "m2" and v.details["position"] == 3
    latest = (H().scenario(reset="latest", heartbeat_interval_ms=500).produce(0, range(6))
              .started("m1").assigned("m1", 0).waited(MIN_BOUND + 2).add("teardown"))
    assert check_progress(latest.build()) == []  # where the reset put it is unknown


def test_a_pause_holds_until_resumed_also_across_a_new_assignment() -> None:
    """librdkafka keeps a partition paused when the member loses it and is assigned it again
    (seen in a soak: confluent-kafka, consumer protocol, a cut member); the Java client
    forgets the pause. Neither stalls until the member resumes it; then the bound counts."""
    kept = (reading_m1().paused("m1", 0).waited(1.0).lost("m1", 0).assigned("m1", 0)
            .waited(3 * MIN_BOUND).add("teardown"))
    assert check_progress(kept.build()) == []
    resumed = (reading_m1().paused("m1", 0).waited(1.0).lost("m1", 0).assigned("m1", 0)
               .waited(1.0).resumed("m1", 0).waited(2 * MIN_BOUND + 2).add("teardown"))
    [v] = check_progress(resumed.build())
    assert v.anomaly == "owned-partition-stalled" and v.details["member"] == "m1"
