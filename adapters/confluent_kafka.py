"""Adapters for confluent-kafka 2.0.2 to 2.16.x (librdkafka), measured against a real broker.

Four built-ins share one implementation and differ only in how records are fetched or stored:

- ``confluent-kafka``: ``Consumer.poll()`` returns one message per call; the adapter waits up to
  ``timeout`` for the first one, then keeps calling ``poll(0)`` while messages are immediately
  available, until ``max_records``.
- ``confluent-kafka:batch``: ``Consumer.consume(num_messages, timeout)``; one call returns the
  batch (librdkafka waits until ``num_messages`` arrived or the timeout passed).
- ``confluent-kafka:stored``: ``enable.auto.offset.store=false``. librdkafka then commits (auto
  commit, and ``close()`` with auto commit) only offsets the application stored; the adapter's
  :meth:`ConfluentStoredOffsetsAdapter.store` stores the position after processed records
  (``store_offsets(offsets=[...])``), so auto commit commits processed offsets only, never
  merely polled ones.
- ``confluent-kafka:stored-message``: the same, storing in the message form
  (``store_offsets(message=msg)``, the last processed message of each partition).

Mapping of ConsumerConfig to librdkafka (see ``_client_config``): ``auto_offset_reset="none"``
is librdkafka's ``error``; ``group.protocol`` is passed only for ``group_protocol="consumer"``
(KIP-848; librdkafka before 2.4 has no such property and classic is every release's default),
and then ``session.timeout.ms``, ``heartbeat.interval.ms`` and ``partition.assignment.strategy``
are not passed (the broker owns them; early-access librdkafka before 2.10 gets the session
timeout, see below); ``early_access`` is the adapter's gate only; ``metadata_max_age_ms`` is
``topic.metadata.refresh.interval.ms``. librdkafka requires a ``group.id``: without one the
adapter uses a throw-away group and raises :class:`IllegalState` from commit()/committed() as a
group-less Java consumer does. librdkafka logs only errors (``log_level`` 3) and only to
stderr.

Releases (the contract tests below pass with the classic protocol, all three adapters, on
2.0.2, 2.1.1, 2.2.0, 2.3.0, 2.4.0, 2.6.1, 2.8.2, 2.11.1, 2.12.0, 2.16.1):

- Cooperative-sticky, ``incremental_assign`` and ``on_lost`` exist in every supported release
  (librdkafka 1.6+); the capabilities follow ``hasattr(Consumer, "incremental_assign")``.
- ``consumer_protocol`` is on from librdkafka 2.12.0, where KIP-848 became generally
  available; before, :meth:`ConfluentAdapter.check_config` refuses it with :class:`Unsupported`
  (:func:`consumer_protocol_refusal` decides), except on the early-access releases
  2.4.0-2.11.x with ``early_access`` (``--early-access``). Measured: 2.0.2-2.3.0 reject
  ``group.protocol`` (no such property, refused either way); librdkafka 2.4.0-2.8.x refuse to
  create the consumer unless ``max.poll.interval.ms >= session.timeout.ms`` (the session
  timeout, unused by the protocol, is still validated: the adapter passes the config's, at
  most the poll interval), 2.10+ reject ``session.timeout.ms`` under the protocol; 2.11.1
  passes all but the removal test below, like 2.12.0-2.14.x.
- Client bug, librdkafka 2.12.0-2.14.x with the consumer protocol, left visible: a member
  removed for exceeding ``max.poll.interval.ms`` rejoins with a ConsumerGroupHeartbeat the
  broker rejects ("Broker: Invalid request"), which librdkafka turns into a fatal error; every
  later poll raises it (:class:`ConsumerError`). Fixed in 2.15.0.
- ``libversion()`` is a ``(str, int)`` tuple except in confluent-kafka 2.12.0 (a bare string);
  :func:`release` reads both.

What librdkafka does, measured by tests/integration/test_adapter_contract.py (Kafka 4.3):

- Rebalance callbacks: confluent-kafka calls ``assign``/``unassign`` (eager) or
  ``incremental_assign``/``incremental_unassign`` (cooperative-sticky and the consumer
  protocol, where librdkafka's rebalance protocol is COOPERATIVE) itself after our callback
  returns, so the callbacks only notify the listener. Empty partition lists (librdkafka calls
  ``on_assign([])`` in cooperative rebalances) are not passed on. The adapter forgets positions
  of partitions revoked or lost, so a later ``commit()`` never commits them.
- ``close()`` calls ``on_revoked`` for the owned partitions (both protocols).
- A member removed for exceeding ``max.poll.interval.ms`` gets a ``_MAX_POLL_EXCEEDED`` error
  from poll (logged, not raised: the client rejoins by itself); with the classic protocol its
  partitions then arrive at ``on_revoked`` (librdkafka does not flag them lost), with the
  consumer protocol librdkafka reports some at ``on_revoked`` and the rest at ``on_lost``.
  A sync commit in that state raises UNKNOWN_MEMBER_ID (mapped to :class:`CommitFailed`).
- Sync ``commit()`` raises top-level errors and reports per-partition ones in
  ``TopicPartition.error``; both become :class:`CommitFailed` (``FENCED_INSTANCE_ID``:
  :class:`FencedMember`).
- Async commits and auto commits both end in the single ``on_commit`` config callback, served
  by poll()/consume()/close(). The adapter routes each result to the ``commit()`` call with the
  same offsets (oldest first), everything else to ``set_auto_commit_callback``'s callback.
  Auto commits with nothing to commit (``_NO_OFFSET``) are not reported, nor partitions listed
  with offset -1001 (assigned, nothing stored). ``close()`` serves the results of async commits
  still in flight and of its own auto commit, so they are reported inside ``close()``.
- ``auto.offset.reset=error`` surfaces as a message error ``_AUTO_OFFSET_RESET`` from poll:
  :class:`NoOffsetForPartition`.
- ``Consumer.position()`` is "invalid" until a message was returned, and librdkafka applies
  the reset policy only when it starts fetching, some time after ``on_assign`` (records
  produced in between are skipped under ``latest``). :meth:`position` uses the adapter's own
  position (after returned records, after seek); without one it decides the position as Java's
  ``position()`` does, the committed offset else the reset policy applied to the watermarks at
  this call, and seeks the consumer there.
- ``seek()`` right after an assignment fails with ``_STATE`` until librdkafka starts fetching
  the partition; the adapter retries for a few seconds.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, libversion
from confluent_kafka import TopicPartition as CTopicPartition

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

_OFFSET_INVALID = -1001

# -- what the installed release can do -------------------------------------------------------
def release(text: object) -> tuple[int, ...]:
    """A release as numbers: ``release("2.12.0") == (2, 12, 0)``; ``libversion()`` is a
    ``(str, int)`` tuple, except in confluent-kafka 2.12.0 where it is the bare string."""
    if isinstance(text, tuple):
        text = text[0] if text else ""
    parts: list[int] = []
    for piece in str(text).split("."):
        digits = "".join(itertools.takewhile(str.isdigit, piece))
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


#: The linked librdkafka (the bundled one in the wheels, else the system's).
LIBRDKAFKA = release(libversion())
#: KIP-848 ``group.protocol=consumer`` is generally available from librdkafka 2.12.0;
#: 2.4.0-2.11.x ship it as early access/preview (run with ``--early-access`` only), older
#: releases reject the property. A maturity boundary, not a feature a probe can see, hence
#: the version.
CONSUMER_PROTOCOL_GA = (2, 12)
CONSUMER_PROTOCOL_EARLY = (2, 4)
#: Up to 2.8 (measured; no confluent-kafka wheel bundles 2.9) librdkafka checks
#: ``max.poll.interval.ms >= session.timeout.ms`` under the consumer protocol too (against its
#: 45 s default); from 2.10 it rejects the property there.
_SESSION_TIMEOUT_CHECKED = (2, 10)
_CONSUMER_PROTOCOL_GA = LIBRDKAFKA >= CONSUMER_PROTOCOL_GA


def consumer_protocol_refusal(librdkafka: tuple[int, ...], early_access: bool,
                              client: str) -> str | None:
    """Why ``client`` (linking ``librdkafka``) does not run ``group.protocol=consumer``, None
    when it does: from the GA release, or on an early-access release with ``early_access``."""
    lib = ".".join(map(str, librdkafka)) or "?"
    if librdkafka >= CONSUMER_PROTOCOL_GA:
        return None
    if librdkafka < CONSUMER_PROTOCOL_EARLY:
        return (f"{client} (librdkafka {lib}) has no KIP-848 group.protocol property (early "
                f"access from librdkafka 2.4.0, generally available from 2.12.0)")
    if early_access:
        return None
    return (f"{client} (librdkafka {lib}) ships KIP-848 group.protocol=consumer as early "
            f"access only (librdkafka 2.4.0-2.11.x; generally available from 2.12.0): "
            f"--early-access runs it")
#: Incremental (cooperative-sticky) rebalancing and on_lost (librdkafka 1.6+).
_COOPERATIVE = hasattr(Consumer, "incremental_assign")
_SEEK_RETRY_SECONDS = 10.0
#: seek errors that a retry outlives (see ``ConfluentAdapter._seek``)
_SEEK_TRANSIENT = tuple(code for code in (getattr(KafkaError, "_STATE", None),
                                           getattr(KafkaError, "_OUTDATED", None))
                        if code is not None)
_REQUEST_TIMEOUT = 15.0

_RESET = {"earliest": "earliest", "latest": "latest", "none": "error"}

# Message errors that are informational: the client recovers by itself.
_IGNORED_MESSAGE_ERRORS = {
    KafkaError._PARTITION_EOF,
    KafkaError._MAX_POLL_EXCEEDED,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
}


def _error_text(err: KafkaError) -> str:
    return f"{err.name()}: {err.str()}"


def _commit_error(err: KafkaError, what: str = "commit failed") -> ConsumerError:
    """A commit failure as the contract's error (FencedMember or CommitFailed)."""
    text = _error_text(err)
    if err.code() == KafkaError.FENCED_INSTANCE_ID:
        return FencedMember(f"{what}: {text}", cause=text)
    return CommitFailed(f"{what}: {text}", retriable=bool(err.retriable()), cause=text)


