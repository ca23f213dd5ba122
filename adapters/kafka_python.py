"""Adapters for kafka-python 2.0.2 to 3.0.x, the contract's meaning measured against a real broker.

- ``kafka-python``: ``KafkaConsumer.poll(timeout_ms, max_records)`` (never with timeout 0).
- ``kafka-python:records``: the iterator API, ``next(consumer)`` with ``consumer_timeout_ms``
  set to what is left of the poll timeout, up to ``max_records`` records.

Classic group protocol only (kafka-python does not implement KIP-848). What a release has is
detected at import, never parsed from its version:

=========  ===========  =======  ===============  ==========  ============================
release    cooperative  on_lost  listener         timeout_ms  periodic auto commit result
=========  ===========  =======  ===============  ==========  ============================
2.0.x      no           no       sync, poll()     no          observed by the adapter
2.1-2.3    no           no       sync, poll()     yes         default_offset_commit_callback
3.0.x      yes          yes      async, IO loop   yes         default_offset_commit_callback
=========  ===========  =======  ===============  ==========  ============================

cooperative: the cooperative-sticky assignor (KIP-429), else ``check_config`` refuses it with
:class:`Unsupported`. on_lost: ``on_partitions_lost``; before 3.0 a lost generation reaches
``on_revoked``. timeout_ms: ``commit``/``position``/``committed``/``close`` take one (15 s);
2.0.x blocks until done. Capability ``unsubscribe`` in every release
(``KafkaConsumer.unsubscribe()``: an auto commit where it is on, then the assignment is
cleared and the member leaves the group; 2.0.x through ``coordinator.close()``, which
restarts on the next join).

Listener threading. Before 3.0 the client calls a ``ConsumerRebalanceListener`` in the thread
inside ``poll()``, so the contract's listener runs there and may commit; the client logs and
swallows a listener's exception, the adapter keeps it and raises it from ``poll()`` (from the
next one when this one returned records). From 3.0 an IO thread runs the network loop and calls
the listener there while the ``poll()``/``close()`` caller waits; a blocking call from the IO
thread is refused ("Cannot block on net.run() from the IO thread"), so the adapter registers an
``AsyncConsumerRebalanceListener`` that runs the contract's listener on a helper thread and
awaits it without blocking the loop: a commit inside ``on_revoked`` is effective, listener
calls still happen during ``poll()``/``close()`` and never concurrently with the caller.
In every release a listener's exception comes out of ``poll()`` as the contract's error: a
:class:`ConsumerError` as it was, anything else as a ConsumerError with its text (3.0 wraps it in
a KafkaError, which the adapter unwraps).

Commits:

- Async: ``commit_async(offsets, callback)``; kafka-python runs the callback inside a later
  ``poll()``/``commit()``. ``close()`` first waits (up to a few seconds) for pending async
  commits and runs their callbacks, as the Java client does; a commit still pending then is
  reported to its callback as failed.
- Auto commits: the periodic ones run inside ``poll()`` and complete in the coordinator's
  ``_commit_offsets_async_on_complete``, which calls ``default_offset_commit_callback`` from
  2.1 on (2.0.x only logs; the adapter reports the result itself, once). kafka-python also
  commits synchronously before a rebalance and in ``close()``, without any callback; the adapter
  observes those by wrapping the coordinator's ``_commit_offsets_sync_async`` (3.0) or
  ``commit_offsets_sync`` (before), observation only (same offsets and result), so every auto
  commit reaches ``set_auto_commit_callback``'s callback, in the caller's thread.
- Errors: ``CommitFailedError``/``RebalanceInProgressError``/``UnknownMemberIdError``/
  ``IllegalGenerationError`` and other commit failures are :class:`CommitFailed`;
  ``FencedInstanceIdError`` (2.0.3+) is :class:`FencedMember`; ``NoOffsetForPartitionError``
  (``kafka.consumer.fetcher`` before 2.1) is :class:`NoOffsetForPartition`;
  ``IllegalStateError``, and before 3.0 the ``AssertionError`` of a precondition (seek of an
  unassigned partition), are :class:`IllegalState`.

``commit(None)`` commits the position after the records poll() returned (and seek targets) of
the partitions the member still owns; during ``on_revoked`` that includes the partitions being
revoked (with cooperative-sticky kafka-python drops them from ``assignment()`` before calling
the listener).

Measured (tests/integration/test_adapter_contract.py, Kafka 4.3; 2.0.2, 2.0.6, 2.1.6, 2.2.21,
2.3.3, 3.0.0, 3.0.12):

- 3.0.x: ``close()`` calls ``on_revoked`` for the owned partitions (``on_lost`` if the
  generation was already lost). A member removed for exceeding ``max_poll_interval_ms`` (the
  heartbeat thread leaves the group) raises ``CommitFailedError`` on a sync commit, fails async
  commits the same way, and reports ``on_lost`` for its partitions when it polls and rejoins.
- Before 3.0: ``close()`` commits (auto commit) and leaves the group without calling the
  listener, so a commit meant for ``on_revoked`` is not made on close (duplicates for the next
  owner, left visible). A removed member fails commits as in 3.0 and reports its partitions at
  ``on_revoked`` (eager rejoin) when it polls again.
- Every release (2.0.2, 2.2.21, 3.0.11, 3.0.12), left visible: ``unsubscribe()`` never calls
  the listener. It clears the assignment before leaving the group, so the join after the next
  ``subscribe()`` has nothing to revoke either: the application never hears that its
  partitions went, and a commit meant for ``on_revoked`` is never made (kafka-clients calls
  ``onPartitionsRevoked`` inside ``unsubscribe()``). The adapter forgets its positions of the
  dropped partitions (``commit(None)`` commits none of them). Assigned again, the member
  resumes at the committed offset: 3.x's bug of a partition given back at its old position
  (docs/findings.md, 1) is not hit here, the assignment having been cleared.
- Client bug, 2.0.x, left visible (not worked around): a partition paused while a fetched
  batch of it is in hand skips that batch's remaining records after ``resume()`` (paused at
  position 3 with offsets 3-5 in hand, it delivers 6, 7, 8: loss), with ``poll()`` and the
  iterator alike. Not seen in 2.1-2.3.
- Client bug, 3.0.x, left visible: with ``poll()`` a partition paused while a fetched batch of
  it is in hand never delivers again after ``resume()`` (its parked batch is restored only when
  the fetcher's in-line slot is ``None``, and it keeps another partition's exhausted batch). The
  iterator API is not affected.
- Client bug, 3.0.x, left visible: a rejoin whose JoinGroup is still in flight when poll()
  returns is never completed once the leader's assignment cleared the trigger
  (``need_rejoin()`` is False): the member stays REBALANCING with no partitions while the group
  counts it as their owner. Seen on a fresh subscription (the first join happens before topic
  metadata arrived) with very short poll timeouts (1 ms); not seen with the harness's 100 ms
  poll(). 3.0.0 with the iterator API: 2 of 4 contract runs had a first member that read
  nothing for 30 s after "No partition metadata for topic" (presumably the same stall).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import kafka.errors as Errors
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka import TopicPartition as KTopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.structs import OffsetAndMetadata

from adapters.base import (
    Adapter,
    Capabilities,
    CommitCallback,
    CommitFailed,
    ConsumerConfig,
    ConsumerError,
    FencedMember,
    IllegalState,
    NoOffsetForPartition,
    RebalanceListener,
    Record,
    TopicPartition,
    Unsupported,
)

log = logging.getLogger(__name__)

# -- what the installed release has (feature detection, no version parsing) -------------------
try:  # 3.0+: listener coroutines awaited by the IO thread
    from kafka import AsyncConsumerRebalanceListener
except ImportError:  # < 3.0: the listener runs synchronously in the thread that polls
    AsyncConsumerRebalanceListener = None
try:  # 3.0+ (KIP-429)
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
except ImportError:
    CooperativeStickyAssignor = None
try:
    _NoOffsetForPartitionError: type[Exception] = Errors.NoOffsetForPartitionError
except AttributeError:  # < 2.1: defined by the fetcher
    from kafka.consumer.fetcher import NoOffsetForPartitionError as _NoOffsetForPartitionError

#: on_partitions_lost (3.0+); before, a lost generation is reported as revoked.
_ON_LOST = hasattr(ConsumerRebalanceListener, "on_partitions_lost")
#: FencedInstanceIdError (static membership errors, 2.0.3+).
_FENCED: tuple[type[Exception], ...] = tuple(
    c for c in (getattr(Errors, "FencedInstanceIdError", None),) if c is not None)
#: Consumer methods taking ``timeout_ms`` (2.1+; 2.0.x blocks until done).
_TIMEOUT_MS = frozenset(
    name for name in ("commit", "position", "committed", "close")
    if "timeout_ms" in inspect.signature(getattr(KafkaConsumer, name)).parameters)
#: OffsetAndMetadata has a leader_epoch field from 2.1.
_LEADER_EPOCH = "leader_epoch" in OffsetAndMetadata._fields

_ASSIGNORS: dict[str, Any] = {
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
}
if CooperativeStickyAssignor is not None:
    _ASSIGNORS["cooperative-sticky"] = CooperativeStickyAssignor
_REQUEST_TIMEOUT_MS = 15000
_CLOSE_FLUSH_SECONDS = 5.0

_COMMIT_FAILURES = (
    Errors.CommitFailedError,
    Errors.RebalanceInProgressError,
    Errors.UnknownMemberIdError,
    Errors.IllegalGenerationError,
)


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _retriable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False))


def _error(exc: BaseException, what: str) -> ConsumerError:
    """A kafka-python exception as the contract's error."""
    if isinstance(exc, ConsumerError):
        return exc
    text = _text(exc)
    if isinstance(exc, _NoOffsetForPartitionError):
        return NoOffsetForPartition(f"{what}: {text}", cause=text)
    if isinstance(exc, _FENCED):
        return FencedMember(f"{what}: {text}", cause=text)
    if isinstance(exc, _COMMIT_FAILURES):
        return CommitFailed(f"{what}: {text}", retriable=_retriable(exc), cause=text)
    # < 3.0 checks preconditions (e.g. an unassigned partition) with assert
    if isinstance(exc, (Errors.IllegalStateError, AssertionError)):
        return IllegalState(f"{what}: {text}", cause=text)
    return ConsumerError(f"{what}: {text}", retriable=_retriable(exc), cause=text)


