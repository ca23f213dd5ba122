"""Violations and evidence events as table rows: repeats folded, events listed once."""

from __future__ import annotations

from conformance.history import HARNESS, History
from conformance.report.evidence import evidence_events, value_text, violation_rows
from conformance.verdicts import Violation


def test_repeats_of_one_violation_are_one_row_with_all_their_evidence() -> None:
    same = {"topic": "t", "partition": 0, "committed": 13, "unprocessed": [3, 10]}
    vs = [Violation("commit-validity", "group-offset-beyond-processed", "S5", "13 > 3", [i],
                    dict(same)) for i in (63, 64, 66)]
    vs.append(Violation("commit-validity", "group-offset-beyond-processed", "S5", "7 > 3", [63],
                        {"topic": "t", "partition": 1, "committed": 7}))
    rows = violation_rows(vs)
    assert [(r["numbers"], r["times"], r["evidence"]) for r in rows] == [
        ([1, 2, 3], 3, [63, 64, 66]), ([4], 1, [63])]
    assert rows[0]["partition"] == "t-0" and rows[0]["offsets"] == [("committed", "13")]
    assert rows[0]["details"] == [("unprocessed", "3, 10")]


def test_evidence_events_once_each_and_consecutive_produce_events_as_one_row() -> None:
    h = History()
    for o in range(5):
        h.append("produced", HARNESS, o / 10, records=[["t", 1, o, "k", "x"]])
    h.append("processed", "m1", 1.0, records=[["t", 1, o, "k"] for o in (0, 1, 2, 4)])
    vs = [Violation("no-loss", "lost", "S1", "3 lost", [3, 5]),
          Violation("x", "y", "S1", "", [0, 1, 2, 3, 4]),
          Violation("x", "z", "S1", "", [5])]
    rows, more = evidence_events(h, vs)
    assert more == 0
    assert [(r["label"], r["indices"], r["by"], r["what"]) for r in rows] == [
        ("0\u20132", [0, 1, 2], [2], "t-1 0\u20132"),
        ("3", [3], [1, 2], "t-1 3"),
        ("4", [4], [2], "t-1 4"),
        ("5", [5], [1, 3], "t-1 0\u20132, 4"),
    ]


def test_values_read_as_words() -> None:
    assert value_text([1, 2, 3, 7]) == "1\u20133, 7"
    assert value_text({"a": [1, 2], "b": None}) == "a 1\u20132; b null"
    assert value_text(["m1", "m2"]) == "m1, m2"