#: Errors librdkafka reports on the consumer's error queue but recovers from by itself.
_TRANSIENT = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
              KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.NOT_LEADER_FOR_PARTITION,
              KafkaError.LEADER_NOT_AVAILABLE, KafkaError.REQUEST_TIMED_OUT,
              KafkaError._TRANSPORT, KafkaError._TIMED_OUT}


def _general_error(err: KafkaError, what: str) -> ConsumerError:
    text = _error_text(err)
    if err.code() == KafkaError._AUTO_OFFSET_RESET:
        return NoOffsetForPartition(f"{what}: {text}", cause=text)
    if err.code() == KafkaError.FENCED_INSTANCE_ID:
        return FencedMember(f"{what}: {text}", cause=text)
    if err.code() == KafkaError._STATE:
        return IllegalState(f"{what}: {text}", cause=text)
    retriable = bool(err.retriable()) or err.code() in _TRANSIENT
    return ConsumerError(f"{what}: {text}", retriable=retriable, cause=text)


def _kafka_error(exc: KafkaException) -> KafkaError:
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, KafkaError):
        return arg
    return KafkaError(KafkaError._FAIL, str(exc))


@contextlib.contextmanager
def _mapped(what: str, commit: bool = False) -> Iterator[None]:
    """Raise a KafkaException of the block as the contract's error (a commit error if
    ``commit``)."""
    try:
        yield
    except KafkaException as exc:
        err = _kafka_error(exc)
        raise (_commit_error(err) if commit else _general_error(err, what)) from None


