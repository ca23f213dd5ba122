"""spans: the shared derivations (ownership spans, commits, group committed offsets)."""

from histories import H

from conformance.checkers.spans import (
    GroupOffsets,
    Span,
    Spans,
    between,
    commits,
    ownership_spans,
    processings,
)


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
