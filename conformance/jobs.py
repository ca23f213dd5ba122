"""Run a run's configurations concurrently on one broker (``--jobs N``).

Each task is one configuration (its own topics and groups), run on a daemon thread named
``kc-job-N``: worker processes started from such a thread die with the run (Linux
``PDEATHSIG``, see :mod:`conformance.processes`), and Ctrl-C in the main thread is not held up
by a task still waiting on the broker. Results come back in the order of the tasks, so a
parallel run reports exactly as a serial one; the results of the tasks that finished are also
handed over as they finish, so an interrupted run can still report them. While tasks run,
:class:`Board` holds what each is doing and how far the run got, for one status line in the
main thread.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

JOB_THREAD_PREFIX = "kc-job"


#: configurations per core: a configuration waits on session timeouts, settles and drains
#: far more than it computes (the README's run used 0.69 of one core at 2 jobs on 2 cores)
JOBS_PER_CORE = 3
#: the most configurations at once, whatever the machine
MAX_JOBS = 8
#: memory one configuration may take: up to four members and a drain member, each a worker
#: process (a JVM for java and spring-kafka, ~200 MB), and the harness's share
BYTES_PER_JOB = 1 << 30


def default_jobs(cores: int | None = None, available: int | None = None) -> int:
    """Configurations run at once by default: three per core, as many as the available
    memory holds at :data:`BYTES_PER_JOB` each, at least 2, at most :data:`MAX_JOBS`."""
    cores = cores if cores is not None else os.cpu_count() or 1
    if available is None:
        import psutil

        available = psutil.virtual_memory().available
    return max(2, min(MAX_JOBS, JOBS_PER_CORE * cores, available // BYTES_PER_JOB))


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass
class Board:
    """What every running task is doing, and how far the run got (thread-safe).

    Besides configurations, a board counts units of work per task (``examples`` of generated
    scenarios, fixed ``scenarios``): :meth:`expect` sets a task's expected count, :meth:`count`
    how many are done. Time left is estimated from the tasks that finished, per ``kinds``
    (a generated configuration takes far longer than a fixed scenario's)."""

    total: int
    jobs: int = 1
    #: the kind of each task (e.g. "generated", "fixed"); tasks of one kind take alike long
    kinds: list[str] = field(default_factory=list)
    done: int = 0
    running: dict[int, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    began: dict[int, float] = field(default_factory=dict)
    took: dict[int, float] = field(default_factory=dict)
    #: unit -> task -> [done, expected]
    units: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, task: int, text: str) -> None:
        with self._lock:
            self.running[task] = text

    def expect(self, unit: str, task: int, total: int) -> None:
        """Task ``task`` has ``total`` units of ``unit`` to do."""
        with self._lock:
            self.units.setdefault(unit, {}).setdefault(task, [0, 0])[1] = total

    def count(self, unit: str, task: int, done: int, total: int | None = None) -> None:
        """Task ``task`` has done ``done`` units of ``unit`` (and, given, has ``total``)."""
        with self._lock:
            entry = self.units.setdefault(unit, {}).setdefault(task, [0, 0])
            entry[0] = done
            if total is not None:
                entry[1] = total

    def start(self, task: int) -> None:
        with self._lock:
            self.began[task] = time.monotonic()

    def finish(self, task: int) -> None:
        with self._lock:
            self.running.pop(task, None)
            self.done += 1
            if task in self.began:
                self.took[task] = time.monotonic() - self.began[task]
            for per in self.units.values():  # a finished task did all its work
                if task in per:
                    per[task][0] = max(per[task])

    def counts(self) -> dict[str, tuple[int, int]]:
        """``{"configurations": (done, total), unit: (done, expected), ...}``."""
        with self._lock:
            out = {"configurations": (self.done, self.total)}
            for unit, per in self.units.items():
                done = sum(min(d, t) if t else d for d, t in per.values())
                out[unit] = (done, sum(max(d, t) for d, t in per.values()))
            return out

    def seconds_left(self, now: float | None = None) -> float | None:
        """Estimated seconds until every task is done, from the tasks that finished (None
        before the first one finished): the mean time of a finished task of the same kind
        (else of any kind) for each task not finished, less what a running one has spent,
        shared among the jobs."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self.took:
                return None
            means: dict[str, float] = {}
            for kind in set(self.kinds):
                times = [t for i, t in self.took.items() if self._kind(i) == kind]
                if times:
                    means[kind] = statistics.mean(times)
            overall = statistics.mean(self.took.values())
            work = 0.0
            for task in range(self.total):
                if task in self.took:
                    continue
                mean = means.get(self._kind(task), overall)
                spent = now - self.began[task] if task in self.began else 0.0
                work += max(mean - spent, 0.0)
            return work / max(1, min(self.jobs, self.total - len(self.took)))

    def _kind(self, task: int) -> str:
        return self.kinds[task] if task < len(self.kinds) else ""

    def progress(self) -> str:
        """``2/6 configurations, 5/12 examples, 3/18 scenarios done, 1 min 20 s, about
        3 min 05 s left``."""
        counts = self.counts()
        parts = [f"{d}/{t} {unit}" for unit, (d, t) in counts.items() if t or unit ==
                 "configurations"]
        left = self.seconds_left()
        when = "estimating time left" if left is None else f"about {duration(left)} left"
        return (f"{', '.join(parts)} done, {duration(time.monotonic() - self.started)}, "
                f"{when}")

    def line(self) -> str:
        """:meth:`progress` and what every running task is doing."""
        head = self.progress()
        with self._lock:
            doing = "; ".join(self.running[k] for k in sorted(self.running))
        return head + (f" | {doing}" if doing else "")


@dataclass
class _Slot(Generic[T]):
    value: T | None = None
    error: BaseException | None = None
    finished: bool = False


def run_all(tasks: list[Callable[[Board, int], T]], jobs: int, board: Board,
            tick: Callable[[], None] | None = None, interval: float = 0.5,
            finished: dict[int, T] | None = None) -> list[T]:
    """Run ``task(board, index)`` for every task, ``jobs`` at a time; the results in task
    order. A task's exception is re-raised here (after the others finished). ``tick`` runs in
    the calling thread every ``interval`` seconds while tasks run (e.g. a status line).

    ``finished`` receives ``index: result`` of every task as it succeeds: when the run is
    interrupted (Ctrl-C, or an error raised in ``tick``), no further task starts, the
    exception goes to the caller at once and ``finished`` holds what had finished (the
    tasks still running are left to their daemon threads)."""
    slots: list[_Slot[T]] = [_Slot() for _ in tasks]
    pending: Iterator[int] = iter(range(len(tasks)))
    lock = threading.Condition()
    stop = threading.Event()

    def work() -> None:
        while True:
            with lock:
                index = None if stop.is_set() else next(pending, None)
            if index is None:
                return
            slot = slots[index]
            board.start(index)
            try:
                slot.value = tasks[index](board, index)
            except BaseException as exc:  # handed to the caller below
                slot.error = exc
            finally:
                board.finish(index)
                with lock:
                    if slot.error is None and finished is not None and not stop.is_set():
                        finished[index] = slot.value  # type: ignore[assignment]
                    slot.finished = True
                    lock.notify_all()

    threads = [threading.Thread(target=work, name=f"{JOB_THREAD_PREFIX}-{n}", daemon=True)
               for n in range(max(1, min(jobs, len(tasks))))]
    for thread in threads:
        thread.start()
    try:
        while True:
            with lock:
                if all(s.finished for s in slots):
                    break
                lock.wait(interval)  # short waits: Ctrl-C reaches this thread at once
            if tick is not None:
                tick()
    except BaseException:
        with lock:
            stop.set()  # what finishes from now on is not handed over: the caller moved on
        raise
    for slot in slots:
        if slot.error is not None:
            raise slot.error
    return [s.value for s in slots]  # type: ignore[misc]
