"""Helpers for the adapter contract suite (conformance/contract/suite.py): producing, waiting, and a
listener that records what an adapter reports."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import Producer

from adapters.base import Adapter, Capabilities, ConsumerError, Record, TopicPartition
from adapters.registry import available, load
from conformance.clients import ClientSpec, resolve
from conformance.clients.native import is_native
from conformance.clients.remote import RemoteAdapter
from conformance.clients.worker_adapter import WorkerAdapter
from conformance.errors import ConformanceError
from conformance.protocols import ALL, GroupProtocol


@dataclass(frozen=True)
class Target:
    """A client the contract tests run against: a built-in adapter in this process, or a
    client spec (``kafka-python==2.0.2``) served by an adapter host in its own environment.
    ``error`` says why a spec could not be resolved (its tests then fail with it)."""

    label: str
    adapter: str
    cls: type[Adapter] | None = None
    error: str = ""

    @property
    def remote(self) -> bool:
        """Not in this process: an adapter host, or a native worker (``worker``)."""
        return self.cls is None or issubclass(self.cls, (RemoteAdapter, WorkerAdapter))

    @property
    def worker(self) -> bool:
        """A native client driven through the worker protocol (conformance.clients.
        worker_adapter): what the protocol cannot express raises Unsupported."""
        return self.cls is not None and issubclass(self.cls, WorkerAdapter)

    @property
    def capabilities(self) -> Capabilities:
        return self.cls.capabilities if self.cls is not None else Capabilities()

    @property
    def client_version(self) -> str:
        return self.cls.client_version() if self.cls is not None else ""

    def stores(self) -> bool:
        """Whether the adapter implements store() rather than the contract's no-op default."""
        if self.cls is not None and issubclass(self.cls, RemoteAdapter):
            return self.cls.overrides_store()
        return self.cls is not None and self.cls.store is not Adapter.store

    def __str__(self) -> str:
        return self.label


def release(version: str) -> tuple[int, ...] | None:
    """The numeric release of a version string ('2.0.2' -> (2, 0, 2)); None if it has none."""
    parts = []
    for part in version.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        parts.append(int(digits))
        if digits != part:
            break
    return tuple(parts) or None


@dataclass(frozen=True)
class Deviation:
    """A known client bug that makes one contract test fail for releases ``since`` up to (not
    including) ``until``; the test becomes a strict xfail there, so it must keep failing while
    the release has the bug."""

    test: str
    adapter: str  # an adapter name; its variants (``NAME:variant``) too unless exact
    since: str
    until: str | None
    reason: str
    protocol: GroupProtocol | None = None
    exact: bool = False

    def applies(self, test: str, target: Target, protocol: GroupProtocol) -> bool:
        if test != self.test or self.protocol not in (None, protocol) or target.error:
            return False
        if target.adapter != self.adapter and (
                self.exact or not target.adapter.startswith(f"{self.adapter}:")):
            return False
        return self.affects(target.client_version)

    def affects(self, version: str) -> bool:
        """Whether a release of the client has this bug."""
        found = release(version)
        low, high = release(self.since), release(self.until) if self.until else None
        return (found is not None and low is not None and low <= found
                and (high is None or found < high))


_TARGETS = pytest.StashKey[list[Target]]()

#: The pytest plugin's option (conformance/pytest_plugin.py): the user's own adapters only.
ADAPTER_OPTION = "kafka_conformance_adapters"


def contract_specs(config: pytest.Config) -> list[str]:
    """The client specs given with --contract-client, else the ini list contract_clients."""
    given = config.getoption("contract_clients", None)
    return list(given if given is not None else config.getini("contract_clients"))


def target(text: str, option: str = "--contract-client", here: bool = False) -> Target:
    """How a client spec becomes a Target. ``here``: an adapter name or ``module:Class`` /
    ``file.py:Class`` reference runs in this process (an unknown one is a usage error); else,
    and for ``NAME==VERSION`` / ``NAME@/path/to/python``, an adapter host serves it in its own
    environment (resolved here: its environment is built the first time; a spec that cannot
    be resolved is a Target whose tests fail with the reason)."""
    try:
        spec = ClientSpec.parse(text)
    except ConformanceError as exc:
        raise pytest.UsageError(f"{option}: {exc}") from None
    if here and spec.beside and not is_native(spec.adapter):
        try:
            cls = load(spec.adapter)
        except ConformanceError as exc:
            raise pytest.UsageError(f"{option}: {exc}") from None
        return Target(spec.label, cls.name or spec.adapter, cls)
    label = spec.label if not spec.beside else f"remote:{spec.label}"
    try:
        client = resolve(spec)
    except ConformanceError as exc:
        return Target(label, spec.adapter, error=str(exc))
    if is_native(spec.adapter):  # java, franz-go, kafkajs: through the worker protocol
        return Target(label, spec.adapter, WorkerAdapter.bind(client))
    return Target(label, spec.adapter, RemoteAdapter.bind(client))


def registered(name: str) -> Target:
    """A built-in or entry-point adapter in this process (one that fails to load: a Target
    whose tests fail with the reason)."""
    try:
        return Target(name, name, load(name))
    except ConformanceError as exc:
        return Target(name, name, error=str(exc))


