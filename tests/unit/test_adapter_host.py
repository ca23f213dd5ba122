"""The adapter host RPC (conformance/adapter_host.py, conformance/clients/remote.py) with the
in-memory fakes of tests/remote_fakes.py: no broker, real host processes."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from adapters.base import (
    CommitFailed,
    ConsumerConfig,
    ConsumerError,
    FencedMember,
    IllegalState,
    NoOffsetForPartition,
    TopicPartition,
    Unsupported,
)
from conformance.adapter_host import RemoteError, decode_error, encode_error
from conformance.clients import Client, ClientSpec
from conformance.clients.remote import AdapterHostError, RemoteAdapter

FAKES = Path(__file__).resolve().parent.parent / "remote_fakes.py"
T0, T1 = TopicPartition("t", 0), TopicPartition("t", 1)
ALL_BYTES = bytes(range(256))


def _client(cls_name: str = "FakeAdapter") -> Client:
    ref = f"{FAKES}:{cls_name}"
    return Client(ClientSpec(ref), sys.executable,
                  info={"adapter": "fake", "client": "fake-client", "client_version": "0.0.1",
                        "capabilities": {"cooperative": True, "on_lost": True}})


def _hosts() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True)
            if "conformance.adapter_host" in " ".join(p.cmdline())]


@pytest.fixture(autouse=True)
def no_host_left_behind() -> Iterator[None]:
    yield
    gc.collect()
    deadline = time.monotonic() + 5
    while _hosts() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _hosts(), "an adapter host outlived its test"


@pytest.fixture
def fake() -> type[RemoteAdapter]:
    return RemoteAdapter.bind(_client())


def make(cls: type[RemoteAdapter], **extra: Any) -> RemoteAdapter:
    return cls(ConsumerConfig("unused:9092", group_id="g", extra=extra))


class Recorder:
    """A listener that records calls and, in on_revoked, commits through the adapter."""

    def __init__(self, adapter: RemoteAdapter | None = None, raise_in: str = "",
                 error: Exception | None = None) -> None:
        self.adapter = adapter
        self.events: list[tuple[str, list[TopicPartition]]] = []
        self.commits: list[Any] = []
        self.async_results: list[Any] = []
        self.raise_in, self.error = raise_in, error

    def _event(self, kind: str, tps: list[TopicPartition]) -> None:
        self.events.append((kind, tps))
        if kind == self.raise_in and self.error is not None:
            raise self.error

    def on_assigned(self, tps: list[TopicPartition]) -> None:
        self._event("assigned", tps)

    def on_revoked(self, tps: list[TopicPartition]) -> None:
        self._event("revoked", tps)
        if self.adapter is not None:
            self.commits.append(self.adapter.commit({tp: 2 for tp in tps}))
            # a callback inside a call inside a callback
            self.adapter.commit({T0: 3}, asynchronous=True,
                                callback=lambda o, e: self.async_results.append((o, e)))
            self.commits.append(self.adapter.committed([T0, T1]))

    def on_lost(self, tps: list[TopicPartition]) -> None:
        self._event("lost", tps)


# -- values and calls ---------------------------------------------------------------------
def test_every_call_round_trips_and_bytes_are_lossless(fake) -> None:
    adapter = make(fake)
    assert adapter.info["adapter"] == "fake" and adapter.info["stores"] is True
    assert adapter.info["pid"] == adapter.pid != 0
    rec = Recorder()
    adapter.subscribe(["t"], rec)
    records = adapter.poll(0.1, 4)
    assert rec.events == [("assigned", [T0, T1])]
    assert [(r.partition, r.offset) for r in records] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    first, second = records[:2]
    assert first.key is None and first.value == ALL_BYTES and first.timestamp == 1000
    assert second.key == ALL_BYTES and second.value == ALL_BYTES[1:]
    assert first.headers == (("h", ALL_BYTES), ("n", None))
    assert adapter.store(records) == {T0: 3, T1: 1}
    assert adapter.position(T0) == 3
    adapter.seek(T0, 1)
    assert adapter.position(T0) == 1
    assert adapter.commit() == {T0: 1, T1: 1}
    assert adapter.commit({T1: 7}) == {T1: 7}
    assert adapter.committed([T0, T1]) == {T0: None, T1: 7}
    adapter.pause([T0])
    adapter.resume([T0])
    assert adapter.assignment() == [T0, T1]
    adapter.close()
    assert adapter.process.poll() is not None, "close() did not stop the host"


def test_async_and_auto_commit_callbacks_run_here(fake) -> None:
    adapter = make(fake)
    adapter.assign([T0])
    auto: list[Any] = []
    adapter.set_auto_commit_callback(lambda o, e: auto.append((o, e)))
    done: list[Any] = []
    assert adapter.commit({T0: 1}, asynchronous=True, callback=lambda o, e: done.append((o, e))) \
        is None
    assert done == []  # reported inside a later call, as the contract says
    adapter.poll(0.1)
    assert done == [({T0: 1}, None)]
    assert auto == [({T0: 1}, None)]
    failed: list[Any] = []
    adapter.commit({TopicPartition("t-missing", 0): 1}, asynchronous=True,
                   callback=lambda o, e: failed.append((o, e)))
    (offsets, error), = failed
    assert offsets == {TopicPartition("t-missing", 0): 1}
    assert type(error) is CommitFailed and error.cause == "UNKNOWN_TOPIC_OR_PART"
    adapter.poll(0.1)
    assert len(auto) == 2
    adapter.close()


@pytest.mark.parametrize("foreign_thread", [False, True], ids=["same-thread", "foreign-thread"])
def test_listener_callbacks_serve_nested_calls(fake, foreign_thread: bool) -> None:
    adapter = make(fake, foreign_thread=foreign_thread)
    rec = Recorder(adapter)
    adapter.subscribe(["t"], rec)
    adapter.poll(0.1)
    adapter.close()
    assert rec.events == [("assigned", [T0, T1]), ("revoked", [T0, T1])]
    assert rec.commits == [{T0: 2, T1: 2}, {T0: 3, T1: None}]
    assert rec.async_results == [({T0: 3}, None)]  # ran inside close(), after on_revoked
    with pytest.raises(IllegalState):
        adapter.poll(0.1)
    adapter.close()  # twice is harmless


# -- errors, both ways ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [ConsumerError, NoOffsetForPartition, CommitFailed, FencedMember,
                                 IllegalState, Unsupported])
def test_consumer_errors_keep_their_class_retriable_and_cause(fake, cls) -> None:
    adapter = make(fake, fail={"position": cls.code})
    with pytest.raises(cls) as info:
        adapter.position(T0)
    assert type(info.value) is cls and info.value.code == cls.code
    assert str(info.value) == "position failed"
    assert info.value.retriable is True and info.value.cause == "cause of position"
    assert adapter.assignment() == []  # the host goes on
    adapter.close()


def test_other_errors_carry_type_name_message_and_traceback(fake) -> None:
    adapter = make(fake, fail={"seek": "ValueError", "pause": "fake-own-code"})
    with pytest.raises(RemoteError) as info:
        adapter.seek(T0, 1)
    assert info.value.type == "ValueError" and info.value.message == "seek broke"
    assert str(info.value) == "ValueError: seek broke"
    assert "remote_fakes.py" in info.value.remote_traceback
    with pytest.raises(ConsumerError) as own:  # an adapter's own code: a ConsumerError
        adapter.pause([T0])
    assert own.value.code == "fake-own-code" and own.value.cause == "own cause"
    adapter.close()


def test_errors_of_local_callbacks_reach_the_adapter(fake) -> None:
    adapter = make(fake)  # the fake turns a ConsumerError from on_assigned into IllegalState
    adapter.subscribe(["t"], Recorder(raise_in="assigned",
                                      error=FencedMember("gone", retriable=True, cause="c")))
    with pytest.raises(IllegalState, match="listener raised FencedMember") as info:
        adapter.poll(0.1)
    assert info.value.retriable is True and info.value.cause == "c"
    adapter.close()

    other = make(fake, foreign_thread=True)
    boom = AssertionError("checked in the listener")
    other.subscribe(["t"], Recorder(raise_in="assigned", error=boom))
    with pytest.raises(AssertionError) as raised:  # not caught by the adapter: the original
        other.poll(0.1)
    assert raised.value is boom
    other.close()


def test_error_forms_round_trip() -> None:
    exc = decode_error(encode_error(KeyError("k")))
    assert isinstance(exc, RemoteError) and exc.type == "KeyError"
    again = decode_error(json.loads(json.dumps(encode_error(exc))))
    assert isinstance(again, RemoteError) and str(again) == str(exc)


# -- classmethods and creation -----------------------------------------------------------------
def test_classmethods_are_answered_by_a_host(fake) -> None:
    assert fake.name == "fake" and fake.client == "fake-client"
    assert fake.capabilities.cooperative and not fake.capabilities.consumer_protocol
    assert fake.client_version() == "0.0.1"
    assert fake.overrides_store() is True
    assert RemoteAdapter.bind(_client("FakeNoStoreAdapter")).overrides_store() is False
    fake.check_config(ConsumerConfig("x", group_id="g"))
    with pytest.raises(Unsupported, match=r"group\.protocol=consumer"):
        fake.check_config(ConsumerConfig("x", group_id="g", group_protocol="consumer"))


def test_a_failing_constructor_raises_and_stops_the_host(fake) -> None:
    with pytest.raises(Unsupported):
        fake(ConsumerConfig("x", group_id="g", group_protocol="consumer"))
    with pytest.raises(TypeError, match="bind"):
        RemoteAdapter(ConsumerConfig("x"))


def test_unknown_adapter_is_a_remote_usage_error() -> None:
    broken = RemoteAdapter.bind(Client(ClientSpec(f"{FAKES}:NoSuchClass"), sys.executable,
                                       info={}))
    with pytest.raises(RemoteError, match="has no attribute 'NoSuchClass'") as info:
        broken(ConsumerConfig("x"))
    assert info.value.type in ("AdapterError", "UnknownAdapter")


# -- a host that misbehaves ---------------------------------------------------------------------
def test_stdout_of_the_client_does_not_corrupt_the_protocol(fake) -> None:
    adapter = make(fake, print=True)
    adapter.assign([T0])
    assert len(adapter.poll(0.1)) == 3
    adapter.close()


@pytest.mark.parametrize("where", ["poll", "commit"])
def test_a_host_that_dies_is_a_clear_error_without_a_hang(fake, where: str) -> None:
    adapter = make(fake, die_in=where)
    rec = Recorder(adapter)
    adapter.subscribe(["t"], rec)
    started = time.monotonic()
    # "commit": dies in the commit nested in on_revoked, inside close()
    with pytest.raises(AdapterHostError, match=r"exited \(code 3\).*fake: dying in " + where):
        adapter.poll(0.1) if where == "poll" else (adapter.poll(0.1), adapter.close())
    assert time.monotonic() - started < 10
    assert adapter.process.poll() == 3
    with pytest.raises(AdapterHostError):
        adapter.assignment()  # the same error again, at once
    adapter.close()  # stops nothing twice, raises nothing more


def test_a_host_that_stops_answering_is_stopped_after_the_call_timeout(fake) -> None:
    impatient = type("Impatient", (fake,), {"call_timeout": 1.0})
    adapter = make(impatient, hang_in="position")
    started = time.monotonic()
    with pytest.raises(AdapterHostError, match=r"no reply to position\(\) within 1 s"):
        adapter.position(T0)
    assert time.monotonic() - started < 10
    assert adapter.process.poll() is not None
    adapter.close()


def test_an_unclosed_adapter_takes_its_host_along(fake) -> None:
    adapter = make(fake)
    proc = adapter.process
    del adapter
    gc.collect()
    assert proc.wait(10) is not None


def test_the_host_answers_protocol_errors_and_exits_at_end_of_input() -> None:
    lines = ["not json", json.dumps({"type": "call", "id": 1, "method": "poll", "args": {}}),
             json.dumps({"type": "call", "id": 2, "method": "bogus"}),
             json.dumps({"type": "return", "cb": 9}),
             json.dumps({"type": "call", "id": 3, "method": "client_version",
                         "args": {"adapter": f"{FAKES}:FakeAdapter"}})]
    proc = subprocess.run([sys.executable, "-m", "conformance.adapter_host"],
                          input="".join(ln + "\n" for ln in lines), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    out = [json.loads(ln) for ln in proc.stdout.splitlines()]
    errors = [o for o in out if o["type"] == "error"]
    assert [e["error"]["type"] for e in errors] == ["ProtocolError"] * 4
    messages = " | ".join(e["error"]["message"] for e in errors)
    assert "first call is 'create'" in messages and "unknown method 'bogus'" in messages
    assert "callback 9, which is not running" in messages
    assert {"type": "result", "id": 3, "value": "0.0.1"} in out
