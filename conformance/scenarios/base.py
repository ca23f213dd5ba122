"""Fixed scenarios for the behaviours of docs/semantics.md that generation reaches too slowly.

A semantics check is a function ``(ctx: Context) -> CheckResult`` registered with
:func:`semantics_check` under a stable id and its SEMANTICS section. It drives workers through a
:class:`~conformance.harness.Harness` (real broker, real processes), then judges the recorded
history, with the generic checkers where they apply, and reports figures (counts, windows,
bounds) with its verdict: pass, fail, hazard (documented Kafka behaviour reproduced and
measured) or unsupported (the adapter lacks a capability the behaviour needs).

A fail or hazard carries violations like the generic checkers' (partition, offsets, member,
evidence = event indices, see ``evidence``) into the history named by ``history_file``: the
harness's, or for a scenario of several harnesses one combined file of them all.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import Capabilities
from conformance.broker.base import Broker
from conformance.checkers import run_checks
from conformance.checkers.loss import lost_records
from conformance.clients import Client
from conformance.errors import ConformanceError, WorkerError
from conformance.harness import SCENARIO_CONFIG, Harness, WorkerHandle
from conformance.history import History
from conformance.protocols import ALL, GroupProtocol
from conformance.strategies import Strategy
from conformance.verdicts import CheckResult, Verdict, Violation


@dataclass
class Context:
    """What a semantics check runs against: broker, client, group protocol, a folder."""

    broker: Broker
    client: Client
    protocol: GroupProtocol
    capabilities: Capabilities
    workdir: Path
    harnesses: list[Harness] = field(default_factory=list)
    #: ``--early-access``: every harness's consumer config allows an early-access protocol
    early_access: bool = False

    @property
    def assignment(self) -> str:
        return "range"

    def harness(self, name: str, strategy: str | Strategy = "BATCH", partitions: int = 1,
                **config: Any) -> Harness:
        """A set-up harness (fresh topic and group) for one part of a scenario."""
        strat = Strategy.parse(strategy) if isinstance(strategy, str) else strategy
        cfg = {**SCENARIO_CONFIG, "group_protocol": self.protocol,
               "assignment_strategy": self.assignment,
               **({"early_access": True} if self.early_access else {}), **config}
        h = Harness(self.broker, self.client, cfg, strat, partitions=partitions,
                    workdir=self.workdir / f"{name}-{uuid.uuid4().hex[:4]}")
        h.setup()
        self.harnesses.append(h)
        return h

    def close(self) -> None:
        for h in self.harnesses:
            h.close()
            h.history.to_jsonl(h.workdir / "history.jsonl")
            with contextlib.suppress(ConformanceError):
                self.broker.admin.delete_topic(h.topic, wait=False)


Check = Callable[[Context], CheckResult]


@dataclass(frozen=True)
class SemanticsCheck:
    check: str
    section: str
    fn: Check
    needs: tuple[str, ...] = ()  # capability names
    protocols: tuple[GroupProtocol, ...] = ALL
    title: str = ""


SEMANTICS_CHECKS: dict[str, SemanticsCheck] = {}


def semantics_check(check: str, section: str, *, needs: tuple[str, ...] = (),
                    protocols: tuple[GroupProtocol, ...] = ALL
                    ) -> Callable[[Check], Check]:
    """Register a fixed-scenario check under a stable id and its SEMANTICS section."""

    def register(fn: Check) -> Check:
        if check in SEMANTICS_CHECKS:
            raise ValueError(f"semantics check {check!r} is registered twice")
        title = " ".join((fn.__doc__ or check).strip().split("\n\n")[0].split())
        SEMANTICS_CHECKS[check] = SemanticsCheck(check, section, fn, needs, protocols, title)
        return fn

    return register


def result(check: str, section: str, verdict: Verdict, note: str = "",
           history: Harness | Path | None = None, violations: list[Violation] | None = None,
           **figures: Any) -> CheckResult:
    """A scenario's result; ``history``: the harness (or combined history file) that its
    ``violations``' evidence indices point into."""
    res = CheckResult(check, section, verdict, examples=1, note=note, figures=figures,
                      violations=list(violations or []))
    if isinstance(history, Path):
        res.history_file = str(history)
    elif history is not None:
        res.history_file = str(history.workdir / "history.jsonl")
    return res


def generic(h: Harness, *checks: str) -> dict[str, CheckResult]:
    """The generic checkers' results on a harness's history, by check id."""
    return {r.check: r for r in run_checks(h.history, only=checks or None)}


# -- step helpers -------------------------------------------------------------------------------
def poll_until(handle: WorkerHandle, done: Callable[[list[list[Any]]], bool],
               timeout: float = 30.0, poll_timeout: float = 0.5) -> list[list[Any]]:
    """Send ``poll`` commands until ``done(records so far)``; returns the records."""
    got: list[list[Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = handle.request({"type": "poll", "timeout": poll_timeout})
        except WorkerError as exc:
            if not getattr(exc, "retriable", False):
                raise
            continue  # e.g. the group coordinator is still loading: poll again
        got.extend(reply.get("records", []))
        if done(got):
            return got
    return got


def set_committed(h: Harness, member: str, handle: WorkerHandle, offsets: list[list[Any]],
                  partitions: int = 1, attempts: int = 5) -> None:
    """Commit ``offsets`` with a step-mode member whose only job is to set the group's offset
    (not the client under judgement): a commit refused because a rebalance is in progress
    (kafka-python's RebalanceInProgressError right after its first assignment, seen in a soak)
    is retried once the member polled its way back to its partitions: it polls at least once
    first (the rebalance completes inside poll(), and the harness may still count the member
    as the owner; CI under load, kafka-python 3.0.12)."""
    for attempt in range(attempts):
        try:
            handle.request({"type": "commit", "offsets": offsets})
            return
        except WorkerError as exc:
            if attempt == attempts - 1 or error_code(exc) != "commit-failed":
                raise
            h.record("note", text=f"{member}: commit refused ({str(exc).splitlines()[0]}), "
                                  "polling and retrying")
            handle.request({"type": "poll", "timeout": 0.5})
            wait_assigned(h, member, partitions, timeout=10.0, handle=handle)


def wait_assigned(h: Harness, member: str, count: int, timeout: float = 30.0,
                  handle: WorkerHandle | None = None,
                  collect: list[list[Any]] | None = None) -> bool:
    """Poll (step mode) or wait (run mode) until ``member`` owns ``count`` partitions; records
    returned by those polls are processed and added to ``collect``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(h.owned(member)) >= count:
            return True
        if handle is not None:
            reply = handle.request({"type": "poll", "timeout": 0.3})
            if collect is not None:
                collect.extend(reply.get("records", []))
        else:
            h.wait_for(lambda: len(h.own.of(member)) >= count, 0.5)
    return False


def processed(history: History, member: str | None = None) -> list[tuple[int, int]]:
    """(partition, offset) of every processed record, in processing order."""
    return [(r.partition, r.offset) for e in history.of_type("processed")
            if member is None or e.source == member for r in e.records()]


def lost(history: History) -> list[tuple[int, int]]:
    """(partition, offset) of every produced record no member processed, as ``no-loss``
    counts them (``checkers.loss.lost_records``: by topic, partition and offset)."""
    return sorted((r.partition, r.offset) for r in lost_records(history))


def duplicates(history: History) -> int:
    seen = processed(history)
    return len(seen) - len(set(seen))


def error_code(exc: WorkerError) -> str | None:
    return getattr(exc, "code", None)
