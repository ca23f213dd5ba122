"""Deliberately broken adapters that wrap a real one: the suite must catch each of them.

Loaded by the worker as ``tests/broken_adapters.py:Class`` (an adapter from outside the
package, the way users plug in their own). The wrapped client is ``BROKEN_BASE`` (environment
variable), default confluent-kafka.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError

from adapters.base import (
    Adapter,
    CommitCallback,
    ConsumerConfig,
    ConsumerError,
    RebalanceListener,
    Record,
    TopicPartition,
)
from adapters.confluent_kafka import (
    ConfluentAdapter,
    ConfluentBatchAdapter,
    ConfluentStoredMessagesAdapter,
    ConfluentStoredOffsetsAdapter,
)
from adapters.registry import load

#: How a scenario must be set up for the ci profile's first examples to reach a fault that a
#: drawn value or a strategy exposes (tests/integration/test_machine.py, benchmarks):
#: ``spread`` shifts the example count (``ScenarioSpec.spread``): 14 makes example 2 the 16th
#: of a client's count, COUNT:5 (commits inside a batch) with commit() without offsets; 8 makes
#: it the 10th, auto commit every 200 ms; ``strategy`` replaces the configuration's: TIME:300
#: leaves the records processed since the last commit for the async commit of
#: close_during_async_commit (BATCH+revoke would have committed them all already).
SETUP: dict[str, dict[str, Any]] = {
    "StoredStoresOnPoll": {"spread": 14},
    "StoredMessageStoresNext": {"spread": 14},
    "CloseRecommitsStale": {"strategy": "TIME:5000"},
    "AutoCommitOnePast": {"spread": 8},
}


class Delegating(Adapter):
    """Forwards every call to a real adapter."""

    name = "delegating"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        base = load(os.environ.get("BROKEN_BASE", "confluent-kafka"))
        self.base = base
        self.inner = base(config)
        type(self).client = base.client
        type(self).capabilities = base.capabilities

    def subscribe(self, topics, listener) -> None:
        self.inner.subscribe(topics, listener)

    def unsubscribe(self) -> None:
        self.inner.unsubscribe()

    def assign(self, partitions) -> None:
        self.inner.assign(partitions)

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        return self.inner.poll(timeout, max_records)

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False, callback: CommitCallback | None = None):
        return self.inner.commit(offsets, asynchronous, callback)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.inner.seek(tp, offset)

    def seek_to_end(self, tp: TopicPartition) -> None:
        self.inner.seek_to_end(tp)

    def position(self, tp: TopicPartition) -> int:
        return self.inner.position(tp)

    def committed(self, tps):
        return self.inner.committed(tps)

    def pause(self, tps) -> None:
        self.inner.pause(tps)

    def resume(self, tps) -> None:
        self.inner.resume(tps)

    def assignment(self):
        return self.inner.assignment()

    def close(self) -> None:
        self.inner.close()

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self.inner.set_auto_commit_callback(callback)

    def store(self, records: list[Record]) -> dict[TopicPartition, int]:
        return self.inner.store(records)


class CommitsBeforeProcessing(Delegating):
    """Commits the position after every poll, before the application processed anything."""

    name = "broken:commit-before-processing"

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        if records:
            ahead: dict[TopicPartition, int] = {}
            for r in records:
                ahead[r.tp] = max(ahead.get(r.tp, 0), r.offset + 1)
            with contextlib.suppress(Exception):
                self.inner.commit(ahead)
        return records


class SkipsRecords(Delegating):
    """Silently drops every record whose offset is 3 modulo 7."""

    name = "broken:skip-record"

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        return [r for r in self.inner.poll(timeout, max_records) if r.offset % 7 != 3]


class RedeliversAfterCommit(Delegating):
    """After a successful commit, hands the last committed record to the application again."""

    name = "broken:redeliver-after-commit"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.last: dict[TopicPartition, Record] = {}
        self.replay: list[Record] = []
        self.replayed: set[tuple[TopicPartition, int]] = set()

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        for r in records:
            self.last[r.tp] = r
        out, self.replay = self.replay + records, []
        return out

    def commit(self, offsets=None, asynchronous: bool = False, callback=None):
        result = self.inner.commit(offsets, asynchronous, callback)
        for tp, off in (offsets or {}).items():
            rec = self.last.get(tp)
            if rec is not None and rec.offset == off - 1 and (tp, off) not in self.replayed:
                self.replayed.add((tp, off))
                self.replay.append(rec)
        return result


class IgnoresSeeks(Delegating):
    """Acknowledges seek() but does nothing."""

    name = "broken:ignore-seek"

    def seek(self, tp: TopicPartition, offset: int) -> None:
        return None


class LosesUnderAutoCommit(Delegating):
    """With auto commit on, silently drops every 7th record it polls: the client has stored
    (and will auto commit) their offsets, but the application never sees them. Loss beyond
    S4's hazard, which covers only records handed over and not processed before a crash."""

    name = "broken:loses-under-auto-commit"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.seen = 0

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        if not self.config.enable_auto_commit:
            return records
        out = []
        for r in records:
            self.seen += 1
            if self.seen % 7:
                out.append(r)
        return out