def _commit_error(exc: BaseException, what: str = "commit failed") -> ConsumerError:
    if isinstance(exc, ConsumerError):
        return exc
    if isinstance(exc, (*_FENCED, Errors.IllegalStateError, AssertionError)):
        return _error(exc, what)
    text = _text(exc)
    return CommitFailed(f"{what}: {text}", retriable=_retriable(exc), cause=text)


def _unwrap_listener_error(exc: BaseException) -> BaseException:
    """kafka-python 3.0 re-raises a listener's exception as KafkaError(...) from it."""
    if (isinstance(exc, Errors.KafkaError) and exc.__cause__ is not None
            and "rebalance callback" in str(exc)):
        return exc.__cause__
    return exc


def _offsets(offsets: Mapping[Any, Any]) -> dict[TopicPartition, int]:
    out: dict[TopicPartition, int] = {}
    for tp, om in offsets.items():
        out[TopicPartition(tp.topic, tp.partition)] = int(getattr(om, "offset", om))
    return out


def _offset_and_metadata(offset: int) -> OffsetAndMetadata:
    return OffsetAndMetadata(offset, "", -1) if _LEADER_EPOCH else OffsetAndMetadata(offset, "")


def _timeout(method: str) -> dict[str, int]:
    """``timeout_ms`` for the consumer's ``method`` where the release takes one."""
    return {"timeout_ms": _REQUEST_TIMEOUT_MS} if method in _TIMEOUT_MS else {}


