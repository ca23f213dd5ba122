"""The timeline picture: axis, partition rows, member lanes, marks and highlighted evidence."""

from __future__ import annotations

import re
from itertools import pairwise

from test_report_fixtures import T, failing_history

from conformance.history import HARNESS, History
from conformance.report.timeline_svg import (
    LEFT,
    RIGHT,
    build_scale,
    collect,
    missing_records,
    render_svg,
    ticks,
)
from conformance.verdicts import Violation


def _history() -> History:
    """m1 and m2 share t-0/t-1; m3 is killed before it ever gets a partition; m1 pauses; the
    topic grows; m2 re-processes 3..4 and offset 7 of t-1 is never processed."""
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=2)
    for m in ("m1", "m2", "m3"):
        h.append("member_started", HARNESS, 0.1, member=m)
    h.append("assigned", "m1", 0.2, partitions=[["t", 0], ["t", 1]])
    h.append("produced", HARNESS, 0.3, records=[["t", p, o, "k", "x"] for p in (0, 1)
                                                for o in range(8)])
    h.append("processed", "m1", 0.4, records=[["t", 0, o, "k"] for o in range(5)])
    h.append("paused", "m1", 0.5, partitions=[["t", 1]])
    h.append("member_killed", HARNESS, 0.6, member="m3")
    h.append("resumed", "m1", 0.7, partitions=[["t", 1]])
    h.append("processed", "m1", 0.8, records=[["t", 1, o, "k"] for o in range(7)])
    h.append("revoked", "m1", 0.9, partitions=[["t", 0]])
    h.append("assigned", "m2", 1.0, partitions=[["t", 0]])
    dup = h.append("processed", "m2", 1.1, records=[["t", 0, o, "k"] for o in range(3, 8)])
    h.append("committed", "m2", 1.2, mode="sync", ok=True, offsets=[["t", 0, 8]])
    h.append("partitions_added", HARNESS, 30.0, topic="t", count=3)
    h.append("committed", "m1", 30.5, mode="async", ok=False, offsets=[["t", 1, 7]],
             error="rebalance in progress")
    assert dup.index == 13
    return h


def test_every_member_has_a_lane_also_one_killed_before_any_assignment() -> None:
    svg = render_svg(_history())
    assert re.findall(r'<g class="lane" data-member="(\w+)"', svg) == ["m1", "m2", "m3"]
    assert '<g class="mark member_killed">' in svg and ">killed<" in svg


def test_one_row_per_partition_including_added_ones() -> None:
    svg = render_svg(_history())
    assert re.findall(r'<g class="row[^"]*" data-tp="([^"]+)"', svg) == ["t-0", "t-1", "t-2"]
    assert '<g class="mark partitions_added">' in svg and "3 partitions" in svg


def test_processing_commits_rebalances_and_pauses_are_drawn() -> None:
    svg = render_svg(_history())
    for cls in ("produced", "processed", "committed", "commit_failed", "owner", "assigned",
                "revoked", "paused"):
        assert f'class="mark {cls}' in svg, cls
    assert "m1 commit failed 7 (async): rebalance in progress" in svg
    assert "m1 paused t-1" in svg


def test_duplicates_and_missing_records_are_marked() -> None:
    h = _history()
    svg = render_svg(h, missing=missing_records(h))
    (again,) = re.findall(r'<g class="mark again">.*?<title>([^<]+)</title>', svg)
    assert again.startswith("m2 processed again 3\u20134")
    (missing,) = re.findall(r'<g class="mark missing">.*?<title>([^<]+)</title>', svg)
    assert missing == "never processed: t-1 offsets 7"


def test_offsets_a_violation_reports_missing_are_marked_too() -> None:
    h = _history()
    v = Violation("S1-x", "missing", "S1", "not read by m2", [4],
                  {"topic": "t", "partition": 0, "offsets": [0, 1]})
    assert missing_records(h, [v]) == {("t", 1): [(7, 0.3)], ("t", 0): [(0, 0.3), (1, 0.3)]}


def test_evidence_events_are_circled_and_numbered() -> None:
    svg = render_svg(_history(), evidence={13, 7})
    assert svg.count('<g class="ev">') >= 2
    assert ">#13</text>" in svg and ">#7</text>" in svg
    assert re.search(r'<g class="row failing" data-tp="t-0">', svg), "the evidence's row"