class _Forward:
    """A rebalance listener that hands each callback to the broken adapter first."""

    def __init__(self, adapter: ZombieKeepsProcessing | IgnoresAssignment,
                 listener: RebalanceListener) -> None:
        self.adapter, self.listener = adapter, listener

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        self.adapter.assigned(self.listener, partitions)

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        self.adapter.taken(self.listener, "revoked", partitions)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.adapter.taken(self.listener, "lost", partitions)


class ZombieKeepsProcessing(Delegating):
    """After a stall longer than its session timeout (no poll() call in between, e.g. a
    frozen process), goes on reading what it owned from a second, group-less consumer of the
    same client assigned to those partitions at the positions reached, and never tells the
    application that they went away (on_lost, and the on_revoked of the rejoin, are
    swallowed; ordinary rebalances before the stall are passed on): a zombie that reads (and
    processes) what another member now owns."""

    name = "broken:zombie-keeps-processing"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.next: dict[TopicPartition, int] = {}
        self.kept: set[TopicPartition] = set()
        self.ghost: Adapter | None = None
        self.closing = False
        self.last_poll = time.monotonic()
        self.stalled = False
        self.owned: set[TopicPartition] = set()

    def subscribe(self, topics, listener) -> None:
        self.inner.subscribe(topics, _Forward(self, listener))

    def assigned(self, listener: RebalanceListener, partitions: list[TopicPartition]) -> None:
        self.owned |= set(partitions)
        back = self.kept & set(partitions)
        if back:  # the group gave it back: read it through the group member again
            self.kept -= back
            self._reassign_ghost()
        listener.on_assigned(partitions)

    def taken(self, listener: RebalanceListener, kind: str,
              partitions: list[TopicPartition]) -> None:
        if time.monotonic() - self.last_poll > self.config.session_timeout_ms / 1000:
            self.stalled = True  # frozen inside poll(): the client reports it as it wakes
        if self.closing or not (self.stalled or kind == "lost"):  # tell it
            self.owned -= set(partitions)
            getattr(listener, f"on_{kind}")(partitions)
            return
        self.kept |= set(partitions)
        self._reassign_ghost()

    def _reassign_ghost(self) -> None:
        if self.ghost is None:
            if not self.kept:
                return
            config = dataclasses.replace(
                self.config, enable_auto_commit=False,
                client_id=f"{self.config.client_id or 'zombie'}-ghost")
            self.ghost = self.base(config)
        self.ghost.assign(sorted(self.kept))
        for tp in sorted(self.kept):
            if tp in self.next:
                with contextlib.suppress(Exception):
                    self.ghost.seek(tp, self.next[tp])

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        now = time.monotonic()
        if now - self.last_poll > self.config.session_timeout_ms / 1000 and not self.stalled:
            self.stalled = True  # from now on a zombie: it reads on what it owned
            self.kept |= self.owned
            self._reassign_ghost()
            deadline = time.monotonic() + 5.0  # a fresh consumer needs a moment to fetch
            while self.ghost is not None and time.monotonic() < deadline:
                # before the client can tell it anything
                with contextlib.suppress(ConsumerError):
                    ghostly = [r for r in self.ghost.poll(0.5, max_records)
                               if r.tp in self.kept]
                    if ghostly:
                        for r in ghostly:
                            self.next[r.tp] = r.offset + 1
                        self.last_poll = time.monotonic()
                        return ghostly
        self.last_poll = now
        records = self.inner.poll(timeout, max_records)
        self.last_poll = time.monotonic()
        if self.ghost is not None and self.kept and len(records) < max_records:
            with contextlib.suppress(ConsumerError):
                records += [r for r in self.ghost.poll(0.05, max_records - len(records))
                            if r.tp in self.kept]
        for r in records:
            self.next[r.tp] = r.offset + 1
        return records

    def close(self) -> None:
        self.closing = True
        try:
            self.inner.close()
        finally:
            if self.ghost is not None:
                with contextlib.suppress(Exception):
                    self.ghost.close()


