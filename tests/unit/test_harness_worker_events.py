"""The harness records a worker's events of the vocabulary (``history.WORKER_EVENTS``) and
nothing else: a line of another type is the worker's protocol error, kept out of the history so
that the saved history reads back."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from conformance.clients import Client, ClientSpec
from conformance.harness.workers import WorkerHandle

#: a worker that writes a known event, an unknown one, one of the harness's, then another
#: known one, and waits for the end of its input
CHATTY = r'''
import json, sys, time
for kind in ("ready", "debug", "note", "closed"):
    print(json.dumps({"type": kind, "ts": time.monotonic(), "source": "m1"}), flush=True)
sys.stdin.read()
'''


def test_only_worker_events_reach_the_history(tmp_path: Path) -> None:
    script = tmp_path / "chatty.py"
    script.write_text(CHATTY)
    events: list[dict[str, Any]] = []
    client = Client(ClientSpec("chatty"), sys.executable, command=(sys.executable, str(script)))
    handle = WorkerHandle("m1", client, tmp_path / "m1.stderr", events.append)
    try:
        deadline = time.monotonic() + 30
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        handle.kill()
    assert [e["type"] for e in events] == ["ready", "closed"]
    assert len(handle.protocol_errors) == 2
    assert "unknown event type 'debug'" in handle.protocol_errors[0]
    assert "unknown event type 'note'" in handle.protocol_errors[1]
