"""Adapters for aiokafka 0.12-0.14 (asyncio), measured against a real broker.

- ``aiokafka``: ``AIOKafkaConsumer.getmany(timeout_ms=..., max_records=...)``.
- ``aiokafka:getone``: ``await asyncio.wait_for(consumer.getone(), timeout)`` per record (the
  idiom of applications that read one record at a time, as ``async for msg in consumer`` does);
  after the first record only what arrives within 1 ms more, up to ``max_records``.

The contract is synchronous; aiokafka runs on an event loop. Each adapter owns a private loop in
a daemon thread (``kc-aiokafka-loop``) where the consumer lives and every consumer call runs
(submitted with ``run_coroutine_threadsafe``), so aiokafka's background tasks (group
coordination, heartbeats, auto commits, prefetching) keep running between the caller's calls as
in an asyncio application.

Listener. aiokafka calls the ``ConsumerRebalanceListener`` from its coordination task, whenever
the rebalance happens, and awaits a coroutine it returns. The adapter's listener is such a
coroutine: it hands the event to the caller's thread and awaits its completion, so the contract's
listener runs inside ``poll()``/``close()`` in the caller's thread, never concurrently with it,
and the rebalance waits for it (a commit inside ``on_revoked`` is effective). Events and fetch
results carry a sequence number taken on the loop, so ``poll()`` runs the listener calls that
happened before the records it returns were drained and leaves later ones to the next call (no
record of a partition before its ``on_assigned``, none after its ``on_revoked``). aiokafka logs
and swallows a listener's exception; the adapter keeps it and raises it from ``poll()`` (the
next one when this one returned records). aiokafka's rebalance is eager only and has no
``on_partitions_lost``: ``cooperative`` and ``on_lost`` are off, a member that lost its
partitions hears ``on_revoked``. ``close()`` (``stop()``) does not call the listener at all
(a client deviation, left visible: tests/integration/test_adapter_contract.py DEVIATIONS).

unsubscribe() (capability ``unsubscribe``): ``AIOKafkaConsumer.unsubscribe()`` drops the
subscription and starts a LeaveGroup task; the coordination task keeps the old assignment and
revokes it (``on_partitions_revoked``, the contract's listener) only when a later
``subscribe()`` joins again, before the new assignment (measured); an application that never
subscribes again never hears that its partitions went (read from aiokafka 0.14's coordination
routine, which waits for a new subscription). Assigned again, the member resumes at the
committed offset (contract test, aiokafka 0.14.0).

poll(): ``getmany`` blocks without bound while a rebalance is in progress (it waits for the new
assignment); when one is in progress as ``poll()`` starts, the adapter waits for the assignment
at most ``timeout`` (inside aiokafka's fetch context, so the wait counts as polling for
``max_poll_interval_ms`` as getmany's own would) and returns [] if it did not come. A
rebalance that starts while getmany waits for records still holds it until the assignment.
Nothing is ever cancelled in the main adapter: cancelling a getmany/getone leaves aiokafka's
fetch count raised for good (``SubscriptionState.fetch_context`` has no ``finally``), after
which the consumer counts as always polling and ``max_poll_interval_ms`` is never enforced;
the ``:getone`` variant's ``wait_for`` does cancel, so that client bug is visible there.

Commits:

- Sync: ``await consumer.commit(offsets)``. aiokafka refuses partitions not assigned to the
  member (``IllegalStateError``) before asking the broker: :class:`CommitFailed`, as are
  ``CommitFailedError`` (a member removed from the group) and other broker errors;
  ``IllegalOperation`` (no group id) is :class:`IllegalState`.
- Async: aiokafka has no commit_async; its documented fire-and-forget is a task running
  ``commit()`` with a done callback. The adapter does that; the result reaches the contract's
  callback inside a later ``poll()``/``commit()``/``close()``. ``close()`` first waits (a few
  seconds) for async commits in flight.
- Auto commits: aiokafka commits consumed positions in its coordination task (periodically,
  before a rebalance, on ``stop()``) and has no hook for their results. The adapter observes
  them by wrapping the coordinator's ``_do_commit_offsets`` (observation only: same offsets,
  same result); commits the adapter made itself are told apart by a context variable. Reports
  reach ``set_auto_commit_callback``'s callback in the caller's thread, inside the next
  ``poll()``/``commit()``/``close()``. Where the private method is missing, auto commits are
  not reported (nothing else changes).

Mapping of ConsumerConfig: ``enable_auto_commit`` is passed explicitly (aiokafka defaults to
True); ``rebalance_timeout_ms`` is ``max_poll_interval_ms`` (Java's coupling; aiokafka's default
is the session timeout, too short for a listener that waits for the next poll);
``assignment_strategy`` range, roundrobin and sticky (eager; ``cooperative-sticky`` is
:class:`Unsupported`); ``group_protocol=consumer`` (KIP-848) is :class:`Unsupported`;
``partition_eof`` has no aiokafka counterpart (no such events, nothing to turn on);
``isolation_level`` as is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

import aiokafka.errors as Errors
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KTopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

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
T = TypeVar("T")

_ASSIGNORS: dict[str, Any] = {
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
}
try:
    from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
except ImportError:  # pragma: no cover - every supported release has it
    StickyPartitionAssignor = None
if StickyPartitionAssignor is not None:
    _ASSIGNORS["sticky"] = StickyPartitionAssignor

_FENCED: tuple[type[BaseException], ...] = tuple(
    c for c in (getattr(Errors, "FencedInstanceIdError", None),) if c is not None)
_COMMIT_FAILURES: tuple[type[BaseException], ...] = (
    Errors.CommitFailedError, Errors.RebalanceInProgressError, Errors.UnknownMemberIdError,
    Errors.IllegalGenerationError)
_ILLEGAL_STATE: tuple[type[BaseException], ...] = (
    Errors.IllegalStateError, Errors.IllegalOperation, Errors.ConsumerStoppedError,
    AssertionError)
_REQUEST_TIMEOUT = 15.0
_CLOSE_FLUSH_SECONDS = 5.0

#: True inside the adapter's own commits: the auto commit observer ignores them.
_USER_COMMIT: contextvars.ContextVar[bool] = contextvars.ContextVar("kc_user_commit",
                                                                      default=False)


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _error(exc: BaseException, what: str) -> ConsumerError:
    """An aiokafka exception as the contract's error."""
    if isinstance(exc, ConsumerError):
        return exc
    text = _text(exc)
    retriable = bool(getattr(exc, "retriable", False))
    if isinstance(exc, Errors.NoOffsetForPartitionError):
        return NoOffsetForPartition(f"{what}: {text}", cause=text)
    if isinstance(exc, _FENCED):
        return FencedMember(f"{what}: {text}", cause=text)
    if isinstance(exc, _COMMIT_FAILURES):
        return CommitFailed(f"{what}: {text}", retriable=retriable, cause=text)
    if isinstance(exc, _ILLEGAL_STATE):
        return IllegalState(f"{what}: {text}", cause=text)
    return ConsumerError(f"{what}: {text}", retriable=retriable, cause=text)