class IgnoresAssignment(Delegating):
    """Joins the group but never reports on_assigned (nor on_revoked/on_lost) to the
    application and returns no records: the member looks live but never works."""

    name = "broken:ignore-assignment"

    def subscribe(self, topics, listener) -> None:
        self.inner.subscribe(topics, _Forward(self, listener))

    def assigned(self, listener: RebalanceListener, partitions: list[TopicPartition]) -> None:
        return None

    def taken(self, listener: RebalanceListener, kind: str,
              partitions: list[TopicPartition]) -> None:
        return None

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        owned = self.inner.assignment()
        if owned:  # fetch nothing, so nothing is stored for an auto commit either
            with contextlib.suppress(ConsumerError):
                self.inner.pause(owned)
        self.inner.poll(timeout, max_records)  # keeps the membership alive
        return []


# -- adapters that misbehave towards the worker (tests/integration/test_worker.py) ------------
class RaisesInPoll(Delegating):
    """Raises an exception outside the contract from poll()."""

    name = "test:raises"

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        raise RuntimeError("boom from the adapter")


class DiesInPoll(Delegating):
    """The process exits in the middle of poll()."""

    name = "test:dies"

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        os._exit(3)


class PrintsToStdout(Delegating):
    """Writes to stdout like a chatty client library: it must not corrupt the protocol."""

    name = "test:prints"

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        print("a stray line from the client library")
        return self.inner.poll(timeout, max_records)


class CannotSubscribe(Delegating):
    """A release whose consumer cannot join a group (every member fails to start)."""

    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None:
        raise ConsumerError("subscribe failed: this release cannot join a group")


class IgnoresPause(Delegating):
    """pause() returns without pausing: the paused partition keeps delivering (a client that
    only remembers the pause for its own bookkeeping)."""

    name = "broken:ignores-pause"

    def pause(self, tps) -> None:
        pass

    def resume(self, tps) -> None:
        pass


class CloseBlocksForever(Delegating):
    """close() never returns (a client whose close waits for something that never comes): the
    worker's watch reports it past its bound, the harness kills the member and the example
    ends with ``call-never-returned`` instead of every check undecided."""

    name = "broken:close-blocks"

    def close(self) -> None:
        # the harness's drain member (client id ``<group>-drain``) closes: one hang per
        # member is the evidence, and each further one would only add its bound to the test
        if re.search(r"-drain\d*$", self.config.client_id or ""):
            super().close()
            return
        while True:
            time.sleep(1.0)


class NeverRejoins(Delegating):
    """Once removed from the group (its partitions lost: the session or the poll interval
    expired), the member quietly leaves the group and never joins it again, while the
    application keeps polling and gets nothing. No record is lost: the group's other members
    and the final drain read them."""

    name = "broken:never-rejoins"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.removed = False
        self.left = False

    def subscribe(self, topics, listener) -> None:
        outer = self

        class Listener:
            # once removed, nothing more reaches the application: a rejoin that completes in
            # the very poll that reported the loss (seen under load) is left unheard too
            def on_assigned(self, partitions):
                if not outer.removed:
                    listener.on_assigned(partitions)

            def on_revoked(self, partitions):
                if not outer.removed:
                    listener.on_revoked(partitions)

            def on_lost(self, partitions):
                if not outer.removed:
                    outer.removed = bool(partitions)
                    listener.on_lost(partitions)

        self.inner.subscribe(topics, Listener())

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        if self.removed and not self.left:
            self.left = True
            self.inner.unsubscribe()
        if self.left:
            # still polled (nothing subscribed, nothing comes): librdkafka serves the leave,
            # and close() returns (unpolled after the unsubscribe, it hung under load)
            self.inner.poll(timeout, max_records)
            return []
        records = self.inner.poll(timeout, max_records)
        return [] if self.removed else records  # removed in this very poll: nothing handed on


class StopsFetchingRetained(Delegating):
    """After a rebalance, a partition the member owned before and is assigned again is never
    fetched again (silently paused: the member keeps it, reports no pause, and hands over
    none of its records; the final drain reads them, so no record is lost)."""

    name = "broken:stops-fetching-retained"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.ever: set[TopicPartition] = set()
        self.stalled: set[TopicPartition] = set()
        self.pending: set[TopicPartition] = set()

    def subscribe(self, topics, listener) -> None:
        outer = self

        class Listener:
            def on_assigned(self, partitions):
                again = set(partitions) & outer.ever
                outer.ever |= set(partitions)
                outer.pending |= again
                listener.on_assigned(partitions)

            def on_revoked(self, partitions):
                listener.on_revoked(partitions)

            def on_lost(self, partitions):
                listener.on_lost(partitions)

        self.inner.subscribe(topics, Listener())

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        if self.pending:
            self.inner.pause(list(self.pending))
            self.stalled |= self.pending
            self.pending = set()
        return [r for r in self.inner.poll(timeout, max_records) if r.tp not in self.stalled]

    def resume(self, tps) -> None:
        self.inner.resume([tp for tp in tps if tp not in self.stalled])


