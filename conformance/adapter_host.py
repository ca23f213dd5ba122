"""One adapter instance served over JSON lines: a plain RPC of the contract in adapters/base.py.

    python -m conformance.adapter_host

Worker side: the standard library and ``adapters`` only, so it runs in a client release's own
environment. The harness side is :class:`conformance.clients.remote.RemoteAdapter`.

Harness -> host, one JSON object per line on stdin:

- ``{"type": "call", "id": N, "method": M, "args": {...}, "in": CB}``: call ``M``; ``in`` is
  the id of the callback this call is nested in (null at top level). Before ``create`` only
  the classmethods ``describe``, ``client_version``, ``capabilities`` and ``check_config``
  (each with ``adapter``) and ``create`` (``adapter``, ``config``) are allowed.
- ``{"type": "return", "cb": CB, "error": E | null}``: the harness side's callback CB ended.

Host -> harness, on stdout (logs go to stderr):

- ``{"type": "result", "id": N, "value": V}`` or ``{"type": "error", "id": N, "error": E}``.
- ``{"type": "callback", "cb": CB, "kind": K, ...}`` while a call runs: ``on_assigned``,
  ``on_revoked``, ``on_lost`` (``partitions``) or ``commit`` (``target``: the callback id the
  harness registered, ``offsets``, ``error``). The calling thread then serves the calls nested
  in CB until CB's ``return`` arrives.

Values: partitions ``[[topic, p]]``, offsets ``[[topic, p, offset or null]]``, records
``[topic, p, offset, key, value, [[header, value]], timestamp]`` with bytes as latin-1 text
(lossless). Errors ``E``: ``{"code", "message", "retriable", "cause"}`` for a
:class:`~adapters.base.ConsumerError` (re-raised as the class with that code), else
``{"type", "message", "traceback"}`` (re-raised as :class:`RemoteError`). End of stdin: exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import select
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from adapters.base import (
    Adapter,
    ConsumerConfig,
    ConsumerError,
    Record,
    TopicPartition,
)

#: How long a callback waits for the harness side to finish it (reset by every nested call).
CALLBACK_TIMEOUT = 300.0
EOF = object()  # the end of input, returned by LineReader.readline()
CLASS_METHODS = ("describe", "client_version", "capabilities", "check_config")
#: A logging level (e.g. DEBUG) for the host's stderr; unset: Python's default (warnings).
LOG_LEVEL_ENV = "KAFKA_CONFORMANCE_HOST_LOG_LEVEL"


class RemoteError(Exception):
    """An exception other than a ConsumerError, raised on the other side of the RPC.

    ``type`` is the original exception's type name; ``origin`` identifies an exception that a
    harness-side callback raised (the harness re-raises the original object)."""

    def __init__(self, type_name: str, message: str, remote_traceback: str = "",
                 origin: str | None = None) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type = type_name
        self.message = message
        self.remote_traceback = remote_traceback
        self.origin = origin


class ProtocolError(Exception):
    """A message that does not follow this protocol."""


# -- values --------------------------------------------------------------------------------
def _bytes(value: bytes | None) -> str | None:
    return None if value is None else bytes(value).decode("latin-1")


def _unbytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode("latin-1")


def encode_records(records: Iterable[Record]) -> list[list[Any]]:
    return [[r.topic, r.partition, r.offset, _bytes(r.key), _bytes(r.value),
             [[k, _bytes(v)] for k, v in r.headers], r.timestamp] for r in records]


def decode_records(items: Iterable[list[Any]]) -> list[Record]:
    return [Record(t, int(p), int(o), _unbytes(k), _unbytes(v),
                   tuple((h, _unbytes(hv)) for h, hv in headers), ts)
            for t, p, o, k, v, headers, ts in items]


def encode_tps(tps: Iterable[TopicPartition]) -> list[list[Any]]:
    return [[tp.topic, tp.partition] for tp in tps]


def decode_tps(items: Iterable[list[Any]]) -> list[TopicPartition]:
    return [TopicPartition(t, int(p)) for t, p in items]


def encode_offsets(offsets: Mapping[TopicPartition, int | None]) -> list[list[Any]]:
    return [[tp.topic, tp.partition, o] for tp, o in offsets.items()]


def decode_offsets(items: Iterable[list[Any]]) -> dict[TopicPartition, Any]:
    return {TopicPartition(t, int(p)): None if o is None else int(o) for t, p, o in items}


# -- errors ----------------------------------------------------------------------------------
def encode_error(exc: BaseException, origin: str | None = None) -> dict[str, Any]:
    """A JSON form of ``exc``: by code for a ConsumerError, by type name otherwise."""
    if isinstance(exc, ConsumerError):
        return {"code": exc.code, "message": str(exc), "retriable": bool(exc.retriable),
                "cause": str(exc.cause or "")}
    if isinstance(exc, RemoteError):
        return {"type": exc.type, "message": exc.message, "traceback": exc.remote_traceback,
                "origin": exc.origin}
    return {"type": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)), "origin": origin}


def _error_classes() -> dict[str, type[ConsumerError]]:
    found: dict[str, type[ConsumerError]] = {}
    todo: list[type[ConsumerError]] = [ConsumerError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)  # a parent before its children: inherited codes map
        todo.extend(cls.__subclasses__())
    return found


def decode_error(data: Mapping[str, Any]) -> Exception:
    """The exception an :func:`encode_error` form stands for."""
    if "code" in data:
        cls = _error_classes().get(str(data["code"]))
        exc = (cls or ConsumerError)(str(data.get("message", "")),
                                     retriable=bool(data.get("retriable")),
                                     cause=str(data.get("cause") or ""))
        if cls is None:
            exc.code = str(data["code"])  # an adapter's own code, kept as ConsumerError
        return exc
    return RemoteError(str(data.get("type", "Exception")), str(data.get("message", "")),
                       str(data.get("traceback") or ""), data.get("origin"))


# -- the host --------------------------------------------------------------------------------
class _Listener:
    """The contract's listener, forwarded to the harness side as callbacks."""

    def __init__(self, host: Host) -> None:
        self._host = host

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        self._host.callback("on_assigned", partitions=encode_tps(partitions))

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        self._host.callback("on_revoked", partitions=encode_tps(partitions))

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self._host.callback("on_lost", partitions=encode_tps(partitions))


