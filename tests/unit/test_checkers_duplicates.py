"""duplicates-bounded (S5, S8): re-deliveries only where the contract allows them."""

from histories import H

from conformance.checkers.duplicates import check_duplicates, duplicate_figures


def crash_handover(bound: int | None, committed: int = 3) -> H:
    """m1 processes 0..4, commits ``committed``, is killed; m2 resumes at the commit."""
    return (H().scenario(bound=bound).produce(0, range(10))
            .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: committed})
            .as_("commit").killed("m1").as_("kill")
            .assigned("m2", 0).as_("m2")
            .polled("m2", 0, range(committed, 10)).processed("m2", 0, range(committed, 10))
            .as_("m2done"))


def test_graceful_handover_without_duplicates_passes() -> None:
    h = (H().scenario(bound=0).produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5)).revoked("m1", 0)
         .committed("m1", {0: 5}, mode="revoke")
         .assigned("m2", 0).consumed("m2", 0, range(5, 10)))
    assert check_duplicates(h.build()) == []
    figures = duplicate_figures(h.build())
    assert figures["duplicates"] == 0 and figures["max_duplicates_per_handover"] == 0
    assert figures["processings"] == 10


def test_crash_redelivery_within_the_bound_passes_and_is_measured() -> None:
    h = crash_handover(bound=2)
    assert check_duplicates(h.build()) == []
    figures = duplicate_figures(h.build())
    assert figures["duplicates"] == 2
    assert figures["max_duplicates_per_handover"] == 2
    assert figures["handovers_with_duplicates"] == 1
    assert figures["bound"] == 2 and figures["strategy"] == "BATCH"


def test_crash_redelivery_over_the_bound_fails() -> None:
    h = crash_handover(bound=1)
    [v] = check_duplicates(h.build())
    assert v.anomaly == "duplicates-over-bound" and v.section == "S5"
    assert v.details["count"] == 2 and v.details["bound"] == 1
    assert v.details["strategy"] == "BATCH"
    assert v.details["offsets"] == [3, 4]
    assert v.details["from"] == "m1" and v.details["to"] == "m2"
    assert v.evidence == [h.at["kill"], h.at["m2"], h.at["m2done"]]


def test_unbounded_strategy_reports_no_bound_violation() -> None:
    assert check_duplicates(crash_handover(bound=None).build()) == []


def test_committed_record_redelivered_to_the_next_owner_fails() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(5)).as_("a").committed("m1", {0: 5})
         .as_("commit").killed("m1")
         .assigned("m2", 0).as_("m2").polled("m2", 0, 4, 5).processed("m2", 0, 4, 5).as_("b"))
    [v] = check_duplicates(h.build())
    assert v.anomaly == "redelivered-after-commit"
    assert v.details == {"topic": "t", "partition": 0, "offset": 4, "committed": 5,
                         "from": "m1", "to": "m2"}
    assert v.evidence == [h.at["a"], h.at["commit"], h.at["m2"], h.at["b"]]


def test_same_member_getting_the_partition_back_is_a_handover() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5})
         .revoked("m1", 0).assigned("m1", 0).consumed("m1", 0, 4, 5))
    assert [v.anomaly for v in check_duplicates(h.build())] == ["redelivered-after-commit"]


def test_commit_acknowledged_after_the_new_assignment_does_not_count() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(5)).commit_requested("m1", None, "async")
         .revoked("m1", 0).assigned("m2", 0).committed("m1", {0: 5}, mode="async")
         .consumed("m2", 0, 4, 5))
    assert check_duplicates(h.build()) == []


def test_failed_commit_does_not_count() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}, ok=False)
         .killed("m1").assigned("m2", 0).consumed("m2", 0, range(6)))
    assert check_duplicates(h.build()) == []


def test_reprocessing_inside_one_span_without_a_seek_fails() -> None:
    h = (H().scenario().produce(0, range(3))
         .assigned("m1", 0).processed("m1", 0, range(3)).as_("a")
         .processed("m1", 0, 1).as_("b"))
    [v] = check_duplicates(h.build())
    assert v.anomaly == "duplicate-without-cause"
    assert v.evidence == [h.at["a"], h.at["b"]]
    assert v.details["offset"] == 1 and v.details["member"] == "m1"


def test_reprocessing_after_a_seek_back_is_deliberate() -> None:
    h = (H().scenario().produce(0, range(3))
         .assigned("m1", 0).processed("m1", 0, range(3)).seeked("m1", 0, 0)
         .processed("m1", 0, range(3)))
    assert check_duplicates(h.build()) == []


def test_seek_back_not_far_enough_does_not_excuse() -> None:
    h = (H().scenario().produce(0, range(3))
         .assigned("m1", 0).processed("m1", 0, range(3)).seeked("m1", 0, 2)
         .processed("m1", 0, 1, 2))
    assert [(v.anomaly, v.details["offset"]) for v in check_duplicates(h.build())] == [
        ("duplicate-without-cause", 1)]


def test_seek_back_by_the_new_owner_excuses_redelivery_of_committed_records() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}).killed("m1")
         .assigned("m2", 0, manual=True).seeked("m2", 0, 0).consumed("m2", 0, range(6)))
    assert check_duplicates(h.build()) == []


