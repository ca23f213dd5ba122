"""One consumer in its own OS process, driven over JSON lines (docs/worker-protocol.md).

    python -m conformance.worker --id m1 [--adapter NAME]

Commands arrive one JSON object per line on stdin; replies and events leave one JSON object per
line on stdout; logs go to stderr only. A SIGKILL is a real crash: no final commit, no close.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from adapters.base import (
    Adapter,
    ConsumerConfig,
    ConsumerError,
    Record,
    TopicPartition,
)
from conformance.calls import CallWatch, Watched
from conformance.errors import ConformanceError, UnknownAdapter
from conformance.strategies import CommitClock, Strategy


class ProtocolError(Exception):
    """A command that does not follow the protocol."""


def _key(record: Record) -> str | None:
    if record.key is None:
        return None
    try:
        return record.key.decode()
    except UnicodeDecodeError:
        return record.key.hex()


def _rec(record: Record) -> list[Any]:
    return [record.topic, record.partition, record.offset, _key(record)]


def _tps(items: list[TopicPartition]) -> list[list[Any]]:
    return [[tp.topic, tp.partition] for tp in sorted(items)]


class Worker:
    """Executes commands against one adapter and reports every event."""

    def __init__(self, member: str, out: TextIO) -> None:
        self.member = member
        self.out = out
        self.lock = threading.Lock()
        self.adapter: Adapter | None = None
        #: every call into the client is watched: one that never returns is reported
        self.watch = CallWatch(self.emit)
        self.strategy = Strategy()
        self.clock = CommitClock(self.strategy)
        self.max_records = 100
        self.owned: set[TopicPartition] = set()
        self.processed_next: dict[TopicPartition, int] = {}  # uncommitted: last processed + 1
        self.polled_next: dict[TopicPartition, int] = {}
        self.running = False
        self.poll_timeout = 0.1
        self.pool: ThreadPoolExecutor | None = None
        self.done = False

    @property
    def adapter_cls(self) -> type[Adapter]:
        """The adapter's class (under the watch)."""
        adapter = self.adapter.wrapped if isinstance(self.adapter, Watched) else self.adapter
        return type(adapter) if adapter is not None else Adapter

    # -- output ----------------------------------------------------------------------------
    def write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, separators=(",", ":"))
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def emit(self, type_: str, **data: Any) -> None:
        self.write({"type": type_, "ts": time.monotonic(), "source": self.member, **data})

    def reply(self, msg: dict[str, Any], **data: Any) -> None:
        self.write({"type": f"{msg['type']}_ok", "in_reply_to": msg.get("msg_id"),
                    "ts": time.monotonic(), "source": self.member, **data})

    def reply_error(self, msg: dict[str, Any] | None, code: str, message: str,
                    fatal: bool = False, retriable: bool = False) -> None:
        self.write({"type": "error", "in_reply_to": (msg or {}).get("msg_id"),
                    "ts": time.monotonic(), "source": self.member, "code": code,
                    "message": message, "fatal": fatal, "retriable": retriable})

    # -- listener (called by the adapter inside poll/close/commit) ---------------------------
    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        self.owned |= set(partitions)
        self.emit("assigned", partitions=_tps(partitions))

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        self.emit("revoked", partitions=_tps(partitions))
        if self.strategy.commit_on_revoke and self.adapter is not None:
            offsets = {tp: o for tp, o in self.processed_next.items() if tp in partitions}
            if offsets:
                self._commit(offsets, mode="revoke", asynchronous=False)
        self._forget(partitions)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.emit("lost", partitions=_tps(partitions))
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.owned.discard(tp)
            self.processed_next.pop(tp, None)
            self.polled_next.pop(tp, None)

    # -- commits ---------------------------------------------------------------------------
    def _offsets_json(self, offsets: dict[TopicPartition, int]) -> list[list[Any]]:
        return [[tp.topic, tp.partition, o] for tp, o in sorted(offsets.items())]

    def _commit(self, offsets: dict[TopicPartition, int] | None, mode: str,
                asynchronous: bool, reraise: bool = False) -> dict[TopicPartition, int] | None:
        assert self.adapter is not None
        extra = {} if offsets is not None else {"tracked": self._offsets_json(self._tracked())}
        self.emit("commit_requested", mode=mode,
                  offsets=None if offsets is None else self._offsets_json(offsets), **extra)
        if asynchronous:
            def done(result: dict[TopicPartition, int], error: ConsumerError | None) -> None:
                self._report_commit(mode, result, error)

            try:
                self.adapter.commit(offsets, asynchronous=True, callback=done)
            except ConsumerError as exc:
                self._report_commit(mode, offsets or {}, exc)
                if reraise:
                    raise
            self.clock.committed()
            return None
        try:
            result = self.adapter.commit(offsets, asynchronous=False)
        except ConsumerError as exc:
            self._report_commit(mode, offsets or {}, exc)
            if reraise:
                raise
            return None
        self._report_commit(mode, result or offsets or {}, None)
        self.clock.committed()
        return result

    def _tracked(self) -> dict[TopicPartition, int]:
        """What a commit without offsets may write for the owned partitions: the stored
        (processed) offsets of a ``stores_processed`` adapter, else the positions after what
        poll() returned."""
        assert self.adapter is not None
        stored = self.adapter_cls.capabilities.stores_processed
        source = self.processed_next if stored else self.polled_next
        return {tp: o for tp, o in source.items() if tp in self.owned}

    def _report_commit(self, mode: str, offsets: dict[TopicPartition, int],
                       error: ConsumerError | None) -> None:
        self.emit("committed", mode=mode, ok=error is None, offsets=self._offsets_json(offsets),
                  error=None if error is None else f"{error.code}: {error}")

    def _auto_committed(self, offsets: dict[TopicPartition, int],
                        error: ConsumerError | None) -> None:
        self._report_commit("auto", offsets, error)

    def commit_processed(self, mode: str) -> None:
        offsets = {tp: o for tp, o in self.processed_next.items() if tp in self.owned}
        if offsets:
            self._commit(None if self._without_offsets(offsets) else offsets, mode=mode,
                         asynchronous=self.strategy.asynchronous)

    def _without_offsets(self, processed: dict[TopicPartition, int]) -> bool:
        """Whether this commit goes without offsets (strategy ``explicit=False``): always
        where the adapter stores processed offsets, else only when every polled record is
        processed (the client's positions are then the processed offsets)."""
        if self.strategy.explicit or self.adapter is None:
            return False
        if self.adapter_cls.capabilities.stores_processed:
            return True
        return all(processed.get(tp) == o for tp, o in self.polled_next.items()
                   if tp in self.owned)

    # -- the poll loop ---------------------------------------------------------------------
    def poll_once(self, timeout: float, max_records: int, process: bool = True) -> list[Record]:
        assert self.adapter is not None
        if process and self.clock.before_poll():
            self.commit_processed("manual")
        records = self.adapter.poll(timeout, max_records)
        if not records:
            return records
        recs = [_rec(r) for r in records]
        polled_next = self.polled_next
        for r in records:
            polled_next[TopicPartition(r.topic, r.partition)] = r.offset + 1
        self.emit("polled", records=recs)
        if process:
            if self.strategy.processing == "pool":
                self._process_in_pool(records)
            else:
                self._process_in_loop(records, recs)
        return records

    def _work(self) -> None:
        if self.strategy.process_ms > 0:
            time.sleep(self.strategy.process_ms / 1000.0)

    def _process_in_loop(self, records: list[Record], recs: list[list[Any]]) -> None:
        """Process records one by one; each is reported as ``processed`` as soon as its work
        is done (with simulated work), so a crash mid-batch leaves an exact trace."""
        assert self.adapter is not None
        per_record = self.strategy.process_ms > 0
        done: list[list[Any]] = []
        finished: list[Record] = []

        def flush() -> None:
            nonlocal done, finished
            if done:
                self.emit("processed", records=done)
                self.adapter.store(finished)  # type: ignore[union-attr]
                done, finished = [], []

        owned, processed_next = self.owned, self.processed_next
        work = self.strategy.process_ms > 0
        for r, rec in zip(records, recs, strict=True):
            tp = TopicPartition(r.topic, r.partition)
            if tp not in owned:
                continue  # revoked while this batch was in hand: not ours to process
            if work:
                self._work()
            done.append(rec)
            finished.append(r)
            processed_next[tp] = r.offset + 1
            commit_now = self.clock.after_record()
            if per_record or commit_now:
                flush()
            if commit_now:
                self.commit_processed(self.strategy.name.lower())
        flush()
        if self.clock.after_batch():
            self.commit_processed("batch")

    def _process_in_pool(self, records: list[Record]) -> None:
        """S6: hand records to a thread pool and commit what was polled, not what finished."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="proc")

        def process(r: Record) -> None:
            time.sleep(random.uniform(0, max(self.strategy.process_ms, 1.0) * 4) / 1000.0)
            self.emit("processed", records=[_rec(r)])

        for r in records:
            self.pool.submit(process, r)
        offsets = {tp: o for tp, o in self.polled_next.items() if tp in self.owned}
        if offsets and self.strategy.name != "auto":
            self._commit(offsets, mode="batch", asynchronous=self.strategy.asynchronous)

    # -- commands --------------------------------------------------------------------------
    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        handler = getattr(self, f"cmd_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            raise ProtocolError(f"unknown command type {kind!r}")
        if kind not in ("init", "describe") and self.adapter is None:
            raise ProtocolError("the first command must be 'init'")
        handler(msg)

    def cmd_describe(self, msg: dict[str, Any]) -> None:
        """The adapter's client, release and capabilities, and per config in ``configs`` why
        it is unsupported (null where it runs); no consumer is created."""
        from adapters.base import Unsupported
        from adapters.registry import available, load

        name = str(msg.get("adapter", ""))
        cls = load(name)
        reasons: list[str | None] = []
        for raw in msg.get("configs") or []:
            try:
                cls.check_config(ConsumerConfig.from_json(raw))
                reasons.append(None)
            except Unsupported as exc:
                reasons.append(str(exc))
        variants = sorted(n for n in available() if n.startswith(f"{name}:")) \
            if ":" not in name else []
        self.reply(msg, adapter=cls.name, client=cls.client,
                   client_version=cls.client_version(),
                   capabilities=_capabilities(cls), unsupported=reasons,
                   variants=variants,
                   python=sys.version.split()[0], executable=sys.executable)

    def cmd_init(self, msg: dict[str, Any]) -> None:
        from adapters.registry import load

        if self.adapter is not None:
            raise ProtocolError("init was already done")
        cls = load(str(msg.get("adapter", "")))
        config = ConsumerConfig.from_json(msg.get("config") or {})
        self.strategy = Strategy.from_json(msg.get("strategy") or {})
        if self.strategy.auto_commit:
            config.enable_auto_commit = True
        self.clock = CommitClock(self.strategy)
        self.max_records = int(msg.get("max_records", config.max_poll_records))
        cls.check_config(config)
        self.adapter = Watched(cls(config), self.watch)  # type: ignore[assignment]
        self.adapter.set_auto_commit_callback(self._auto_committed)
        info = {"adapter": cls.name, "client": cls.client,
                "client_version": cls.client_version(),
                "capabilities": _capabilities(cls), "pid": os.getpid()}
        self.emit("ready", **info)
        self.reply(msg, **info)

    def cmd_subscribe(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.subscribe(list(msg["topics"]), self)
        self.reply(msg)

    def cmd_unsubscribe(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        self.adapter.unsubscribe()
        self.emit("unsubscribed")
        self.reply(msg)

    def cmd_assign(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        tps = [TopicPartition(t, int(p)) for t, p in msg["partitions"]]
        self.adapter.assign(tps)
        self.owned = set(tps)
        self.emit("assigned", partitions=_tps(tps), manual=True)
        self.reply(msg)

    def cmd_poll(self, msg: dict[str, Any]) -> None:
        records = self.poll_once(float(msg.get("timeout", 1.0)),
                                 int(msg.get("max_records", self.max_records)),
                                 bool(msg.get("process", True)))
        self.reply(msg, records=[_rec(r) for r in records])

    def cmd_run(self, msg: dict[str, Any]) -> None:
        self.poll_timeout = float(msg.get("poll_timeout", 0.1))
        self.running = True
        self.reply(msg)

    def cmd_halt(self, msg: dict[str, Any]) -> None:
        self.running = False
        self.reply(msg)

    def cmd_commit(self, msg: dict[str, Any]) -> None:
        raw = msg.get("offsets")
        offsets = None if raw is None else {TopicPartition(t, int(p)): int(o) for t, p, o in raw}
        if raw is None and msg.get("processed", False):
            offsets = {tp: o for tp, o in self.processed_next.items() if tp in self.owned}
            if not offsets:  # nothing processed since the last assignment or seek
                self.reply(msg, offsets=[])
                return
        result = self._commit(offsets, mode="sync" if not msg.get("asynchronous") else "async",
                              asynchronous=bool(msg.get("asynchronous")), reraise=True)
        self.reply(msg, offsets=None if result is None else self._offsets_json(result))

    def cmd_seek(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        tp = TopicPartition(msg["topic"], int(msg["partition"]))
        self.adapter.seek(tp, int(msg["offset"]))
        self.processed_next.pop(tp, None)
        self.emit("seeked", topic=tp.topic, partition=tp.partition, offset=int(msg["offset"]))
        self.reply(msg)

    def cmd_seek_to_end(self, msg: dict[str, Any]) -> None:
        """The client's own seek to the end; ``seeked`` carries the end the harness read
        just before (``end``), where the next record must follow, else the position after."""
        assert self.adapter is not None
        tp = TopicPartition(msg["topic"], int(msg["partition"]))
        self.adapter.seek_to_end(tp)
        self.processed_next.pop(tp, None)
        end = msg.get("end")
        self.emit("seeked", topic=tp.topic, partition=tp.partition, to="end",
                  offset=int(end) if end is not None else self.adapter.position(tp))
        self.reply(msg)

    def cmd_position(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        tp = TopicPartition(msg["topic"], int(msg["partition"]))
        self.reply(msg, offset=self.adapter.position(tp))

    def cmd_committed(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        tps = [TopicPartition(t, int(p)) for t, p in msg["partitions"]]
        res = self.adapter.committed(tps)
        self.reply(msg, offsets=[[tp.topic, tp.partition, o] for tp, o in sorted(res.items())])

    def cmd_pause(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        tps = [TopicPartition(t, int(p)) for t, p in msg["partitions"]]
        self.adapter.pause(tps)
        self.emit("paused", partitions=_tps(tps))
        self.reply(msg)

    def cmd_resume(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        tps = [TopicPartition(t, int(p)) for t, p in msg["partitions"]]
        self.adapter.resume(tps)
        self.emit("resumed", partitions=_tps(tps))
        self.reply(msg)

    def cmd_assignment(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        self.reply(msg, partitions=_tps(self.adapter.assignment()))

    def cmd_close(self, msg: dict[str, Any]) -> None:
        assert self.adapter is not None
        self.running = False
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        if msg.get("commit", False):
            self.commit_processed("close")
        self.adapter.close()
        self.emit("closed")
        self.reply(msg)
        self.done = True

    # -- main loop -------------------------------------------------------------------------
    def execute(self, msg: Any) -> None:
        try:
            if not isinstance(msg, dict):
                raise ProtocolError("a command must be a JSON object with a 'type'")
            self.handle(msg)
        except ProtocolError as exc:
            self.reply_error(msg if isinstance(msg, dict) else None, "malformed-command", str(exc))
        except ConsumerError as exc:
            self.reply_error(msg, exc.code, str(exc), retriable=exc.retriable)
        except ConformanceError as exc:
            code = "unknown-adapter" if isinstance(exc, UnknownAdapter) else "usage-error"
            self.reply_error(msg, code, str(exc), fatal=self.adapter is None)
        except (KeyError, TypeError, ValueError) as exc:
            self.reply_error(msg, "malformed-command", f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.reply_error(msg, "adapter-error", f"{type(exc).__name__}: {exc}")

    def serve(self, commands: queue.Queue) -> int:
        while not self.done:
            try:
                item = commands.get(timeout=None if not self.running else 0.0)
            except queue.Empty:
                item = None
            if item is not None:
                if item is EOFError:
                    return 0
                self.execute(item)
                continue
            if self.running:
                try:
                    self.poll_once(self.poll_timeout, self.max_records)
                except ConsumerError as exc:
                    self.emit("error", code=exc.code, message=str(exc), fatal=False)
                except Exception as exc:
                    traceback.print_exc(file=sys.stderr)
                    self.emit("error", code="adapter-error", message=f"{type(exc).__name__}: "
                              f"{exc}", fatal=False)
                    self.running = False
        return 0


def _read_commands(stream: TextIO, commands: queue.Queue, worker: Worker) -> None:
    for line in stream:
        line = line.strip()
        if not line:
            continue
        try:
            commands.put(json.loads(line))
        except json.JSONDecodeError as exc:
            worker.reply_error(None, "malformed-command", f"not JSON: {exc.msg}")
    commands.put(EOFError)


def _capabilities(cls: type[Adapter]) -> dict[str, bool]:
    """The adapter's capabilities, and what this worker adds to every adapter: commits without
    offsets under a strategy (``Strategy.explicit=False``), and a watch over every client call
    (``reports_calls``: ``call_outstanding`` events, :mod:`conformance.calls`)."""
    return {**cls.capabilities.to_json(), "commit_without_offsets": True, "reports_calls": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.worker")
    parser.add_argument("--id", default="m1", help="member id, the 'source' of every event")
    args = parser.parse_args(argv)
    # Nothing but protocol lines may reach the real stdout: keep a private copy of it for the
    # protocol and point file descriptor 1 (Python prints and C libraries alike) at stderr.
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker(args.id, out)
    commands: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_commands, args=(sys.stdin, commands, worker),
                              daemon=True)
    reader.start()
    code = worker.serve(commands)
    with contextlib.suppress(Exception):
        out.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
