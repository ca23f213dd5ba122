"""The adapter contract: the only code that knows a Kafka client library.

An adapter wraps one consumer of one client library and gives every method the same meaning,
whatever the client. It is small and synchronous; a worker process (``conformance.worker``) drives
exactly one adapter instance from one thread, so adapters need not be thread-safe, except that
listener callbacks may arrive inside ``poll()`` (and ``close()``/``commit()``), in that thread.

Meaning of each method (the contract test suite, tests/integration/test_adapter_contract.py, pins
these down against a real broker):

- ``subscribe(topics, listener)``: join the group; partitions arrive through
  ``listener.on_assigned`` during later ``poll()`` calls. ``on_revoked`` runs BEFORE partitions move
  away (a commit inside it is effective); ``on_lost`` when they were taken without a chance to
  commit (session expired, fenced). Cooperative/consumer-protocol rebalances pass only the
  partitions that move.
- ``assign(partitions)``: manual assignment, no group management, no listener callbacks.
- ``poll(timeout, max_records)``: at most ``max_records`` records, in offset order per partition;
  [] when none arrived within ``timeout`` seconds.
- ``commit(offsets=None, asynchronous=False, callback=None)``: ``offsets`` maps TopicPartition to
  the NEXT offset to read; None means the position after every record returned by poll().
  Synchronous: returns the committed offsets once the broker acknowledged, or raises
  :class:`CommitFailed` (also when the client only reports the failure per partition).
  Asynchronous: returns None at once; ``callback(offsets, error)`` runs later inside
  ``poll()``/``commit()``/``close()`` with ``error`` None on success or a :class:`ConsumerError`.
- ``seek(tp, offset)``: the next record returned for ``tp`` is at ``offset``.
- ``seek_to_end(tp)``: optional (capability ``seek_to_end``); the client's own seek to the end
  of ``tp`` (``OFFSET_END``, ``seekToEnd``): the next record returned for ``tp`` is the first
  one written after the call, whenever the client resolves the end (at once or at the next
  ``poll()``/``position()``).
- ``position(tp)``: the offset of the next record poll() returns for tp (after a reset if needed).
- ``committed(tps)``: the group's committed offsets for tps (None where there is none).
- ``pause(tps)`` / ``resume(tps)``: stop / restart delivery of tps without losing the position.
- ``store(records)``: optional; after processing, for clients that commit stored offsets.
- ``unsubscribe()``: optional (capability ``unsubscribe``); drop the subscription and leave the
  group. The listener hears ``on_revoked`` (or ``on_lost``) of the owned partitions, before
  it returns or during the next ``poll()``, as the client does it; ``subscribe()`` may follow
  and the member then resumes at the group's committed offsets.
- ``close()``: leave the group. The listener's ``on_revoked`` runs for the owned partitions
  before ``close()`` returns and a commit inside it is effective (required: a client that skips
  it is a documented deviation, e.g. kafka-python 2.0.2). With auto commit enabled the client
  commits on close.
- ``set_auto_commit_callback(callback)``: every commit the client makes on its own (periodic
  auto commits, the one on close or before a rebalance) reaches ``callback(offsets, error)``.
  Required wherever auto commit is on: the checkers judge start positions against commits, and
  a commit they never hear of makes a correct start look wrong.
- ``commit(None)`` commits the position after every record ``poll()`` returned (not what was
  processed: the worker passes explicit offsets when it means processed ones), or, for an
  adapter with capability ``stores_processed``, the offsets ``store()`` stored; an asynchronous
  commit that fails reports a :class:`CommitFailed` (or another :class:`ConsumerError`) to its
  callback and never raises later from an unrelated call.

Clients that rebalance in the background (asyncio clients, clients with a heartbeat or
rebalance thread) must still call the listener inside the adapter's own calls (``poll()``,
``commit()``, ``close()``), in the worker's thread: queue what the client reports and deliver it
at the next call, in order, before records of the new assignment are returned.

Errors are normalized: adapters raise the subclasses of :class:`ConsumerError` below, never a
client's own exception type (the worker reports anything else as ``adapter-error``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol

from conformance.protocols import GroupProtocol, parse


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class Record(NamedTuple):
    """One consumed record (a tuple: cheap to build on the hot path)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp: int | None = None

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


# -- normalized errors -----------------------------------------------------------------------
class ConsumerError(Exception):
    """A client error, normalized. ``code`` is a stable kebab-case name; ``retriable`` says
    whether trying again may succeed; ``cause`` keeps the client's own text."""

    code = "consumer-error"

    def __init__(self, message: str, *, retriable: bool = False, cause: str = "") -> None:
        super().__init__(message)
        self.retriable = retriable
        self.cause = cause


class NoOffsetForPartition(ConsumerError):
    """auto.offset.reset=none and the group has no committed offset (SEMANTICS S2)."""

    code = "no-offset-for-partition"


class CommitFailed(ConsumerError):
    """A commit that cannot succeed (e.g. the member left or was removed from the group)."""

    code = "commit-failed"


class FencedMember(ConsumerError):
    """The member was fenced or is unknown to the group (it must rejoin)."""

    code = "fenced-member"


class IllegalState(ConsumerError):
    """The call is not valid now (e.g. commit without a group, poll after close)."""

    code = "illegal-state"


class Unsupported(ConsumerError):
    """The client cannot do this (reported as verdict 'unsupported', never skipped silently)."""

    code = "unsupported"


