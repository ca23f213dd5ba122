"""A scenario as a Python program: what a failing example prints, runnable as it is.

    from conformance.program import Program

    with Program('kafka-python==2.0.2', partitions=3) as scenario:
        scenario.start_member()  # m1
        scenario.produce(count=20, keys=3)
        scenario.kill_member(member='m1', mid_batch=True)

Every step of :data:`~conformance.machines.steps.STEPS` is a method. Entering starts an embedded
broker on 127.0.0.1 (proxied, so network faults work; ``nodes=3`` for broker faults) unless a
broker is given or ``KAFKA_CONFORMANCE_BOOTSTRAP`` names one (only topics and groups with the
run's prefix are created there, and network and broker faults are unavailable); leaving
stops the members, drains with a fresh member, runs every check, prints the verdicts and
exits 1 if one fails (``exit_on_failure=False``: :attr:`results` only).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from conformance.broker.base import Broker
from conformance.checkers import run_checks
from conformance.clients import ClientSpec, resolve
from conformance.errors import ConformanceError
from conformance.harness import SCENARIO_CONFIG, Harness
from conformance.machines import steps
from conformance.machines.scenario import Scenario, ScenarioSpec
from conformance.strategies import Strategy
from conformance.verdicts import CheckResult, Verdict


class Program:
    """One scenario run step by step (see the module docstring)."""

    def __init__(self, client: str, *, config: dict[str, Any] | None = None,
                 strategy: dict[str, Any] | None = None, partitions: int = 3,
                 growth: bool = True, faults: tuple[str, ...] = (), nodes: int = 1,
                 broker: Broker | None = None, workdir: Path | None = None,
                 exit_on_failure: bool = True) -> None:
        self.exit_on_failure = exit_on_failure
        try:
            self.spec = ScenarioSpec(resolve(ClientSpec.parse(client)),
                                     {**SCENARIO_CONFIG, **(config or {})},
                                     Strategy.from_json(strategy or {}), partitions, growth,
                                     faults)
        except ConformanceError as exc:
            self._fail(exc)
            raise
        self.nodes = nodes
        self.broker = broker
        self._own_broker = broker is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="kc-program-"))
        self.results: list[CheckResult] = []
        self.harness: Harness | None = None
        self.scenario: Scenario | None = None

    def _fail(self, exc: ConformanceError) -> None:
        """As a script: one line and the CLI's exit code (2 usage, 3 infrastructure), never
        exit 1 (a violation) or a traceback."""
        if self.exit_on_failure:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)

    def __enter__(self) -> Program:
        try:
            return self._enter()
        except ConformanceError as exc:
            if self._own_broker and self.broker is not None:
                self.broker.stop()
            self._fail(exc)
            raise

    def _enter(self) -> Program:
        if self.broker is None:
            bootstrap = os.environ.get("KAFKA_CONFORMANCE_BOOTSTRAP")
            if bootstrap:
                from conformance.broker.external import ExternalKafka
                self.broker = ExternalKafka(bootstrap).start()
            else:
                from conformance.broker.embedded import EmbeddedKafka
                self.broker = EmbeddedKafka(self.nodes, proxied=True).start()
        self.harness = Harness(self.broker, self.spec.client, self.spec.config,
                               self.spec.strategy, partitions=self.spec.partitions,
                               workdir=self.workdir)
        self.harness.setup()
        self.scenario = Scenario.of(self.harness, self.spec)
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in steps.STEPS:
            raise AttributeError(name)

        def run_step(**args: Any) -> Any:
            assert self.scenario is not None, "use Program(...) in a with block"
            return self.scenario.run(name, args)

        run_step.__doc__ = steps.STEPS[name].run.__doc__
        return run_step

    def __exit__(self, exc_type: object, *exc: object) -> None:
        h = self.harness
        try:
            if h is not None and exc_type is None:
                h.record("teardown")
                h.drain()
                h.observe_group()
                h.check_workers()
        finally:
            if h is not None:
                h.close()
                h.history.to_jsonl(self.workdir / "history.jsonl")
                with contextlib.suppress(ConformanceError):
                    self.broker.admin.delete_topic(h.topic, wait=False)  # type: ignore[union-attr]
            if self._own_broker and self.broker is not None:
                self.broker.stop()
        if isinstance(exc[0] if exc else None, ConformanceError):
            self._fail(exc[0])  # type: ignore[arg-type]
        if exc_type is not None or h is None:
            return
        self.results = run_checks(h.history)
        for r in self.results:
            print(f"{r.verdict.value:8} {r.check}  {r.note}".rstrip())
            for v in r.violations[:3]:
                print(f"         {v.anomaly}: {v.message}")
        print(f"history: {self.workdir / 'history.jsonl'}")
        if h.infra_errors:
            print("infrastructure errors: " + "; ".join(h.infra_errors))
        if self.exit_on_failure and any(r.verdict == Verdict.FAIL for r in self.results):
            sys.exit(1)
