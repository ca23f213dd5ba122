"""Run a run's configurations concurrently on one broker (``--jobs N``).

Each task is one configuration (its own topics and groups), run on a daemon thread named
``kc-job-N``: worker processes started from such a thread die with the run (Linux
``PDEATHSIG``, see :mod:`conformance.processes`), and Ctrl-C in the main thread is not held up
by a task still waiting on the broker. Results come back in the order of the tasks, so a
parallel run reports exactly as a serial one. While tasks run, :class:`Board` holds what each
is doing, for one status line in the main thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

JOB_THREAD_PREFIX = "kc-job"


def default_jobs() -> int:
    """Configurations run at once by default: the machine's cores, at least 2 (a run waits
    on the broker and on group rebalances far more than it computes), at most 4."""
    return max(2, min(4, os.cpu_count() or 1))


@dataclass
class Board:
    """What every running task is doing, and how many are done (thread-safe)."""

    total: int
    done: int = 0
    running: dict[int, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, task: int, text: str) -> None:
        with self._lock:
            self.running[task] = text

    def finish(self, task: int) -> None:
        with self._lock:
            self.running.pop(task, None)
            self.done += 1

    def line(self) -> str:
        with self._lock:
            doing = "; ".join(self.running[k] for k in sorted(self.running))
            return (f"{self.done}/{self.total} configurations done, "
                    f"{time.monotonic() - self.started:.0f} s" + (f" | {doing}" if doing else ""))


@dataclass
class _Slot(Generic[T]):
    value: T | None = None
    error: BaseException | None = None
    finished: bool = False


def run_all(tasks: list[Callable[[Board, int], T]], jobs: int, board: Board,
            tick: Callable[[], None] | None = None, interval: float = 0.5) -> list[T]:
    """Run ``task(board, index)`` for every task, ``jobs`` at a time; the results in task
    order. A task's exception is re-raised here (after the others finished). ``tick`` runs in
    the calling thread every ``interval`` seconds while tasks run (e.g. a status line)."""
    slots: list[_Slot[T]] = [_Slot() for _ in tasks]
    pending: Iterator[int] = iter(range(len(tasks)))
    lock = threading.Condition()

    def work() -> None:
        while True:
            with lock:
                index = next(pending, None)
            if index is None:
                return
            slot = slots[index]
            try:
                slot.value = tasks[index](board, index)
            except BaseException as exc:  # handed to the caller below
                slot.error = exc
            finally:
                board.finish(index)
                with lock:
                    slot.finished = True
                    lock.notify_all()

    threads = [threading.Thread(target=work, name=f"{JOB_THREAD_PREFIX}-{n}", daemon=True)
               for n in range(max(1, min(jobs, len(tasks))))]
    for thread in threads:
        thread.start()
    while True:
        with lock:
            if all(s.finished for s in slots):
                break
            lock.wait(interval)  # short waits: Ctrl-C reaches this thread at once
        if tick is not None:
            tick()
    for slot in slots:
        if slot.error is not None:
            raise slot.error
    return [s.value for s in slots]  # type: ignore[misc]
