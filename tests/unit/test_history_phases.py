"""Where an example's time went: seconds per step, setup and teardown, from the history."""

from __future__ import annotations

import pytest

from conformance.history import HARNESS, History


def test_phase_seconds_split_the_history_at_steps_and_teardown():
    h = History()
    h.append("scenario", HARNESS, 10.0)
    h.append("step", HARNESS, 10.5, name="start_member", args={})
    h.append("assigned", "m1", 11.0, partitions=[["t", 0]])
    h.append("step", HARNESS, 12.0, name="produce", args={"count": 3})
    h.append("step", HARNESS, 12.25, name="start_member", args={})
    h.append("teardown", HARNESS, 13.0)
    h.append("drain_finished", HARNESS, 15.0, member="drain", complete=True)
    assert h.phase_seconds() == pytest.approx({"setup": 0.5, "start_member": 2.25,
                                               "produce": 0.25, "teardown": 2.0})


def test_a_history_without_steps_is_setup_and_teardown():
    h = History()
    h.append("scenario", HARNESS, 1.0)
    h.append("teardown", HARNESS, 2.0)
    h.append("note", HARNESS, 4.0, text="x")
    assert h.phase_seconds() == {"setup": 1.0, "teardown": 2.0}
    assert History().phase_seconds() == {}


def test_last_written_per_partition_with_and_without_aborted_records() -> None:
    from histories import H
    h = (H().produce(0, range(3)).transaction(0, range(3, 6), commit=False)
         .produce(1, range(2))).build()
    assert h.last_written("t") == {0: 5, 1: 1}
    assert h.last_written("t", aborted=False) == {0: 2, 1: 1}
    assert h.last_written("other") == {}
