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
import itertools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from conformance.broker.base import Broker
from conformance.checkers import run_checks
from conformance.errors import ClientCallHung, ConformanceError
from conformance.harness import Harness
from conformance.machines import dimensions, steps
from conformance.machines.scenario import Scenario, ScenarioSpec, program, save_replay
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
    spec: ScenarioSpec | None = None  # the configuration with what this example drew
    drawn: dict[str, str] = field(default_factory=dict)  # dimension -> short name

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


class GroupMachine(RuleBasedStateMachine):
    """Bound to a broker, a spec and a collector by :func:`machine_for`; its rules are made
    from :data:`~conformance.machines.steps.STEPS` (one per draw variant)."""

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
        self.example_spec = self.spec
        self.drawn: dict[str, str] = {}
        self.scenario = Scenario.of(self.harness, self.spec)

    def step(self, name: str, **drawn: Any) -> None:
        """Run step ``name`` with drawn values (resolved to members and partitions first);
        an infrastructure error makes the example's verdicts unknown instead of failing it."""
        if self.broken:
            return
        try:
            args = steps.STEPS[name].resolve(self.scenario, drawn)
            if args is not None:
                self.scenario.run(name, args)
        except ClientCallHung as exc:  # the client's failure: the example ends with it
            self.harness.record("note", text=f"step {name}: {exc}")
        except ConformanceError as exc:
            self.broken = True
            self.harness.infra_errors.append(f"step {name}: {exc}")
        if self.harness.hung and not self.scenario.ended:
            self.scenario.ended = self.harness.hung[0]

    def can(self, name: str) -> bool:
        return (not self.broken and not self.scenario.ended
                and steps.STEPS[name].enabled(self.scenario))

    def spread_number(self) -> int:
        """The example number dimension values and paths spread by: the canonical example
        (1) keeps the configuration's own; later ones are shifted by the spec's ``spread``."""
        return self.number if self.number == 1 else self.number + self.spec.spread

    @initialize(dims=dimensions.drawn())
    def first_member(self, dims: dict[str, int] | None = None) -> None:
        """Every example draws its configuration dimensions (:mod:`dimensions`), then starts
        with a member that has consumed a first batch; example N's first member takes the
        client's N-th consume path, so that a run's examples spread over every path (later
        members draw theirs)."""
        if self.skipped:
            return
        h = self.harness
        try:
            config, strategy, self.drawn = dimensions.apply(
                self.spec.config, self.spec.strategy, dims or {}, self.spread_number(),
                supported=lambda cfg: self.spec.client.unsupported(cfg) is None,
                capabilities=self.spec.client.capabilities)
        except ConformanceError as exc:  # the client could not say what it supports
            self.broken = True
            h.infra_errors.append(f"describe: {exc}")
            return
        h.config.update({k: v for k, v in config.items() if k != "extra"})
        h.strategy = strategy
        self.example_spec = replace(self.spec, config=config, strategy=strategy)
        self.scenario = Scenario.of(h, self.example_spec)
        try:
            h.setup()
            if self.drawn:
                h.record("note", text="drawn: " + ", ".join(
                    f"{k}={v}" for k, v in self.drawn.items()))
        except ConformanceError as exc:
            self.broken = True
            h.infra_errors.append(f"setup: {exc}")
            return
        self.step("start_member", path=self.spread_number() - 1)
        self.step("produce", count=20, keys=3)
        self.step("consume")

    @precondition(lambda self: self.broken or self.scenario.ended)
    @rule()
    def idle(self) -> None:
        """The only step of an example whose infrastructure broke (its verdicts are unknown)
        or whose group never settled (the liveness check fails it): without it Hypothesis
        would find no rule to run and stop with an error."""

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
                          0.0, spec=self.example_spec, drawn=dict(self.drawn))
        try:
            if not self.broken:
                try:
                    # a group that never settled gets one short drain attempt
                    ended = bool(self.scenario.ended)
                    if not h.drain(attempts=1 if ended else 3,
                                   assignment_timeout=10.0 if ended else 20.0):
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
            example.replay_file = save_replay(folder / "replay.json", self.example_spec,
                                              example.steps, self.collector.seed)
            bad = [f"{r.check}: {v.anomaly}: {v.message}" for r in example.results
                   if r.verdict == Verdict.FAIL for v in r.violations[:3]]
            raise ExampleFailed("\n".join(bad) + "\n" + program(
                self.example_spec, example.steps, drawn=self.drawn))


