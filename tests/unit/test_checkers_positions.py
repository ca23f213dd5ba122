"""start-position (S1, S2): a member that gains a partition resumes at the committed offset."""

from histories import H

from conformance.checkers.positions import check_start_position


def handover(first: int, committed: int = 5) -> H:
    """m1 processes 0..4 and commits ``committed``; m2 then reads from ``first``."""
    return (H().scenario().produce(0, range(10))
            .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: committed})
            .as_("commit").killed("m1")
            .assigned("m2", 0).as_("m2").polled("m2", 0, range(first, 10)).as_("poll")
            .processed("m2", 0, range(first, 10)))


def test_resuming_at_the_committed_offset_passes() -> None:
    assert check_start_position(handover(5).build()) == []


def test_starting_after_the_committed_offset_skips_records() -> None:
    h = handover(7)
    [v] = check_start_position(h.build())
    assert v.anomaly == "start-after-committed" and v.section == "S1"
    assert v.evidence == [h.at["commit"], h.at["m2"], h.at["poll"]]
    assert v.details["first"] == 7 and v.details["expected"] == 5
    assert v.details["offsets"] == [5, 6] and v.details["committed"] == 5


def test_starting_before_the_committed_offset_rereads_records() -> None:
    h = handover(3)
    [v] = check_start_position(h.build())
    assert v.anomaly == "start-before-committed"
    assert v.details["first"] == 3 and v.details["expected"] == 5
    assert v.details["offsets"] == [3, 4]


def test_commit_of_a_later_member_overrides_an_earlier_one() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}).killed("m1")
         .assigned("m2", 0).consumed("m2", 0, range(5, 8)).committed("m2", {0: 8})
         .revoked("m2", 0).assigned("m3", 0).consumed("m3", 0, 8, 9))
    assert check_start_position(h.build()) == []


def async_race(first_read_after_ack: bool, first: int) -> H:
    """m1 commits 3, then 5 asynchronously; the ack of 5 arrives after m2's assignment."""
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(3)).committed("m1", {0: 3})
         .consumed("m1", 0, 3, 4).commit_requested("m1", {0: 5}, "async")
         .revoked("m1", 0).assigned("m2", 0).as_("m2"))
    if first_read_after_ack:
        h.committed("m1", {0: 5}, mode="async").as_("ack")
    h.polled("m2", 0, range(first, 10)).as_("poll")
    if not first_read_after_ack:
        h.committed("m1", {0: 5}, mode="async").as_("ack")
    return h


def test_async_commit_acknowledged_during_the_handover_is_accepted() -> None:
    assert check_start_position(async_race(True, 5).build()) == []


def test_committed_offset_at_assignment_stays_accepted_during_the_race() -> None:
    assert check_start_position(async_race(True, 3).build()) == []


def test_commit_in_flight_at_the_assignment_is_accepted_even_if_acknowledged_later() -> None:
    """The broker may apply a commit any time between its request and the ack (a member that
    was frozen, a slow callback): starting there is no skip; an offset no commit had is."""
    assert check_start_position(async_race(False, 5).build()) == []
    h = async_race(False, 6)
    [v] = check_start_position(h.build())
    assert v.anomaly == "start-after-committed" and v.details["accepted"] == [3, 5]
    assert v.details["offsets"] == [5]


def test_earliest_without_commit_starts_at_the_lowest_produced_offset() -> None:
    ok = H().scenario(reset="earliest").produce(0, range(4)).assigned("m1", 0).polled("m1", 0, 0)
    bad = (H().scenario(reset="earliest").produce(0, range(4)).assigned("m1", 0).as_("a")
           .polled("m1", 0, 2, 3).as_("poll"))
    assert check_start_position(ok.build()) == []
    [v] = check_start_position(bad.build())
    assert v.anomaly == "start-after-committed" and v.section == "S2"
    assert v.evidence == [bad.at["a"], bad.at["poll"]] and v.details["offsets"] == [0, 1]