class _SyncBridge(ConsumerRebalanceListener):
    """kafka-python < 3.0: the listener runs in the thread inside poll(); the client logs and
    swallows a listener's exception, so the adapter keeps it and poll()/close() raise it."""

    def __init__(self, adapter: KafkaPythonAdapter) -> None:
        self._adapter = adapter

    def on_partitions_revoked(self, revoked: Iterable[KTopicPartition]) -> None:
        self._adapter._listener_sync("revoked", revoked)

    def on_partitions_assigned(self, assigned: Iterable[KTopicPartition]) -> None:
        self._adapter._listener_sync("assigned", assigned)


if AsyncConsumerRebalanceListener is not None:
    class _AsyncBridge(AsyncConsumerRebalanceListener):
        """kafka-python 3.0+: runs the contract's listener off the IO thread."""

        def __init__(self, adapter: KafkaPythonAdapter) -> None:
            self._adapter = adapter

        async def on_partitions_revoked(self, revoked: Iterable[KTopicPartition]) -> None:
            await self._adapter._listener_call("revoked", revoked)

        async def on_partitions_assigned(self, assigned: Iterable[KTopicPartition]) -> None:
            await self._adapter._listener_call("assigned", assigned)

        async def on_partitions_lost(self, lost: Iterable[KTopicPartition]) -> None:
            await self._adapter._listener_call("lost", lost)


