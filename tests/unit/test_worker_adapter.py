"""WorkerAdapter (conformance/clients/worker_adapter.py) against a scripted fake worker: events
drive the listener and commit callbacks in order, error codes become the contract's exceptions,
a call inside a callback is Unsupported, and a closed adapter refuses calls."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from adapters.base import (
    CommitFailed,
    ConsumerConfig,
    IllegalState,
    NoOffsetForPartition,
    Record,
    TopicPartition,
    Unsupported,
)
from conformance.clients.client import Client
from conformance.clients.spec import ClientSpec
from conformance.clients.worker_adapter import WorkerAdapter

FAKE = textwrap.dedent('''
    import json, sys
    def out(obj):
        sys.stdout.write(json.dumps({"ts": 0.0, "source": "m", **obj}) + "\\n")
        sys.stdout.flush()
    pending = []
    for line in sys.stdin:
        msg = json.loads(line)
        kind, mid = msg["type"], msg["msg_id"]
        ok = {"type": kind + "_ok", "in_reply_to": mid}
        for obj in pending:
            out(obj)
        pending = []
        if kind == "poll":
            out({"type": "assigned", "partitions": [["t", 0]]})
            out({**ok, "records": [["t", 0, 5, "k"]]})
        elif kind == "commit" and msg["asynchronous"]:
            out({**ok, "offsets": None})
            pending.append({"type": "committed", "mode": "async", "ok": True,
                            "offsets": [["t", 0, 6]], "error": None})
        elif kind == "commit":
            out({"type": "committed", "mode": "sync", "ok": False, "offsets": [], "error": "x"})
            out({"type": "error", "in_reply_to": mid, "code": "commit-failed",
                 "message": "removed", "fatal": False})
        elif kind == "position":
            out({"type": "error", "in_reply_to": mid, "code": "no-offset-for-partition",
                 "message": "none", "fatal": False})
        elif kind == "seek_to_end" and msg["partition"] != 0:
            out({"type": "error", "in_reply_to": mid, "code": "illegal-state",
                 "message": "not assigned", "fatal": False})
        elif kind == "unsubscribe":
            out({"type": "revoked", "partitions": [["t", 0]]})
            out(ok)
        elif kind == "close":
            out({"type": "closed"})
            out(ok)
            break
        else:
            out(ok)
''')


def _fake(tmp_path: Path, **capabilities: bool) -> WorkerAdapter:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE)
    client = Client(ClientSpec("fake"), "", command=(sys.executable, str(script)),
                    info={"adapter": "fake", "client": "fake", "client_version": "1.0",
                          "capabilities": {"manual_assignment": True, **capabilities}})
    return WorkerAdapter.bind(client)(ConsumerConfig("127.0.0.1:9", group_id="g"))


@pytest.fixture
def adapter(tmp_path: Path) -> WorkerAdapter:
    made = _fake(tmp_path)
    yield made
    made.close()


class Listener:
    def __init__(self, adapter: WorkerAdapter) -> None:
        self.adapter = adapter
        self.events: list[tuple[str, list[TopicPartition]]] = []
        self.nested: list[Exception] = []

    def on_assigned(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("assigned", partitions))
        try:
            self.adapter.commit({TopicPartition("t", 0): 1})
        except Unsupported as exc:
            self.nested.append(exc)

    def on_revoked(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("revoked", partitions))

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("lost", partitions))


def test_events_errors_and_callbacks(adapter: WorkerAdapter) -> None:
    tp = TopicPartition("t", 0)
    listener = Listener(adapter)
    adapter.subscribe(["t"], listener)
    assert adapter.poll(0.1) == [Record("t", 0, 5, b"k", None)]
    assert listener.events == [("assigned", [tp])]
    assert len(listener.nested) == 1  # a call inside a callback cannot be expressed
    results: list[object] = []
    assert adapter.commit({tp: 6}, asynchronous=True,
                          callback=lambda o, e: results.append((o, e))) is None
    assert results == []
    adapter.poll(0.1)  # the committed event arrives with the next command
    assert results == [({tp: 6}, None)]
    with pytest.raises(CommitFailed):
        adapter.commit({tp: 6})
    with pytest.raises(NoOffsetForPartition):
        adapter.position(tp)
    adapter.close()
    adapter.close()  # twice: harmless
    with pytest.raises(IllegalState):
        adapter.poll(0.1)


def test_a_groupless_consumer_needs_manual_assignment(tmp_path: Path) -> None:
    client = Client(ClientSpec("fake"), "", command=(sys.executable, "-c", "pass"),
                    info={"capabilities": {"manual_assignment": False}})
    with pytest.raises(Unsupported):
        WorkerAdapter.bind(client)(ConsumerConfig("127.0.0.1:9"))


def test_unsubscribe_is_sent_only_when_the_worker_has_it(adapter: WorkerAdapter,
                                                         tmp_path: Path) -> None:
    listener = Listener(adapter)
    adapter.subscribe(["t"], listener)
    with pytest.raises(Unsupported):  # capability unsubscribe false: nothing is sent
        adapter.unsubscribe()
    assert listener.events == []
    able = _fake(tmp_path, unsubscribe=True)
    try:
        heard = Listener(able)
        able.subscribe(["t"], heard)
        able.unsubscribe()  # the worker's revoked event reaches the listener during the call
        assert heard.events == [("revoked", [TopicPartition("t", 0)])]
    finally:
        able.close()


def test_seek_to_end_is_sent_only_when_the_worker_has_it(adapter: WorkerAdapter,
                                                         tmp_path: Path) -> None:
    with pytest.raises(Unsupported):  # capability seek_to_end false: nothing is sent
        adapter.seek_to_end(TopicPartition("t", 0))
    able = _fake(tmp_path, seek_to_end=True)
    try:
        able.seek_to_end(TopicPartition("t", 0))
        with pytest.raises(IllegalState):  # the worker's error reply, for its partition
            able.seek_to_end(TopicPartition("t", 1))
    finally:
        able.close()