def test_latest_without_commit_starts_at_or_after_the_log_end() -> None:
    def run(first: int) -> H:
        return (H().scenario(reset="latest").produce(0, range(5))
                .assigned("m1", 0).as_("a").produce(0, range(5, 8))
                .polled("m1", 0, range(first, 8)).as_("poll"))

    assert check_start_position(run(5).build()) == []
    assert check_start_position(run(6).build()) == []  # produced after the assignment
    h = run(3)
    [v] = check_start_position(h.build())
    assert v.anomaly == "start-before-committed" and v.details["expected"] == 5
    assert v.evidence == [h.at["a"], h.at["poll"]]


def test_reset_none_without_commit_must_not_read() -> None:
    h = H().scenario(reset="none").produce(0, range(2)).assigned("m1", 0).polled("m1", 0, 0, 1)
    [v] = check_start_position(h.build())
    assert v.anomaly == "start-without-committed" and v.section == "S2"


def test_offsets_never_produced_cannot_be_skipped() -> None:
    h = (H().scenario().produce(0, range(5)).produce(0, 7, 8)
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}).killed("m1")
         .assigned("m2", 0).polled("m2", 0, 7, 8))
    assert check_start_position(h.build()) == []


def test_span_starting_with_a_seek_is_exempt() -> None:
    h = handover(8)
    h2 = (H().scenario().produce(0, range(10))
          .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}).killed("m1")
          .assigned("m2", 0).seeked("m2", 0, 8).polled("m2", 0, 8, 9))
    assert [v.anomaly for v in check_start_position(h.build())] == ["start-after-committed"]
    assert check_start_position(h2.build()) == []


def test_manual_assignment_and_spans_without_reads_are_not_checked() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}).killed("m1")
         .assigned("m2", 0).killed("m2")
         .assigned("m3", 0, manual=True).polled("m3", 0, 8, 9))
    assert check_start_position(h.build()) == []


def test_reads_after_the_span_ended_do_not_count() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5})
         .revoked("m1", 0).polled("m1", 0, 7))
    assert check_start_position(h.build()) == []


def in_flight(first: int) -> H:
    """m1 commits 3, then requests 8 and is killed before the outcome arrives; m2 reads from
    ``first``: the in-flight commit may or may not have landed."""
    return (H().scenario().produce(0, range(10))
            .assigned("m1", 0).consumed("m1", 0, range(8)).committed("m1", {0: 3})
            .commit_requested("m1", {0: 8}).killed("m1")
            .assigned("m2", 0).polled("m2", 0, range(first, 10))
            .processed("m2", 0, range(first, 10)))


def test_a_killed_members_unreported_commit_may_have_landed() -> None:
    assert check_start_position(in_flight(8).build()) == []  # it landed
    assert check_start_position(in_flight(3).build()) == []  # it did not


def test_a_killed_members_commit_without_offsets_may_have_landed_what_it_tracked() -> None:
    """commit() without offsets cut short by the kill: it may have written what the worker
    said the client tracked (8); without that, a start at 8 is a skip."""
    def run(first: int, tracked: dict[int, int] | None) -> H:
        return (H().scenario().produce(0, range(10))
                .assigned("m1", 0).consumed("m1", 0, range(8)).committed("m1", {0: 3})
                .commit_requested("m1", None, tracked=tracked).killed("m1")
                .assigned("m2", 0).polled("m2", 0, range(first, 10))
                .processed("m2", 0, range(first, 10)))

    assert check_start_position(run(8, {0: 8}).build()) == []
    assert check_start_position(run(3, {0: 8}).build()) == []
    [v] = check_start_position(run(8, None).build())
    assert v.anomaly == "start-after-committed"
    [v] = check_start_position(run(9, {0: 8}).build())
    assert v.anomaly == "start-after-committed"