class KafkaPythonAdapter(Adapter):
    """kafka-python, ``KafkaConsumer.poll(timeout_ms, max_records)``."""

    name = "kafka-python"
    client = "kafka-python"
    capabilities = Capabilities(consumer_protocol=False,
                                cooperative=CooperativeStickyAssignor is not None,
                                on_lost=_ON_LOST, unsubscribe=True, seek_to_end=True)

    @classmethod
    def check_config(cls, config: ConsumerConfig) -> None:
        release = f"kafka-python {cls.client_version() or '?'}"
        if config.group_protocol == "consumer":
            raise Unsupported(f"{release} implements only the classic group "
                              f"protocol, not KIP-848 group.protocol=consumer")
        if config.assignment_strategy not in _ASSIGNORS:
            raise Unsupported(f"{release} has no {config.assignment_strategy} "
                              f"assignor (incremental cooperative rebalancing, KIP-429, came "
                              f"with kafka-python 3.0)")
        if (config.isolation_level == "read_committed"
                and "isolation_level" not in KafkaConsumer.DEFAULT_CONFIG):
            raise Unsupported(f"{release} has no isolation_level option: it reads "
                              f"transactional records uncommitted only")
        super().check_config(config)

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.check_config(config)
        self._has_group = config.group_id is not None
        self._listener: RebalanceListener | None = None
        self._closed = False
        self._positions: dict[TopicPartition, int] = {}
        self._auto_reports: deque[tuple[dict[TopicPartition, int], ConsumerError | None]] = \
            deque()
        self._deferred: deque[tuple[CommitCallback, dict[TopicPartition, int]]] = deque()
        self._pending_async: dict[int, tuple[dict[TopicPartition, int], CommitCallback | None]] \
            = {}
        self._next_commit_id = 0
        self._user_commit = 0
        self._auto_commit_callback: CommitCallback | None = None
        self._listener_error: BaseException | None = None
        self._auto_seen = 0  # periodic auto commit results reported
        try:
            self._consumer = KafkaConsumer(**self._client_config())
        except Exception as exc:
            raise ConsumerError(f"cannot create the consumer: {_text(exc)}",
                                cause=_text(exc)) from None
        self._observe_client_commits()

    # -- configuration -----------------------------------------------------------------------
    def _client_config(self) -> dict[str, Any]:
        c = self.config
        props: dict[str, Any] = {
            "bootstrap_servers": c.bootstrap_servers.split(","),
            "group_id": c.group_id,
            "auto_offset_reset": c.auto_offset_reset,
            "enable_auto_commit": bool(c.enable_auto_commit) and self._has_group,
            "auto_commit_interval_ms": int(c.auto_commit_interval_ms),
            "default_offset_commit_callback": self._on_auto_commit,
            "partition_assignment_strategy": [_ASSIGNORS[c.assignment_strategy]],
            "max_poll_records": int(c.max_poll_records),
            "session_timeout_ms": int(c.session_timeout_ms),
            "heartbeat_interval_ms": int(c.heartbeat_interval_ms),
            "max_poll_interval_ms": int(c.max_poll_interval_ms),
            "metadata_max_age_ms": int(c.metadata_max_age_ms),
        }
        if c.fetch_max_bytes:
            props["fetch_max_bytes"] = int(c.fetch_max_bytes)
        if c.max_partition_fetch_bytes:
            props["max_partition_fetch_bytes"] = int(c.max_partition_fetch_bytes)
        # partition_eof: kafka-python has no end-of-partition events; nothing to turn on
        if c.isolation_level != "read_uncommitted":  # releases before 2.1 know only that one
            props["isolation_level"] = c.isolation_level
        if c.client_id:
            props["client_id"] = c.client_id
        props.update(c.extra)
        return props

    def _observe_client_commits(self) -> None:
        """Report kafka-python's own synchronous commits (before a rebalance, in close()) to
        the auto commit callback; the user's commit() calls are not reported here."""
        if not self._has_group or not self.config.enable_auto_commit:
            return
        coordinator = getattr(self._consumer, "_coordinator", None)
        self._observe_periodic_commits(coordinator)
        original = getattr(coordinator, "_commit_offsets_sync_async", None)  # 3.0+
        if original is not None:
            async def observed_async(offsets: Any, timeout_ms: Any = None) -> Any:
                if self._user_commit or not offsets:
                    return await original(offsets, timeout_ms=timeout_ms)
                try:
                    result = await original(offsets, timeout_ms=timeout_ms)
                except BaseException as exc:
                    self._client_commit(offsets, exc)
                    raise
                self._client_commit(offsets, None)
                return result

            coordinator._commit_offsets_sync_async = observed_async
            return
        original = getattr(coordinator, "commit_offsets_sync", None)  # < 3.0
        if original is None:
            return

        def observed(offsets: Any, *args: Any, **kwargs: Any) -> Any:
            if self._user_commit or not offsets:
                return original(offsets, *args, **kwargs)
            try:
                result = original(offsets, *args, **kwargs)
            except BaseException as exc:
                self._client_commit(offsets, exc)
                raise
            self._client_commit(offsets, None)
            return result

        coordinator.commit_offsets_sync = observed

    def _observe_periodic_commits(self, coordinator: Any) -> None:
        """The periodic auto commits complete in ``_commit_offsets_async_on_complete``, which
        calls ``default_offset_commit_callback`` from 2.1 on; 2.0.x only logs. Report a result
        the client did not pass to the callback (observation only)."""
        original = getattr(coordinator, "_commit_offsets_async_on_complete", None)
        if original is None:
            return

        def observed(offsets: Any, res_or_exc: Any) -> Any:
            before = self._auto_seen
            result = original(offsets, res_or_exc)
            if self._auto_seen == before:
                self._on_auto_commit(offsets, res_or_exc)
            return result

        coordinator._commit_offsets_async_on_complete = observed

    def _client_commit(self, offsets: Any, exc: BaseException | None) -> None:
        error = None if exc is None else _commit_error(exc, "auto commit failed")
        self._auto_reports.append((_offsets(offsets), error))

    # -- callbacks ---------------------------------------------------------------------------
    def _on_auto_commit(self, offsets: Any, response: Any) -> None:
        self._auto_seen += 1
        error = (_commit_error(response, "auto commit failed")
                 if isinstance(response, BaseException) else None)
        self._auto_reports.append((_offsets(offsets), error))

    def _deliver(self) -> None:
        """Run queued auto commit reports and deferred callbacks (caller's thread)."""
        while self._auto_reports:
            offsets, error = self._auto_reports.popleft()
            if self._auto_commit_callback is not None:
                self._auto_commit_callback(offsets, error)
        while self._deferred:
            callback, offsets = self._deferred.popleft()
            callback(offsets, None)

    def _dispatch(self, kind: str, tps: list[TopicPartition]) -> None:
        """Run the contract's listener for a rebalance event (positions of partitions that
        leave are forgotten once it returned)."""
        self._deliver()
        listener = self._listener
        if kind == "revoked":
            try:
                if listener is not None:
                    listener.on_revoked(tps)
            finally:
                for tp in tps:
                    self._positions.pop(tp, None)
            return
        for tp in tps:
            self._positions.pop(tp, None)
        if listener is not None:
            if kind == "assigned":
                listener.on_assigned(tps)
            else:
                listener.on_lost(tps)

    def _listener_sync(self, kind: str, parts: Iterable[KTopicPartition]) -> None:
        tps = sorted(TopicPartition(tp.topic, tp.partition) for tp in parts)
        if not tps:
            return
        try:
            self._dispatch(kind, tps)
        except BaseException as exc:
            if self._listener_error is None:
                self._listener_error = exc

    async def _listener_call(self, kind: str, parts: Iterable[KTopicPartition]) -> None:
        tps = sorted(TopicPartition(tp.topic, tp.partition) for tp in parts)
        if not tps:
            return
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self._dispatch(kind, tps)
            except BaseException as exc:
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, name=f"kc-listener-{kind}", daemon=True).start()
        net = self._consumer._net
        while not done.is_set():
            await net.sleep(0.002)
        if failure:
            raise failure[0]

    def _raise_listener_error(self) -> None:
        """kafka-python < 3.0 swallowed the listener's exception: raise it now."""
        if self._listener_error is not None:
            error, self._listener_error = self._listener_error, None
            raise _error(error, "poll failed") from None

    # -- helpers -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise IllegalState("the consumer is closed")

    def _require_group(self, what: str) -> None:
        if not self._has_group:
            raise IllegalState(f"{what} needs a group id (the consumer has none)")

    @staticmethod
    def _ktp(tp: TopicPartition) -> KTopicPartition:
        return KTopicPartition(tp.topic, tp.partition)

    def _record(self, r: Any) -> Record:
        headers = tuple((k, v) for k, v in (r.headers or []))
        ts = r.timestamp if r.timestamp is not None and r.timestamp >= 0 else None
        self._positions[TopicPartition(r.topic, r.partition)] = r.offset + 1
        return Record(r.topic, r.partition, r.offset, r.key, r.value, headers, ts)

    def _limit(self, max_records: int) -> int:
        return max(1, min(int(max_records), int(self.config.max_poll_records)))

    # -- the contract ------------------------------------------------------------------------
    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None:
        self._check_open()
        self._require_group("subscribe")
        self._listener = listener
        try:
            bridge = (_AsyncBridge(self) if AsyncConsumerRebalanceListener is not None
                      else _SyncBridge(self))
            self._consumer.subscribe(topics=list(topics), listener=bridge)
        except Exception as exc:
            raise _error(exc, "subscribe failed") from None

    def unsubscribe(self) -> None:
        """``KafkaConsumer.unsubscribe()``: an auto commit where it is on, the assignment
        cleared (the positions with it), LeaveGroup. The client does not call the listener
        (see the module doc); the adapter forgets its positions of the dropped partitions."""
        self._check_open()
        self._require_group("unsubscribe")
        try:
            self._consumer.unsubscribe()
        except Exception as exc:
            raise _error(_unwrap_listener_error(exc), "unsubscribe failed") from None
        finally:
            self._deliver()
        self._positions.clear()

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._check_open()
        keep = set(partitions)
        self._positions = {tp: o for tp, o in self._positions.items() if tp in keep}
        try:
            self._consumer.assign([self._ktp(tp) for tp in partitions])
        except Exception as exc:
            raise _error(exc, "assign failed") from None

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        self._check_open()
        self._deliver()
        self._raise_listener_error()
        timeout_ms = max(1, int(timeout * 1000))
        try:
            batches = self._consumer.poll(timeout_ms=timeout_ms,
                                          max_records=self._limit(max_records))
        except Exception as exc:
            raise _error(_unwrap_listener_error(exc), "poll failed") from None
        finally:
            self._deliver()
        out = [self._record(r) for records in batches.values() for r in records]
        if not out:
            self._raise_listener_error()  # else by the next poll(), after these records
        return out

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None:
        self._check_open()
        self._require_group("commit")
        if offsets is None:
            # positions of revoked/lost partitions are forgotten once the listener returned
            wanted = dict(self._positions)
        else:
            wanted = {TopicPartition(tp[0], tp[1]): int(o) for tp, o in offsets.items()}
        kafka_offsets = {self._ktp(tp): _offset_and_metadata(o) for tp, o in wanted.items()}
        try:
            if asynchronous:
                if not wanted:
                    if callback is not None:
                        self._deferred.append((callback, {}))
                    return None
                commit_id = self._next_commit_id
                self._next_commit_id += 1
                self._pending_async[commit_id] = (wanted, callback)

                def done(_offsets: Any, response: Any) -> None:
                    entry = self._pending_async.pop(commit_id, None)
                    if entry is None or entry[1] is None:
                        return
                    error = (_commit_error(response)
                             if isinstance(response, BaseException) else None)
                    entry[1](wanted, error)

                try:
                    self._consumer.commit_async(kafka_offsets, callback=done)
                except Exception as exc:
                    self._pending_async.pop(commit_id, None)
                    raise _commit_error(exc) from None
                return None
            if not wanted:
                return {}
            self._user_commit += 1
            try:
                self._consumer.commit(kafka_offsets, **_timeout("commit"))
            except Exception as exc:
                raise _commit_error(exc) from None
            finally:
                self._user_commit -= 1
            return wanted
        finally:
            self._deliver()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._check_open()
        try:
            self._consumer.seek(self._ktp(tp), int(offset))
        except (ValueError, AssertionError) as exc:
            raise IllegalState(f"seek on {tp.topic} [{tp.partition}]: {exc}") from None
        except Exception as exc:
            raise _error(exc, "seek failed") from None
        self._positions[tp] = int(offset)

    def seek_to_end(self, tp: TopicPartition) -> None:
        """``KafkaConsumer.seek_to_end(tp)``: the client resets the partition lazily, so the
        adapter asks ``position()`` at once (it resolves the end, as an application reading
        its lag would)."""
        self._check_open()
        try:
            self._consumer.seek_to_end(self._ktp(tp))
        except (ValueError, AssertionError) as exc:
            raise IllegalState(f"seek to the end of {tp.topic} [{tp.partition}]: {exc}") \
                from None
        except Exception as exc:
            raise _error(exc, "seek to the end failed") from None
        self._positions.pop(tp, None)
        self._positions[tp] = self.position(tp)

    def position(self, tp: TopicPartition) -> int:
        self._check_open()
        try:
            offset = self._consumer.position(self._ktp(tp), **_timeout("position"))
        except Exception as exc:
            raise _error(exc, "position failed") from None
        if offset is None:
            raise ConsumerError(f"position of {tp.topic} [{tp.partition}] not known within "
                                f"{_REQUEST_TIMEOUT_MS} ms", retriable=True)
        return int(offset)

    def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        self._check_open()
        self._require_group("committed")
        out: dict[TopicPartition, int | None] = {}
        try:
            for tp in tps:
                offset = self._consumer.committed(self._ktp(tp), **_timeout("committed"))
                out[tp] = None if offset is None or offset < 0 else int(offset)
        except Exception as exc:
            raise _error(exc, "committed failed") from None
        return out

    def pause(self, tps: list[TopicPartition]) -> None:
        self._check_open()
        try:
            self._consumer.pause(*[self._ktp(tp) for tp in tps])
        except Exception as exc:
            raise _error(exc, "pause failed") from None

    def resume(self, tps: list[TopicPartition]) -> None:
        self._check_open()
        try:
            self._consumer.resume(*[self._ktp(tp) for tp in tps])
        except Exception as exc:
            raise _error(exc, "resume failed") from None

    def assignment(self) -> list[TopicPartition]:
        self._check_open()
        return sorted(TopicPartition(tp.topic, tp.partition)
                      for tp in (self._consumer.assignment() or ()))

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._deliver()
            if self._has_group and self._pending_async:
                # Like Java's close(): wait for in-flight async commits and run their callbacks
                # (an empty sync commit runs kafka-python's completed commit callbacks).
                deadline = time.monotonic() + _CLOSE_FLUSH_SECONDS
                while self._pending_async and time.monotonic() < deadline:
                    self._user_commit += 1
                    try:
                        self._consumer.commit({})
                    except Exception as exc:
                        log.info("kafka-python: flushing async commits: %s", _text(exc))
                        break
                    finally:
                        self._user_commit -= 1
                    if self._pending_async:
                        time.sleep(0.01)
            self._consumer.close(autocommit=True)
        except Exception as exc:
            raise _error(_unwrap_listener_error(exc), "close failed") from None
        finally:
            self._closed = True
            pending, self._pending_async = self._pending_async, {}
            for offsets, callback in pending.values():
                if callback is not None:
                    callback(offsets, CommitFailed("the consumer closed before the commit was "
                                                   "acknowledged", retriable=True))
            with contextlib.suppress(Exception):
                self._deliver()
            self._positions.clear()

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self._auto_commit_callback = callback


class KafkaPythonIteratorAdapter(KafkaPythonAdapter):
    """kafka-python, the iterator API: ``next(consumer)`` with ``consumer_timeout_ms``."""

    name = "kafka-python:records"

    _pending_error: ConsumerError | None = None

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        self._check_open()
        self._deliver()
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
            raise error
        self._raise_listener_error()
        limit = self._limit(max_records)
        deadline = time.monotonic() + max(0.0, timeout)
        out: list[Record] = []
        try:
            while len(out) < limit:
                # The first next() may wait the whole timeout (kafka-python loops inside it
                # until consumer_timeout_ms); after a record only what is buffered (1 ms), as
                # each next() would otherwise wait consumer_timeout_ms for one more record.
                left_ms = int((deadline - time.monotonic()) * 1000)
                self._consumer.config["consumer_timeout_ms"] = 1 if out else max(1, left_ms)
                try:
                    record = next(self._consumer)
                except StopIteration:
                    break
                out.append(self._record(record))
        except Exception as exc:
            error = _error(_unwrap_listener_error(exc), "poll failed")
            if not out:
                raise error from None
            self._pending_error = error  # raised by the next poll(), after these records
        finally:
            self._deliver()
        if not out:
            self._raise_listener_error()
        return out
