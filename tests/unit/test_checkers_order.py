"""order (S9): gap-free increasing offsets per span; per-key order across growth is reported."""

from histories import H

from conformance.checkers import run_checks
from conformance.checkers.order import check_order, order_figures
from conformance.verdicts import Verdict


def test_increasing_gap_free_processing_passes() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(4)).consumed("m1", 0, range(4, 10)))
    assert check_order(h.build()) == []


def test_going_back_is_nonmonotonic() -> None:
    h = (H().scenario().produce(0, range(5))
         .assigned("m1", 0).processed("m1", 0, range(3)).as_("a")
         .processed("m1", 0, 1).as_("b"))
    [v] = check_order(h.build())
    assert v.anomaly == "nonmonotonic" and v.section == "S9"
    assert v.evidence == [h.at["a"], h.at["b"]]
    assert v.details["offset"] == 1 and v.details["previous"] == 2


def test_jumping_over_produced_records_is_a_skip() -> None:
    h = (H().scenario().produce(0, range(6))
         .assigned("m1", 0).processed("m1", 0, 0, 1).as_("a").processed("m1", 0, 4, 5).as_("b"))
    [v] = check_order(h.build())
    assert v.anomaly == "skip"
    assert v.evidence == [h.at["a"], h.at["b"]]
    assert v.details["skipped"] == [2, 3] and v.details["count"] == 2
    assert v.details["previous"] == 1 and v.details["offset"] == 4


def test_skip_inside_one_event_has_one_evidence_index() -> None:
    h = H().scenario().produce(0, range(4)).assigned("m1", 0).processed("m1", 0, 0, 2).as_("a")
    [v] = check_order(h.build())
    assert (v.anomaly, v.evidence) == ("skip", [h.at["a"]])


def test_offsets_never_produced_are_not_skipped() -> None:
    h = (H().scenario().produce(0, 0, 1, 4, 5)  # 2, 3: e.g. transaction markers
         .assigned("m1", 0).consumed("m1", 0, 0, 1, 4, 5))
    assert check_order(h.build()) == []


def test_seek_resets_the_expectation() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5)).seeked("m1", 0, 2)
         .consumed("m1", 0, range(2, 4)).seeked("m1", 0, 8).consumed("m1", 0, 8, 9))
    assert check_order(h.build()) == []


def test_after_a_seek_the_sought_offset_comes_first() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).processed("m1", 0, range(5)).seeked("m1", 0, 2).as_("seek")
         .processed("m1", 0, 4).as_("late").processed("m1", 0, 1).as_("early"))
    violations = check_order(h.build())
    assert [(v.anomaly, v.evidence) for v in violations] == [
        ("skip", [h.at["seek"], h.at["late"]]),
        ("nonmonotonic", [h.at["late"], h.at["early"]]),
    ]
    assert violations[0].details["sought"] == 2 and violations[0].details["skipped"] == [2, 3]


def test_each_span_is_checked_on_its_own() -> None:
    h = (H().scenario().produce(0, range(10))
         .assigned("m1", 0).consumed("m1", 0, range(5)).killed("m1")
         .assigned("m2", 0).consumed("m2", 0, range(2, 10)))
    assert check_order(h.build()) == []


def growth(order: str) -> H:
    h = (H().scenario(partitions=1).produce(0, 0, 1, key="a").as_("old")
         .partitions_added(2).produce(1, 0, key="a").as_("new")
         .assigned("m1", 0, 1))
    if order == "production":
        return h.consumed("m1", 0, 0, 1).consumed("m1", 1, 0)
    return h.consumed("m1", 1, 0).as_("first").consumed("m1", 0, 0, 1).as_("second")


def test_key_order_across_growth_in_production_order_is_not_reported() -> None:
    assert check_order(growth("production").build()) == []
    assert order_figures(growth("production").build())["key_order_inversions"] == 0


def test_key_order_across_growth_is_reported_and_allowed() -> None:
    h = growth("reversed")
    [v] = check_order(h.build())
    assert v.anomaly == "key-order-across-growth"
    assert v.details["key"] == "a" and v.details["inversions"] == 2
    assert v.details["partitions"] == [0, 1]
    # first inverted pair: (p0 offset 0 produced in "old", p1 offset 0 produced in "new")
    assert v.evidence == sorted([h.at["old"], h.at["new"], h.at["first"], h.at["second"]])
    assert order_figures(h.build())["keys_reordered_across_growth"] == 1
    [result] = run_checks(h.build(), only=["order"])
    assert result.verdict == Verdict.PASS
    assert "allowed" in result.note and "S9" in result.note
    assert result.figures["key_order_inversions"] == 2


def test_same_key_in_two_partitions_without_growth_is_not_a_key_order_case() -> None:
    h = (H().scenario(partitions=2).produce(0, 0, key="a").produce(1, 0, key="a")
         .assigned("m1", 0, 1).consumed("m1", 1, 0).consumed("m1", 0, 0))
    assert check_order(h.build()) == []


def test_seek_not_honored_while_owning_fails_and_exemptions_pass() -> None:
    from conformance.checkers.order import seeks_not_honored

    base = H().scenario().produce(0, range(10)).assigned("m1", 0).consumed("m1", 0, range(10))
    ignored = base.seeked("m1", 0, 5).as_("s").add(
        "seek_checked", member="m1", topic="t", partition=0, offset=5, honored=False,
        owned=True, paused=False, seek_event=base.last).as_("c")
    [v] = seeks_not_honored(ignored.build())
    assert v.anomaly == "seek-not-honored" and v.section == "S7"
    assert v.evidence[0] == ignored.at["c"]
    for flags in ({"honored": True, "owned": True}, {"honored": False, "owned": False},
                  {"honored": False, "owned": True, "paused": True}):
        ok = (H().scenario().produce(0, range(3)).assigned("m1", 0)
              .add("seek_checked", member="m1", topic="t", partition=0, offset=1, **flags))
        assert seeks_not_honored(ok.build()) == []