def test_an_auto_commit_a_killed_member_may_have_written_unreported_is_a_possible_start() -> None:
    """Auto commit on: the client commits its position in the background and reports it
    later (librdkafka at the next poll), so a SIGKILL may fall in between. Triage seed 11
    (confluent-kafka): m1 polled 0..12, was killed, and the next member started at 13."""
    def run(first: int, auto: bool = True, acked: int | None = None) -> H:
        h = (H().scenario(auto_commit=auto, strategy="auto" if auto else "BATCH")
             .produce(0, range(15)).assigned("m1", 0).consumed("m1", 0, range(5))
             .consumed("m1", 0, range(5, 13)))
        if acked is not None:
            h.committed("m1", {0: acked}, mode="auto")
        return (h.killed("m1").assigned("m2", 0).polled("m2", 0, range(first, 15))
                .processed("m2", 0, range(first, 15)))

    assert check_start_position(run(13).build()) == []  # the position after its last poll
    assert check_start_position(run(5).build()) == []   # after its first
    assert check_start_position(run(0).build()) == []   # or nothing landed: the reset
    [v] = check_start_position(run(14).build())          # never a position of m1
    assert v.anomaly == "start-after-committed"
    [v] = check_start_position(run(13, auto=False).build())  # no auto commit: no such commit
    assert v.anomaly == "start-after-committed"
    # a reported auto commit of 13 settles it; nothing polled after it is left unreported
    [v] = check_start_position(run(5, acked=13).build())
    assert v.anomaly == "start-before-committed"


def test_beyond_every_possible_committed_offset_still_fails() -> None:
    [v] = check_start_position(in_flight(9).build())
    assert v.anomaly == "start-after-committed" and v.details["offsets"] == [8]


def test_a_failed_commit_may_have_landed_until_a_later_commit_succeeds() -> None:
    """A commit reported failed may still have been applied (the client retried after a lost
    response and reports the retry's error; seen on both clients across a broker restart), so
    starting at it is no skip; once a later commit succeeded it is history."""
    def run(first: int, later_ok: bool = False) -> H:
        h = (H().scenario().produce(0, range(10))
             .assigned("m1", 0).consumed("m1", 0, range(8)).committed("m1", {0: 3})
             .commit_requested("m1", {0: 8}).committed("m1", {0: 8}, ok=False))
        if later_ok:
            h.commit_requested("m1", {0: 5}).committed("m1", {0: 5})
        return (h.killed("m1").assigned("m2", 0).polled("m2", 0, range(first, 10))
                .processed("m2", 0, range(first, 10)))

    assert check_start_position(run(8).build()) == []
    [v] = check_start_position(run(9).build())
    assert v.anomaly == "start-after-committed"
    [v] = check_start_position(run(8, later_ok=True).build())
    assert v.anomaly == "start-after-committed" and v.details["expected"] == 5


def test_a_failed_commit_sent_after_the_last_ok_one_may_have_landed_after_it() -> None:
    """kafka-clients after a freeze (java, spring-kafka): async commits of 2 and then 3 are in
    flight; 2 is answered ok, 3 fails with RetriableCommitFailedException, yet the broker
    applied 3 after 2 (it applies one member's commits in the order sent)."""
    def run(first: int, failed_sent_first: bool = False) -> H:
        h = (H().scenario().produce(0, range(10))
             .assigned("m1", 0).consumed("m1", 0, range(5)))
        if failed_sent_first:
            h.commit_requested("m1", {0: 3}, "async").commit_requested("m1", {0: 2}, "async")
        else:
            h.commit_requested("m1", {0: 2}, "async").commit_requested("m1", {0: 3}, "async")
        h.committed("m1", {0: 2}, mode="async").committed(
            "m1", {0: 3}, mode="async", ok=False, error="commit-failed: retriable")
        return (h.killed("m1").assigned("m2", 0).polled("m2", 0, range(first, 10))
                .processed("m2", 0, range(first, 10)))

    assert check_start_position(run(3).build()) == []
    assert check_start_position(run(2).build()) == []
    # sent before the commit that succeeded: that one came after it, so 2 is the offset
    [v] = check_start_position(run(3, failed_sent_first=True).build())
    assert v.anomaly == "start-after-committed" and v.details["expected"] == 2