#: A fixed sequence that reaches every core fault and redundant call once, then a zombie: the
#: first example of every run, so that a broken client is caught even when the generated
#: examples are few (the ci profile). Drawn values, as the rules take them; steps of a family
#: the spec leaves out are skipped.
CANONICAL: list[tuple[str, dict[str, Any]]] = [
    ("start_member", {}),
    ("settle", {}),
    ("produce", {"count": 30, "keys": 3}),
    ("produce_transaction", {"count": 6, "keys": 3, "commit": False}),
    ("produce_transaction", {"count": 6, "keys": 3, "commit": True}),
    ("produce", {"count": 6, "keys": 3}),
    ("kill_member", {"i": 0, "mid_batch": True}),
    ("settle", {}),
    ("consume", {}),
    ("rewind", {"i": 0, "j": 0, "back": 5}),
    ("consume", {}),
    # redundant calls while one member owns everything and nothing moves (a rebalance in
    # between would hide what a call did)
    ("pause_twice", {"i": 0, "j": 0}),
    # the pause held across polls while records arrive for the paused partition
    ("produce", {"count": 12, "keys": 3}),
    ("consume", {}),
    ("resume_all", {"i": 0}),
    # another partition, everything read: the next record must be the next one written
    ("seek_to_end", {"i": 0, "j": 1}),
    ("produce", {"count": 12, "keys": 3}),
    ("poll_now", {"i": 0, "timeout": 0.0}),
    ("consume", {}),
    # the paused partition: a seek of one resume_all touched would explain a re-read
    ("seek_to_position", {"i": 0, "j": 0}),
    ("commit_again", {"i": 0, "explicit": True, "asynchronous": False}),
    ("consume", {}),
    ("resubscribe", {"i": 0}),
    ("produce", {"count": 6, "keys": 3}),
    ("settle", {}),
    ("consume", {}),
    # still the only member: its successor starts where the async commit left the group
    ("close_during_async_commit", {"i": 0}),
    ("start_member", {}),
    ("produce", {"count": 6, "keys": 3}),
    ("settle", {}),
    ("consume", {}),
    ("add_partitions", {"count": 1}),
    ("start_member", {}),
    ("produce", {"count": 30, "keys": 4}),
    ("settle", {}),
    ("freeze_member", {"i": 0, "past_poll_interval": False}),
    ("consume", {}),
    # the frozen member was removed: the group settles when it is assigned again
    ("settle", {}),
]


def canonical(state: GroupMachine) -> None:
    """Run the initial member (the configuration's own dimensions), then :data:`CANONICAL`."""
    state.first_member(dims={})
    for name, drawn in CANONICAL:
        if state.can(name):
            state.step(name, **drawn)


def _rules() -> dict[str, Any]:
    """One Hypothesis rule per step and draw variant, guarded by the step's precondition."""
    out: dict[str, Any] = {}
    for step in steps.STEPS.values():
        for n, draw in enumerate(step.draws):
            def run(self: GroupMachine, _name: str = step.name, **drawn: Any) -> None:
                self.step(_name, **drawn)

            name = step.name if n == 0 else f"{step.name}_{n + 1}"
            run.__name__ = run.__qualname__ = name
            run.__doc__ = step.run.__doc__
            out[name] = precondition(lambda self, _n=step.name: self.can(_n))(
                rule(**draw)(run))
    return out


RULES = _rules()


def machine_for(broker: Broker, spec: ScenarioSpec, collector: Collector) -> type[GroupMachine]:
    """A machine class bound to one broker, spec and collector, with the steps' rules."""
    return type("ConsumerGroupMachine", (GroupMachine,),
                {**RULES, "broker": broker, "spec": spec, "collector": collector})