def test_idle_stretches_are_cut_and_the_axis_stays_monotonic() -> None:
    times = sorted({e.ts for e in _history()})
    scale = build_scale(times)
    xs = [scale.x(t) for t in times]
    assert xs == sorted(xs) and xs[0] >= LEFT and xs[-1] <= RIGHT
    ((_x, cut),) = scale.breaks()
    assert 28 < cut < 29, "the 28.8 s without events before the growth"
    assert scale.x(1.2) - scale.x(0.0) > 0.6 * (RIGHT - LEFT), "the busy part gets the room"
    labels = [label for _x, label in ticks(scale)]
    assert labels[0] == "+0.0s" and any(label.startswith("+30") for label in labels)


def test_consecutive_processing_of_one_member_is_one_bar() -> None:
    h = History()
    h.append("assigned", "m1", 0.0, partitions=[["t", 0]])
    for o in range(500):
        h.append("processed", "m1", 0.01 * o, records=[["t", 0, o, None]])
    bars = [m for m in collect(h).marks if m.kind == "processed"]
    assert [(b.text, len(b.events)) for b in bars] == [("0\u2013499", 500)]


def test_the_fixture_history() -> None:
    history, dup = failing_history()
    svg = render_svg(history, {dup}, missing=missing_records(history))
    assert f'data-tp="{T}-0"' in svg and "<script" not in svg
    assert "http" not in svg, "no namespace or other URL: inline in HTML needs none"


def test_a_dense_history_stays_small_and_keeps_its_evidence() -> None:
    h = History()
    h.append("assigned", "m1", 0.0, partitions=[["t", 0]])
    h.append("assigned", "m2", 0.0, partitions=[["t", 0]])
    for o in range(5000):  # alternating members: nothing merges into bars
        h.append("processed", f"m{o % 2 + 1}", o / 1000, records=[["t", 0, o, None]])
    svg = render_svg(h, evidence={2502})
    assert svg.count('<g class="mark processed">') < 1000 and len(svg) < 250_000
    assert ">#2502</text>" in svg


def test_rows_of_several_topics_are_named_by_what_tells_them_apart() -> None:
    h = History()
    for topic in ("kc-9ee3f6ce-t-5dd34bc6", "kc-9ee3f6ce-t-f10c6b1d"):
        h.append("assigned", "m1", 0.0, partitions=[[topic, 0]])
    names = re.findall(r'<text x="4" y="[\d.]+" font-family="monospace">'
                       r'<title>[^<]+</title>([^<]+)</text>', render_svg(h))
    assert names == ["5dd34bc6-0", "f10c6b1d-0"]


def test_the_brokers_offsets_are_drawn_when_they_move_or_are_evidence() -> None:
    h = History()
    h.append("assigned", "m1", 0.0, partitions=[["t", 0]])
    for i, off in enumerate((5, 5, 5, 9, 9)):
        h.append("group_offsets", HARNESS, 0.1 * (i + 1), offsets=[["t", 0, off]])
    marks = [(m.text, m.events) for m in collect(h, evidence={5}).marks
             if m.kind == "group_offset"]
    assert marks == [("5", [1]), ("9", [4]), ("9", [5])]


def test_a_sparse_row_writes_every_bars_offsets() -> None:
    svg = render_svg(_history())
    assert re.search(r'<g class="mark processed"><rect [^>]+><title>m1 processed 0\u20134'
                     r'[^<]*</title></rect><text [^>]+>0\u20134</text>', svg)


def test_a_burst_of_events_gets_room_and_time_still_reads_in_order() -> None:
    times = [0.0, 0.5, *(1.0 + i / 1000 for i in range(100)), 1.9]
    scale = build_scale(times)
    xs = [scale.x(t) for t in times]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert scale.x(1.099) - scale.x(1.0) > 0.4 * (RIGHT - LEFT), "the burst is spread out"
    assert scale.x(0.5) - scale.x(0.0) > 0.05 * (RIGHT - LEFT), "quiet moments keep room"
    positions = [x for x, _label in ticks(scale)]
    assert positions == sorted(positions)
    assert min(b - a for a, b in pairwise(positions)) >= 60