class ResumeRewinds(Delegating):
    """resume() of a partition that was not paused fetches it again from a stale fetch start,
    the first offset it ever delivered of it (how librdkafka went wrong before 2.4.0,
    confluentinc/librdkafka#4686): records come again in one ownership without a seek. Only a
    redundant resume exposes it."""

    name = "broken:resume-rewinds"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.paused: set[TopicPartition] = set()
        self.first: dict[TopicPartition, int] = {}

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        for r in records:
            self.first.setdefault(r.tp, r.offset)
        return records

    def pause(self, tps) -> None:
        self.inner.pause(tps)
        self.paused |= set(tps)

    def resume(self, tps) -> None:
        self.inner.resume(tps)
        stray = [tp for tp in tps if tp not in self.paused]
        self.paused -= set(tps)
        for tp in stray:
            if tp in self.first:
                self.inner.seek(tp, self.first[tp])


class RepeatedCommitSkipsOne(Delegating):
    """A commit that brings nothing new (the same offsets as the last one) commits one past
    them (an off-by-one on the "nothing changed" path): the next record is skipped by whoever
    resumes from the commit. Only a redundant commit exposes it (commit_again, or a commit on
    revoke with nothing new since the last one)."""

    name = "broken:repeated-commit-skips-one"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.last: dict[TopicPartition, int] = {}

    def commit(self, offsets=None, asynchronous: bool = False, callback=None):
        if offsets and all(self.last.get(tp) == off for tp, off in offsets.items()):
            offsets = {tp: off + 1 for tp, off in offsets.items()}
        if offsets:
            self.last.update(offsets)
        return self.inner.commit(offsets, asynchronous, callback)


class LosesWithSingleRecordPolls(Delegating):
    """With max.poll.records=1, a poll that returns a record's successor skips it (an
    off-by-one in a one-record buffer): loss that only small batches expose."""

    name = "broken:loses-with-single-record-polls"

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        if self.config.max_poll_records == 1:
            return [r for r in records if r.offset % 5 != 4]
        return records


class IgnoresIsolationLevel(Delegating):
    """Never passes ``isolation_level`` on, so the client reads at its own default: librdkafka
    reads committed, and aborted transactional records never reach an application that asked
    for read_uncommitted (a wrapper that drops a setting it does not know)."""

    name = "broken:ignores-isolation-level"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(dataclasses.replace(config, isolation_level="read_committed"))


# -- faults that only one consume path, dimension or redundant call exposes (issue 11) -------
# Each is caught by the ci profile (tests/integration/test_machine.py): the canonical example
# takes every redundant call, example 2 draws the second value of every dimension. Not here,
# because the ci profile cannot catch them: faults of the stored-offsets path and of an
# auto-commit interval (stored offsets are committed only by auto commit, and the ci
# configurations commit manually, so no ci example enables auto commit), and of a close during
# an async commit (under the ci's commit strategies that commit carries nothing the commit on
# revoke does not, so losing or delaying it changes nothing a check can see).
class _Skips(Delegating):
    """Helper: records whose offsets were marked lost (``skip``) are dropped when they come."""

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.skip: dict[TopicPartition, set[int]] = {}
        self.next: dict[TopicPartition, int] = {}
        self.high: dict[TopicPartition, int] = {}  # one past the highest offset delivered

    def delivered(self, records: list[Record]) -> list[Record]:
        out = []
        for r in records:
            lost = self.skip.get(r.tp)
            if lost and r.offset in lost:
                lost.discard(r.offset)
                continue
            out.append(r)
            self.next[r.tp] = r.offset + 1
            self.high[r.tp] = max(self.high.get(r.tp, 0), r.offset + 1)
        return out

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        return self.delivered(self.inner.poll(timeout, max_records))


class BatchPathDropsLast(ConfluentBatchAdapter):
    """The batch consume path (``Consumer.consume``) walks a batch of several messages one
    short (``range(len(batch) - 1)``): the last message of every multi-message batch is lost.
    One-message batches, and the one-at-a-time ``poll`` path, are untouched: only the
    ``confluent-kafka:batch`` path exposes it."""

    name = "broken:batch-path-drops-last"

    def _fetch(self, count: int, timeout: float) -> list[Any]:
        batch = super()._fetch(count, timeout)
        return batch[:-1] if len(batch) > 1 else batch