def _tps(parts: list[CTopicPartition]) -> list[TopicPartition]:
    return [TopicPartition(p.topic, p.partition) for p in parts]


class ConfluentAdapter(Adapter):
    """confluent-kafka, ``Consumer.poll()`` one message at a time."""

    name = "confluent-kafka"
    client = "confluent-kafka"
    capabilities = Capabilities(consumer_protocol=_CONSUMER_PROTOCOL_GA, cooperative=_COOPERATIVE,
                                on_lost=_COOPERATIVE, unsubscribe=True, seek_to_end=True)

    @classmethod
    def check_config(cls, config: ConsumerConfig) -> None:
        if config.group_protocol == "consumer":
            reason = consumer_protocol_refusal(
                LIBRDKAFKA, config.early_access, f"confluent-kafka {cls.client_version() or '?'}")
            if reason:
                raise Unsupported(reason)
        super().check_config(config)

    #: librdkafka's enable.auto.offset.store (False for the :stored adapter).
    auto_offset_store = True

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.check_config(config)
        self._has_group = config.group_id is not None
        self._listener: RebalanceListener | None = None
        self._subscribed = False
        self._closed = False
        self._positions: dict[TopicPartition, int] = {}
        self._pending_async: list[tuple[dict[TopicPartition, int], CommitCallback | None]] = []
        self._deferred: deque[Callable[[], None]] = deque()
        self._pending_error: ConsumerError | None = None
        self._auto_commit_callback: CommitCallback | None = None
        try:
            self._consumer = Consumer(self._client_config())
        except (KafkaException, ValueError, TypeError) as exc:
            raise ConsumerError(f"cannot create the consumer: {exc}", cause=str(exc)) from None

    # -- configuration -----------------------------------------------------------------------
    def _client_config(self) -> dict[str, Any]:
        c = self.config
        props: dict[str, Any] = {
            "bootstrap.servers": c.bootstrap_servers,
            "group.id": c.group_id if self._has_group else f"kc-no-group-{uuid.uuid4().hex}",
            "auto.offset.reset": _RESET.get(c.auto_offset_reset, c.auto_offset_reset),
            "enable.auto.commit": bool(c.enable_auto_commit) and self._has_group,
            "auto.commit.interval.ms": int(c.auto_commit_interval_ms),
            "enable.auto.offset.store": self.auto_offset_store,
            "max.poll.interval.ms": int(c.max_poll_interval_ms),
            "topic.metadata.refresh.interval.ms": int(c.metadata_max_age_ms),
            "log_level": 3,
            "on_commit": self._on_commit,
            "error_cb": self._on_error,
        }
        if c.group_protocol == "consumer":
            props["group.protocol"] = "consumer"  # librdkafka < 2.4 has no such property
            if LIBRDKAFKA < _SESSION_TIMEOUT_CHECKED:  # early access: checked, then unused
                props["session.timeout.ms"] = min(int(c.session_timeout_ms),
                                                  int(c.max_poll_interval_ms))
        else:
            props["session.timeout.ms"] = int(c.session_timeout_ms)
            props["heartbeat.interval.ms"] = int(c.heartbeat_interval_ms)
            props["partition.assignment.strategy"] = c.assignment_strategy
        if c.max_partition_fetch_bytes:
            props["max.partition.fetch.bytes"] = int(c.max_partition_fetch_bytes)
        if c.fetch_max_bytes:  # librdkafka: >= message.max.bytes, which is >= 1000
            props["fetch.max.bytes"] = max(1000, int(c.fetch_max_bytes))
            props["message.max.bytes"] = min(1000000, props["fetch.max.bytes"])
        if c.partition_eof:
            props["enable.partition.eof"] = True  # EOF events are informational (ignored)
        props["isolation.level"] = c.isolation_level  # librdkafka's default: read_committed
        if c.client_id:
            props["client.id"] = c.client_id
        props.update(c.extra)
        return props

    # -- callbacks from librdkafka (inside poll/consume/close) -------------------------------
    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._pending_error = _general_error(err, "fatal client error")
        log.debug("librdkafka error: %s", _error_text(err))

    def _on_commit(self, err: KafkaError | None, parts: list[CTopicPartition]) -> None:
        # librdkafka lists assigned partitions without a stored offset as -1001: not commits
        result = {TopicPartition(p.topic, p.partition): p.offset for p in parts if p.offset >= 0}
        first = err or next((p.error for p in parts if p.error is not None), None)
        error = _commit_error(first) if first is not None else None
        index = self._match_async(result)
        if index is not None:
            offsets, callback = self._pending_async.pop(index)
            if callback is not None:
                callback(result or offsets, error)
            return
        if (err is not None and err.code() == KafkaError._NO_OFFSET) or (not result and not error):
            return  # an auto commit with nothing to commit
        if self._auto_commit_callback is not None:
            self._auto_commit_callback(result, error)

    def _match_async(self, result: dict[TopicPartition, int]) -> int | None:
        for i, (offsets, _cb) in enumerate(self._pending_async):
            if offsets == result:
                return i
        if not self.config.enable_auto_commit:
            # Without auto commits every result belongs to an async commit: same partitions,
            # else the oldest one.
            for i, (offsets, _cb) in enumerate(self._pending_async):
                if set(offsets) == set(result):
                    return i
            if self._pending_async:
                return 0
        return None

    def _forget(self, tp: TopicPartition) -> None:
        """What the adapter tracks of a partition assigned anew, revoked or lost."""
        self._positions.pop(tp, None)

    def _on_assign(self, _consumer: Consumer, parts: list[CTopicPartition]) -> None:
        tps = _tps(parts)
        for tp in tps:
            self._forget(tp)
        if tps and self._listener is not None:
            self._listener.on_assigned(tps)

    def _on_revoke(self, _consumer: Consumer, parts: list[CTopicPartition]) -> None:
        tps = _tps(parts)
        try:
            if tps and self._listener is not None:
                self._listener.on_revoked(tps)
        finally:
            for tp in tps:
                self._forget(tp)

    def _on_lost(self, _consumer: Consumer, parts: list[CTopicPartition]) -> None:
        tps = _tps(parts)
        for tp in tps:
            self._forget(tp)
        if tps and self._listener is not None:
            self._listener.on_lost(tps)

    def _run_deferred(self) -> None:
        while self._deferred:
            self._deferred.popleft()()

    def _check_open(self) -> None:
        if self._closed:
            raise IllegalState("the consumer is closed")

    def _require_group(self, what: str) -> None:
        if not self._has_group:
            raise IllegalState(f"{what} needs a group id (the consumer has none)")

    # -- the contract ------------------------------------------------------------------------
    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None:
        self._check_open()
        self._require_group("subscribe")
        self._listener = listener
        self._subscribed = True
        with _mapped("subscribe failed"):
            self._consumer.subscribe(list(topics), on_assign=self._on_assign,
                                     on_revoke=self._on_revoke, on_lost=self._on_lost)

    def unsubscribe(self) -> None:
        """``Consumer.unsubscribe()``; librdkafka serves the revoke (our listener) during the
        next poll()."""
        self._check_open()
        self._require_group("unsubscribe")
        with _mapped("unsubscribe failed"):
            self._consumer.unsubscribe()
        self._subscribed = False

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._check_open()
        if self._subscribed:
            raise IllegalState("assign() after subscribe() (manual and group assignment mix)")
        keep = set(partitions)
        self._positions = {tp: o for tp, o in self._positions.items() if tp in keep}
        with _mapped("assign failed"):
            self._consumer.assign([CTopicPartition(tp.topic, tp.partition) for tp in partitions])

    def _fetch(self, count: int, timeout: float) -> list[Any]:
        msg = self._consumer.poll(timeout)
        return [] if msg is None else [msg]

    #: after the first record: keep fetching with timeout 0 (poll) or stop (batch)
    _drain = True

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        self._check_open()
        self._run_deferred()
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
            raise error
        limit = max(1, min(int(max_records), int(self.config.max_poll_records)))
        deadline = time.monotonic() + max(0.0, timeout)
        out: list[Record] = []
        positions = self._positions
        while len(out) < limit:
            remaining = 0.0 if out else max(0.0, deadline - time.monotonic())
            try:
                batch = self._fetch(limit - len(out), remaining)
            except KafkaException as exc:
                error = _general_error(_kafka_error(exc), "poll failed")
                if out:
                    self._pending_error = error
                    break
                raise error from None
            got = 0
            for msg in batch:
                err = msg.error()
                if err is not None:
                    error = self._message_error(err, msg)
                    if error is None:
                        continue
                    if out:
                        self._pending_error = error
                        return out
                    raise error
                topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
                raw_headers = msg.headers()
                headers = tuple(raw_headers) if raw_headers else ()
                ts_type, ts = msg.timestamp()
                out.append(Record(topic, partition, offset, msg.key(), msg.value(), headers,
                                  ts if ts_type else None))
                positions[TopicPartition(topic, partition)] = offset + 1
                got += 1
            if out and (not self._drain or got == 0):
                break
            if not out and time.monotonic() >= deadline:
                break
        self._run_deferred()
        return out

    def _message_error(self, err: KafkaError, msg: Any) -> ConsumerError | None:
        if err.code() in _IGNORED_MESSAGE_ERRORS:
            log.info("confluent-kafka: %s (%s [%s])", _error_text(err), msg.topic(),
                     msg.partition())
            return None
        if err.code() == KafkaError._AUTO_OFFSET_RESET:
            text = _error_text(err)
            return NoOffsetForPartition(
                f"no committed offset and auto_offset_reset=none for {msg.topic()} "
                f"[{msg.partition()}]: {text}", cause=text)
        if (err.retriable() or err.code() in _TRANSIENT) and not err.fatal():
            log.info("confluent-kafka: retriable %s", _error_text(err))
            return None
        return _general_error(err, "poll failed")

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None:
        self._check_open()
        self._require_group("commit")
        self._run_deferred()
        if offsets is None:
            # positions of revoked/lost partitions are forgotten once the listener returned
            wanted = dict(self._positions)
        else:
            wanted = {TopicPartition(tp[0], tp[1]): int(o) for tp, o in offsets.items()}
        parts = [CTopicPartition(tp.topic, tp.partition, o) for tp, o in wanted.items()]
        if asynchronous:
            if not wanted:
                if callback is not None:
                    self._deferred.append(lambda: callback({}, None))
                return None
            self._pending_async.append((wanted, callback))
            try:
                self._consumer.commit(offsets=parts, asynchronous=True)
            except KafkaException as exc:
                self._pending_async.pop()
                raise _commit_error(_kafka_error(exc)) from None
            return None
        if not wanted:
            return {}
        with _mapped("commit failed", commit=True):
            result = self._consumer.commit(offsets=parts, asynchronous=False)
        failed = [p for p in result or [] if p.error is not None]
        if failed:
            raise _commit_error(failed[0].error,
                                f"commit failed for {failed[0].topic} [{failed[0].partition}]")
        return {TopicPartition(p.topic, p.partition): p.offset for p in result or []} or wanted

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._seek(tp, int(offset))
        self._positions[tp] = int(offset)

    def seek_to_end(self, tp: TopicPartition) -> None:
        """``Consumer.seek()`` to ``OFFSET_END``; librdkafka resolves the end as it fetches,
        so the position the adapter reports is the end read right after (the last stable
        offset is the high watermark once no transaction is open)."""
        self._seek(tp, OFFSET_END)
        ctp = CTopicPartition(tp.topic, tp.partition)
        with _mapped("seek to the end failed"):
            _low, high = self._consumer.get_watermark_offsets(ctp, cached=False)
        self._positions[tp] = int(high)

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        self._check_open()
        if tp not in set(self.assignment()):
            raise IllegalState(f"seek on {tp.topic} [{tp.partition}], which is not assigned")
        wait = _SEEK_RETRY_SECONDS if self._subscribed else 0.5
        deadline = time.monotonic() + wait
        while True:
            try:
                self._consumer.seek(CTopicPartition(tp.topic, tp.partition, offset))
                return
            except KafkaException as exc:
                err = _kafka_error(exc)
                # _STATE: the partition is assigned but librdkafka has not started fetching it;
                # _OUTDATED: the seek raced the assignment's own fetch start, which superseded
                # it (seen right after assign(), soak seed 13): both pass once fetching starts
                if err.code() not in _SEEK_TRANSIENT:
                    raise _general_error(err, "seek failed") from None
                if time.monotonic() > deadline:
                    # not fetching yet (e.g. assign() without a poll): assign it anew at offset
                    self._reassign_at(tp, offset)
                    return
                time.sleep(0.02)

    def _reassign_at(self, tp: TopicPartition, offset: int) -> None:
        with _mapped("seek failed"):
            self._consumer.incremental_unassign([CTopicPartition(tp.topic, tp.partition)])
            self._consumer.incremental_assign([CTopicPartition(tp.topic, tp.partition, offset)])

    def position(self, tp: TopicPartition) -> int:
        self._check_open()
        if tp in self._positions:
            return self._positions[tp]
        if tp not in set(self.assignment()):
            raise IllegalState(f"position of {tp.topic} [{tp.partition}], which is not assigned")
        ctp = CTopicPartition(tp.topic, tp.partition)
        with _mapped("position failed"):
            current = self._consumer.position([ctp])[0].offset
        if current >= 0:
            return current
        # Nothing returned yet: librdkafka resets asynchronously when it starts fetching. Like
        # Java's position(), decide the position now (committed offset, else the reset policy)
        # and make the consumer fetch from there (seek).
        offset = self.committed([tp])[tp] if self._has_group else None
        if offset is None:
            reset = self.config.auto_offset_reset
            if reset == "none":
                raise NoOffsetForPartition(f"no committed offset and auto_offset_reset=none "
                                           f"for {tp.topic} [{tp.partition}]")
            with _mapped("position failed"):
                low, high = self._consumer.get_watermark_offsets(ctp, timeout=_REQUEST_TIMEOUT)
            offset = low if reset == "earliest" else high
        self.seek(tp, offset)
        return offset

    def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        self._check_open()
        self._require_group("committed")
        if not tps:
            return {}
        with _mapped("committed failed"):
            parts = self._consumer.committed(
                [CTopicPartition(tp.topic, tp.partition) for tp in tps], timeout=_REQUEST_TIMEOUT)
        out: dict[TopicPartition, int | None] = {}
        for p in parts:
            if p.error is not None and p.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise _general_error(p.error, f"committed failed for {p.topic} [{p.partition}]")
            out[TopicPartition(p.topic, p.partition)] = p.offset if p.offset >= 0 else None
        return out

    def pause(self, tps: list[TopicPartition]) -> None:
        self._check_open()
        with _mapped("pause failed"):
            self._consumer.pause([CTopicPartition(tp.topic, tp.partition) for tp in tps])

    def resume(self, tps: list[TopicPartition]) -> None:
        self._check_open()
        with _mapped("resume failed"):
            self._consumer.resume([CTopicPartition(tp.topic, tp.partition) for tp in tps])

    def assignment(self) -> list[TopicPartition]:
        self._check_open()
        with _mapped("assignment failed"):
            return sorted(_tps(self._consumer.assignment()))

    def close(self) -> None:
        if self._closed:
            return
        try:
            with _mapped("close failed"):
                self._run_deferred()
                self._consumer.close()  # revokes (listener), commits, leaves the group
        finally:
            self._closed = True
            pending, self._pending_async = self._pending_async, []
            for offsets, callback in pending:
                if callback is not None:
                    callback(offsets, CommitFailed("the consumer closed before the commit was "
                                                   "acknowledged", retriable=True))
            self._run_deferred()
            self._positions.clear()

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self._auto_commit_callback = callback


