"""An adapter whose client runs in another process: the harness side of the adapter host RPC.

``RemoteAdapter.bind(client)`` gives an :class:`~adapters.base.Adapter` class for a resolved
:class:`~conformance.clients.Client`; each instance starts ``python -m conformance.adapter_host``
with the client's interpreter and environment, forwards every call, and runs the listener and
commit callbacks here, in the calling thread, while the call that triggered them is in progress
(calls made inside a callback are nested on the host side, e.g. commit() in on_revoked).
close() stops the process; so do garbage collection and interpreter exit. Every wait is bounded:
a host that dies or stops answering raises :class:`AdapterHostError` and is stopped.
One thread at a time may use an instance (as the contract says of adapters).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import weakref
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar

from adapters.base import (
    Adapter,
    Capabilities,
    CommitCallback,
    ConsumerConfig,
    IllegalState,
    RebalanceListener,
    Record,
    TopicPartition,
)
from conformance.adapter_host import (
    EOF,
    RemoteError,
    decode_error,
    decode_offsets,
    decode_records,
    decode_tps,
    encode_error,
    encode_offsets,
    encode_records,
    encode_tps,
)
from conformance.clients.client import Client
from conformance.clients.line_process import LineProcess
from conformance.errors import WorkerError

CALL_TIMEOUT = 60.0  # the longest silence of the host during one call (plus poll's own timeout)
START_TIMEOUT = 120.0  # starting the interpreter, importing the client, creating the consumer


class AdapterHostError(WorkerError):
    """The adapter host died, stopped answering or broke the protocol."""


class _Connection(LineProcess):
    """One adapter host process, its line pipes and the callbacks registered with it."""

    kind = "adapter host"
    error = AdapterHostError

    def __init__(self, client: Client, call_timeout: float) -> None:
        super().__init__(client.label, [client.python, "-m", "conformance.adapter_host"],
                         client.process_env(), "kc-adapter-host-")
        self.call_timeout = call_timeout
        self.listener: RebalanceListener | None = None
        self._commit_callbacks: dict[int, tuple[CommitCallback, bool]] = {}
        self._ids = itertools.count(1)
        self._stack: list[int] = []  # callbacks running here, innermost last
        self._stash: dict[int, dict[str, Any]] = {}  # replies that overtook a nested reply
        self._origins: dict[str, BaseException] = {}  # exceptions raised by local callbacks

    # -- calls -----------------------------------------------------------------------------
    def register(self, callback: CommitCallback, once: bool) -> int:
        key = next(self._ids)
        self._commit_callbacks[key] = (callback, once)
        return key

    def call(self, method: str, args: dict[str, Any] | None = None,
             wait: float | None = None) -> Any:
        """Call ``method`` on the host (waiting at most ``wait`` seconds of silence); run the
        callbacks that arrive meanwhile."""
        if self.failure is not None:
            raise self.failure
        if self.stopped:
            raise AdapterHostError(f"{self.label}: the adapter host was stopped")
        msg_id = next(self._ids)
        self.write({"type": "call", "id": msg_id, "method": method, "args": args or {},
                    "in": self._stack[-1] if self._stack else None}, method)
        try:
            return self._wait(msg_id, method, wait or self.call_timeout)
        finally:
            if not self._stack:
                self._origins.clear()

    def _wait(self, msg_id: int, method: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while msg_id not in self._stash:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"no reply to {method}() within {timeout:.0f} s; the adapter host "
                           f"was stopped")
            line = self.lines.readline(remaining)
            if line is None:
                continue
            if line is EOF:
                self.died(method)
            try:
                msg = json.loads(str(line))
                kind = msg["type"]
            except (ValueError, KeyError, TypeError):
                self.fail(f"a line outside the protocol during {method}(): {str(line)[:200]}")
            if kind == "callback":
                self._run_callback(msg)
                deadline = time.monotonic() + timeout
            elif kind in ("result", "error") and msg.get("id") is not None:
                self._stash[int(msg["id"])] = msg
            else:
                self.fail(f"unexpected message during {method}(): {str(line)[:200]}")
        reply = self._stash.pop(msg_id)
        if reply["type"] == "result":
            return reply.get("value")
        error = decode_error(reply.get("error") or {})
        if isinstance(error, RemoteError) and error.origin in self._origins:
            raise self._origins.pop(error.origin)  # raised by our own callback: the original
        raise error

    def _run_callback(self, msg: dict[str, Any]) -> None:
        cb = int(msg["cb"])
        kind = msg.get("kind")
        error: dict[str, Any] | None = None
        self._stack.append(cb)
        try:
            if kind == "commit":
                target = int(msg["target"])
                callback, once = self._commit_callbacks[target]
                if once:
                    del self._commit_callbacks[target]
                callback(decode_offsets(msg["offsets"]),
                         decode_error(msg["error"]) if msg.get("error") else None)  # type: ignore[arg-type]
            elif kind in ("on_assigned", "on_revoked", "on_lost"):
                if self.listener is not None:
                    getattr(self.listener, kind)(decode_tps(msg["partitions"]))
            else:
                raise RemoteError("ProtocolError", f"unknown callback kind {kind!r}")
        except AdapterHostError:
            raise
        except Exception as exc:
            token = f"{cb}-{id(exc)}"
            self._origins[token] = exc
            error = encode_error(exc, origin=token)
        finally:
            self._stack.pop()
        self.write({"type": "return", "cb": cb, "error": error}, f"the {kind} callback")

    # -- failures and stopping -------------------------------------------------------------

def _stop_quietly(conn: _Connection) -> None:
    conn.stop()


class RemoteAdapter(Adapter):
    """An adapter served by ``conformance.adapter_host`` in the client's own environment.

    Use a class made by :meth:`bind`. ``info`` is the host's description of the adapter it
    created (adapter, client, client_version, capabilities, stores, pid)."""

    remote_client: ClassVar[Client | None] = None
    call_timeout: ClassVar[float] = CALL_TIMEOUT
    start_timeout: ClassVar[float] = START_TIMEOUT
    echo_stderr: ClassVar[bool] = True  # copy the host's stderr to ours when it stops
    _described: ClassVar[dict[str, Any] | None] = None

    @classmethod
    def bind(cls, client: Client) -> type[RemoteAdapter]:
        """The adapter class of ``client`` (resolved: its ``info`` holds the describe reply)."""
        known = {f.name for f in fields(Capabilities)}
        caps = Capabilities(**{k: bool(v) for k, v in client.capabilities.items() if k in known})
        return type(f"Remote[{client.label}]", (cls,),
                    {"name": client.name, "client": client.client, "capabilities": caps,
                     "remote_client": client, "_described": None, "__module__": __name__})

    @classmethod
    def _client(cls) -> Client:
        if cls.remote_client is None:
            raise TypeError("RemoteAdapter needs a client: use RemoteAdapter.bind(client)")
        return cls.remote_client

    @classmethod
    def _class_call(cls, method: str, **args: Any) -> Any:
        """A classmethod of the adapter, answered by a short-lived host."""
        client = cls._client()
        conn = _Connection(client, cls.call_timeout)
        try:
            return conn.call(method, {"adapter": client.adapter, **args}, cls.start_timeout)
        finally:
            conn.stop(echo=cls.echo_stderr)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The host's description of the adapter class (asked once per class)."""
        if cls._described is None:
            cls._described = dict(cls._class_call("describe"))
        return cls._described

    @classmethod
    def overrides_store(cls) -> bool:
        """Whether the remote adapter implements store() (not the no-op default)."""
        return bool(cls.describe().get("stores"))

    @classmethod
    def client_version(cls) -> str:
        return cls._client().client_version

    @classmethod
    def check_config(cls, config: ConsumerConfig) -> None:
        cls._class_call("check_config", config=config.to_json())

    # -- one instance: one host process ----------------------------------------------------
    def __init__(self, config: ConsumerConfig) -> None:
        client = self._client()
        super().__init__(config)
        self._closed = False
        self._conn = _Connection(client, self.call_timeout)
        self._finalizer = weakref.finalize(self, _stop_quietly, self._conn)
        try:
            self.info: dict[str, Any] = self._conn.call(
                "create", {"adapter": client.adapter, "config": config.to_json()},
                self.start_timeout)
        except BaseException:
            self._stop()
            raise

    @property
    def pid(self) -> int:
        """The adapter host's process id."""
        return self._conn.proc.pid

    @property
    def process(self) -> subprocess.Popen:
        return self._conn.proc

    def _stop(self) -> None:
        self._finalizer.detach()
        self._conn.stop(echo=self.echo_stderr)

    def _call(self, method: str, wait: float | None = None, **args: Any) -> Any:
        if self._closed and self._conn.failure is None:
            raise IllegalState("the consumer is closed")
        return self._conn.call(method, args, wait)

    def subscribe(self, topics: list[str], listener: RebalanceListener) -> None:
        self._conn.listener = listener
        self._call("subscribe", topics=list(topics))

    def unsubscribe(self) -> None:
        self._call("unsubscribe")

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._call("assign", partitions=encode_tps(partitions))

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        return decode_records(self._call("poll", self.call_timeout + timeout, timeout=timeout,
                                         max_records=max_records))

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None,
               asynchronous: bool = False,
               callback: CommitCallback | None = None) -> dict[TopicPartition, int] | None:
        target = None if callback is None else self._conn.register(callback, once=True)
        result = self._call("commit", offsets=None if offsets is None
                            else encode_offsets(offsets), asynchronous=asynchronous,
                            callback=target)
        return None if result is None else decode_offsets(result)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._call("seek", topic=tp.topic, partition=tp.partition, offset=offset)

    def seek_to_end(self, tp: TopicPartition) -> None:
        self._call("seek_to_end", topic=tp.topic, partition=tp.partition)

    def position(self, tp: TopicPartition) -> int:
        return int(self._call("position", topic=tp.topic, partition=tp.partition))

    def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
        return decode_offsets(self._call("committed", partitions=encode_tps(tps)))

    def pause(self, tps: list[TopicPartition]) -> None:
        self._call("pause", partitions=encode_tps(tps))

    def resume(self, tps: list[TopicPartition]) -> None:
        self._call("resume", partitions=encode_tps(tps))

    def assignment(self) -> list[TopicPartition]:
        return decode_tps(self._call("assignment"))

    def store(self, records: list[Record]) -> dict[TopicPartition, int]:
        return decode_offsets(self._call("store", records=encode_records(records)))

    def set_auto_commit_callback(self, callback: CommitCallback) -> None:
        self._call("set_auto_commit_callback",
                   callback=self._conn.register(callback, once=False))

    def close(self) -> None:
        """Close the consumer in the host, then stop the host (also when close() fails)."""
        if self._closed:
            return
        try:
            if self._conn.failure is None:
                self._conn.call("close")  # callbacks inside it may still call the adapter
        finally:
            self._closed = True
            self._stop()