def test_the_brokers_reported_group_offset_counts_as_committed() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(6)).commit_requested("m1", {0: 6})
         .add("group_offsets", offsets=[["t", 0, 6]]).killed("m1")
         .assigned("m2", 0).polled("m2", 0, range(6, 10)).processed("m2", 0, range(6, 10)))
    assert check_start_position(h.build()) == []


def test_an_uncertain_first_commit_that_did_not_land_leaves_the_reset_to_decide() -> None:
    h = (H().scenario(reset="earliest").produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(8)).commit_requested("m1", {0: 8})
         .killed("m1").assigned("m2", 0).polled("m2", 0, range(0, 10))
         .processed("m2", 0, range(0, 10)))
    assert check_start_position(h.build()) == []
    skipping = (H().scenario(reset="earliest").produce(0, range(10))
                .assigned("m1", 0).consumed("m1", 0, range(8)).commit_requested("m1", {0: 8})
                .killed("m1").assigned("m2", 0).polled("m2", 0, range(4, 10))
                .processed("m2", 0, range(4, 10)))
    [v] = check_start_position(skipping.build())
    assert v.anomaly == "start-before-committed"  # neither the commit nor the reset explains 4


def test_resuming_at_its_own_position_after_losing_the_partition_is_named() -> None:
    """A member that lost a partition (its commit failed) and got it back resumes where it had
    processed, not at the committed offset: named as such, not as a plain skip."""
    def run(first: int) -> H:
        return (H().scenario().produce(0, range(10))
                .assigned("m1", 0).consumed("m1", 0, range(3)).committed("m1", {0: 3})
                .consumed("m1", 0, range(3, 6)).lost("m1", 0)
                .assigned("m1", 0).polled("m1", 0, range(first, 10)))

    assert check_start_position(run(3).build()) == []
    [v] = check_start_position(run(6).build())
    assert v.anomaly == "resumed-own-position" and v.details["expected"] == 3
    [v] = check_start_position(run(7).build())  # offset 6 was never processed: a skip
    assert v.anomaly == "start-after-committed"


def test_async_acks_out_of_order_the_later_request_is_the_committed_offset() -> None:
    """kafka-python reports async commit outcomes out of order (4 before 3): the broker
    applied them in request order, so the group holds 4 and a new owner starts there."""
    def run(first: int) -> H:
        return (H().scenario().produce(0, range(10))
                .assigned("m1", 0).consumed("m1", 0, range(4))
                .commit_requested("m1", {0: 3}, "async").commit_requested("m1", {0: 4}, "async")
                .committed("m1", {0: 4}, mode="async").committed("m1", {0: 3}, mode="async")
                .killed("m1").assigned("m2", 0).polled("m2", 0, range(first, 10))
                .processed("m2", 0, range(first, 10)))

    assert check_start_position(run(4).build()) == []
    [v] = check_start_position(run(3).build())
    assert v.anomaly == "start-before-committed" and v.details["expected"] == 4


def report_before_ack(shown: int) -> H:
    """m1 committed 10, asks to commit 20; the broker's report of ``shown`` was asked for
    before the acknowledgement of 20 and recorded after it; m1 is killed and m2 reads."""
    h = (H().scenario().produce(0, range(30)).assigned("m1", 0).consumed("m1", 0, range(20))
         .commit_requested("m1", {0: 10}).committed("m1", {0: 10})
         .commit_requested("m1", {0: 20}))
    asked = h.history.events[-1].ts + 0.0005
    h.committed("m1", {0: 20})
    return h.add("group_offsets", asked=asked, offsets=[["t", 0, shown]]).killed("m1")


def test_a_lower_report_asked_before_an_acknowledgement_yields_to_it() -> None:
    """The report saw the group before the commit of 20 was applied: 20 is the later fact, and
    a start at 10 re-reads (a client that re-sent a failed commit of 10 after the newer one)."""
    h = report_before_ack(10).assigned("m2", 0).consumed("m2", 0, range(10, 30))
    [v] = check_start_position(h.build())
    assert v.anomaly == "start-before-committed" and v.details["expected"] == 20
    assert check_start_position(
        report_before_ack(10).assigned("m2", 0).consumed("m2", 0, range(20, 30)).build()) == []


