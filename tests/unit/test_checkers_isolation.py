"""isolation (KIP-98): aborted records and control markers, by isolation level."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.isolation import check_isolation
from conformance.verdicts import Verdict


def topic(level: str) -> H:
    """0-2 produced; 3-5 an aborted transaction, 6 its marker; 7-8 a committed one, 9 its
    marker; 10-11 produced."""
    return (H().scenario(isolation_level=level).produce(0, range(3))
            .transaction(0, range(3, 6), commit=False).as_("abort")
            .transaction(0, 7, 8).produce(0, 10, 11).started("m1").assigned("m1", 0))


def test_read_committed_skips_aborted_records_and_markers() -> None:
    h = topic("read_committed").consumed("m1", 0, 0, 1, 2, 7, 8, 10, 11).committed("m1", {0: 12})
    assert check_isolation(h.build()) == []
    verdicts = {r.check: r.verdict for r in run_checks(h.build())}
    assert verdicts["no-loss"] == Verdict.PASS  # markers and aborted records are not owed
    assert verdicts["order"] == Verdict.PASS and verdicts["isolation"] == Verdict.PASS


def test_an_aborted_record_handed_over_under_read_committed_fails() -> None:
    h = topic("read_committed").polled("m1", 0, 0, 1, 2, 3).as_("bad")
    [v] = check_isolation(h.build())
    assert v.anomaly == "aborted-record-delivered" and v.details["offset"] == 3
    assert v.evidence == [h.at["abort"], h.at["bad"]]
    assert "read_committed" in v.message


def test_read_uncommitted_hands_over_aborted_records_but_never_markers() -> None:
    good = topic("read_uncommitted").consumed("m1", 0, range(6), 7, 8, 10, 11)
    assert check_isolation(good.build()) == []
    marker = topic("read_uncommitted").polled("m1", 0, range(7)).as_("bad")
    [v] = check_isolation(marker.build())
    assert v.anomaly == "control-record-delivered" and v.details["offset"] == 6
    assert v.evidence == [marker.at["bad"]]


def test_an_aborted_record_skipped_under_read_uncommitted_fails() -> None:
    h = topic("read_uncommitted").polled("m1", 0, 0, 1, 2).polled("m1", 0, 5, 7).as_("bad")
    [v] = check_isolation(h.build())
    assert v.anomaly == "aborted-record-skipped" and v.details["skipped"] == [3, 4]
    assert h.at["bad"] in v.evidence and h.at["abort"] in v.evidence


def test_a_seek_past_aborted_records_is_no_skip() -> None:
    h = topic("read_uncommitted").polled("m1", 0, 0, 1, 2).seeked("m1", 0, 7).polled("m1", 0, 7)
    assert check_isolation(h.build()) == []


def test_without_transactions_nothing_is_judged() -> None:
    h = (H().scenario(isolation_level="read_committed").produce(0, range(3)).started("m1")
         .assigned("m1", 0).consumed("m1", 0, 0, 1, 2, 3))
    assert check_isolation(h.build()) == []


def test_the_level_defaults_to_read_uncommitted() -> None:
    h = (H().scenario().produce(0, range(3)).transaction(0, 3, commit=False).started("m1")
         .assigned("m1", 0).polled("m1", 0, 0, 1, 2, 3))
    assert check_isolation(h.build()) == []
