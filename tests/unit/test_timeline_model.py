"""The timeline model: typed marks built from a history, merged on their numbers, worded from
their fields; the picture and the list both render it."""

from __future__ import annotations

import re

from conformance.history import HARNESS, History
from conformance.report.timeline_list import build_timeline
from conformance.report.timeline_model import Mark, build_model, merge
from conformance.report.timeline_svg import render_svg

DASH = "\u2013"


def _reads(*reads: tuple[str, int, list[int], float]) -> History:
    """``reads``: (member, partition, offsets, ts) of ``processed`` events on topic t."""
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=2)
    h.append("assigned", "m1", 0.0, partitions=[["t", 0], ["t", 1]])
    for member, part, offsets, ts in reads:
        h.append("processed", member, ts, records=[["t", part, o, None] for o in offsets])
    return h


def _merged(h: History, kind: str, evidence: frozenset[int] = frozenset()) -> list[Mark]:
    return [m for m in merge(build_model(h, evidence).marks) if m.kind == kind]


def test_contiguous_processed_offsets_are_one_mark_with_first_and_last() -> None:
    h = _reads(("m1", 0, [0, 1, 2], 0.1), ("m1", 0, [3, 4], 0.2), ("m1", 0, [5], 0.3))
    (mark,) = _merged(h, "processed")
    assert (mark.first, mark.last, mark.events, mark.t, mark.t2) == (0, 5, [2, 3, 4], 0.1, 0.3)
    assert mark.text == f"0{DASH}5" and mark.title == f"m1 processed 0{DASH}5"


def test_no_merge_across_a_gap_in_offsets_or_in_time() -> None:
    h = _reads(("m1", 0, [0, 1], 0.1), ("m1", 0, [3, 4], 0.2), ("m1", 0, [5], 2.0))
    assert [(m.first, m.last) for m in _merged(h, "processed")] == [(0, 1), (3, 4), (5, 5)]


def test_a_read_with_gaps_is_one_mark_per_run_and_each_run_merges_on() -> None:
    h = _reads(("m1", 0, [0, 1], 0.1), ("m1", 0, [2, 3, 5, 6], 0.2), ("m1", 0, [7, 8], 0.3))
    assert [(m.first, m.last) for m in build_model(h).marks if m.kind == "processed"] == [
        (0, 1), (2, 3), (5, 6), (7, 8)]
    assert [(m.first, m.last) for m in _merged(h, "processed")] == [(0, 3), (5, 8)]


def test_no_merge_across_members_or_partitions() -> None:
    h = _reads(("m1", 0, [0, 1], 0.1), ("m2", 0, [2, 3], 0.2), ("m2", 1, [4, 5], 0.3),
               ("m2", 0, [4], 0.4))
    marks = [(m.member, m.partition, m.first, m.last) for m in _merged(h, "processed")]
    assert marks == [("m1", ("t", 0), 0, 1), ("m2", ("t", 0), 2, 4), ("m2", ("t", 1), 4, 5)]


def test_records_processed_again_are_their_own_kind_and_merge_as_such() -> None:
    h = _reads(("m1", 0, [0, 1, 2, 3], 0.1), ("m2", 0, [2, 3, 4], 0.2), ("m2", 0, [5], 0.3))
    model = build_model(h)
    runs = [(m.kind, m.first, m.last) for m in model.marks if m.kind in ("processed", "again")]
    assert runs == [("processed", 0, 3), ("processed", 4, 4), ("again", 2, 3),
                    ("processed", 5, 5)]
    (again,) = _merged(h, "again")
    assert again.title == f"m2 processed again 2{DASH}3"
    assert [(m.member, m.first, m.last) for m in _merged(h, "processed")] == [
        ("m1", 0, 3), ("m2", 4, 5)]


def test_highlighted_marks_are_never_merged() -> None:
    h = _reads(("m1", 0, [0, 1], 0.1), ("m1", 0, [2, 3], 0.2), ("m1", 0, [4, 5], 0.3))
    marks = _merged(h, "processed", evidence=frozenset({3}))
    assert [(m.first, m.last, m.highlight) for m in marks] == [
        (0, 1, False), (2, 3, True), (4, 5, False)]