def targets(config: pytest.Config) -> list[Target]:
    """What the suite runs against, resolved once per session: the adapters given to the
    plugin's ``--kafka-conformance-adapter`` alone when there are any; else every registered
    adapter (built-in, entry point) in this process, then every contract client spec."""
    if _TARGETS not in config.stash:
        given = config.getoption(ADAPTER_OPTION, None)
        if given:
            found = [target(text, "--kafka-conformance-adapter", here=True)
                     for text in dict.fromkeys(given)]
        else:
            found = [registered(name) for name in available()]
            found += [target(text) for text in dict.fromkeys(contract_specs(config))]
        config.stash[_TARGETS] = found
    return config.stash[_TARGETS]


def combos(config: pytest.Config) -> list[tuple[Target, GroupProtocol]]:
    """Every target with every group protocol its capabilities support (an unresolved spec:
    classic only, failing with its error)."""
    out = []
    for target in targets(config):
        for protocol in ALL:
            if protocol == GroupProtocol.CLASSIC or target.capabilities.consumer_protocol:
                out.append((target, protocol))
    return out


def unsupported_combos(config: pytest.Config) -> list[tuple[Target, GroupProtocol]]:
    return [(t, GroupProtocol.CONSUMER) for t in targets(config)
            if not t.error and not t.capabilities.consumer_protocol]


def produce(bootstrap: str, topic: str, count: int, partitions: int = 1,
            start: int = 0, partition: int | None = None) -> None:
    """``count`` records, record i to ``partition`` or else to partition i % partitions (key
    and value carry i)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "log_level": 3,
                  "linger.ms": 0})
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(),
                  partition=i % partitions if partition is None else partition)
    assert p.flush(30) == 0, "records not delivered"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             step: Callable[[], Any] | None = None, interval: float = 0.02) -> Any:
    """Call ``step`` (e.g. a poll) until ``predicate()`` is truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        if step is not None:
            step()
        else:
            time.sleep(interval)


def poll_records(adapter: Adapter, count: int, timeout: float = 30.0,
                 max_records: int = 500, others: tuple[Adapter, ...] = ()) -> list[Record]:
    """Poll until ``count`` records arrived (others are polled too, to keep them alive).

    Each poll may block for half a second (it returns as soon as records arrive), so a group
    join completes inside one poll: a join left in flight between two short polls is what
    stalls kafka-python 3.x for good (``test_assignment_arrives_when_polls_are_short_and_far_
    apart`` keeps that bug in view); the other tests are about what they name."""
    records: list[Record] = []

    def step() -> None:
        records.extend(adapter.poll(0.5, max(1, min(max_records, count - len(records)))))
        for other in others:
            other.poll(0.05)

    wait_for(lambda: len(records) >= count, timeout, f"{count} records (got {len(records)})",
             step)
    return records


def poll_for(adapters: tuple[Adapter, ...], seconds: float) -> list[Record]:
    """Poll for a while (a window in which something must NOT happen)."""
    records: list[Record] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for a in adapters:
            records.extend(a.poll(0.05))
    return records


def next_offsets(records: list[Record]) -> dict[TopicPartition, int]:
    out: dict[TopicPartition, int] = {}
    for r in records:
        out[r.tp] = max(out.get(r.tp, 0), r.offset + 1)
    return out


def assert_in_order(records: list[Record]) -> None:
    """Per partition, strictly increasing, gap-free offsets."""
    last: dict[TopicPartition, int] = {}
    for r in records:
        if r.tp in last:
            assert r.offset == last[r.tp] + 1, f"{r.tp}: {r.offset} after {last[r.tp]}"
        last[r.tp] = r.offset


@dataclass
class Recorder:
    """The contract's RebalanceListener, recording (kind, partitions) in arrival order.

    ``on_revoked_commit``: an adapter whose ``commit()`` is called inside on_revoked with the
    positions after the records given to :meth:`processed` (the worker's commit-on-revoke)."""

    events: list[tuple[str, list[TopicPartition]]] = field(default_factory=list)
    on_revoked_commit: Adapter | None = None
    processed_next: dict[TopicPartition, int] = field(default_factory=dict)
    revoke_commits: list[Any] = field(default_factory=list)

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("assigned", sorted(partitions)))

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("revoked", sorted(partitions)))
        if self.on_revoked_commit is not None:
            offsets = {tp: o for tp, o in self.processed_next.items() if tp in partitions}
            if offsets:
                try:
                    self.revoke_commits.append(self.on_revoked_commit.commit(offsets))
                except ConsumerError as exc:
                    self.revoke_commits.append(exc)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("lost", sorted(partitions)))

    def processed(self, records: list[Record]) -> None:
        self.processed_next.update(next_offsets(records))

    def partitions(self, kind: str) -> set[TopicPartition]:
        return {tp for k, tps in self.events if k == kind for tp in tps}

    def owned(self) -> set[TopicPartition]:
        """What the listener was told the member owns now."""
        owned: set[TopicPartition] = set()
        for kind, tps in self.events:
            if kind == "assigned":
                owned |= set(tps)
            else:
                owned -= set(tps)
        return owned

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


@dataclass
class CommitResults:
    """A commit callback that records (offsets, error) results."""

    results: list[tuple[dict[TopicPartition, int], ConsumerError | None]] = \
        field(default_factory=list)

    def __call__(self, offsets: dict[TopicPartition, int], error: ConsumerError | None) -> None:
        self.results.append((dict(offsets), error))