class DoublePauseSkipsOne(_Skips):
    """Pausing a partition that is already paused purges its fetch buffer and restarts the
    fetch one past the first purged record (an off-by-one on the purge path): after the resume
    the record at the position is never delivered. A single pause is fine: only a redundant
    pause exposes it."""

    name = "broken:double-pause-skips-one"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.paused: set[TopicPartition] = set()
        self.skip_from: dict[TopicPartition, int] = {}

    def pause(self, tps) -> None:
        self.inner.pause(tps)
        for tp in tps:
            if tp in self.paused:
                # past every record this member delivered (a re-read after a seek may still
                # be under way: its next record was delivered before), or (none delivered yet)
                # the client's position
                at = (max(self.next[tp], self.high[tp]) if tp in self.next
                      else self.inner.position(tp))
                if at >= 0:  # the first record from there: ``at`` may be a transaction marker
                    self.skip_from[tp] = at
        self.paused |= set(tps)

    def delivered(self, records: list[Record]) -> list[Record]:
        out = []
        for r in records:
            if r.tp in self.skip_from and r.offset >= self.skip_from[r.tp]:
                del self.skip_from[r.tp]
                continue
            out.append(r)
        return super().delivered(out)

    def resume(self, tps) -> None:
        self.inner.resume(tps)
        self.paused -= set(tps)


class SeekToPositionSkipsOne(_Skips):
    """A seek to the offset the consumer is already at takes a shortcut that counts the record
    there as delivered (an off-by-one: it compares the target with the last delivered offset
    + 1 and then "moves past" it): that record never reaches the application, whenever it
    comes. A seek anywhere else is honoured: only a seek to the current position exposes it."""

    name = "broken:seek-to-position-skips-one"

    def seek(self, tp: TopicPartition, offset: int) -> None:
        try:
            here = self.inner.position(tp)
        except ConsumerError:
            here = None
        self.inner.seek(tp, offset)
        if offset == here:
            self.skip.setdefault(tp, set()).add(offset)


class SeekToEndRewindsOne(Delegating):
    """Seeks to the end as the offset of the last record (the high watermark - 1: the "last
    offset" / "next offset" off-by-one): the last record comes again after every seek to the
    end. A seek to an explicit offset is honoured: only a seek to the end exposes it."""

    name = "broken:seek-to-end-rewinds-one"

    def seek_to_end(self, tp: TopicPartition) -> None:
        self.inner.seek_to_end(tp)
        end = self.inner.position(tp)
        if end > 0:
            self.inner.seek(tp, end - 1)


class AutoCommitOnePast(Delegating):
    """Its auto commit adds one to the position it commits (the position already is the next
    offset: "last offset + 1" applied twice), on its own timer of auto.commit.interval.ms:
    every auto commit is one past what the application was handed. Explicit commits are
    passed through: only auto commit exposes it."""

    name = "broken:auto-commit-one-past"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.handed: dict[TopicPartition, int] = {}
        self.last_auto = time.monotonic()
        self.report: CommitCallback | None = None

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self.report = callback
        self.inner.set_auto_commit_callback(callback)

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        for r in records:
            self.handed[r.tp] = max(self.handed.get(r.tp, 0), r.offset + 1)
        due = time.monotonic() - self.last_auto >= self.config.auto_commit_interval_ms / 1000
        if self.config.enable_auto_commit and due:
            self.last_auto = time.monotonic()
            owned = set(self.inner.assignment())
            offsets = {tp: o + 1 for tp, o in self.handed.items() if tp in owned}
            if offsets:
                with contextlib.suppress(ConsumerError):
                    self.inner.commit(offsets)
                    if self.report is not None:
                        self.report(offsets, None)
        return records


class ZeroTimeoutPollRepeats(Delegating):
    """A poll with a zero timeout takes the non-blocking path, which hands back the previous
    batch again before anything new (its buffer is cleared only on the blocking path): records
    come twice in one ownership without a seek. Polls that wait are fine: only a zero-timeout
    poll exposes it."""

    name = "broken:zero-timeout-poll-repeats"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.last: list[Record] = []

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        if timeout <= 0:
            stale = [r for r in self.last if r.tp in set(self.inner.assignment())]
            self.last = records or self.last
            return stale + records
        if records:
            self.last = records
        return records