def _commit_error(exc: BaseException, what: str = "commit failed") -> ConsumerError:
    """A commit failure: CommitFailed, except FencedMember and a missing group id."""
    if isinstance(exc, ConsumerError):
        return exc
    if isinstance(exc, (*_FENCED, Errors.IllegalOperation)):
        return _error(exc, what)
    text = _text(exc)
    return CommitFailed(f"{what}: {text}", retriable=bool(getattr(exc, "retriable", False)),
                        cause=text)


def _offsets(offsets: Mapping[Any, Any]) -> dict[TopicPartition, int]:
    return {TopicPartition(tp.topic, tp.partition): int(getattr(om, "offset", om))
            for tp, om in offsets.items()}


def _ktp(tp: TopicPartition) -> KTopicPartition:
    return KTopicPartition(tp.topic, tp.partition)


class _Bridge(ConsumerRebalanceListener):
    """aiokafka's listener: hands each event to the caller's thread and awaits it."""

    def __init__(self, adapter: AiokafkaAdapter) -> None:
        self._adapter = adapter

    async def on_partitions_revoked(self, revoked: Iterable[KTopicPartition]) -> None:
        await self._adapter._hand_over("revoked", revoked)

    async def on_partitions_assigned(self, assigned: Iterable[KTopicPartition]) -> None:
        await self._adapter._hand_over("assigned", assigned)