# -- configuration ---------------------------------------------------------------------------
@dataclass
class ConsumerConfig:
    """Client-neutral consumer configuration; each adapter maps it to its client's keys.

    Workers refuse keys they do not know (the Python worker and the native ones in
    ``adapters/java``, ``adapters/go``, ``adapters/node``): a new field needs a mapping in
    each of them."""

    bootstrap_servers: str
    group_id: str | None = None
    auto_offset_reset: str = "earliest"  # earliest | latest | none
    enable_auto_commit: bool = False
    auto_commit_interval_ms: int = 5000
    group_protocol: GroupProtocol = GroupProtocol.CLASSIC  # a name is parsed (UsageError)
    assignment_strategy: str = "range"  # range | roundrobin | cooperative-sticky
    max_poll_records: int = 500
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 500
    max_poll_interval_ms: int = 30000
    metadata_max_age_ms: int = 300000  # how soon added partitions are noticed (S3)
    fetch_max_bytes: int | None = None  # per fetch request (None: the client's default)
    max_partition_fetch_bytes: int | None = None  # per partition and fetch (None: default)
    partition_eof: bool = False  # end-of-partition events, where the client has them
    isolation_level: str = "read_uncommitted"  # read_committed | read_uncommitted (KIP-98)
    client_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # pass-through client properties
    #: ``--early-access``: run the consumer protocol on a release that ships it as early
    #: access (kafka-clients 3.7-3.9, librdkafka 2.4.0-2.11.x) instead of refusing it
    early_access: bool = False

    def __post_init__(self) -> None:
        # the one check of the group protocol: every config, from JSON or built, passes here
        self.group_protocol = parse(self.group_protocol, "group_protocol")

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsumerConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown consumer config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can do; a missing capability makes a check 'unsupported'."""

    consumer_protocol: bool = False  # KIP-848 group.protocol=consumer
    cooperative: bool = False  # cooperative-sticky incremental rebalancing
    manual_assignment: bool = True
    pause_resume: bool = True
    async_commit: bool = True
    offset_reset_none: bool = True
    on_lost: bool = False  # distinguishes lost from revoked
    #: max.poll.interval.ms: a member that stops calling poll() is removed from the group
    #: (clients that heartbeat in the background regardless of polling have none)
    poll_interval: bool = True
    unsubscribe: bool = False  # Adapter.unsubscribe(), then subscribe() again
    seek_to_end: bool = False  # Adapter.seek_to_end(tp), the client's own call
    #: auto commit (and the commit of a close) covers only offsets the application stored
    #: after processing (``store()``), never merely polled ones: S4's hazard does not apply
    stores_processed: bool = False

    def to_json(self) -> dict[str, bool]:
        return dict(self.__dict__)


class RebalanceListener(Protocol):
    def on_assigned(self, partitions: list[TopicPartition]) -> None: ...
    def on_revoked(self, partitions: list[TopicPartition]) -> None: ...
    def on_lost(self, partitions: list[TopicPartition]) -> None: ...


CommitCallback = Callable[[dict[TopicPartition, int], "ConsumerError | None"], None]


class Adapter(ABC):
    """One consumer of one client library. Subclasses set ``name``, ``client``,
    ``capabilities`` and implement every abstract method with the meaning in the module doc."""

    name: ClassVar[str] = ""
    client: ClassVar[str] = ""  # distribution name of the client library
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, config: ConsumerConfig) -> None:
        self.config = config

    @classmethod
    def client_version(cls) -> str:
        """The version of the client library (e.g. '2.16.1'); '' if unknown."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(cls.client) if cls.client else ""
        except PackageNotFoundError:
            return ""

    @classmethod
    def check_config(cls, config: ConsumerConfig) -> None:
        """Raise :class:`Unsupported` for a configuration this adapter cannot run."""
        caps = cls.capabilities
        if config.group_protocol == GroupProtocol.CONSUMER and not caps.consumer_protocol:
            raise Unsupported(f"{cls.name} does not support group.protocol=consumer (KIP-848)")
        if config.assignment_strategy == "cooperative-sticky" and not caps.cooperative:
            raise Unsupported(f"{cls.name} does not support cooperative rebalancing")
        if config.auto_offset_reset == "none" and not caps.offset_reset_none:
            raise Unsupported(f"{cls.name} does not support auto.offset.reset=none")

    @abstractmethod
    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None: ...

    @abstractmethod
    def assign(self, partitions: list[TopicPartition]) -> None: ...

    @abstractmethod
    def poll(self, timeout: float, max_records: int = 500) -> list[Record]: ...

    @abstractmethod
    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None: ...

    @abstractmethod
    def seek(self, tp: TopicPartition, offset: int) -> None: ...

    @abstractmethod
    def position(self, tp: TopicPartition) -> int: ...

    @abstractmethod
    def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]: ...

    @abstractmethod
    def pause(self, tps: list[TopicPartition]) -> None: ...

    @abstractmethod
    def resume(self, tps: list[TopicPartition]) -> None: ...

    @abstractmethod
    def assignment(self) -> list[TopicPartition]:
        """The partitions currently assigned to this consumer."""

    @abstractmethod
    def close(self) -> None: ...

    def store(self, records: list[Record]) -> dict[TopicPartition, int]:
        """Mark ``records`` as processed for the client's own (auto) commits, where the client
        separates storing progress from committing it (librdkafka's store_offsets). The worker
        calls it after processing. Default: nothing to do (the client commits positions)."""
        return {}

    def unsubscribe(self) -> None:
        """Drop the subscription and leave the group (see the module doc); only adapters with
        the ``unsubscribe`` capability implement it."""
        raise Unsupported(f"{self.name} cannot unsubscribe")

    def seek_to_end(self, tp: TopicPartition) -> None:
        """Seek ``tp`` to its end with the client's own call (see the module doc); only
        adapters with the ``seek_to_end`` capability implement it."""
        raise Unsupported(f"{self.name} cannot seek to the end")

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        """Report the client's own (auto) commits to ``callback`` where the client exposes them.
        Adapters that cannot observe auto commits leave this as is."""
        self._auto_commit_callback = callback