class LineReader:
    """Lines from a file descriptor, read by the calling thread with a timeout (no reader
    thread: a reply wakes its waiter directly, which keeps calls as close together as the
    caller makes them)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.eof = False

    def readline(self, timeout: float | None) -> str | object | None:
        """The next line; None when none arrived within ``timeout``; ``EOF`` at the end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line.decode("utf-8", "replace")
            if self.eof:
                return EOF
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 16)
            if chunk:
                self.buffer += chunk
            else:
                self.eof = True



class Host:
    """Serves one adapter: calls run in the main thread, or in the thread of the callback they
    are nested in; callbacks may come from any thread the adapter uses. Whichever thread waits
    for a message reads stdin itself (one at a time) and hands others theirs."""

    def __init__(self, out: TextIO, callback_timeout: float = CALLBACK_TIMEOUT,
                 fd: int = 0) -> None:
        self.out = out
        self.callback_timeout = callback_timeout
        self.lock = threading.Lock()
        self.read_lock = threading.Lock()
        self.reader = LineReader(fd)
        self.adapter: Adapter | None = None
        self.boxes: dict[int | None, queue.Queue[Any]] = {None: queue.Queue()}  # None: top
        self.next_cb = 0
        self.eof = False

    # -- output ----------------------------------------------------------------------------
    def send(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, separators=(",", ":"))
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    # -- input: each message goes to the thread that waits for it ----------------------------
    def receive(self, box: int | None, timeout: float | None) -> Any:
        """The next message for ``box`` (top-level calls, or a running callback's nested calls
        and return); EOF at the end of input; queue.Empty after ``timeout`` seconds."""
        mine = self.boxes[box]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with contextlib.suppress(queue.Empty):
                return mine.get_nowait()
            if self.eof:
                return EOF
            step = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if step <= 0:
                raise queue.Empty
            if not self.read_lock.acquire(timeout=step):
                with contextlib.suppress(queue.Empty):
                    return mine.get(timeout=step)
                continue
            try:
                if not mine.empty():
                    continue
                line = self.reader.readline(step)
                if line is None:
                    continue
                if line is EOF:
                    self._end()
                    return EOF
                msg = self._parse(str(line))
                target = None if msg is None else self._route(msg)
                if target is None:
                    continue
                if target is mine:
                    return msg
                target.put(msg)
            finally:
                self.read_lock.release()

    def _parse(self, line: str) -> dict[str, Any] | None:
        if not line.strip():
            return None
        try:
            msg = json.loads(line)
        except ValueError as exc:
            self._protocol_error(None, f"not JSON: {exc}")
            return None
        if not isinstance(msg, dict):
            self._protocol_error(None, "a message must be a JSON object")
            return None
        return msg

    def _route(self, msg: dict[str, Any]) -> queue.Queue[Any] | None:
        kind = msg.get("type")
        try:
            if kind == "call":
                key = msg.get("in")
                what = f"call {msg.get('id')} is nested in callback {key}"
            elif kind == "return":
                key = msg.get("cb")
                what = f"return of callback {key}"
            else:
                raise ProtocolError(f"unknown message type {kind!r}")
            with self.lock:
                target = self.boxes.get(None if key is None else int(key))
            if target is None or (kind == "return" and key is None):
                raise ProtocolError(f"{what}, which is not running")
            return target
        except (ProtocolError, ValueError, TypeError) as exc:
            self._protocol_error(msg.get("id"), str(exc))
            return None

    def _protocol_error(self, msg_id: Any, message: str) -> None:
        self.send({"type": "error", "id": msg_id,
                   "error": encode_error(ProtocolError(message))})

    def _end(self) -> None:
        with self.lock:
            self.eof = True
            boxes = list(self.boxes.values())
        for box in boxes:
            box.put(EOF)

    def serve(self) -> int:
        while True:
            msg = self.receive(None, None)
            if msg is EOF:
                return 0
            self.execute(msg)

    # -- callbacks to the harness side -------------------------------------------------------
    def callback(self, kind: str, **data: Any) -> None:
        """Run a callback on the harness side; serve its nested calls until it returns."""
        with self.lock:
            if self.eof:
                raise RemoteError("ConnectionError", "the harness side is gone")
            cb = self.next_cb
            self.next_cb += 1
            self.boxes[cb] = queue.Queue()
        try:
            self.send({"type": "callback", "cb": cb, "kind": kind, **data})
            while True:
                try:
                    msg = self.receive(cb, self.callback_timeout)
                except queue.Empty:
                    raise RemoteError("TimeoutError", f"the harness side did not finish the "
                                      f"{kind} callback within {self.callback_timeout:.0f} s"
                                      ) from None
                if msg is EOF:
                    raise RemoteError("ConnectionError",
                                      f"the harness side went away during the {kind} callback")
                if msg["type"] == "return":
                    if msg.get("error"):
                        raise decode_error(msg["error"])
                    return
                self.execute(msg)
        finally:
            with self.lock:
                self.boxes.pop(cb, None)

    def commit_callback(self, target: int) -> Callable[[dict[TopicPartition, int],
                                                        ConsumerError | None], None]:
        def report(offsets: dict[TopicPartition, int], error: ConsumerError | None) -> None:
            self.callback("commit", target=target, offsets=encode_offsets(offsets),
                          error=None if error is None else encode_error(error))

        return report

    # -- calls -----------------------------------------------------------------------------
    def execute(self, msg: dict[str, Any]) -> None:
        msg_id = msg.get("id")
        try:
            method = msg.get("method")
            handler = getattr(self, f"do_{method}", None) if isinstance(method, str) else None
            if handler is None:
                raise ProtocolError(f"unknown method {method!r}")
            if self.adapter is None and method not in (*CLASS_METHODS, "create"):
                raise ProtocolError(f"{method}: no adapter yet (the first call is 'create')")
            value = handler(msg.get("args") or {})
        except BaseException as exc:
            if not isinstance(exc, ConsumerError | RemoteError | ProtocolError):
                traceback.print_exc(file=sys.stderr)
            self.send({"type": "error", "id": msg_id, "error": encode_error(exc)})
            if not isinstance(exc, Exception):
                raise
            return
        self.send({"type": "result", "id": msg_id, "value": value})

    @staticmethod
    def _class(args: Mapping[str, Any]) -> type[Adapter]:
        from adapters.registry import load

        return load(str(args.get("adapter", "")))

    def do_describe(self, args: Mapping[str, Any]) -> dict[str, Any]:
        cls = self._class(args)
        return {"adapter": cls.name, "client": cls.client, "client_version": cls.client_version(),
                "capabilities": cls.capabilities.to_json(),
                "stores": cls.store is not Adapter.store, "pid": os.getpid(),
                "python": sys.version.split()[0]}

    def do_client_version(self, args: Mapping[str, Any]) -> str:
        return self._class(args).client_version()

    def do_capabilities(self, args: Mapping[str, Any]) -> dict[str, bool]:
        return self._class(args).capabilities.to_json()

    def do_check_config(self, args: Mapping[str, Any]) -> None:
        self._class(args).check_config(ConsumerConfig.from_json(args["config"]))

    def do_create(self, args: Mapping[str, Any]) -> dict[str, Any]:
        if self.adapter is not None:
            raise ProtocolError("create: this host already serves an adapter")
        cls = self._class(args)
        self.adapter = cls(ConsumerConfig.from_json(args["config"]))
        return self.do_describe(args)

    def do_subscribe(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.subscribe(list(args["topics"]), _Listener(self))

    def do_unsubscribe(self, _args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.unsubscribe()

    def do_assign(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.assign(decode_tps(args["partitions"]))

    def do_poll(self, args: Mapping[str, Any]) -> list[list[Any]]:
        assert self.adapter is not None
        return encode_records(self.adapter.poll(float(args["timeout"]),
                                                int(args.get("max_records", 500))))

    def do_commit(self, args: Mapping[str, Any]) -> list[list[Any]] | None:
        assert self.adapter is not None
        raw = args.get("offsets")
        target = args.get("callback")
        result = self.adapter.commit(None if raw is None else decode_offsets(raw),
                                     asynchronous=bool(args.get("asynchronous")),
                                     callback=None if target is None
                                     else self.commit_callback(int(target)))
        return None if result is None else encode_offsets(result)

    def do_seek(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.seek(TopicPartition(args["topic"], int(args["partition"])),
                          int(args["offset"]))

    def do_seek_to_end(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.seek_to_end(TopicPartition(args["topic"], int(args["partition"])))

    def do_position(self, args: Mapping[str, Any]) -> int:
        assert self.adapter is not None
        return self.adapter.position(TopicPartition(args["topic"], int(args["partition"])))

    def do_committed(self, args: Mapping[str, Any]) -> list[list[Any]]:
        assert self.adapter is not None
        return encode_offsets(self.adapter.committed(decode_tps(args["partitions"])))

    def do_pause(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.pause(decode_tps(args["partitions"]))

    def do_resume(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.resume(decode_tps(args["partitions"]))

    def do_assignment(self, args: Mapping[str, Any]) -> list[list[Any]]:
        assert self.adapter is not None
        return encode_tps(self.adapter.assignment())

    def do_store(self, args: Mapping[str, Any]) -> list[list[Any]]:
        assert self.adapter is not None
        return encode_offsets(self.adapter.store(decode_records(args["records"])))

    def do_set_auto_commit_callback(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.set_auto_commit_callback(self.commit_callback(int(args["callback"])))

    def do_close(self, args: Mapping[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.adapter_host")
    parser.add_argument("--callback-timeout", type=float, default=CALLBACK_TIMEOUT,
                        help="seconds a callback waits for the harness side")
    args = parser.parse_args(argv)
    # Nothing but protocol lines may reach the real stdout: keep a private copy of it and point
    # file descriptor 1 (Python prints and C libraries alike) at stderr.
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if os.environ.get(LOG_LEVEL_ENV):
        logging.basicConfig(stream=sys.stderr, level=os.environ[LOG_LEVEL_ENV].upper(),
                            format="%(asctime)s %(threadName)s %(name)s %(levelname)s "
                                   "%(message)s")
    host = Host(out, args.callback_timeout, sys.stdin.fileno())
    code = host.serve()
    with contextlib.suppress(Exception):
        out.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
