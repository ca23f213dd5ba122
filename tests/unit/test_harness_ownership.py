"""The harness's live view of who owns what, and who has joined the group."""

from conformance.harness.ownership import Ownership
from conformance.history import Event


def ev(kind: str, member: str, *partitions: int) -> Event:
    return Event(kind, 0.0, member, {"partitions": [["t", p] for p in partitions]}, 0)


def test_a_member_that_lost_its_partitions_has_not_joined_until_it_is_assigned_again() -> None:
    own = Ownership()
    own.apply(ev("assigned", "m1", 0))
    own.apply(ev("assigned", "m2", 1))
    assert own.settled(["m1", "m2"], {("t", 0), ("t", 1)}, quiet=0.0)
    own.apply(ev("lost", "m1", 0))
    own.apply(ev("assigned", "m2", 0))
    # every partition has one owner, yet m1 was removed and is not back
    assert not own.settled(["m1", "m2"], {("t", 0), ("t", 1)}, quiet=0.0)
    own.apply(ev("revoked", "m2", 0))
    own.apply(ev("assigned", "m1", 0))
    assert own.settled(["m1", "m2"], {("t", 0), ("t", 1)}, quiet=0.0)


def test_a_revoke_keeps_the_member_joined() -> None:
    own = Ownership()
    own.apply(ev("assigned", "m1", 0, 1))
    own.apply(ev("revoked", "m1", 1))
    own.apply(ev("assigned", "m2", 1))
    assert own.settled(["m1", "m2"], {("t", 0), ("t", 1)}, quiet=0.0)
    own.apply(ev("lost", "m2"))  # nothing lost: not a removal
    assert own.settled(["m1", "m2"], {("t", 0), ("t", 1)}, quiet=0.0)
