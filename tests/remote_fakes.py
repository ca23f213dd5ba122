"""In-memory adapters for the adapter host RPC tests (no broker, no client library).

Loaded by the host as ``tests/remote_fakes.py:Class``. ``config.extra`` steers the fake:
``die_in``/``hang_in`` (a method name: exit or sleep there), ``foreign_thread`` (listener
callbacks from another thread, as kafka-python's adapter does), ``fail`` (method -> error
code or exception type name to raise), ``print`` (write to stdout in poll()).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

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

ALL_BYTES = bytes(range(256))
ERRORS: dict[str, type[ConsumerError]] = {
    c.code: c for c in (ConsumerError, NoOffsetForPartition, CommitFailed, FencedMember,
                        IllegalState, Unsupported)}


class OwnCodeError(ConsumerError):
    """An adapter's own ConsumerError subclass with a code the harness side does not know."""

    code = "fake-own-code"


class FakeAdapter(Adapter):
    """Two partitions of topic ``t`` with three records each; the listener is called around
    the first poll and in close(); commits are recorded."""

    name = "fake"
    client = "fake-client"
    capabilities = Capabilities(consumer_protocol=False, cooperative=True, on_lost=True)

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.check_config(config)
        self.extra: dict[str, Any] = dict(config.extra)
        self.listener: RebalanceListener | None = None
        self.owned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        self.pending: list[tuple[CommitCallback, dict[TopicPartition, int]]] = []
        self.auto: CommitCallback | None = None
        self.closed = False
        self.caught: list[str] = []

    @classmethod
    def client_version(cls) -> str:
        return "0.0.1"

    # -- steering ------------------------------------------------------------------------------
    def _step(self, method: str) -> None:
        if self.extra.get("die_in") == method:
            sys.stderr.write(f"fake: dying in {method}\n")
            sys.stderr.flush()
            os._exit(3)
        if self.extra.get("hang_in") == method:
            time.sleep(3600)
        fail = (self.extra.get("fail") or {}).get(method)
        if fail == OwnCodeError.code:
            raise OwnCodeError("own code", cause="own cause")
        if fail in ERRORS:
            raise ERRORS[fail](f"{method} failed", retriable=True, cause=f"cause of {method}")
        if fail:
            raise {"ValueError": ValueError, "KeyError": KeyError}.get(fail, RuntimeError)(
                f"{method} broke")
        if self.closed:
            raise IllegalState("the consumer is closed")

    def _listen(self, kind: str, tps: list[TopicPartition]) -> None:
        if self.listener is None:
            return
        call = getattr(self.listener, kind)
        if not self.extra.get("foreign_thread"):
            call(tps)
            return
        failure: list[BaseException] = []

        def run() -> None:
            try:
                call(tps)
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=run, name=f"fake-listener-{kind}")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]

    # -- the contract ----------------------------------------------------------------------------
    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None:
        self._step("subscribe")
        self.listener = listener

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._step("assign")
        self.owned = list(partitions)

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        self._step("poll")
        if self.extra.get("print"):
            print("stray text on stdout from the fake")
            os.write(1, b"{\"type\": \"result\", \"id\": 1}\n")
        if self.listener is not None and not self.owned:
            self.owned = [TopicPartition("t", 0), TopicPartition("t", 1)]
            try:
                self._listen("on_assigned", list(self.owned))
            except ConsumerError as exc:  # reported back through the next poll's error
                raise IllegalState(f"listener raised {type(exc).__name__}", cause=exc.cause,
                                   retriable=exc.retriable) from None
        for callback, offsets in self.pending:
            callback(offsets, None)
        self.pending.clear()
        if self.auto is not None and self.commits:
            self.auto(self.commits[-1], None)
        records = []
        for tp in self.owned:
            start = self.positions.get(tp, 0)
            end = max(start, min(3, start + max_records - len(records)))
            records += [Record(tp.topic, tp.partition, offset,
                               None if offset == 0 else ALL_BYTES, ALL_BYTES[offset:],
                               (("h", ALL_BYTES), ("n", None)), 1000 + offset)
                        for offset in range(start, end)]
            self.positions[tp] = end
        return records

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None:
        self._step("commit")
        result = dict(offsets) if offsets is not None else dict(self.positions)
        self.commits.append(result)
        if asynchronous:
            if callback is not None:
                if "t-missing" in {tp.topic for tp in result}:
                    callback(result, CommitFailed("unknown topic", retriable=False,
                                                  cause="UNKNOWN_TOPIC_OR_PART"))
                else:
                    self.pending.append((callback, result))
            return None
        return result

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._step("seek")
        self.positions[tp] = offset

    def position(self, tp: TopicPartition) -> int:
        self._step("position")
        return self.positions.get(tp, 0)

    def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        self._step("committed")
        last = self.commits[-1] if self.commits else {}
        return {tp: last.get(tp) for tp in tps}

    def pause(self, tps: list[TopicPartition]) -> None:
        self._step("pause")

    def resume(self, tps: list[TopicPartition]) -> None:
        self._step("resume")

    def assignment(self) -> list[TopicPartition]:
        self._step("assignment")
        return list(self.owned)

    def store(self, records: list[Record]) -> dict[TopicPartition, int]:
        self._step("store")
        assert all(r.value == ALL_BYTES[r.offset:] for r in records), "bytes changed"
        return {r.tp: r.offset + 1 for r in records}

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self.auto = callback

    def close(self) -> None:
        if self.closed:
            return
        self._step("close")
        try:
            if self.owned and self.listener is not None:
                self._listen("on_revoked", list(self.owned))
        finally:
            self.closed = True
        for callback, offsets in self.pending:
            callback(offsets, None)
        self.pending.clear()


class FakeNoStoreAdapter(FakeAdapter):
    """The fake without store(): the contract's no-op default."""

    name = "fake-no-store"
    store = Adapter.store