class ConfluentBatchAdapter(ConfluentAdapter):
    """confluent-kafka, ``Consumer.consume(num_messages, timeout)``: one call per poll()."""

    name = "confluent-kafka:batch"
    _drain = False

    def _fetch(self, count: int, timeout: float) -> list[Any]:
        return self._consumer.consume(num_messages=count, timeout=timeout)


class ConfluentStoredOffsetsAdapter(ConfluentAdapter):
    """confluent-kafka with ``enable.auto.offset.store=false``.

    librdkafka's auto commit (and the commit it makes on revoke/close when auto commit is on)
    commits the *stored* offsets. Here nothing is stored when poll() returns a record: call
    :meth:`store` with the records once they are processed, so that auto commit commits
    processed offsets only. ``commit()`` with offsets behaves as in the other adapters;
    without offsets it commits the stored ones, as librdkafka's commit without offsets does
    (passed explicitly, so that the outcome is matched to the call).
    """

    name = "confluent-kafka:stored"
    auto_offset_store = False
    capabilities = replace(ConfluentAdapter.capabilities, stores_processed=True)

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self._stored: dict[TopicPartition, int] = {}

    def _forget(self, tp: TopicPartition) -> None:
        super()._forget(tp)
        self._stored.pop(tp, None)

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None:
        if offsets is None:
            offsets = dict(self._stored)
        return super().commit(offsets, asynchronous=asynchronous, callback=callback)

    def store(self, records: list[Record]) -> dict[TopicPartition, int]:
        """Store the position after ``records`` (processed) for the next (auto) commit.

        Records of partitions no longer assigned are skipped (their offsets must not be
        committed by this member). Returns the stored offsets."""
        self._check_open()
        owned = set(self.assignment())
        latest: dict[TopicPartition, int] = {}
        for r in records:
            if r.tp in owned:
                latest[r.tp] = max(latest.get(r.tp, -1), r.offset + 1)
        if latest:
            self._store_offsets(latest)
        return latest

    def _store_offsets(self, offsets: Mapping[TopicPartition, int]) -> None:
        """``store_offsets`` in the list form (each partition's next offset)."""
        with _mapped("store_offsets failed"):
            self._consumer.store_offsets(
                offsets=[CTopicPartition(tp.topic, tp.partition, o) for tp, o in offsets.items()])
        self._stored.update(offsets)


