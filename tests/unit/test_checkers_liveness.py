"""member-assigned (S8, liveness): the group settles and every live member gets work."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.liveness import check_member_assigned
from conformance.checkers.ownership import check_exclusive_ownership
from conformance.verdicts import Verdict


def test_a_settled_group_and_a_joined_drain_pass() -> None:
    h = (H().scenario(partitions=2).started("m1").started("m2").assigned("m1", 0)
         .assigned("m2", 1).settled({0: "m1", 1: "m2"}, timeout=False, live=["m1", "m2"],
                                    partitions=2)
         .stopped("m1").stopped("m2").started("drain").assigned("drain", 0, 1)
         .stopped("drain").drain_finished("drain", joined=True))
    assert check_member_assigned(h.build()) == []
    [result] = run_checks(h.build(), only=["member-assigned"])
    assert result.verdict == Verdict.PASS


def test_a_timed_out_settle_fails_with_each_members_last_rebalance_event() -> None:
    h = (H().scenario(partitions=2).started("m1").started("m2").as_("m2")
         .assigned("m1", 0, 1).revoked("m1", 1).as_("r1")
         .settled({0: "m1"}, timeout=True, live=["m1", "m2"], partitions=2).as_("s"))
    violations = check_member_assigned(h.build())
    assert [v.anomaly for v in violations] == ["group-never-settled", "member-never-assigned"]
    settle, idle = violations
    assert settle.evidence == [h.at["r1"], h.at["s"]]
    assert settle.details["unowned"] == [1] and settle.details["owners"] == {"m1": [0],
                                                                             "m2": []}
    assert "m2 owning nothing" in settle.message
    assert idle.details["member"] == "m2" and idle.evidence == [h.at["m2"], h.at["s"]]
    [result] = run_checks(h.build(), only=["member-assigned"])
    assert result.verdict == Verdict.FAIL


def test_a_member_that_never_works_is_named_with_its_start_and_last_polls() -> None:
    h = (H().scenario(partitions=3).produce(0, range(3)).started("m1").as_("start")
         .polled("m1", 0, 0).as_("p1").polled("m1", 0, 1).as_("p2")
         .settled({}, timeout=True, live=["m1"], partitions=3).as_("s"))
    idle = [v for v in check_member_assigned(h.build()) if v.anomaly == "member-never-assigned"]
    assert [v.evidence for v in idle] == [[h.at["start"], h.at["p1"], h.at["p2"], h.at["s"]]]
    assert idle[0].details["last_assigned"] is None and idle[0].details["polls"] == 2


def test_more_members_than_partitions_each_owned_once_is_not_a_failure() -> None:
    """Adapters report no empty assignment, so the idle member never looks joined."""
    h = (H().scenario(partitions=1).started("m1").started("m2").assigned("m1", 0)
         .settled({0: "m1"}, timeout=True, live=["m1", "m2"], partitions=1))
    assert check_member_assigned(h.build()) == []
    unowned = (H().scenario(partitions=1).started("m1").started("m2")
               .settled({}, timeout=True, live=["m1", "m2"], partitions=1))
    assert [v.anomaly for v in check_member_assigned(unowned.build())] == [
        "group-never-settled"]


def test_a_settle_without_live_members_is_not_judged() -> None:
    h = H().scenario().started("m1").killed("m1").settled({}, timeout=True, live=[],
                                                          partitions=1)
    assert check_member_assigned(h.build()) == []


def test_a_drain_member_that_never_joined_fails() -> None:
    h = (H().scenario(partitions=2).produce(0, range(3)).started("m1").assigned("m1", 0, 1)
         .stopped("m1").started("drain").as_("start").add("drain_started", member="drain")
         .stopped("drain").drain_finished("drain", complete=False, joined=False).as_("end")
         .started("drain2").assigned("drain2", 0, 1).consumed("drain2", 0, range(3))
         .stopped("drain2").drain_finished("drain2", joined=True))
    [v] = check_member_assigned(h.build())
    assert (v.anomaly, v.details["member"], v.details["drain"]) == (
        "member-never-assigned", "drain", True)
    assert v.evidence == [h.at["start"], h.at["end"]]


def test_a_drain_member_assigned_late_or_an_older_history_is_not_judged() -> None:
    late = (H().scenario().started("drain").assigned("drain", 0).stopped("drain")
            .drain_finished("drain", complete=False, joined=False))
    assert check_member_assigned(late.build()) == []
    older = H().scenario().started("drain").stopped("drain").drain_finished("drain", False)
    assert check_member_assigned(older.build()) == []


def test_older_histories_derive_live_members_and_the_partition_count() -> None:
    h = (H().scenario(partitions=1).started("m1").started("m2").started("m3").killed("m3")
         .frozen("m2").assigned("m1", 0).partitions_added(2)
         .settled({0: "m1"}, timeout=True).as_("s"))
    violations = check_member_assigned(h.build())
    assert [v.anomaly for v in violations] == ["group-never-settled"]
    assert violations[0].details["live"] == ["m1"] and violations[0].details["partitions"] == 2


def test_a_frozen_members_open_spans_do_not_make_a_settled_partition_shared() -> None:
    h = (H().scenario(partitions=1).started("m1").started("m2").assigned("m1", 0)
         .frozen("m1").assigned("m2", 0).settled({0: "m2"}, timeout=False, live=["m2"],
                                                 partitions=1))
    assert check_exclusive_ownership(h.build()) == []
    old = (H().scenario(partitions=1).started("m1").started("m2").assigned("m1", 0)
           .frozen("m1").assigned("m2", 0).settled({0: "m2"}))
    assert [v.anomaly for v in check_exclusive_ownership(old.build())] == ["multiple-owners"]