def test_ok_commits_in_a_row_are_one_run_and_failed_or_backward_ones_are_not() -> None:
    h = History()
    h.append("assigned", "m1", 0.0, partitions=[["t", 0]])
    for i, off in enumerate((3, 5, 5, 8)):
        h.append("committed", "m1", 0.1 * (i + 1), mode="sync", ok=True, offsets=[["t", 0, off]])
    h.append("committed", "m1", 0.6, mode="sync", ok=False, offsets=[["t", 0, 9]], error="x")
    h.append("committed", "m1", 0.7, mode="async", ok=True, offsets=[["t", 0, 2]])
    rows = [m for m in merge(build_model(h).marks) if m.partition and m.kind in
            ("committed", "commit_failed")]
    assert [(m.kind, m.first, m.last, len(m.events)) for m in rows] == [
        ("committed", 3, 8, 4), ("commit_failed", 9, 9, 1), ("committed", 2, 2, 1)]
    assert rows[0].title == f"m1 committed 3{DASH}8 (4 commits)"
    assert rows[1].title == "m1 commit failed 9 (sync): x"
    assert rows[2].title == "m1 committed 2 (async)"
    lane = [m for m in merge(build_model(h).marks) if m.member and m.partition is None
            and m.kind == "committed"]
    assert [m.title for m in lane] == ["m1 committed (5 commits)"], "the lane's run"


def test_merge_leaves_the_marks_given_alone() -> None:
    marks = build_model(_reads(("m1", 0, [0], 0.1), ("m1", 0, [1], 0.2))).marks
    before = [(m.first, m.last, list(m.events), m.t2) for m in marks]
    merge(marks)
    assert [(m.first, m.last, list(m.events), m.t2) for m in marks] == before


def test_words_are_derived_from_the_fields() -> None:
    mark = Mark("processed", 1.0, member="m1", partition=("t", 0), first=4, last=4)
    assert (mark.text, mark.title) == ("4", "m1 processed 4")
    mark.last = 9
    assert (mark.text, mark.title) == (f"4{DASH}9", f"m1 processed 4{DASH}9")
    failed = Mark("commit_failed", 1.0, member="m2", partition=("t", 1), first=7, last=7,
                  mode="async", detail="rebalance")
    assert failed.title == "m2 commit failed 7 (async): rebalance"
    lane = Mark("committed", 1.0, member="m2", offsets=((("t", 0), 3), (("t", 1), 7)))
    assert lane.title == "m2 committed t-0: 3, t-1: 7"
    assigned = Mark("assigned", 1.0, member="m1", partitions=(("t", 0), ("t", 1)))
    assert assigned.title == "m1 assigned t-0, t-1"
    died = Mark("member_died", 1.0, member="m3", label="-9")
    assert (died.text, died.title) == ("died (rc -9)", "m3 died (rc -9)")


def test_members_hold_partitions_for_their_marks_without_any() -> None:
    h = History()
    h.append("assigned", "m1", 0.0, partitions=[["t", 1], ["t", 0]])
    h.append("revoked", "m1", 0.1, partitions=[["t", 1]])
    h.append("committed", "m1", 0.2, ok=False, offsets=[], error="fenced")
    h.append("member_killed", HARNESS, 0.3, member="m1")
    marks = build_model(h).marks
    assert [(m.kind, m.partition) for m in marks if m.kind == "commit_failed"] == [
        ("commit_failed", ("t", 0)), ("commit_failed", None)]
    (killed,) = [m for m in marks if m.kind == "member_killed"]
    assert (killed.member, killed.partitions) == ("m1", (("t", 0),))


def test_the_picture_and_the_list_render_the_same_runs() -> None:
    """A read with a gap (a transaction marker at 4): the list has a chip per run; the
    picture merges the run that continues and draws the rest of that read at its spot as
    one bar naming every run."""
    h = _reads(("m1", 0, [0, 1, 2], 0.1), ("m1", 0, [3, 5, 6, 8], 0.2))
    (row, _other) = build_timeline(h).rows
    assert [it.label for it in row.items if it.kind == "processed"] == [
        f"m1 processed 0{DASH}3", f"m1 processed 5{DASH}6", "m1 processed 8"]
    titles = re.findall(r'<g class="mark processed"><rect [^>]+><title>([^<]+)</title>',
                        render_svg(h))
    assert titles == [f"m1 processed 0{DASH}3 (event #2\u2013#3, 2 events)",
                      f"m1 processed 5{DASH}6, 8 (event #3)"]
