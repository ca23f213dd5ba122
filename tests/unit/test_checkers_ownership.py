"""exclusive-ownership (S8): one partition, one owner."""

import pytest
from histories import H

from conformance.checkers.ownership import check_exclusive_ownership


def test_clean_handover_and_settled_group_pass() -> None:
    h = (H().scenario(partitions=2).produce(0, range(4))
         .assigned("m1", 0, 1).consumed("m1", 0, range(2)).settled({0: "m1", 1: "m1"})
         .revoked("m1", 1).assigned("m2", 1).settled({0: "m1", 1: "m2"})
         .killed("m1").assigned("m2", 0).consumed("m2", 0, 2, 3).settled({0: "m2", 1: "m2"}))
    assert check_exclusive_ownership(h.build()) == []


def test_two_members_processing_one_partition_at_once_fails() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, 0, 1)
         .assigned("m2", 0).processed("m2", 0, 2, 3).as_("b")
         .processed("m1", 0, 2, 3).as_("a"))
    [v] = check_exclusive_ownership(h.build())
    assert v.anomaly == "concurrent-owners" and v.section == "S8"
    assert v.evidence == [h.at["b"], h.at["a"]]
    assert v.details["members"] == ["m1", "m2"]


def test_overlapping_spans_where_only_one_member_processes_pass() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, 0, 1)
         .assigned("m2", 0).consumed("m2", 0, 2, 3).revoked("m1", 0))
    assert check_exclusive_ownership(h.build()) == []


def test_partition_without_owner_when_settled_fails() -> None:
    h = H().scenario(partitions=2).assigned("m1", 0).settled({0: "m1"}).as_("s")
    [v] = check_exclusive_ownership(h.build())
    assert v.anomaly == "unowned-partition"
    assert v.evidence == [h.at["s"]] and v.details["partition"] == 1


def test_partition_with_two_owners_when_settled_fails() -> None:
    h = (H().scenario().assigned("m1", 0).as_("a1").assigned("m2", 0).as_("a2")
         .settled({0: "m2"}).as_("s"))
    [v] = check_exclusive_ownership(h.build())
    assert v.anomaly == "multiple-owners"
    assert v.evidence == [h.at["a1"], h.at["a2"], h.at["s"]]
    assert v.details["owners"] == ["m1", "m2"] and v.details["harness_owner"] == "m2"


def test_dead_and_closed_members_own_nothing() -> None:
    for end in ("killed", "stopped", "died", "closed"):
        h = H().scenario().assigned("m1", 0)
        getattr(h, end)("m1")
        h.settled({})
        [v] = check_exclusive_ownership(h.build())
        assert v.anomaly == "unowned-partition", end


def test_added_partitions_must_be_owned_once_settled() -> None:
    h = (H().scenario(partitions=1).assigned("m1", 0).partitions_added(2)
         .settled({0: "m1"}).as_("s1").assigned("m1", 1).settled({0: "m1", 1: "m1"}))
    [v] = check_exclusive_ownership(h.build())
    assert (v.anomaly, v.evidence, v.details["partition"]) == (
        "unowned-partition", [h.at["s1"]], 1)


def test_without_scenario_the_settled_owners_name_the_partitions() -> None:
    h = H().assigned("m1", 0).settled({0: "m1", 1: "m1"}).as_("s")
    [v] = check_exclusive_ownership(h.build())
    assert (v.anomaly, v.details["partition"]) == ("unowned-partition", 1)


def test_settled_event_that_timed_out_is_not_checked() -> None:
    h = H().scenario(partitions=2).assigned("m1", 0).add("settled", owners={"t:0": "m1"},
                                                         timeout=True)
    assert check_exclusive_ownership(h.build()) == []


def test_manual_assignment_is_outside_group_exclusivity() -> None:
    h = (H().scenario().produce(0, range(4))
         .assigned("m1", 0).assigned("s1", 0, manual=True)
         .consumed("m1", 0, 0, 1).consumed("s1", 0, 0, 1).settled({0: "m1"}))
    assert check_exclusive_ownership(h.build()) == []