class EofRepeatsLast(ConfluentAdapter):
    """With end-of-partition events on (``enable.partition.eof``), the event is handed to the
    application as the partition's last message again (the wrapper reuses its last-message
    slot for the event): the last record of a partition comes twice in one ownership. Without
    EOF events nothing changes: only the ``eof`` dimension exposes it."""

    name = "broken:eof-repeats-last"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.last: dict[TopicPartition, Record] = {}
        self.again: list[Record] = []

    def _message_error(self, err: KafkaError, msg: Any) -> ConsumerError | None:
        if err.code() == KafkaError._PARTITION_EOF:
            rec = self.last.get(TopicPartition(msg.topic(), msg.partition()))
            if rec is not None:
                self.again.append(rec)
        return super()._message_error(err, msg)

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = super().poll(timeout, max_records)
        for r in records:
            self.last[r.tp] = r
        owned = set(self.assignment()) if self.again else set()
        out, self.again = [r for r in self.again if r.tp in owned] + records, []
        return out


class TinyFetchDropsOversized(_Skips):
    """With a fetch size below one record (``max.partition.fetch.bytes``), the first fetch of
    each partition returns a partial record, which the client drops and steps over instead of
    fetching it whole (how clients handled partial messages before KIP-74): the first record
    this consumer reads of each partition is lost. Ordinary fetch sizes never truncate: only
    the ``fetch`` dimension exposes it."""

    name = "broken:tiny-fetch-drops-oversized"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.seen: set[TopicPartition] = set()

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        limit = self.config.max_partition_fetch_bytes or 0
        records = self.inner.poll(timeout, max_records)
        for r in records:
            size = len(r.key or b"") + len(r.value or b"")
            if limit and size > limit and r.tp not in self.seen:
                self.skip.setdefault(r.tp, set()).add(r.offset)
            self.seen.add(r.tp)
        return self.delivered(records)


class _Assigned:
    """A rebalance listener that tells the broken adapter about an assignment first."""

    def __init__(self, adapter: NonRangeStartsOnePast, listener: RebalanceListener) -> None:
        self.adapter, self.listener = adapter, listener

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        self.adapter.fresh |= set(partitions)
        self.listener.on_assigned(partitions)

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        self.adapter.fresh -= set(partitions)
        self.listener.on_revoked(partitions)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.adapter.fresh -= set(partitions)
        self.listener.on_lost(partitions)


class NonRangeStartsOnePast(_Skips):
    """With a client-side assignor other than range (roundrobin, cooperative-sticky), the
    wrapper applies the assignment itself and starts each assigned partition one past its
    start offset (it takes the committed offset, or the reset offset, for the last record
    consumed, an off-by-one on its own assignment path): the first record of every assignment
    is lost. Range assignments go through the client: only the ``assignor`` dimension
    exposes it."""

    name = "broken:non-range-starts-one-past"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.fresh: set[TopicPartition] = set()

    def subscribe(self, topics, listener) -> None:
        if self.config.assignment_strategy != "range" \
                and self.config.group_protocol == "classic":
            listener = _Assigned(self, listener)
        self.inner.subscribe(topics, listener)

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        records = self.inner.poll(timeout, max_records)
        for r in records:
            if r.tp in self.fresh:
                self.fresh.discard(r.tp)
                self.skip.setdefault(r.tp, set()).add(r.offset)
        return self.delivered(records)


# -- faults of other clients' consume paths: built on first use, so that loading this file
# imports no client beyond confluent-kafka (aiokafka is a test extra) ------------------------
def _iterator_path_drops_last() -> type[Adapter]:
    from adapters.kafka_python import KafkaPythonIteratorAdapter

    class IteratorPathDropsLast(KafkaPythonIteratorAdapter):
        """kafka-python's iterator path (``next(consumer)``) loses the record its generator
        had taken when the iterator timed out (a look-ahead dropped with the StopIteration):
        the last record of every batch that ends on the timeout, when it holds more than one,
        never reaches the application. ``poll()`` is untouched: only the
        ``kafka-python:records`` path exposes it."""

        name = "broken:iterator-path-drops-last"

        def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
            records = super().poll(timeout, max_records)
            if 1 < len(records) < self._limit(max_records):
                return records[:-1]
            return records

    return IteratorPathDropsLast


