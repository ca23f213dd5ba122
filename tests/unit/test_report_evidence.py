"""Violations as table rows (repeats folded) and values in words."""

from __future__ import annotations

from conformance.report.evidence import value_text, violation_rows
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


def test_values_read_as_words() -> None:
    assert value_text([1, 2, 3, 7]) == "1\u20133, 7"
    assert value_text({"a": [1, 2], "b": None}) == "a 1\u20132; b null"
    assert value_text(["m1", "m2"]) == "m1, m2"
