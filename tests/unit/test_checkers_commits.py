"""commit-validity (S5, S8): commit owned partitions only, up to what was processed."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.commits import check_commit_validity, check_observed_offsets
from conformance.verdicts import Verdict


def test_committing_processed_records_of_an_owned_partition_passes() -> None:
    h = (H().scenario().produce(0, range(5))
         .assigned("m1", 0).consumed("m1", 0, range(5))
         .commit_requested("m1", {0: 5}).committed("m1", {0: 5}))
    assert check_commit_validity(h.build()) == []


def test_committing_unprocessed_records_fails() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).as_("a").polled("m1", 0, range(10)).processed("m1", 0, range(5))
         .committed("m1", {0: 8}).as_("c"))
    [v] = check_commit_validity(h.build())
    assert v.anomaly == "commit-beyond-processed" and v.section == "S5"
    assert v.evidence == [h.at["a"], h.at["c"]]
    assert v.details["committed"] == 8 and v.details["processed_max"] == 4
    assert v.details["allowed"] == 5


def test_explicit_request_is_checked_and_failed_commits_are_not() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5))
         .commit_requested("m1", {0: 9}).as_("req").committed("m1", {0: 9}, ok=False)
         .commit_requested("m1", None))
    [v] = check_commit_validity(h.build())
    assert (v.anomaly, v.evidence[-1], v.details["requested"]) == (
        "commit-beyond-processed", h.at["req"], True)


def test_committing_a_partition_of_another_member_fails() -> None:
    h = (H().scenario(partitions=2).produce(1, range(3))
         .assigned("m1", 0).assigned("m2", 1).consumed("m2", 1, range(3))
         .committed("m1", {1: 3}).as_("c"))
    [v] = check_commit_validity(h.build())
    assert v.anomaly == "commit-unowned-partition"
    assert v.evidence == [h.at["c"]]
    assert v.details["member"] == "m1" and v.details["partition"] == 1


def test_revoke_commit_of_the_just_revoked_partition_is_fine() -> None:
    h = (H().scenario().produce(0, range(5))
         .assigned("m1", 0).consumed("m1", 0, range(5)).revoked("m1", 0)
         .commit_requested("m1", {0: 5}, "revoke").committed("m1", {0: 5}, mode="revoke"))
    assert check_commit_validity(h.build()) == []


def test_revoke_commit_beyond_processed_is_still_checked() -> None:
    h = (H().scenario().produce(0, range(9))
         .assigned("m1", 0).consumed("m1", 0, range(5)).revoked("m1", 0)
         .committed("m1", {0: 9}, mode="revoke"))
    [v] = check_commit_validity(h.build())
    assert v.anomaly == "commit-beyond-processed" and v.details["processed_max"] == 4


def test_ordinary_commit_after_the_revoke_is_unowned() -> None:
    h = (H().scenario().produce(0, range(5))
         .assigned("m1", 0).consumed("m1", 0, range(5)).revoked("m1", 0).as_("r")
         .committed("m1", {0: 5}, mode="sync").as_("c"))
    [v] = check_commit_validity(h.build())
    assert v.anomaly == "commit-unowned-partition"
    assert v.evidence == [h.at["r"], h.at["c"]] and v.details["span_ended"] == h.at["r"]


def test_commit_after_the_partition_was_lost_is_unowned() -> None:
    h = (H().scenario().produce(0, range(5))
         .assigned("m1", 0).consumed("m1", 0, range(5)).lost("m1", 0)
         .committed("m1", {0: 5}, mode="revoke"))
    assert [v.anomaly for v in check_commit_validity(h.build())] == ["commit-unowned-partition"]


def test_manual_assignment_may_commit_any_partition() -> None:
    h = (H().scenario(partitions=2).produce(0, range(3))
         .assigned("m1", 0, manual=True).consumed("m1", 0, range(3))
         .committed("m1", {0: 3, 1: 0}))
    assert check_commit_validity(h.build()) == []


def test_new_owner_may_commit_the_groups_committed_offset_before_reading() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5)).committed("m1", {0: 5}).killed("m1")
         .assigned("m2", 0).committed("m2", {0: 5}).committed("m2", {0: 6}))
    assert [v.details["committed"] for v in check_commit_validity(h.build())] == [6]


def test_commit_of_the_sought_position_is_fine() -> None:
    h = (H().scenario().produce(0, range(20))
         .assigned("m1", 0).seeked("m1", 0, 10).committed("m1", {0: 10}))
    assert check_commit_validity(h.build()) == []


def test_latest_without_commit_may_commit_the_log_end_but_earliest_may_not() -> None:
    def run(reset: str) -> list[str]:
        h = (H().scenario(reset=reset).produce(0, range(5))
             .assigned("m1", 0).committed("m1", {0: 5}))
        return [v.anomaly for v in check_commit_validity(h.build())]

    assert run("latest") == []
    assert run("earliest") == ["commit-beyond-processed"]


def store_on_poll(auto_commit: bool) -> H:
    """librdkafka stores offsets when poll() returns; the background commit outruns processing."""
    return (H().scenario(auto_commit=auto_commit, strategy="auto").produce(0, range(10))
            .assigned("m1", 0).polled("m1", 0, range(10)).processed("m1", 0, range(5))
            .committed("m1", {0: 10}, mode="auto"))


def test_auto_commit_beyond_processed_is_a_hazard() -> None:
    [result] = run_checks(store_on_poll(True).build(), only=["commit-validity"])
    assert result.verdict == Verdict.HAZARD
    assert "S4" in result.note and "librdkafka" in result.note
    assert [v.anomaly for v in result.violations] == ["commit-beyond-processed"]


def test_manual_commit_beyond_processed_fails() -> None:
    [result] = run_checks(store_on_poll(False).build(), only=["commit-validity"])
    assert result.verdict == Verdict.FAIL


def test_negative_offsets_are_not_commits() -> None:
    h = (H().scenario(partitions=2).produce(0, range(2))
         .assigned("m1", 0).consumed("m1", 0, 0, 1).committed("m1", {0: 2, 1: -1001}))
    assert check_commit_validity(h.build()) == []


def test_latest_reset_does_not_excuse_commits_beyond_what_was_read_and_processed() -> None:
    h = (H().scenario(reset="latest").produce(0, range(10))
         .assigned("m1", 0).produce(0, range(10, 20)).polled("m1", 0, range(10, 20))
         .processed("m1", 0, range(10, 12)).committed("m1", {0: 20}))
    [v] = check_commit_validity(h.build())
    assert v.details["allowed"] == 12 and v.details["processed_max"] == 11


def test_async_commit_requested_while_owning_may_be_acknowledged_after_the_revoke() -> None:
    h = (H().scenario(asynchronous=True).produce(0, range(5))
         .assigned("m1", 0).consumed("m1", 0, range(5)).commit_requested("m1", {0: 5}, "batch")
         .revoked("m1", 0).assigned("m2", 0).committed("m1", {0: 5}, mode="batch"))
    assert check_commit_validity(h.build()) == []


def test_acknowledgement_of_a_request_made_after_the_revoke_is_unowned() -> None:
    h = (H().scenario(asynchronous=True).produce(0, range(5))
         .assigned("m1", 0).consumed("m1", 0, range(5)).commit_requested("m1", {0: 5}, "batch")
         .revoked("m1", 0).commit_requested("m1", None, "batch").as_("req")
         .committed("m1", {0: 5}, mode="batch").as_("ack"))
    assert [(v.anomaly, v.evidence[-1]) for v in check_commit_validity(h.build())] == [
        ("commit-unowned-partition", h.at["ack"])]


def test_new_owner_may_commit_an_offset_acknowledged_during_the_handover() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(3)).committed("m1", {0: 3})
         .consumed("m1", 0, 3, 4).commit_requested("m1", {0: 5}, "async").revoked("m1", 0)
         .assigned("m2", 0).committed("m1", {0: 5}, mode="async")
         .committed("m2", {0: 5}, mode="close"))
    assert check_commit_validity(h.build()) == []


def _observed(h: H, offsets: dict[int, int]) -> H:
    return h.add("group_offsets", offsets=[[h.topic, p, o] for p, o in offsets.items()])


def test_observed_group_offset_at_processed_records_passes() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(6)))
    h = _observed(h, {0: 6})
    assert check_observed_offsets(h.build()) == []


def test_unreported_commit_seen_by_the_broker_fails() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).polled("m1", 0, range(10)).processed("m1", 0, range(4)))
    h = _observed(h, {0: 10}).as_("g")
    [v] = check_observed_offsets(h.build())
    assert v.anomaly == "group-offset-beyond-processed"
    assert v.evidence == [h.at["g"]]
    assert v.details["unprocessed"] == [4, 5, 6, 7, 8, 9] and v.details["count"] == 6
    [result] = [r for r in run_checks(h.build()) if r.check == "commit-validity"]
    assert result.verdict == Verdict.FAIL


def test_unreported_commit_under_auto_commit_is_a_hazard() -> None:
    h = (H().scenario(auto_commit=True).produce(0, range(10))
         .assigned("m1", 0).polled("m1", 0, range(10)).processed("m1", 0, range(4)))
    h = _observed(h, {0: 10})
    [result] = [r for r in run_checks(h.build()) if r.check == "commit-validity"]
    assert result.verdict == Verdict.HAZARD


def test_an_auto_commit_past_aborted_records_and_markers_passes_under_read_committed() -> None:
    """0-3 aborted (marker 4), 5-6 committed (marker 7): a read_committed member that processed
    5 and 6 may commit 8; one that processed nothing may commit 5 (past 0-4), never 6."""
    def run(processed: list[int], offset: int) -> list:
        h = (H().scenario(auto_commit=True, strategy="auto", isolation_level="read_committed")
             .transaction(0, range(4), commit=False).transaction(0, range(5, 7))
             .assigned("m1", 0))
        if processed:
            h = h.consumed("m1", 0, processed)
        return check_commit_validity(h.committed("m1", {0: offset}, mode="auto").build())

    assert run([5, 6], 8) == []
    assert run([], 5) == []
    [v] = run([], 6)
    assert v.anomaly == "commit-beyond-processed" and v.details["allowed"] == 5


def test_under_read_uncommitted_aborted_records_must_be_processed_before_a_commit() -> None:
    h = (H().scenario(auto_commit=True, strategy="auto")
         .transaction(0, range(4), commit=False).assigned("m1", 0)
         .committed("m1", {0: 5}, mode="auto"))
    [v] = check_commit_validity(h.build())
    assert v.anomaly == "commit-beyond-processed" and v.details["allowed"] == 0


# -- group-offset-regressed --------------------------------------------------------------------
def _acked_then_observed(seen: int) -> H:
    """m1 processes 0..9, commits 6 (ok), then async 10 (ok); the broker then holds ``seen``."""
    h = (H().scenario().produce(0, range(10)).started("m1").assigned("m1", 0)
         .consumed("m1", 0, range(10)).commit_requested("m1", {0: 6})
         .committed("m1", {0: 6}).commit_requested("m1", {0: 10}, mode="async")
         .committed("m1", {0: 10}, mode="async"))
    return _observed(h, {0: seen})


def _regressed(h: H) -> list:
    return [v for v in check_commit_validity(h.build()) if v.anomaly == "group-offset-regressed"]


def test_an_acknowledged_commit_the_broker_does_not_hold_fails() -> None:
    """An unreported commit of stale offsets overtook the acknowledged one (or it never
    landed): the member was told 10, the broker holds 6."""
    [v] = _regressed(_acked_then_observed(6))
    assert v.details["acknowledged"] == 10 and v.details["committed"] == 6
    assert "told its commit of 10 succeeded" in v.message
    assert _regressed(_acked_then_observed(10)) == []


def test_a_lower_commit_attempt_since_explains_the_regression() -> None:
    """Another member's (or a rewind's) commit of that offset, even one reported failed."""
    h = _acked_then_observed(10)
    h.started("m2").commit_requested("m2", {0: 4}).committed("m2", {0: 4}, ok=False,
                                                             error="fenced")
    assert _regressed(_observed(h, {0: 4})) == []


def test_a_commit_whose_offsets_nobody_reported_explains_the_regression() -> None:
    """A request without offsets and without an outcome (killed before it): unknown."""
    h = _acked_then_observed(10).commit_requested("m1", None).killed("m1")
    assert _regressed(_observed(h, {0: 3})) == []
    h = _acked_then_observed(10).commit_requested("m1", None).committed("m1", {0: 10})
    assert len(_regressed(_observed(h, {0: 3}))) == 1


def test_an_acknowledgement_that_arrived_after_the_question_was_sent_may_not_show() -> None:
    """The answer to a question sent before the async acknowledgement of 10 may hold 6 (soak
    seed 3: the answer was recorded 4 ms after the acknowledgement, the question sent before
    it); one sent after it may not."""
    h = (H().scenario().produce(0, range(10)).started("m1").assigned("m1", 0)
         .consumed("m1", 0, range(10)).commit_requested("m1", {0: 6})
         .committed("m1", {0: 6}).commit_requested("m1", {0: 10}, mode="async"))
    asked = h.history.events[-1].ts + 0.0005
    h.committed("m1", {0: 10}, mode="async")
    assert _regressed(h.add("group_offsets", asked=asked, offsets=[["t", 0, 6]])) == []
    late = h.history.events[-1].ts + 0.0005
    [v] = _regressed(h.add("group_offsets", asked=late, offsets=[["t", 0, 6]]))
    assert v.details["acknowledged"] == 10