def _getone_path_drops_last() -> type[Adapter]:
    from adapters.aiokafka import AiokafkaGetoneAdapter

    class GetonePathDropsLast(AiokafkaGetoneAdapter):
        """aiokafka's ``getone()`` path loses the message a ``getone()`` had already taken
        when ``asyncio.wait_for`` timed out and cancelled it (the cancellation hazard of
        wrapping a dequeue in a timeout): the last message of every batch that ends on the
        timeout, when it holds more than one, never reaches the application. ``getmany()``
        is untouched: only the ``aiokafka:getone`` path exposes it."""

        name = "broken:getone-path-drops-last"

        async def _fetch(self, timeout: float, limit: int) -> tuple[int, list[Any]]:
            seq, out = await super()._fetch(timeout, limit)
            return seq, (out[:-1] if 1 < len(out) < limit else out)

    return GetonePathDropsLast


_LAZY = {"IteratorPathDropsLast": _iterator_path_drops_last,
         "GetonePathDropsLast": _getone_path_drops_last}


def __getattr__(name: str) -> type[Adapter]:
    if name in _LAZY:
        cls = _LAZY[name]()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


class ResubscribeSkipsOne(Delegating):
    """After unsubscribe() and a new subscribe(), drops the record at the position each
    partition had when the member unsubscribed (a stale "next offset" kept across the
    subscription, off by one): that record is lost. Only the resubscribe call exposes it."""

    name = "broken:resubscribe-skips-one"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.next: dict[TopicPartition, int] = {}
        self.stale: dict[TopicPartition, int] = {}

    def unsubscribe(self) -> None:
        self.stale = dict(self.next)
        self.inner.unsubscribe()

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        out = []
        for r in self.inner.poll(timeout, max_records):
            if self.stale.get(r.tp) == r.offset:
                del self.stale[r.tp]
                continue
            self.next[r.tp] = r.offset + 1
            out.append(r)
        return out


class StoredStoresOnPoll(ConfluentStoredOffsetsAdapter):
    """The stored-offsets path (list form) storing each fetched batch's positions as soon as
    poll() returns them, before the application processed them, and nothing in store(): what
    ``enable.auto.offset.store=true`` does, the one thing this path exists to avoid. A commit
    of the stored offsets (``commit()`` without offsets, or auto commit) then covers records
    still in hand; only the stored-offsets path exposes it."""

    name = "broken:stored-stores-on-poll"

    def _fetch(self, count: int, timeout: float) -> list[Any]:
        batch = super()._fetch(count, timeout)
        ahead = {}
        for msg in batch:
            if msg.error() is None:
                ahead[TopicPartition(msg.topic(), msg.partition())] = msg.offset() + 1
        if ahead:
            self._store_offsets(ahead)
        return batch

    def store(self, records: list[Record]) -> dict[TopicPartition, int]:
        return {}


class StoredMessageStoresNext(ConfluentStoredMessagesAdapter):
    """The stored-offsets path in the message form, passing the message *after* the last
    processed one (the list form's "next offset" convention applied to the message form, for
    which librdkafka adds the 1 itself) whenever that message was fetched already: the stored
    offset runs one record ahead of processing inside a batch. Only the message form exposes
    it."""

    name = "broken:stored-message-stores-next"

    def _message(self, record: Record) -> Any:
        held = self._kept.get((record.topic, record.partition), {})
        return held.get(record.offset + 1)


class _Durable:
    """A rebalance listener keeping :class:`CloseRecommitsStale`'s durable offsets: the
    group's committed offsets of partitions as they are assigned, forgotten when taken."""

    def __init__(self, adapter: CloseRecommitsStale, listener: RebalanceListener) -> None:
        self.adapter, self.listener = adapter, listener

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        committed = self.adapter.inner.committed(partitions)
        self.adapter.durable.update({tp: o for tp, o in committed.items() if o is not None})
        self.listener.on_assigned(partitions)

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        self.listener.on_revoked(partitions)
        for tp in partitions:
            self.adapter.durable.pop(tp, None)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.listener.on_lost(partitions)
        for tp in partitions:
            self.adapter.durable.pop(tp, None)


class CloseRecommitsStale(Delegating):
    """close() commits once more, synchronously and without telling anyone, the offsets it
    holds durable ("make sure the final offsets are in"): the group's committed offset when the
    partition was assigned, then those of its synchronous commits (async commits are fire and
    forget to it). An async commit made since lands first and
    is then overtaken: the group's offset moves back below what the member was told it
    committed. In a configuration that commits synchronously only a close while an async
    commit is in flight exposes it."""

    name = "broken:close-recommits-stale"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.durable: dict[TopicPartition, int] = {}

    def subscribe(self, topics, listener) -> None:
        self.inner.subscribe(topics, _Durable(self, listener))

    def commit(self, offsets=None, asynchronous: bool = False, callback=None):
        result = self.inner.commit(offsets, asynchronous, callback)
        if not asynchronous:
            self.durable.update(result or offsets or {})
        return result

    def close(self) -> None:
        owned = set(self.inner.assignment())
        stale = {tp: o for tp, o in self.durable.items() if tp in owned}
        if stale:
            with contextlib.suppress(ConsumerError):
                self.inner.commit(stale, asynchronous=False)
        self.inner.close()


