"""Which failing check the shrinker reduces first: the narrowest (fewest members named)."""

from __future__ import annotations

from conformance.machines.group import Example
from conformance.machines.runner import shrink_order


def example(number: int, steps: int) -> Example:
    return Example(number, [("start_member", {})] * steps, [], [], 1.0)


def test_the_narrowest_failure_goes_first_then_registry_order_with_the_smallest_example():
    canonical, generated, other = example(1, 41), example(2, 7), example(3, 9)
    failing = [("member-assigned", canonical), ("member-assigned", generated),
               ("member-rejoined", canonical), ("member-rejoined", other),
               ("no-loss", canonical)]
    named = {"member-assigned": 2, "member-rejoined": 1, "no-loss": 1}
    order = shrink_order(failing, lambda ex, check: named[check])
    # member-rejoined names one member (m3 alone), member-assigned two; no-loss ties with
    # member-rejoined and comes after it in the registry's order
    assert order == [("member-rejoined", other), ("no-loss", canonical),
                     ("member-assigned", generated)]


def test_equal_sizes_take_the_latest_example_and_nothing_failing_gives_nothing():
    first, second = example(1, 5), example(2, 5)
    assert shrink_order([("order", first), ("order", second)], lambda ex, c: 0) == \
        [("order", second)]
    assert shrink_order([], lambda ex, c: 0) == []
