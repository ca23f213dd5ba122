"""A Hypothesis state machine over one consumer group on a real broker.

Rules: produce a keyed batch, start a member, SIGKILL a member, stop a member gracefully,
pause/resume a partition, rewind (seek) a partition, add partitions, let the members consume, wait
for the group to settle. Each example uses a fresh topic and group on the shared broker. Teardown
stops every member, drains with a fresh member of the same group and runs every checker; a
failing check fails the example, so Hypothesis shrinks the step sequence.

An infrastructure error inside a step (a worker dying unplanned, the broker refusing) does not
fail the example (that would shrink towards the infrastructure problem): the example's verdicts
become ``unknown`` and the error is reported.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from conformance.broker.base import Broker
from conformance.checkers import run_checks
from conformance.errors import ConformanceError
from conformance.harness import Harness
from conformance.machines.scenario import (
    MAX_MEMBERS,
    MAX_PARTITIONS,
    Scenario,
    ScenarioSpec,
    program,
    save_replay,
)
from conformance.verdicts import CheckResult, Verdict


@dataclass
class Example:
    """One executed example: its steps, verdicts, and where its history was saved."""

    number: int
    steps: list[tuple[str, dict[str, Any]]]
    results: list[CheckResult]
    infra_errors: list[str]
    seconds: float
    history_file: Path | None = None
    phases: dict[str, float] = field(default_factory=dict)
    replay_file: Path | None = None
    finished: float = 0.0  # time.monotonic() when its teardown ended
    shrink_note: str = ""  # set on an example made by deleting steps of another (minimize)

    @property
    def failed(self) -> bool:
        return any(r.verdict == Verdict.FAIL for r in self.results)


@dataclass
class Collector:
    """Every example of one run of the machine, for verdicts and reports."""

    spec: ScenarioSpec
    workdir: Path
    seed: int | None = None
    examples: list[Example] = field(default_factory=list)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    #: time.monotonic() after which no new example runs until one failed (then shrinking,
    #: bounded by its own budget, goes on)
    deadline: float = float("inf")
    skipped: int = 0

    def over_budget(self) -> bool:
        return time.monotonic() > self.deadline and not self.failures

    @property
    def failures(self) -> list[Example]:
        return [e for e in self.examples if e.failed]


class ExampleFailed(AssertionError):
    """Raised from teardown so that Hypothesis shrinks the example."""


def guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """Turn infrastructure errors in a step into an 'unknown' example instead of a failure."""

    @functools.wraps(fn)
    def wrapper(self: GroupMachine, *args: Any, **kwargs: Any) -> None:
        if self.broken:
            return
        try:
            fn(self, *args, **kwargs)
        except ConformanceError as exc:
            self.broken = True
            self.harness.infra_errors.append(f"step {fn.__name__}: {exc}")

    return wrapper


def _usable(self: GroupMachine) -> bool:
    return not self.broken


def _has_live(self: GroupMachine) -> bool:
    return not self.broken and bool(self.harness.live())


class GroupMachine(RuleBasedStateMachine):
    """Bound to a broker, a spec and a collector by :func:`machine_for`."""

    broker: Broker
    spec: ScenarioSpec
    collector: Collector

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()
        self.broken = False
        self.skipped = self.collector.over_budget()
        if self.skipped:  # the generation budget is spent: the example does nothing
            self.broken = True
            self.collector.skipped += 1
            return
        self.number = next(self.collector.counter)
        self.harness = Harness(self.broker, self.spec.client, self.spec.config,
                               self.spec.strategy, partitions=self.spec.partitions,
                               workdir=self.collector.workdir / f"example-{self.number}")
        self.scenario = Scenario(self.harness)
        try:
            self.harness.setup()
        except ConformanceError as exc:
            self.broken = True
            self.harness.infra_errors.append(f"setup: {exc}")

    def _pick(self, i: int) -> str:
        live = self.harness.live()
        return live[i % len(live)]

    @initialize()
    @guarded
    def first_member(self) -> None:
        """Every example starts with a member that has consumed a first batch."""
        self.scenario.start_member()
        self.scenario.produce(20, 3)
        self.scenario.consume()

    @precondition(_usable)
    @rule(count=st.integers(1, 40), keys=st.integers(1, 4))
    @guarded
    def produce(self, count: int, keys: int) -> None:
        self.scenario.produce(count, keys)

    @precondition(lambda self: _usable(self) and len(self.harness.live()) < MAX_MEMBERS)
    @rule()
    @guarded
    def start_member(self) -> None:
        self.scenario.start_member()

    @precondition(_has_live)
    @rule(i=st.integers(0, MAX_MEMBERS - 1), mid_batch=st.booleans())
    @guarded
    def kill_member(self, i: int, mid_batch: bool) -> None:
        self.scenario.kill_member(self._pick(i), mid_batch)

    @precondition(_has_live)
    @rule(i=st.integers(0, MAX_MEMBERS - 1))
    @guarded
    def crash_while_processing(self, i: int) -> None:
        """The fault that matters most, as a rule of its own so that most examples have it."""
        self.scenario.kill_member(self._pick(i), mid_batch=True)

    @precondition(_has_live)
    @rule(i=st.integers(0, MAX_MEMBERS - 1))
    @guarded
    def stop_member(self, i: int) -> None:
        self.scenario.stop_member(self._pick(i))

    @precondition(lambda self: _usable(self) and self.spec.growth
                  and self.harness.partitions < MAX_PARTITIONS)
    @rule(count=st.integers(1, 2))
    @guarded
    def add_partitions(self, count: int) -> None:
        self.scenario.add_partitions(count)

    @precondition(_has_live)
    @rule(i=st.integers(0, MAX_MEMBERS - 1), j=st.integers(0, MAX_PARTITIONS - 1))
    @guarded
    def pause_or_resume(self, i: int, j: int) -> None:
        """Resume every paused partition if some are paused and ``j`` is odd, else pause one."""
        if self.scenario.paused and j % 2:
            for member, partition in sorted(self.scenario.paused):
                if member in self.harness.live():
                    self.scenario.resume(member, partition)
            self.scenario.paused.clear()
            return
        member = self._pick(i)
        partition = self.scenario.owned_partition(member, j)
        if partition is not None:
            self.scenario.pause(member, partition)

    @precondition(_has_live)
    @rule(i=st.integers(0, MAX_MEMBERS - 1), j=st.integers(0, MAX_PARTITIONS - 1),
          back=st.integers(1, 10))
    @guarded
    def rewind(self, i: int, j: int, back: int) -> None:
        member = self._pick(i)
        partition = self.scenario.owned_partition(member, j)
        if partition is not None:
            self.scenario.rewind(member, partition, back)

    @precondition(_has_live)
    @rule(settle=st.booleans())
    @guarded
    def wait(self, settle: bool) -> None:
        """Let the members consume, or wait until the group settles."""
        if settle:
            self.scenario.settle()
        else:
            self.scenario.consume()

    @precondition(lambda self: self.broken)
    @rule()
    def idle(self) -> None:
        """The only step of an example whose infrastructure broke (its verdicts are unknown):
        without it Hypothesis would find no rule to run and stop with an error."""

    @invariant()
    def workers_healthy(self) -> None:
        if not self.broken:
            self.harness.check_workers()
            if self.harness.infra_errors:
                self.broken = True

    def teardown(self) -> None:
        if self.skipped:
            return
        h = self.harness
        h.record("teardown")
        example = Example(self.number, list(self.scenario.steps), [], h.infra_errors,
                          0.0)
        try:
            if not self.broken:
                try:
                    if not h.drain():
                        h.record("note", text="the drain did not reach the end of every "
                                              "partition within its timeout")
                    h.observe_group()
                except ConformanceError as exc:
                    h.infra_errors.append(f"drain: {exc}")
            h.check_workers()
        finally:
            h.close()
        example.seconds = time.monotonic() - self.started
        example.phases = h.history.phase_seconds()
        example.finished = time.monotonic()
        folder = self.collector.workdir / f"example-{self.number}"
        example.history_file = h.history.to_jsonl(folder / "history.jsonl")
        if h.infra_errors:
            example.results = [CheckResult(c.check, c.section, Verdict.UNKNOWN, examples=1,
                                           note="; ".join(h.infra_errors)[:500])
                               for c in run_checks(h.history)]
        else:
            example.results = run_checks(h.history)
        self.collector.examples.append(example)
        with contextlib.suppress(ConformanceError):
            self.broker.admin.delete_topic(h.topic, wait=False)
        if example.failed:
            example.replay_file = save_replay(folder / "replay.json", self.spec, example.steps,
                                              self.collector.seed)
            bad = [f"{r.check}: {v.anomaly}: {v.message}" for r in example.results
                   if r.verdict == Verdict.FAIL for v in r.violations[:3]]
            raise ExampleFailed("\n".join(bad) + "\n" + program(self.spec, example.steps))


def canonical(state: GroupMachine) -> None:
    """A fixed sequence that reaches every fault once: the first example of every run, so
    that a broken client is caught even when the generated examples are few (the ci profile).
    Written as the program Hypothesis prints for a failure."""
    state.first_member()
    state.start_member()
    state.wait(settle=True)
    state.produce(count=30, keys=3)
    state.crash_while_processing(i=0)
    state.wait(settle=True)
    state.wait(settle=False)
    state.rewind(i=0, j=0, back=5)
    state.wait(settle=False)
    state.add_partitions(count=1)
    state.start_member()
    state.produce(count=30, keys=4)
    state.wait(settle=True)
    state.stop_member(i=0)
    state.wait(settle=False)


def machine_for(broker: Broker, spec: ScenarioSpec, collector: Collector) -> type[GroupMachine]:
    """A machine class bound to one broker, spec and collector."""
    return type("ConsumerGroupMachine", (GroupMachine,),
                {"broker": broker, "spec": spec, "collector": collector})
