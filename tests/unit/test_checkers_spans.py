"""spans: the shared derivations (ownership spans, commits, group committed offsets)."""

from histories import H

from conformance.checkers.group_offsets import GroupOffsets, commits
from conformance.checkers.outages import isolations
from conformance.checkers.spans import Span, Spans, between, ownership_spans, processings


def test_spans_start_at_assigned_and_end_at_each_kind_of_end() -> None:
    h = (H().scenario(partitions=3)
         .assigned("m1", 0, 1, 2).as_("a")
         .revoked("m1", 0).as_("r").lost("m1", 1).as_("l")
         .assigned("m2", 0).as_("b").killed("m2").as_("k")
         .assigned("m3", 0, manual=True).as_("c"))
    at = h.at
    assert ownership_spans(h.build()) == [
        Span("m1", ("t", 0), at["a"], at["r"], False, "revoked"),
        Span("m1", ("t", 1), at["a"], at["l"], False, "lost"),
        Span("m1", ("t", 2), at["a"], None, False, None),
        Span("m2", ("t", 0), at["b"], at["k"], False, "member_killed"),
        Span("m3", ("t", 0), at["c"], None, True, None),
    ]


def test_assigned_again_while_owning_continues_the_span() -> None:
    h = H().assigned("m1", 0).as_("a").assigned("m1", 0, 1).as_("b").closed("m1").as_("c")
    spans = ownership_spans(h.build())
    assert [(s.tp[1], s.start, s.end, s.end_type) for s in spans] == [
        (0, h.at["a"], h.at["c"], "closed"), (1, h.at["b"], h.at["c"], "closed")]


def test_processing_after_the_span_belongs_to_the_latest_span_else_an_orphan() -> None:
    h = (H().produce(0, range(3)).processed("m1", 0, 0).assigned("m1", 0).as_("a")
         .processed("m1", 0, 1).revoked("m1", 0).processed("m1", 0, 2))
    spans = Spans(h.build())
    owners = [spans.owning(p.member, p.tp, p.index) for p in processings(h.build())]
    assert owners[0].orphan and owners[0].end_type == "orphan"
    assert owners[1] == owners[2] and owners[1].start == h.at["a"]


def test_group_offsets_follow_the_latest_ok_commit_of_any_member() -> None:
    h = (H().committed("m1", {0: 3}).as_("c1").committed("m1", {0: 9}, ok=False)
         .committed("m2", {0: 5, 1: -1001}).as_("c2").commit_requested("m2", {0: 7}))
    group = GroupOffsets(h.build())
    assert group.at(("t", 0), h.at["c1"]) is None
    assert group.at(("t", 0), h.at["c2"]) == (h.at["c1"], 3)
    assert group.at(("t", 0), len(h.build())) == (h.at["c2"], 5)
    assert group.at(("t", 0), len(h.build()), member="m1") == (h.at["c1"], 3)
    assert group.at(("t", 1), len(h.build())) is None
    assert [c.requested for c in commits(h.build(), requested=True)] == [False, False, False,
                                                                           True]


def test_between_is_half_open() -> None:
    assert between([0, 1, 4, 5], 1, 5) == [1, 4]
    assert between([], 0, 9) == []


def test_manual_assign_replaces_the_previous_manual_assignment() -> None:
    h = (H().assigned("s1", 0, 1, manual=True).as_("a")
         .assigned("s1", 1, 2, manual=True).as_("b"))
    spans = ownership_spans(h.build())
    assert [(s.tp[1], s.start, s.end, s.end_type) for s in spans] == [
        (0, h.at["a"], h.at["b"], "assigned"), (1, h.at["a"], None, None),
        (2, h.at["b"], None, None)]


def test_isolations_run_from_freeze_or_fault_to_the_first_rebalance_event_after_the_end() -> None:
    h = (H().scenario().assigned("m1", 0).assigned("m2", 1)
         .frozen("m1").as_("freeze").thawed("m1", 3.0).as_("thaw")
         .processed("m1", 0, 0).revoked("m1", 0).as_("m1-heard")
         .network_fault("m2", "drop").as_("fault").lost("m2", 1).as_("while-cut")
         .network_healed("m2").as_("heal").processed("m2", 1, 0).assigned("m2").as_("m2-heard")
         .network_fault("m1", "delay", delay_ms=2500).as_("slow"))
    at = h.at
    frozen, dropped, slowed = isolations(h.build())
    assert (frozen.member, frozen.kind, frozen.words) == ("m1", "frozen", "frozen")
    assert frozen.window == (at["freeze"], at["m1-heard"]) and frozen.seconds == 3.0
    assert frozen.until == at["slow"]
    assert (dropped.kind, dropped.words, dropped.ended.index) == ("drop", "black-holed",
                                                                   at["heal"])
    # the lost event while black-holed is not hearing: only one after the heal is
    assert dropped.window == (at["fault"], at["m2-heard"])
    assert (slowed.kind, slowed.words, slowed.ended, slowed.heard) == ("delay", "slowed",
                                                                       None, None)
    assert slowed.window == (at["slow"], float("inf"))


def test_isolation_after_during_and_before_end_by_timestamp() -> None:
    h = (H().scenario().assigned("m1", 0).polled("m1", 0, 0).as_("before")
         .network_fault("m1", "cut").polled("m1", 0, 1).as_("during")
         .network_healed("m1").polled("m1", 0, 2).backdated(0.002).as_("late-record")
         .polled("m1", 0, 3).as_("after"))
    events = h.build().events
    [cut] = isolations(h.build())
    assert [cut.after(events[h.at[n]]) for n in ("before", "during", "late-record", "after")] \
        == [False, False, False, True]
    assert [cut.during(events[h.at[n]]) for n in ("before", "during", "late-record", "after")] \
        == [False, True, True, False]
    assert [cut.before_end(events[h.at[n]]) for n in ("before", "during", "after")] \
        == [True, True, False]
    f = (H().scenario().assigned("m1", 0).frozen("m1").polled("m1", 0, 0).backdated(1.0)
         .as_("written-before").polled("m1", 0, 1).as_("before-it-took-hold")
         .polled("m1", 0, 2).as_("after-sigcont"))
    sent = f.history.events[f.at["after-sigcont"]].ts - 0.0005
    events = f.thawed("m1", sent=sent).build().events
    [freeze] = isolations(f.build())
    assert not freeze.after(events[f.at["written-before"]])
    # stamped after SIGSTOP was sent but before SIGCONT: a stopped process emits nothing, so
    # it was emitted before the stop took hold (seen: a JVM ran on 16 ms)
    assert not freeze.after(events[f.at["before-it-took-hold"]])
    assert freeze.before_end(events[f.at["before-it-took-hold"]])
    assert freeze.after(events[f.at["after-sigcont"]])  # emitted after SIGCONT, before recorded
    assert not freeze.during(events[f.at["after-sigcont"]])
    assert not freeze.during(events[f.at["before-it-took-hold"]])


def test_an_isolation_that_never_heard_lasts_until_the_next_one() -> None:
    h = (H().scenario().assigned("m1", 0).frozen("m1").as_("a").thawed("m1")
         .network_fault("m1", "cut").as_("b").network_healed("m1").lost("m1", 0).as_("heard"))
    first, second = isolations(h.build())
    assert first.window == (h.at["a"], h.at["b"]) and first.heard is None
    assert second.window == (h.at["b"], h.at["heard"])