def test_a_higher_report_asked_before_an_acknowledgement_stays_the_later_fact() -> None:
    """A report of 25 (a later commit's) asked before the acknowledgement of 20 arrived: the
    group is at 25, not 20 (soak seed 3, async record commits acknowledged in a burst)."""
    h = report_before_ack(25).assigned("m2", 0).consumed("m2", 0, range(25, 30))
    assert check_start_position(h.build()) == []


def report_then_failed_commit(first: int, *, failed_before_question: bool = False,
                              newer_ok_first: bool = False, resumer: str = "m1") -> H:
    """Soak seed 29 (java, both protocols): m1 committed 2, processed 2 and asked to commit 3;
    the broker's report, asked after that request, still shows 2; m1 is cut off (black hole),
    its commit of 3 fails after the heal with the retry's answer (unknown member) and m1 loses
    the partition; then ``resumer`` (m1 again, or a fresh member after m1 stopped) reads from
    ``first``. ``failed_before_question``: the failure was reported before the report was
    asked for (the report then shows whether 3 landed); ``newer_ok_first``: an async commit
    of 3 is followed by a commit of 2 acknowledged before the question (the broker applied
    3 first, 2 last)."""
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(2))
         .commit_requested("m1", {0: 2}).committed("m1", {0: 2})
         .consumed("m1", 0, 2))
    if newer_ok_first:
        h.commit_requested("m1", {0: 3}, "async").commit_requested("m1", {0: 2})
        h.committed("m1", {0: 2})
    else:
        h.commit_requested("m1", {0: 3}, "async" if failed_before_question else "sync")
    if failed_before_question:
        h.committed("m1", {0: 3}, mode="async", ok=False, error="commit-failed: unknown member")
    asked = h.history.events[-1].ts + 0.0005
    h.add("group_offsets", asked=asked, offsets=[["t", 0, 2]])
    h.network_fault("m1", kind="drop", seconds=3).waited(3).network_healed("m1")
    if not failed_before_question:
        mode = "async" if newer_ok_first else "sync"
        h.committed("m1", {0: 3}, mode=mode, ok=False, error="commit-failed: unknown member")
    h.lost("m1", 0)
    if resumer != "m1":
        h.stopped("m1")
    return h.assigned(resumer, 0).polled(resumer, 0, range(first, 10))


def test_a_commit_unanswered_when_a_report_was_asked_may_have_landed_after_it() -> None:
    """A broker report shows the group at one moment: a commit sent before it and answered
    (here: failed) only afterwards may have been applied after that moment, so resuming at
    it is neither a skip nor the member's own position."""
    assert check_start_position(report_then_failed_commit(3).build()) == []
    assert check_start_position(report_then_failed_commit(3, resumer="drain").build()) == []
    [v] = check_start_position(report_then_failed_commit(4).build())
    assert v.anomaly == "start-after-committed" and v.details["expected"] == 3
    [v] = check_start_position(report_then_failed_commit(4, resumer="drain").build())
    assert v.anomaly == "start-after-committed" and v.details["expected"] == 3


def test_a_report_asked_after_a_commit_was_answered_settles_it() -> None:
    """The failure came before the question: the report of 2 shows the commit of 3 did not
    land, so m1 resuming at 3 is its own position; a commit of 2 acknowledged before the
    question was sent after the failed one of 3, so the broker applied it last."""
    [v] = check_start_position(report_then_failed_commit(3, failed_before_question=True).build())
    assert v.anomaly == "resumed-own-position" and v.details["expected"] == 2
    [v] = check_start_position(report_then_failed_commit(3, newer_ok_first=True).build())
    assert v.anomaly == "resumed-own-position" and v.details["expected"] == 2
    assert check_start_position(report_then_failed_commit(2, newer_ok_first=True).build()) == []