def test_group_offset_moved_back_by_a_later_commit_makes_the_redelivery_legitimate() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}).revoked("m1", 0)
         .assigned("m3", 0).commit_requested("m3", {0: 3}).committed("m3", {0: 3})
         .revoked("m3", 0).assigned("m2", 0).consumed("m2", 0, range(3, 6)))
    assert check_duplicates(h.build()) == []


def test_records_a_refused_commit_covered_do_not_count_against_the_bound() -> None:
    """A fenced member's commits fail: the next owner re-reads from the last commit that
    landed (S8), beyond the strategy's bound; only records no commit attempt covered count."""
    def run(refused: int) -> H:
        return (H().scenario(bound=2).produce(0, range(10))
                .assigned("m1", 0).consumed("m1", 0, range(3)).committed("m1", {0: 3})
                .consumed("m1", 0, range(3, 8)).commit_requested("m1", {0: refused})
                .committed("m1", {0: refused}, ok=False).lost("m1", 0)
                .assigned("m2", 0).polled("m2", 0, range(3, 10))
                .processed("m2", 0, range(3, 10)))

    assert check_duplicates(run(8).build()) == []
    [v] = check_duplicates(run(5).build())  # 5, 6, 7 were never in a commit attempt
    assert v.anomaly == "duplicates-over-bound" and v.details["offsets"] == [5, 6, 7]


def test_a_refused_commit_without_offsets_covers_what_its_request_tracked() -> None:
    """commit() without offsets that fails reports no offsets: what the worker said the client
    tracked stands in (seen: confluent-kafka, fenced after a freeze, RECORD without offsets)."""
    def run(tracked: dict[int, int] | None) -> H:
        return (H().scenario(bound=2).produce(0, range(10))
                .assigned("m1", 0).consumed("m1", 0, range(3)).committed("m1", {0: 3})
                .consumed("m1", 0, range(3, 8))
                .commit_requested("m1", None, mode="record", tracked=tracked)
                .committed("m1", {}, mode="record", ok=False).lost("m1", 0)
                .assigned("m2", 0).polled("m2", 0, range(3, 10))
                .processed("m2", 0, range(3, 10)))

    assert check_duplicates(run({0: 8}).build()) == []
    [v] = check_duplicates(run(None).build())
    assert v.anomaly == "duplicates-over-bound" and v.details["offsets"] == [3, 4, 5, 6, 7]


def test_records_the_member_sought_back_over_do_not_count_against_the_bound() -> None:
    """m1 processed 0..5, sought back to 3 and re-read 3 only, committed 4: the next owner
    re-reads 4 and 5, which m1's rewind left uncommitted, not its strategy."""
    h = (H().scenario(bound=1).produce(0, range(8))
         .assigned("m1", 0).consumed("m1", 0, range(6)).committed("m1", {0: 6})
         .seeked("m1", 0, 3).consumed("m1", 0, 3).committed("m1", {0: 4})
         .lost("m1", 0).assigned("m2", 0).polled("m2", 0, range(4, 8))
         .processed("m2", 0, range(4, 8)))
    assert [v.anomaly for v in check_duplicates(h.build())] == []


def test_a_zombies_stale_batch_is_not_a_hand_over_over_the_bound() -> None:
    """m1, frozen past its session, comes back and processes a batch of the partition m2 now
    owns (zombie-fencing judges that), then hears of the loss: not m2 handing over to m1."""
    h = (H().scenario(bound=1).produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).consumed("m1", 0, range(2))
         .committed("m1", {0: 2}).frozen("m1").assigned("m2", 0)
         .consumed("m2", 0, range(2, 8)).committed("m2", {0: 8}).thawed("m1")
         .polled("m1", 0, range(2, 8)).processed("m1", 0, *range(2, 8))
         .committed("m1", {0: 8}, mode="record", ok=False, error="commit-failed")
         .lost("m1", 0))
    assert [v for v in check_duplicates(h.build()) if v.anomaly == "duplicates-over-bound"] == []


def test_a_real_hand_over_over_the_bound_still_fails() -> None:
    h = (H().scenario(bound=1).produce(0, range(10))
         .started("m1").started("m2").assigned("m1", 0).consumed("m1", 0, range(6))
         .committed("m1", {0: 2}).revoked("m1", 0).assigned("m2", 0)
         .consumed("m2", 0, range(2, 10)))
    assert [v.anomaly for v in check_duplicates(h.build())] == ["duplicates-over-bound"]


def test_the_new_owners_own_rewind_is_not_counted_against_the_bound() -> None:
    """m1 loses and gets the partition back, then seeks back to 0 in its new ownership (a
    deliberate re-read, S7): the records it reads again are not the hand-over's duplicates."""
    def run(seek: bool) -> H:
        h = (H().scenario(bound=1).produce(0, range(10))
             .started("m1").assigned("m1", 0).consumed("m1", 0, range(7))
             .committed("m1", {0: 7}).lost("m1", 0).assigned("m1", 0))
        if seek:
            h = h.seeked("m1", 0, 0)
        return h.consumed("m1", 0, range(0, 10))

    assert [v.anomaly for v in check_duplicates(run(seek=True).build())] == []
    assert "duplicates-over-bound" in {v.anomaly for v in check_duplicates(run(False).build())}


