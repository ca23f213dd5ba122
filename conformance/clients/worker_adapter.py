"""An adapter whose consumer is a native worker (Java, Go, Node): the adapter contract spoken
over the worker line protocol (docs/worker-protocol.md).

``WorkerAdapter.bind(client)`` gives an :class:`~adapters.base.Adapter` class for a resolved
native :class:`~conformance.clients.Client`; each instance starts the client's worker command,
sends ``init`` with the :class:`~adapters.base.ConsumerConfig` (strategy ``MANUAL``, or ``auto``
when auto commit is on; every ``poll`` has ``process: false``, so the worker never processes
or commits on its own) and maps each method to one command. The worker's events drive the
callbacks, in the calling thread, in the order they were written, while the command that
caused them runs: ``assigned``/``revoked``/``lost`` call the listener (``manual`` assignments
do not), ``committed`` with mode ``async`` calls the oldest pending async commit callback,
mode ``auto`` the auto commit callback.

What the protocol cannot express raises :class:`~adapters.base.Unsupported`: a call made
inside a listener or commit callback (the worker has moved on by the time the event arrives;
native workers commit in on_revoked through the strategy's ``commit_on_revoke``).
``store()`` is the contract's no-op (native workers commit positions). Records carry no
value, headers or timestamp (the protocol sends topic, partition, offset and key only).
A worker that dies, stops answering or breaks the protocol raises
:class:`WorkerAdapterError` and is stopped.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar

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
from conformance.adapter_host import EOF
from conformance.clients.client import Client
from conformance.clients.line_process import LineProcess
from conformance.errors import WorkerError

CALL_TIMEOUT = 60.0  # the longest silence of the worker during one command (plus poll's own)
START_TIMEOUT = 120.0  # starting the runtime (a JVM on a loaded machine) and the consumer
_members = itertools.count(1)

#: Error codes of the protocol -> the contract's exceptions.
ERRORS: dict[str, type[ConsumerError]] = {
    "no-offset-for-partition": NoOffsetForPartition,
    "commit-failed": CommitFailed,
    "fenced-member": FencedMember,
    "illegal-state": IllegalState,
    "unsupported": Unsupported,
    "consumer-error": ConsumerError,
}


class WorkerAdapterError(WorkerError):
    """The worker died, stopped answering, broke the protocol or reported an error outside
    the contract (``adapter-error``, ``malformed-command``, ``usage-error``)."""


def _tps(items: Any) -> list[TopicPartition]:
    return [TopicPartition(str(t), int(p)) for t, p in items or []]


def _offsets(items: Any) -> dict[TopicPartition, Any]:
    return {TopicPartition(str(t), int(p)): (None if o is None else int(o))
            for t, p, o in items or []}


def _wire_tps(tps: list[TopicPartition]) -> list[list[Any]]:
    return [[tp.topic, tp.partition] for tp in tps]


def _record(item: list[Any]) -> Record:
    topic, partition, offset, key = item[:4]
    return Record(str(topic), int(partition), int(offset),
                  None if key is None else str(key).encode(), None)


class _Worker(LineProcess):
    """One worker process: commands out, lines in, read by the calling thread."""

    kind = "worker"
    error = WorkerAdapterError

    def __init__(self, client: Client) -> None:
        self.member = f"contract-{os.getpid()}-{next(_members)}"
        super().__init__(client.label, client.worker_command(self.member),
                         client.process_env(), "kc-worker-adapter-")
        self.ids = itertools.count(1)

    def send(self, cmd: dict[str, Any]) -> int:
        msg_id = next(self.ids)
        self.write({**cmd, "msg_id": msg_id}, str(cmd.get("type")))
        return msg_id

    def next_line(self, timeout: float, what: str) -> dict[str, Any] | None:
        """The next JSON line, None if none arrived within ``timeout``."""
        line = self.lines.readline(timeout)
        if line is None:
            return None
        if line is EOF:
            self.died(what)
        try:
            obj = json.loads(str(line))
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or "type" not in obj:
            self.fail(f"a line outside the protocol during {what}: {str(line)[:200]}")
        return obj


def _stop_quietly(worker: _Worker) -> None:
    worker.stop(graceful=False)


class WorkerAdapter(Adapter):
    """The adapter contract over one native worker process. Use a class made by :meth:`bind`."""

    worker_client: ClassVar[Client | None] = None
    call_timeout: ClassVar[float] = CALL_TIMEOUT
    start_timeout: ClassVar[float] = START_TIMEOUT

    @classmethod
    def bind(cls, client: Client) -> type[WorkerAdapter]:
        """The adapter class of a resolved native ``client`` (its ``info`` is filled)."""
        if not client.command:
            raise TypeError(f"{client.label} is not a native client (it has no worker command)")
        known = {f.name for f in fields(Capabilities)}
        caps = Capabilities(**{k: bool(v) for k, v in client.capabilities.items() if k in known})
        return type(f"Worker[{client.label}]", (cls,),
                    {"name": client.name, "client": client.client, "capabilities": caps,
                     "worker_client": client, "__module__": __name__})

    @classmethod
    def _client(cls) -> Client:
        if cls.worker_client is None:
            raise TypeError("WorkerAdapter needs a client: use WorkerAdapter.bind(client)")
        return cls.worker_client

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The worker's ``describe`` reply (asked when the client was resolved)."""
        return dict(cls._client().info)

    @classmethod
    def client_version(cls) -> str:
        return cls._client().client_version

    @classmethod
    def check_config(cls, config: ConsumerConfig) -> None:
        reason = cls._client().unsupported(config.to_json())
        if reason:
            raise Unsupported(reason)

    # -- one instance: one worker process ------------------------------------------------
    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        if config.group_id is None and not self.capabilities.manual_assignment:
            raise Unsupported(f"{self._client().label} has no manual assignment, so a consumer "
                              f"without a group id cannot run")
        self._listener: RebalanceListener | None = None
        self._auto_callback: CommitCallback | None = None
        self._async: deque[CommitCallback | None] = deque()  # pending async commits, in order
        self._in_callback = 0
        self._closed = False
        self._worker = _Worker(self._client())
        self._finalizer = weakref.finalize(self, _stop_quietly, self._worker)
        strategy = {"name": "auto" if config.enable_auto_commit else "MANUAL"}
        try:
            self.info: dict[str, Any] = self._call(
                "init", self.start_timeout, adapter=self._client().adapter,
                config=config.to_json(), strategy=strategy)
        except BaseException:
            self._stop()
            raise

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self._worker.proc.pid

    def _stop(self) -> None:
        self._finalizer.detach()
        self._worker.stop()

    def _call(self, kind: str, wait: float | None = None, **fields_: Any) -> dict[str, Any]:
        """Send one command; dispatch the events that arrive until its reply; return the
        reply (an ``error`` reply raises)."""
        worker = self._worker
        if self._in_callback:
            raise Unsupported(f"{worker.label}: {kind}() inside a rebalance or commit callback "
                              f"cannot be expressed in the worker protocol (the worker's "
                              f"callback has returned by the time its event arrives; native "
                              f"workers commit in on_revoked through the strategy's "
                              f"commit_on_revoke)")
        if worker.failure is not None:
            raise worker.failure
        if self._closed or worker.stopped:
            raise IllegalState("the consumer is closed")
        self._drain()
        msg_id = worker.send({"type": kind, **fields_})
        timeout = wait or self.call_timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                worker.fail(f"no reply to {kind} within {timeout:.0f} s; the worker was "
                            f"stopped")
            obj = worker.next_line(remaining, kind)
            if obj is None:
                continue
            if obj.get("in_reply_to") == msg_id:
                return self._reply(kind, obj)
            if obj.get("in_reply_to") is not None:
                worker.fail(f"a reply to another command during {kind}: {str(obj)[:200]}")
            self._event(obj)
            deadline = time.monotonic() + timeout

    def _drain(self) -> None:
        """Dispatch the events written while no command ran (e.g. auto commits)."""
        while (obj := self._worker.next_line(0, "an idle period")) is not None:
            if obj.get("in_reply_to") is not None:
                self._worker.fail(f"a reply nobody asked for: {str(obj)[:200]}")
            self._event(obj)

    def _reply(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("type") == f"{kind}_ok":
            return obj
        if obj.get("type") != "error":
            self._worker.fail(f"{kind} was answered with {str(obj)[:200]}")
        code, message = str(obj.get("code")), str(obj.get("message"))
        error = ERRORS.get(code)
        if error is None:
            raise WorkerAdapterError(f"{self._worker.label}: {kind}: {code}: {message}")
        raise error(message, retriable=bool(obj.get("retriable")), cause=message)

    def _event(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind in ("assigned", "revoked", "lost"):
            if self._listener is None or obj.get("manual"):
                return
            method = {"assigned": "on_assigned", "revoked": "on_revoked",
                      "lost": "on_lost"}[str(kind)]
            self._run(getattr(self._listener, method), _tps(obj.get("partitions")))
        elif kind == "committed":
            mode = obj.get("mode")
            error = None if obj.get("ok") else CommitFailed(
                str(obj.get("error")), cause=str(obj.get("error")))
            offsets = _offsets(obj.get("offsets"))
            if mode == "async" and self._async:
                callback = self._async.popleft()
                if callback is not None:
                    self._run(callback, offsets, error)
            elif mode == "auto" and self._auto_callback is not None:
                self._run(self._auto_callback, offsets, error)

    def _run(self, callback: Any, *args: Any) -> None:
        self._in_callback += 1
        try:
            callback(*args)
        finally:
            self._in_callback -= 1

    # -- the contract --------------------------------------------------------------------
    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None:
        self._listener = listener
        self._call("subscribe", topics=list(topics))

    def unsubscribe(self) -> None:
        """The ``unsubscribe`` command, for workers whose capabilities say they have it."""
        if not self.capabilities.unsubscribe:
            raise Unsupported(f"{self._client().label} cannot unsubscribe (its worker reports "
                              f"capability unsubscribe false)")
        self._call("unsubscribe")

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._call("assign", partitions=_wire_tps(partitions))

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        reply = self._call("poll", self.call_timeout + timeout, timeout=timeout,
                           max_records=max_records, process=False)
        return [_record(r) for r in reply.get("records") or []]

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None:
        wire = None if offsets is None else [[tp.topic, tp.partition, int(o)]
                                             for tp, o in offsets.items()]
        if not asynchronous:
            reply = self._call("commit", offsets=wire, asynchronous=False)
            return {tp: int(o) for tp, o in _offsets(reply.get("offsets")).items()}
        entry_count = len(self._async)
        self._async.append(callback)
        try:
            self._call("commit", offsets=wire, asynchronous=True)
        except ConsumerError:
            # The commit failed at once: reported by the worker's committed event (then the
            # callback has run) or only by the reply (then it raises here).
            if len(self._async) > entry_count and self._async[-1] is callback:
                self._async.pop()
                raise
        return None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._call("seek", topic=tp.topic, partition=tp.partition, offset=int(offset))

    def seek_to_end(self, tp: TopicPartition) -> None:
        """The ``seek_to_end`` command, for workers whose capabilities say they have it."""
        if not self.capabilities.seek_to_end:
            raise Unsupported(f"{self._client().label} cannot seek to the end (its worker "
                              f"reports capability seek_to_end false)")
        self._call("seek_to_end", topic=tp.topic, partition=tp.partition)

    def position(self, tp: TopicPartition) -> int:
        return int(self._call("position", topic=tp.topic, partition=tp.partition)["offset"])

    def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        reply = self._call("committed", partitions=_wire_tps(tps))
        return _offsets(reply.get("offsets"))

    def pause(self, tps: list[TopicPartition]) -> None:
        self._call("pause", partitions=_wire_tps(tps))

    def resume(self, tps: list[TopicPartition]) -> None:
        self._call("resume", partitions=_wire_tps(tps))

    def assignment(self) -> list[TopicPartition]:
        return sorted(_tps(self._call("assignment").get("partitions")))

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self._auto_callback = callback

    def close(self) -> None:
        """Close the consumer (no commit of processed offsets), then stop the worker (also
        when close fails). Closing twice is harmless."""
        if self._closed:
            return
        try:
            if self._worker.failure is None and not self._worker.stopped:
                self._call("close", commit=False)
        finally:
            self._closed = True
            self._stop()
