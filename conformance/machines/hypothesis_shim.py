"""The two places where the suite needs more of Hypothesis than its public API offers, kept
here, tested (tests/unit/test_hypothesis_shim.py) and bound to a version range (pyproject.toml:
``hypothesis>=6.136,<7``; 6.136 made Hypothesis thread-safe, which ``--jobs`` relies on):

- the shrink budget: ``hypothesis.internal.conjecture.engine.MAX_SHRINKING_SECONDS``, a
  process-wide constant (each shrink step runs against a real broker, so the default of five
  minutes per failure is too long for CI);
- a minimum number of steps per example: ``run_state_machine_as_test(..., _min_steps=N)``
  (examples without a step say nothing about a client);
- ``hypothesis.reporting.with_reporter``, to keep Hypothesis's own messages off the console.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from hypothesis.internal.conjecture import engine as _engine
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

_LOCK = threading.Lock()
_BUDGETS: list[int] = []  # the budgets of the machines running now (threads of one run)
_DEFAULT = getattr(_engine, "MAX_SHRINKING_SECONDS", None)


def shrink_budget_supported() -> bool:
    return _DEFAULT is not None


@contextlib.contextmanager
def shrink_budget(seconds: int) -> Iterator[None]:
    """Bound Hypothesis's shrinking time. The setting is process-wide: while machines run
    concurrently the largest budget holds, and the default returns when the last one ends."""
    if _DEFAULT is None:
        yield
        return
    with _LOCK:
        _BUDGETS.append(seconds)
        _engine.MAX_SHRINKING_SECONDS = max(_BUDGETS)
    try:
        yield
    finally:
        with _LOCK:
            _BUDGETS.remove(seconds)
            _engine.MAX_SHRINKING_SECONDS = max(_BUDGETS, default=_DEFAULT)


def current_shrink_budget() -> Any:
    return getattr(_engine, "MAX_SHRINKING_SECONDS", None)


def run_machine_with_min_steps(machine: type, settings: Any, min_steps: int,
                               notes: list[str] | None = None) -> None:
    """``run_state_machine_as_test`` with at least ``min_steps`` steps per example. What
    Hypothesis reports (e.g. its warning when the shrink budget ran out, which names its own
    default of five minutes) goes to ``notes`` instead of the console, where a run prints
    its own status."""
    sink = notes if notes is not None else []
    with with_reporter(lambda text: sink.append(str(text))):
        run_state_machine_as_test(machine, settings=settings, _min_steps=min_steps)