class AiokafkaAdapter(Adapter):
    """aiokafka, ``AIOKafkaConsumer.getmany(timeout_ms, max_records)`` on a private loop."""

    name = "aiokafka"
    client = "aiokafka"
    capabilities = Capabilities(consumer_protocol=False, cooperative=False, on_lost=False,
                                unsubscribe=True, seek_to_end=True)

    @classmethod
    def check_config(cls, config: ConsumerConfig) -> None:
        release = f"aiokafka {cls.client_version() or '?'}"
        if config.group_protocol == "consumer":
            raise Unsupported(f"{release} implements only the classic group protocol, not "
                              f"KIP-848 group.protocol=consumer")
        if config.assignment_strategy not in _ASSIGNORS:
            raise Unsupported(f"{release} has no {config.assignment_strategy} assignor "
                              f"(only eager ones: {', '.join(sorted(_ASSIGNORS))}; no "
                              f"incremental cooperative rebalancing, KIP-429)")
        super().check_config(config)

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.check_config(config)
        self._has_group = config.group_id is not None
        self._listener: RebalanceListener | None = None
        self._closed = False
        self._positions: dict[TopicPartition, int] = {}
        self._seq = itertools.count()  # taken on the loop only
        self._cond = threading.Condition()
        # (seq, kind, partitions, reply): listener events waiting for the caller's thread
        self._events: deque[tuple[int, str, list[TopicPartition], asyncio.Future[None]]] = \
            deque()
        # (callback, offsets, error): commit results waiting for the caller's thread
        self._results: deque[tuple[CommitCallback | None, dict[TopicPartition, int],
                                   ConsumerError | None]] = deque()
        self._pending_async: dict[int, tuple[dict[TopicPartition, int],
                                             CommitCallback | None]] = {}
        self._next_commit_id = 0
        self._auto_commit_callback: CommitCallback | None = None
        self._listener_error: BaseException | None = None
        self._pending_error: ConsumerError | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kc-aiokafka-loop",
                                        daemon=True)
        self._thread.start()
        try:
            self._consumer: AIOKafkaConsumer = self._run(self._start())
        except BaseException as exc:
            self._stop_loop()
            raise ConsumerError(f"cannot create the consumer: {_text(exc)}",
                                cause=_text(exc)) from None

    # -- configuration -----------------------------------------------------------------------
    def _client_config(self) -> dict[str, Any]:
        c = self.config
        props: dict[str, Any] = {
            "bootstrap_servers": c.bootstrap_servers.split(","),
            "group_id": c.group_id,
            "auto_offset_reset": c.auto_offset_reset,
            "enable_auto_commit": bool(c.enable_auto_commit) and self._has_group,
            "auto_commit_interval_ms": int(c.auto_commit_interval_ms),
            "partition_assignment_strategy": (_ASSIGNORS[c.assignment_strategy],),
            "max_poll_records": int(c.max_poll_records),
            "session_timeout_ms": int(c.session_timeout_ms),
            "heartbeat_interval_ms": int(c.heartbeat_interval_ms),
            "max_poll_interval_ms": int(c.max_poll_interval_ms),
            "rebalance_timeout_ms": int(c.max_poll_interval_ms),
            "metadata_max_age_ms": int(c.metadata_max_age_ms),
            "isolation_level": c.isolation_level,
        }
        if c.fetch_max_bytes:
            props["fetch_max_bytes"] = int(c.fetch_max_bytes)
        if c.max_partition_fetch_bytes:
            props["max_partition_fetch_bytes"] = int(c.max_partition_fetch_bytes)
        # partition_eof: aiokafka has no end-of-partition events; nothing to turn on
        if c.client_id:
            props["client_id"] = c.client_id
        props.update(c.extra)
        return props

    async def _start(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(**self._client_config())
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        self._observe_auto_commits(consumer)
        return consumer

    def _observe_auto_commits(self, consumer: AIOKafkaConsumer) -> None:
        """Report aiokafka's own commits (periodic, before a rebalance, on stop) to the auto
        commit callback; the adapter's commit() calls are not reported here."""
        if not self._has_group or not self.config.enable_auto_commit:
            return
        coordinator = consumer._coordinator
        original = getattr(coordinator, "_do_commit_offsets", None)
        if original is None:
            log.info("aiokafka: no _do_commit_offsets; auto commits are not reported")
            return

        async def observed(assignment: Any, offsets: Any) -> Any:
            if _USER_COMMIT.get() or not offsets:
                return await original(assignment, offsets)
            try:
                result = await original(assignment, offsets)
            except BaseException as exc:
                self._post_result(self._auto_commit_callback_ref, _offsets(offsets),
                                  _commit_error(exc, "auto commit failed"))
                raise
            self._post_result(self._auto_commit_callback_ref, _offsets(offsets), None)
            return result

        coordinator._do_commit_offsets = observed

    def _auto_commit_callback_ref(self, offsets: dict[TopicPartition, int],
                                  error: ConsumerError | None) -> None:
        if self._auto_commit_callback is not None:
            self._auto_commit_callback(offsets, error)

    # -- the loop and the caller's thread -----------------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        fut.add_done_callback(self._wake)
        return fut

    def _wake(self, _fut: object = None) -> None:
        with self._cond:
            self._cond.notify_all()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it; no listener call, no commit callback."""
        return self._submit(coro).result(timeout)

    def _do(self, fn: Callable[[], T]) -> T:
        """Run a synchronous consumer call on the loop (aiokafka is not thread-safe)."""
        async def call() -> T:
            return fn()
        return self._run(call())

    def _call(self, coro: Coroutine[Any, Any, T], listen: bool, ordered: bool = False) -> T:
        """Run ``coro`` on the loop; meanwhile run commit callbacks and, if ``listen``,
        listener calls in this thread. ``ordered``: ``coro`` returns ``(seq, value)``, and the
        listener calls that happened on the loop before it (lower seq) run before it returns."""
        fut = self._submit(coro)
        while True:
            with self._cond:
                while not (fut.done() or self._results or (listen and self._events)):
                    self._cond.wait()
                done = fut.done()
            if done:
                break
            self._deliver(listen)
        if listen and fut.exception() is None:
            self._deliver(True, before=fut.result()[0] if ordered else None)  # type: ignore
        return fut.result()

    def _post_result(self, callback: CommitCallback | None, offsets: dict[TopicPartition, int],
                     error: ConsumerError | None) -> None:
        with self._cond:
            self._results.append((callback, offsets, error))
            self._cond.notify_all()

    def _deliver(self, listen: bool, before: int | None = None) -> None:
        """Run queued commit callbacks, then (``listen``) queued listener calls, oldest first
        (only those with a sequence number below ``before``, if given)."""
        while True:
            with self._cond:
                result = self._results.popleft() if self._results else None
                event = None
                if result is None and listen and self._events and (
                        before is None or self._events[0][0] < before):
                    event = self._events.popleft()
            if result is not None:
                callback, offsets, error = result
                if callback is not None:
                    callback(offsets, error)
            elif event is not None:
                self._dispatch(*event[1:])
            else:
                return

    async def _hand_over(self, kind: str, parts: Iterable[KTopicPartition]) -> None:
        """On the loop: queue a listener call for the caller's thread and wait for it."""
        tps = sorted(TopicPartition(tp.topic, tp.partition) for tp in parts)
        if not tps or self._closed:
            return
        reply: asyncio.Future[None] = self._loop.create_future()
        with self._cond:
            self._events.append((next(self._seq), kind, tps, reply))
            self._cond.notify_all()
        await reply

    def _dispatch(self, kind: str, tps: list[TopicPartition],
                  reply: asyncio.Future[None]) -> None:
        """In the caller's thread: run the contract's listener, then let the rebalance go on
        (positions of partitions that leave are forgotten once it returned)."""
        try:
            listener = self._listener
            if kind == "revoked":
                try:
                    if listener is not None:
                        listener.on_revoked(tps)
                finally:
                    for tp in tps:
                        self._positions.pop(tp, None)
            else:
                for tp in tps:
                    self._positions.pop(tp, None)
                if listener is not None:
                    listener.on_assigned(tps)
        except BaseException as exc:
            if self._listener_error is None:
                self._listener_error = exc
        finally:
            self._loop.call_soon_threadsafe(_resolve, reply)

    def _raise_listener_error(self) -> None:
        if self._listener_error is not None:
            error, self._listener_error = self._listener_error, None
            raise _error(error, "poll failed") from None

    def _stop_loop(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    # -- helpers -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise IllegalState("the consumer is closed")

    def _require_group(self, what: str) -> None:
        if not self._has_group:
            raise IllegalState(f"{what} needs a group id (the consumer has none)")

    def _record(self, r: Any) -> Record:
        headers = tuple((k, v) for k, v in (r.headers or ()))
        ts = r.timestamp if r.timestamp is not None and r.timestamp >= 0 else None
        self._positions[TopicPartition(r.topic, r.partition)] = r.offset + 1
        return Record(r.topic, r.partition, r.offset, r.key, r.value, headers, ts)

    def _limit(self, max_records: int) -> int:
        return max(1, min(int(max_records), int(self.config.max_poll_records)))

    async def _fetch(self, timeout: float, limit: int) -> tuple[int, list[Any]]:
        """On the loop: getmany; during a rebalance in progress wait at most ``timeout``."""
        consumer = self._consumer
        subscription = consumer._subscription  # getmany waits for a rebalance without bound
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if subscription.reassignment_in_progress:
            with subscription.fetch_context():  # counts as polling, as getmany's wait does
                await asyncio.wait([subscription.wait_for_assignment()], timeout=timeout)
            if subscription.reassignment_in_progress:
                return next(self._seq), []
        left_ms = max(0, int((deadline - loop.time()) * 1000))
        batches = await consumer.getmany(timeout_ms=left_ms, max_records=limit)
        return next(self._seq), [r for records in batches.values() for r in records]

    # -- the contract ------------------------------------------------------------------------
    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None:
        self._check_open()
        self._require_group("subscribe")
        self._listener = listener
        bridge = _Bridge(self)
        try:
            self._do(lambda: self._consumer.subscribe(topics=list(topics), listener=bridge))
        except Exception as exc:
            raise _error(exc, "subscribe failed") from None

    def unsubscribe(self) -> None:
        """``AIOKafkaConsumer.unsubscribe()`` on the loop: the subscription is dropped and a
        LeaveGroup task started; the listener hears ``on_revoked`` of the old partitions
        only when a later ``subscribe()`` joins again (see the module doc), and the adapter
        forgets their positions then, as after any revoke."""
        self._check_open()
        self._require_group("unsubscribe")
        try:
            self._do(self._consumer.unsubscribe)
        except Exception as exc:
            raise _error(exc, "unsubscribe failed") from None

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._check_open()
        keep = set(partitions)
        self._positions = {tp: o for tp, o in self._positions.items() if tp in keep}
        try:
            self._do(lambda: self._consumer.assign([_ktp(tp) for tp in partitions]))
        except Exception as exc:
            raise _error(exc, "assign failed") from None

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        self._check_open()
        self._deliver(True)
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
            raise error
        self._raise_listener_error()
        try:
            _seq, raw = self._call(self._fetch(max(0.0, timeout), self._limit(max_records)),
                                   listen=True, ordered=True)
        except Exception as exc:
            raise _error(exc, "poll failed") from None
        out = [self._record(r) for r in raw]
        if not out:
            self._raise_listener_error()  # else by the next poll(), after these records
        return out

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        _USER_COMMIT.set(True)
        await self._consumer.commit({_ktp(tp): o for tp, o in offsets.items()})

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None:
        self._check_open()
        self._require_group("commit")
        self._deliver(False)
        if offsets is None:
            # positions of revoked partitions are forgotten once the listener returned
            wanted = dict(self._positions)
        else:
            wanted = {TopicPartition(tp[0], tp[1]): int(o) for tp, o in offsets.items()}
        if asynchronous:
            if not wanted:
                self._post_result(callback, {}, None)
                return None
            commit_id = self._next_commit_id
            self._next_commit_id += 1
            with self._cond:
                self._pending_async[commit_id] = (wanted, callback)
            fut = self._submit(self._commit(wanted))

            def done(f: concurrent.futures.Future[None]) -> None:
                with self._cond:
                    entry = self._pending_async.pop(commit_id, None)
                if entry is None:
                    return
                exc = f.exception() if not f.cancelled() else CommitFailed("cancelled")
                self._post_result(callback, wanted,
                                  None if exc is None else _commit_error(exc))

            fut.add_done_callback(done)
            return None
        if not wanted:
            return {}
        try:
            self._call(self._commit(wanted), listen=False)
        except Exception as exc:
            raise _commit_error(exc) from None
        finally:
            self._deliver(False)
        return wanted

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._check_open()
        try:
            self._do(lambda: self._consumer.seek(_ktp(tp), int(offset)))
        except ValueError as exc:
            raise IllegalState(f"seek on {tp.topic} [{tp.partition}]: {exc}") from None
        except Exception as exc:
            raise _error(exc, f"seek on {tp.topic} [{tp.partition}] failed") from None
        self._positions[tp] = int(offset)

    def seek_to_end(self, tp: TopicPartition) -> None:
        """``await AIOKafkaConsumer.seek_to_end(tp)`` on the loop (it resolves the end before
        it returns); the position is then the client's."""
        self._check_open()
        try:
            self._run(asyncio.wait_for(self._consumer.seek_to_end(_ktp(tp)), _REQUEST_TIMEOUT))
        except (ValueError, *_ILLEGAL_STATE) as exc:
            raise IllegalState(f"seek to the end of {tp.topic} [{tp.partition}]: {exc}") \
                from None
        except Exception as exc:
            raise _error(exc, f"seek to the end of {tp.topic} [{tp.partition}] failed") from None
        self._positions.pop(tp, None)
        self._positions[tp] = self.position(tp)

    def position(self, tp: TopicPartition) -> int:
        self._check_open()
        if tp in self._positions:
            return self._positions[tp]
        if tp not in set(self.assignment()):
            raise IllegalState(f"position of {tp.topic} [{tp.partition}], which is not assigned")
        if self.config.auto_offset_reset == "none":
            # aiokafka's position() waits (for ever) when the reset policy fails: decide now
            committed = self.committed([tp])[tp] if self._has_group else None
            if committed is None:
                raise NoOffsetForPartition(f"no committed offset and auto_offset_reset=none "
                                           f"for {tp.topic} [{tp.partition}]")
        try:
            return int(self._run(asyncio.wait_for(self._consumer.position(_ktp(tp)),
                                                  _REQUEST_TIMEOUT)))
        except TimeoutError:
            raise ConsumerError(f"position of {tp.topic} [{tp.partition}] not known within "
                                f"{_REQUEST_TIMEOUT:.0f} s", retriable=True) from None
        except Exception as exc:
            raise _error(exc, "position failed") from None

    def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        self._check_open()
        self._require_group("committed")

        async def fetch() -> dict[TopicPartition, int | None]:
            out: dict[TopicPartition, int | None] = {}
            for tp in tps:
                offset = await self._consumer.committed(_ktp(tp))
                out[tp] = None if offset is None or offset < 0 else int(offset)
            return out

        try:
            return self._run(asyncio.wait_for(fetch(), _REQUEST_TIMEOUT * 2))
        except Exception as exc:
            raise _error(exc, "committed failed") from None

    def pause(self, tps: list[TopicPartition]) -> None:
        self._check_open()
        try:
            self._do(lambda: self._consumer.pause(*[_ktp(tp) for tp in tps]))
        except Exception as exc:
            raise _error(exc, "pause failed") from None

    def resume(self, tps: list[TopicPartition]) -> None:
        self._check_open()
        try:
            self._do(lambda: self._consumer.resume(*[_ktp(tp) for tp in tps]))
        except Exception as exc:
            raise _error(exc, "resume failed") from None

    def assignment(self) -> list[TopicPartition]:
        self._check_open()
        parts = self._do(lambda: set(self._consumer.assignment() or ()))
        return sorted(TopicPartition(tp.topic, tp.partition) for tp in parts)

    async def _flush_async(self) -> None:
        deadline = time.monotonic() + _CLOSE_FLUSH_SECONDS
        while self._pending_async and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def _stop(self) -> None:
        """``stop()``; when it raises CancelledError (seen under network faults: the heartbeat
        task it cancels was inside its LeaveGroup request, outside the routine's guard, and
        stop() re-raises that), finish what stop() skipped: the fetcher and the connections."""
        consumer = self._consumer
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            log.warning("aiokafka: stop() raised CancelledError; closing the fetcher and the "
                        "client ourselves")
            for part in (consumer._fetcher, consumer._client):
                try:
                    if part is not None:
                        await part.close()
                except Exception as exc:
                    log.warning("aiokafka: closing %s: %s", type(part).__name__, _text(exc))

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._deliver(True)
            if self._pending_async:
                # Like Java's close(): wait for in-flight async commits, run their callbacks
                self._call(self._flush_async(), listen=True)
            self._call(self._stop(), listen=True)
        except Exception as exc:
            raise _error(exc, "close failed") from None
        finally:
            self._closed = True
            with self._cond:
                events, self._events = list(self._events), deque()
                pending, self._pending_async = self._pending_async, {}
            for *_head, reply in events:  # never heard: let the loop finish
                self._loop.call_soon_threadsafe(_resolve, reply)
            self._deliver(False)
            for offsets, callback in pending.values():
                if callback is not None:
                    callback(offsets, CommitFailed("the consumer closed before the commit was "
                                                   "acknowledged", retriable=True))
            self._positions.clear()
            self._stop_loop()

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self._auto_commit_callback = callback


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class AiokafkaGetoneAdapter(AiokafkaAdapter):
    """aiokafka, one record per ``await asyncio.wait_for(consumer.getone(), timeout)``."""

    name = "aiokafka:getone"

    async def _fetch(self, timeout: float, limit: int) -> tuple[int, list[Any]]:
        out: list[Any] = []
        wait = timeout
        while len(out) < limit:
            try:
                out.append(await asyncio.wait_for(self._consumer.getone(), wait))
            except TimeoutError:
                break
            except Exception as exc:
                if not out:
                    raise
                self._pending_error = _error(exc, "poll failed")  # raised by the next poll()
                break
            wait = 0.001
        return next(self._seq), out