def test_a_rewind_in_the_members_next_ownership_is_its_own_not_the_hand_overs() -> None:
    """m1 processed 0..7, lost the partition and got it back, sought back to 2 and committed
    3: the next owner re-reads 3..7 because of m1's rewind (S7)."""
    h = (H().scenario(bound=1).produce(0, range(10))
         .started("m1").assigned("m1", 0).consumed("m1", 0, range(8))
         .committed("m1", {0: 8}).lost("m1", 0).assigned("m1", 0).seeked("m1", 0, 2)
         .consumed("m1", 0, range(2, 3)).committed("m1", {0: 3}).revoked("m1", 0)
         .started("m2").assigned("m2", 0).consumed("m2", 0, range(3, 10)))
    assert [v.anomaly for v in check_duplicates(h.build())
            if v.anomaly == "duplicates-over-bound"] == []


def test_a_reread_after_unsubscribing_unheard_is_a_new_ownership() -> None:
    """kafka-python never calls the listener in unsubscribe(): the re-read from the committed
    offset after subscribing again is a new ownership (the missing revoke is
    exclusive-ownership's), not a duplicate within one; without the unsubscribe it is one."""
    def run(unsubscribe: bool) -> list:
        h = (H().scenario().produce(0, range(6))
             .assigned("m1", 0).consumed("m1", 0, range(4)).committed("m1", {0: 2}))
        if unsubscribe:
            h = h.unsubscribed("m1")
        return check_duplicates(h.assigned("m1", 0).consumed("m1", 0, range(2, 6)).build())
    assert run(unsubscribe=True) == []
    assert {v.anomaly for v in run(unsubscribe=False)} == {"duplicate-without-cause"}


def test_async_commits_cut_short_by_a_kill_do_not_count_against_the_bound() -> None:
    """RECORD with async commits: the member asked to commit 14 and 15 and was killed before
    either answer (seen: confluent-kafka, consumer protocol); the next owner re-reads 13..15.
    The bound counts from the last commit requested: only 15 is over it."""
    h = (H().scenario(bound=1, strategy="RECORD", asynchronous=True).produce(0, range(20))
         .assigned("m1", 0).consumed("m1", 0, range(13))
         .commit_requested("m1", {0: 13}, mode="record").committed("m1", {0: 13}, "record")
         .polled("m1", 0, range(13, 20))
         .processed("m1", 0, 13).commit_requested("m1", {0: 14}, mode="record")
         .processed("m1", 0, 14).commit_requested("m1", {0: 15}, mode="record")
         .processed("m1", 0, 15).killed("m1")
         .assigned("m2", 0).consumed("m2", 0, range(13, 20)))
    assert check_duplicates(h.build()) == []
    # the same re-reads after a commit of 13 with nothing asked since: over the bound
    sync = (H().scenario(bound=1, strategy="RECORD").produce(0, range(20))
            .assigned("m1", 0).consumed("m1", 0, range(13)).committed("m1", {0: 13}, "record")
            .consumed("m1", 0, range(13, 16)).killed("m1")
            .assigned("m2", 0).consumed("m2", 0, range(13, 20)))
    [v] = check_duplicates(sync.build())
    assert v.anomaly == "duplicates-over-bound" and v.details["offsets"] == [13, 14, 15]


def test_commits_cut_short_by_a_kill_after_the_member_heard_of_its_loss() -> None:
    """Soak seed 30 (confluent-kafka 2.16.2, consumer protocol, RECORD with async commits): m1
    asked to commit each record during a 5 s black hole, was fenced meanwhile, reported
    ``lost`` once healed and was SIGKILLed 10 ms later with every request unanswered. Its span
    ended at ``lost``, before ``member_killed``: the requests still count as cut short by the
    kill, and the drain's re-reads below the last one requested do not count."""
    def run(last_requested: int) -> list:
        h = (H().scenario(bound=1, strategy="RECORD", asynchronous=True).produce(0, range(20))
             .assigned("m1", 0).consumed("m1", 0, range(13))
             .commit_requested("m1", {0: 13}, mode="record").committed("m1", {0: 13}, "record")
             .polled("m1", 0, range(13, 20)).network_fault("m1", kind="drop", seconds=5))
        for o in range(13, 17):
            h = h.processed("m1", 0, o)
            if o < last_requested:
                h = h.commit_requested("m1", None, mode="record", tracked={0: o + 1})
        h = (h.network_healed("m1").lost("m1", 0).as_("lost").killed("m1")
             .started("drain").assigned("drain", 0).consumed("drain", 0, range(13, 20)))
        return check_duplicates(h.build())
    assert run(last_requested=17) == []
    # m1 asked to commit up to 14 only: 14, 15 and 16 are over the bound, kill or not
    [v] = run(last_requested=14)
    assert v.anomaly == "duplicates-over-bound" and v.details["offsets"] == [14, 15, 16]