class ConfluentStoredMessagesAdapter(ConfluentStoredOffsetsAdapter):
    """confluent-kafka with ``enable.auto.offset.store=false``, storing in the message form:
    ``store_offsets(message=msg)`` (librdkafka stores the message's offset + 1) with the
    last processed message of each partition, where :class:`ConfluentStoredOffsetsAdapter`
    passes a list of partitions with offsets. The messages of the latest fetch per partition
    are kept for that; a record whose message is gone is stored in the list form."""

    name = "confluent-kafka:stored-message"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self._kept: dict[tuple[str, int], dict[int, Any]] = {}

    def _fetch(self, count: int, timeout: float) -> list[Any]:
        batch = super()._fetch(count, timeout)
        for msg in batch:
            if msg.error() is None:
                held = self._kept.setdefault((msg.topic(), msg.partition()), {})
                if len(held) >= MESSAGES_KEPT:
                    held.pop(next(iter(held)))
                held[msg.offset()] = msg
        return batch

    def store(self, records: list[Record]) -> dict[TopicPartition, int]:
        self._check_open()
        owned = set(self.assignment())
        last: dict[TopicPartition, Record] = {}
        for r in records:
            if r.tp in owned and (r.tp not in last or r.offset > last[r.tp].offset):
                last[r.tp] = r
        rest, stored = [], {}
        for tp, r in last.items():
            msg = self._message(r)
            if msg is None:
                rest.append(r)
                continue
            with _mapped("store_offsets failed"):
                self._consumer.store_offsets(message=msg)
            stored[tp] = msg.offset() + 1  # what librdkafka stores for a message
        self._stored.update(stored)
        if rest:
            stored.update(super().store(rest))
        return stored

    def _message(self, record: Record) -> Any:
        """The kept message of ``record`` (None when it is gone)."""
        return self._kept.get((record.topic, record.partition), {}).get(record.offset)


#: messages kept per partition for store_offsets(message=...)
MESSAGES_KEPT = 1000
