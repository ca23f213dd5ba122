"""What one check works with: the broker, topics and records of its own, and fresh workers
of the command under test, started and initialised; polling until something happens."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.broker.base import Broker
from conformance.clients.client import Client
from conformance.clients.spec import ClientSpec
from conformance.harness.core import SCENARIO_CONFIG, Harness
from conformance.strategies import Strategy
from conformance.worker_check.transport import CheckedWorker, Violation

#: How long records or an assignment may take to arrive.
ARRIVAL_TIMEOUT = 30.0


@dataclass
class Session:
    """What one check works with: the broker, the worker command, topics and workers."""

    broker: Broker
    command: tuple[str, ...]
    adapter: str
    workdir: Path
    workers: list[CheckedWorker] = field(default_factory=list)
    harnesses: list[Harness] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return Client(ClientSpec(self.adapter), "", command=self.command)

    def start(self, member: str = "m1") -> CheckedWorker:
        worker = CheckedWorker(member, self.client, self.workdir / f"{member}.stderr")
        self.workers.append(worker)
        return worker

    def topic(self, partitions: int = 1, records: int = 0, **config: Any) -> Harness:
        """A fresh topic and group (a :class:`Harness` used for its topic, config and
        producer), with ``records`` keyed records spread over the partitions."""
        harness = Harness(self.broker, self.client, {**SCENARIO_CONFIG, **config},
                          Strategy(), partitions=partitions,
                          workdir=self.workdir / f"topic{len(self.harnesses)}")
        self.harnesses.append(harness)
        harness.setup()
        for p in range(partitions):
            per = records // partitions + (1 if p < records % partitions else 0)
            if per:
                harness.produce(per, keys=[f"k{p}-{i}" for i in range(per)], partition=p)
        return harness

    def init(self, worker: CheckedWorker, harness: Harness, strategy: str = "MANUAL",
             **config: Any) -> dict[str, Any]:
        cfg = {**harness.config, **config, "client_id": f"{harness.group}-{worker.member}"}
        return worker.ok({"type": "init", "adapter": self.adapter, "config": cfg,
                          "strategy": Strategy.parse(strategy).to_json()})

    def close(self) -> None:
        for worker in self.workers:
            if worker.alive:
                worker.kill()
            worker.finish()
        for harness in self.harnesses:
            harness.close()
            with contextlib.suppress(Exception):
                self.broker.admin.delete_topic(harness.topic, wait=False)


def poll_until(worker: CheckedWorker, done: Callable[[], bool], what: str,
               timeout: float = ARRIVAL_TIMEOUT, **poll: Any) -> None:
    """``poll`` (timeout 0.5 s) until ``done()``; Violation after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise Violation(f"{what} did not happen within {timeout:.0f} s of polling")
        worker.ok({"type": "poll", "timeout": 0.5, **poll})
