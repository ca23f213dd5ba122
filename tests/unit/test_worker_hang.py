"""A command that times out: the client's hang when the worker reported its call outstanding
(ClientCallHung, judged by calls-return), the infrastructure's otherwise (WorkerError)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance.clients import Client, ClientSpec
from conformance.errors import ClientCallHung, WorkerError
from conformance.harness.workers import WorkerHandle

#: a worker that never replies; for ``close`` it first reports its client call outstanding
SILENT = r'''
import json, sys, time
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["type"] == "close":
        print(json.dumps({"type": "call_outstanding", "ts": time.monotonic(), "source": "m1",
                          "call": "close", "id": 1, "since": time.monotonic(), "seconds": 35.1,
                          "bound": 35.0}), flush=True)
    time.sleep(3600)
'''


@pytest.fixture
def handle(tmp_path: Path):
    script = tmp_path / "silent.py"
    script.write_text(SILENT)
    events: list[dict] = []
    client = Client(ClientSpec("silent"), sys.executable, command=(sys.executable, str(script)))
    h = WorkerHandle("m1", client, tmp_path / "m1.stderr", events.append)
    yield h, events
    h.kill()


def test_a_timeout_while_the_worker_reports_its_call_outstanding_is_the_clients_hang(handle):
    h, events = handle
    with pytest.raises(ClientCallHung) as info:
        h.request({"type": "close"}, timeout=2.0)
    assert info.value.member == "m1" and info.value.call == "close"
    assert "client call close() has not returned" in str(info.value)
    assert [e["type"] for e in events] == ["call_outstanding"]


def test_a_timeout_without_such_a_report_stays_the_infrastructures(handle):
    h, _events = handle
    with pytest.raises(WorkerError) as info:
        h.request({"type": "poll", "timeout": 0}, timeout=1.0)
    assert not isinstance(info.value, ClientCallHung)
    assert "did not reply to 'poll' within 1 s" in str(info.value)
