"""member-rejoined (S8, liveness): a member removed from the group comes back while it polls."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.rejoin import MIN_BOUND, bound_seconds, check_member_rejoined
from conformance.checkers.spans import Settings
from conformance.verdicts import Verdict

#: the suite's configuration: 6 s poll interval, 2 s session, 0.5 s heartbeats -> 10 s
CONFIG = {"max_poll_interval_ms": 6000, "session_timeout_ms": 2000, "heartbeat_interval_ms": 500}


def removed_m1() -> H:
    """m1 and m2 share two partitions; m1 is frozen past its session and m2 takes both."""
    return (H().scenario(partitions=2, **CONFIG).started("m1", polling=True)
            .started("m2", polling=True).assigned("m1", 0).assigned("m2", 1)
            .frozen("m1").as_("frozen").waited(3.0).revoked("m2", 1).assigned("m2", 0, 1)
            .as_("taken").waited(1.0).thawed("m1").as_("thawed"))


def test_the_bound_comes_from_the_configuration() -> None:
    assert bound_seconds(Settings.of(removed_m1().build())) == MIN_BOUND == 10.0
    slow = Settings(max_poll_interval_ms=30000, session_timeout_ms=10000,
                    heartbeat_interval_ms=3000)
    assert bound_seconds(slow) == 52.0


def test_a_removed_member_that_is_assigned_again_passes() -> None:
    h = (removed_m1().waited(0.5).lost("m1", 0).waited(2.0).revoked("m2", 0, 1)
         .assigned("m2", 1).assigned("m1", 0).waited(MIN_BOUND + 5).add("teardown"))
    assert check_member_rejoined(h.build()) == []
    [result] = run_checks(h.build(), only=["member-rejoined"])
    assert result.verdict == Verdict.PASS


def test_a_removed_member_that_polls_on_unassigned_fails() -> None:
    h = (removed_m1().waited(0.5).lost("m1", 0).as_("lost").waited(MIN_BOUND + 2)
         .polled("m2", 0, range(3)).as_("poll").add("teardown"))
    [v] = check_member_rejoined(h.build())
    assert (v.check, v.anomaly, v.section) == ("member-rejoined", "member-not-rejoined", "S8")
    assert v.details["member"] == "m1" and v.details["removal"] == "frozen"
    assert v.details["seconds"] > MIN_BOUND and v.details["bound_seconds"] == MIN_BOUND
    assert (v.details["members"], v.details["partitions"]) == (2, 2)
    assert {h.at["frozen"], h.at["thawed"], h.at["taken"]} <= set(v.evidence)
    [result] = run_checks(h.build(), only=["member-rejoined"])
    assert result.verdict == Verdict.FAIL


def test_a_lost_event_outside_an_isolation_is_a_removal_too() -> None:
    """The poll interval expired while it processed: the client says so with on_lost."""
    h = (H().scenario(partitions=1, **CONFIG).started("m1", polling=True).assigned("m1", 0)
         .lost("m1", 0).as_("lost").waited(MIN_BOUND + 1).add("teardown"))
    [v] = check_member_rejoined(h.build())
    assert v.details["removal"] == "lost" and v.evidence == [h.at["lost"]]
    back = (H().scenario(partitions=1, **CONFIG).started("m1", polling=True).assigned("m1", 0)
            .lost("m1", 0).waited(1.0).assigned("m1", 0).waited(MIN_BOUND + 1).add("teardown"))
    assert check_member_rejoined(back.build()) == []


def test_only_time_the_member_could_rejoin_counts() -> None:
    """The example's end, the member's own end, another member isolated: not judged, or the
    wait restarts after it, plus the bound."""
    short = removed_m1().waited(MIN_BOUND - 1).add("teardown")
    assert check_member_rejoined(short.build()) == []
    killed = removed_m1().waited(2.0).killed("m1").waited(MIN_BOUND + 2).add("teardown")
    assert check_member_rejoined(killed.build()) == []
    closed = removed_m1().waited(2.0).add("closed", "m1").waited(MIN_BOUND + 2).add("teardown")
    assert check_member_rejoined(closed.build()) == []
    other = (removed_m1().waited(1.0).frozen("m2").waited(MIN_BOUND + 2).thawed("m2")
             .waited(MIN_BOUND - 1).assigned("m1", 0).add("teardown"))
    assert check_member_rejoined(other.build()) == []
    again = removed_m1().waited(2.0).frozen("m1").waited(MIN_BOUND + 2).add("teardown")
    assert check_member_rejoined(again.build()) == []


def test_members_the_group_cannot_all_feed_and_unknown_loops_are_not_judged() -> None:
    crowded = (H().scenario(partitions=1, **CONFIG).started("m1", polling=True)
               .started("m2", polling=True).assigned("m1", 0).frozen("m1").waited(3.0)
               .assigned("m2", 0).thawed("m1").waited(MIN_BOUND + 2).add("teardown"))
    assert check_member_rejoined(crowded.build()) == []  # 2 members, 1 partition
    no_loop = (H().scenario(partitions=2, **CONFIG).started("m1").started("m2", polling=True)
               .assigned("m1", 0).assigned("m2", 1).frozen("m1").waited(3.0)
               .assigned("m2", 0, 1).thawed("m1").waited(MIN_BOUND + 2).add("teardown"))
    assert check_member_rejoined(no_loop.build()) == []  # polls by hand, or an old history
    untaken = (H().scenario(partitions=2, **CONFIG).started("m1", polling=True)
               .assigned("m1", 0, 1).frozen("m1").waited(1.0).thawed("m1")
               .waited(MIN_BOUND + 2).add("teardown"))
    assert check_member_rejoined(untaken.build()) == []  # never removed: nothing taken


def test_a_second_removal_after_a_rejoin_is_judged_on_its_own() -> None:
    """Removed (frozen), back, then its partitions lost again and never given back: the
    second removal fails; the lost event of the first removal adds none."""
    h = (removed_m1().waited(0.5).lost("m1", 0).waited(1.0).assigned("m1", 0)
         .waited(2.0).lost("m1", 0).as_("again").waited(MIN_BOUND + 2).add("teardown"))
    [v] = check_member_rejoined(h.build())
    assert v.details["removal"] == "lost" and v.evidence[0] == h.at["again"]
