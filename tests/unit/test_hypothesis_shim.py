"""The Hypothesis internals the suite relies on still exist in the installed release, and the
shrink status says honestly how far a failing example was reduced."""

from __future__ import annotations

import inspect
import threading
from pathlib import Path

from hypothesis.stateful import run_state_machine_as_test

from conformance.machines import hypothesis_shim as shim
from conformance.machines.group import Example
from conformance.machines.runner import shrink_status


def test_internals_exist_in_this_hypothesis_release():
    assert shim.shrink_budget_supported()
    assert "_min_steps" in inspect.signature(run_state_machine_as_test).parameters


def test_shrink_budget_is_the_largest_while_machines_overlap_and_then_restored():
    default = shim.current_shrink_budget()
    inner_started, release = threading.Event(), threading.Event()

    def other() -> None:
        with shim.shrink_budget(200):
            inner_started.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with shim.shrink_budget(30):
        assert shim.current_shrink_budget() == 30
        thread.start()
        assert inner_started.wait(5)
        assert shim.current_shrink_budget() == 200
        release.set()
        thread.join(5)
        assert shim.current_shrink_budget() == 30
    assert shim.current_shrink_budget() == default


def example(number: int, steps: int, finished: float) -> Example:
    return Example(number, [("produce", {})] * steps, [], [], 1.0, Path("h"),
                   finished=finished)


def test_shrink_status():
    canonical, first, small = example(1, 15, 10.0), example(3, 9, 20.0), example(7, 3, 40.0)
    assert shrink_status([canonical, first, small], small, 90, 50.0) == "shrunk (9 -> 3 steps)"
    assert shrink_status([first, small], small, 25, 50.0) == \
        "partly shrunk (6 of 9 steps removed)"
    assert shrink_status([first], first, 25, 50.0).startswith("not shrunk (the 25 s")
    assert shrink_status([canonical], canonical, 90, 11.0).startswith(
        "not shrunk (the canonical example")
    assert shrink_status([first], first, None, 50.0).startswith("not shrunk (shrinking is off")


def test_hypothesis_reports_go_to_the_notes_not_the_console(capsys):
    from hypothesis import settings
    from hypothesis.reporting import report
    from hypothesis.stateful import RuleBasedStateMachine, rule

    class Reports(RuleBasedStateMachine):
        @rule()
        def step(self) -> None:
            report("a message from inside Hypothesis")

    notes: list[str] = []
    shim.run_machine_with_min_steps(Reports, settings(max_examples=2, database=None), 1, notes)
    assert "a message from inside Hypothesis" in notes
    assert "a message from inside Hypothesis" not in capsys.readouterr().out
