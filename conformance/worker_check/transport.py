"""A worker process seen through its lines: commands sent, replies awaited, every line in and
out kept in a transcript in arrival order; a broken rule is a :class:`Violation`."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.clients.client import Client
from conformance.harness.workers import WorkerHandle

REPLY_TIMEOUT = 30.0
_seq = itertools.count()


class Violation(Exception):
    """The worker broke the rule a check verifies (the message is the one-line reason)."""


@dataclass
class Line:
    """One transcript entry: a line the worker wrote (``out``) or a command sent (``in``)."""

    seq: int
    direction: str  # "out" | "in"
    arrived: float  # the kit's monotonic clock
    raw: bytes
    obj: dict[str, Any] | None  # None: not a JSON object

    @property
    def type(self) -> str | None:
        return None if self.obj is None else self.obj.get("type")

    @property
    def is_reply(self) -> bool:
        return self.obj is not None and self.obj.get("in_reply_to") is not None


class CheckedWorker(WorkerHandle):
    """A :class:`WorkerHandle` that also keeps every line in and out (its transcript)."""

    def __init__(self, member: str, client: Client, stderr_path: Path) -> None:
        self.lines: list[Line] = []
        self.started = time.monotonic()
        super().__init__(member, client, stderr_path, lambda obj: None)

    def _note(self, direction: str, raw: bytes, obj: dict[str, Any] | None) -> None:
        with self._cond:
            self.lines.append(Line(next(_seq), direction, time.monotonic(), raw, obj))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            if not isinstance(obj, dict) or "type" not in obj:
                obj = obj if isinstance(obj, dict) else None
                self._note("out", raw, obj)
                continue
            with self._cond:
                self._note("out", raw, obj)
                if obj.get("in_reply_to") is not None:
                    with contextlib.suppress(TypeError, ValueError):
                        self._replies[int(obj["in_reply_to"])] = obj
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, cmd: dict[str, Any]) -> int:
        with self._cond:  # noted before any reply to it can arrive
            msg_id = super().send(cmd)
            self._note("in", json.dumps(cmd).encode(), {**cmd, "msg_id": msg_id})
        return msg_id

    def send_raw(self, text: str) -> None:
        """Write ``text`` (a line, e.g. not JSON) to the worker's stdin as it is."""
        assert self.proc.stdin is not None
        with self._cond:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
            self._note("in", text.encode(), None)

    def ask(self, cmd: dict[str, Any], timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """Send ``cmd`` and return its reply, ``*_ok`` or ``error`` (Violation if none)."""
        msg_id = self.send(cmd)
        return self.reply_to(msg_id, cmd.get("type"), timeout)

    def reply_to(self, msg_id: int, what: Any, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._replies:
                if not self.alive and not self._reader.is_alive():
                    raise Violation(str(self._died(f"before replying to {what!r}")))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Violation(f"no reply to {what!r} (msg_id {msg_id}) within "
                                    f"{timeout:.0f} s")
                self._cond.wait(min(left, 0.5))
            return self._replies.pop(msg_id)

    def ok(self, cmd: dict[str, Any], timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """Send ``cmd``; its reply must be ``<type>_ok``."""
        reply = self.ask(cmd, timeout)
        if reply.get("type") != f"{cmd['type']}_ok":
            raise Violation(f"{cmd['type']!r} was answered with {_short(reply)}")
        return reply

    def events(self, type_: str | None = None) -> list[Line]:
        """This worker's event lines (JSON objects without ``in_reply_to``) so far."""
        with self._cond:
            return [ln for ln in self.lines if ln.direction == "out" and ln.obj is not None
                    and not ln.is_reply and (type_ is None or ln.type == type_)]

    def out(self) -> list[Line]:
        """Every line this worker wrote so far, JSON or not."""
        with self._cond:
            return [ln for ln in self.lines if ln.direction == "out"]

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``predicate()`` holds (re-evaluated on each line); Violation if not."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Violation(f"{what} did not happen within {timeout:.0f} s")
                if not self.alive and not self._reader.is_alive():
                    raise Violation(f"{what} did not happen: "
                                    f"{self._died('meanwhile')}")
                self._cond.wait(min(left, 0.5))

    def exited_within(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except Exception:
            return False


def _short(obj: Any, limit: int = 160) -> str:
    text = obj.decode(errors="replace") if isinstance(obj, bytes) else json.dumps(obj)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