# -- error paths met through Kafka-protocol faults (issue 21) ----------------------------------
class ResendsFailedCommit(Delegating):
    """Keeps every commit that failed and sends it again, synchronously and without telling
    anyone, after each newer commit that succeeded (a retry queue that never drops what a
    newer commit made obsolete): the group's offset moves back below what the member was told
    it committed. Met through ``fail_next(OffsetCommit, REBALANCE_IN_PROGRESS)``."""

    name = "broken:resends-failed-commit"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.failed: dict[TopicPartition, int] = {}

    def _tracked(self, offsets) -> dict[TopicPartition, int]:
        if offsets:
            return dict(offsets)
        return {tp: self.inner.position(tp) for tp in self.inner.assignment()}

    def commit(self, offsets=None, asynchronous: bool = False, callback=None):
        wanted = self._tracked(offsets)
        if asynchronous:
            def heard(committed, error):
                if error is not None:
                    self.failed.update(committed or wanted)
                if callback is not None:
                    callback(committed, error)
            return self.inner.commit(offsets, True, heard)
        try:
            result = self.inner.commit(offsets, False, callback)
        except ConsumerError:
            self.failed.update(wanted)
            raise
        if self.failed:
            with contextlib.suppress(ConsumerError):
                self.inner.commit(dict(self.failed), asynchronous=False)
        return result


class IllegalGenerationIsFatal(NeverRejoins):
    """Treats a removal from the group (ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID on a heartbeat,
    which the client reports as its partitions lost, or on a commit) as fatal: it quietly
    leaves the group and never joins again, while the application keeps polling and gets
    nothing (as :class:`NeverRejoins`, also on a commit's error). Met through
    ``fail_next(Heartbeat, ILLEGAL_GENERATION)``."""

    name = "broken:illegal-generation-is-fatal"
    FATAL = ("ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "generation", "member id")

    def commit(self, offsets=None, asynchronous: bool = False, callback=None):
        try:
            return self.inner.commit(offsets, asynchronous, callback)
        except ConsumerError as exc:
            text = f"{exc} {exc.cause}"
            if any(word.lower() in text.lower() for word in self.FATAL):
                self.removed = True
            raise


class OffsetFetchFallsBackToReset(ConfluentAdapter):
    """Asks for its committed offsets itself, with a short timeout of its own (0.5 s), when
    partitions are assigned (an application that looks them up before it starts) and, when
    that OffsetFetch fails or times out (a transient error, a slow coordinator), starts the
    partitions by the reset policy instead of asking again: the committed records are read
    again (earliest) or skipped (latest). Met through ``slow_api(OffsetFetch)`` before a
    rejoin; without a fault it starts at the committed offset like the client (librdkafka
    itself waits for the answer and retries a transient error)."""

    name = "broken:offset-fetch-falls-back-to-reset"

    def _on_assign(self, consumer, parts) -> None:
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaException
        from confluent_kafka import TopicPartition as CTopicPartition

        try:
            answered = consumer.committed(list(parts), timeout=0.5)
            ok = all(p.error is None for p in answered)
        except KafkaException:
            ok = False
        if parts and not ok:  # taken for "no committed offset": the reset policy decides
            start = OFFSET_END if self.config.auto_offset_reset == "latest" else OFFSET_BEGINNING
            at = [CTopicPartition(p.topic, p.partition, start) for p in parts]
            incremental = (self.config.group_protocol == "consumer"
                           or "cooperative" in str(self.config.assignment_strategy or ""))
            (consumer.incremental_assign if incremental else consumer.assign)(at)
        super()._on_assign(consumer, parts)


class ReportsFailedCommitDone(Delegating):
    """Reports a synchronous commit the broker refused as done (a client that treats any
    answer, or none, as success): the application believes the records committed, and after a
    crash the next owner reads them again although "committed". Met through
    ``fail_next(OffsetCommit, ...)`` and a kill before the next commit."""

    name = "broken:reports-failed-commit-done"

    def commit(self, offsets=None, asynchronous: bool = False, callback=None):
        wanted = dict(offsets) if offsets else {
            tp: self.inner.position(tp) for tp in self.inner.assignment()}
        if asynchronous:
            return self.inner.commit(offsets, True, callback)
        try:
            return self.inner.commit(offsets, False, callback)
        except ConsumerError:
            return wanted