def test_manual_owner_alone_owns_the_partition() -> None:
    h = H().scenario().assigned("s1", 0, manual=True).settled({0: "s1"})
    assert check_exclusive_ownership(h.build()) == []


def test_a_thawed_member_finishing_its_batch_is_left_to_zombie_fencing() -> None:
    """Processing by a frozen member until it hears of the group after its thaw is not a
    concurrent owner (zombie-fencing judges it); the same processing without a freeze is."""
    def run(frozen: bool) -> H:
        h = H().scenario().produce(0, range(8)).assigned("m1", 0).polled("m1", 0, range(4))
        h.processed("m1", 0, 0, 1)
        if frozen:
            h.add("member_frozen", member="m1")
        h.assigned("m2", 0).consumed("m2", 0, 2, 3)
        if frozen:
            h.add("member_thawed", member="m1", frozen_seconds=3.0)
        return h.processed("m1", 0, 2, 3).lost("m1", 0)

    assert check_exclusive_ownership(run(True).build()) == []
    [v] = check_exclusive_ownership(run(False).build())
    assert v.anomaly == "concurrent-owners"


@pytest.mark.parametrize("kind", ["cut", "drop", "delay"])
def test_a_network_isolated_member_finishing_what_it_had_is_left_to_zombie_fencing(
        kind: str) -> None:
    """A member cut off, black-holed or slowed past its session processes the records it had
    in hand during the fault and after the heal until it hears it lost the partition, while
    the new owner works: zombie-fencing's, not a concurrent owner. The same processing
    without the fault events is one."""
    def run(isolated: bool) -> H:
        h = H().scenario().produce(0, range(8)).assigned("m1", 0).polled("m1", 0, range(6))
        h.processed("m1", 0, 0, 1)
        if isolated:
            h.network_fault("m1", kind, delay_ms=2500 if kind == "delay" else 0)
        h.processed("m1", 0, 2).assigned("m2", 0).consumed("m2", 0, 2, 3).processed("m1", 0, 3)
        if isolated:
            h.network_healed("m1")
        return h.processed("m1", 0, 4, 5).revoked("m1", 0).consumed("m2", 0, range(4, 8))

    assert check_exclusive_ownership(run(True).build()) == []
    [v] = check_exclusive_ownership(run(False).build())
    assert v.anomaly == "concurrent-owners" and v.details["members"] == ["m1", "m2"]


def test_an_isolated_member_that_heard_is_an_owner_again() -> None:
    """After its first rebalance event following the heal the member's processing counts."""
    h = (H().scenario().produce(0, range(8)).assigned("m1", 0, 1).polled("m1", 0, range(4))
         .network_fault("m1", "cut").assigned("m2", 0).consumed("m2", 0, 0, 1)
         .network_healed("m1").revoked("m1", 1).processed("m1", 0, 2).as_("late")
         .consumed("m2", 0, 2, 3))
    [v] = check_exclusive_ownership(h.build())
    assert v.anomaly == "concurrent-owners" and h.at["late"] in v.evidence


def _resubscribe(heard: bool) -> H:
    """m1 reads 0-3, commits 2, unsubscribes, and is assigned the partition again (with or
    without hearing it revoked), then reads again from the committed offset."""
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).consumed("m1", 0, range(4)).committed("m1", {0: 2})
         .unsubscribed("m1").as_("u"))
    if heard:
        h = h.revoked("m1", 0)
    return h.assigned("m1", 0).as_("again").consumed("m1", 0, range(2, 6))


def test_unsubscribe_then_assigned_again_without_a_revoke_fails() -> None:
    h = _resubscribe(heard=False)
    [v] = check_exclusive_ownership(h.build())
    assert v.anomaly == "unsubscribe-without-revoke" and v.section == "S8"
    assert v.evidence == [h.at["u"], h.at["again"]]
    assert v.details == {"member": "m1", "topic": "t", "partition": 0}


def test_unsubscribe_with_the_revoke_heard_passes() -> None:
    assert check_exclusive_ownership(_resubscribe(heard=True).build()) == []
