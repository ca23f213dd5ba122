"""Worker processes and their line protocol: one consumer per OS process.

A :class:`WorkerHandle` starts ``python -m conformance.worker`` (or another language's worker)
with its client's command line, reads its stdout lines on a thread, hands replies to the caller
waiting for them and every event (:data:`~conformance.history.WORKER_EVENTS`) to ``on_event``
(a line of another type is a protocol error, kept out of the history); it kills (SIGKILL),
freezes (SIGSTOP) and thaws (SIGCONT) the process, or stops it gracefully. Every wait has a
timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance import processes
from conformance.calls import reply_timeout
from conformance.clients import Client
from conformance.errors import ClientCallHung, WorkerError
from conformance.history import WORKER_EVENTS, Event


class MidBatch:
    """Event predicate: true once half of a polled batch has been processed (at least one
    record), so that a crash leaves processed-but-uncommitted and unprocessed records."""

    def __init__(self) -> None:
        self.size = 0
        self.done = 0

    def __call__(self, event: Event) -> bool:
        if event.type == "polled":
            self.size, self.done = len(event.data.get("records", [])), 0
        elif event.type == "processed" and self.size:
            self.done += len(event.data.get("records", []))
            return self.done >= max(1, self.size // 2)
        return False


class WorkerHandle:
    """One worker process, started with its client's interpreter and environment: send
    commands, await replies, kill or stop it."""

    def __init__(self, member: str, client: Client, stderr_path: Path,
                 on_event: Callable[[dict[str, Any]], None]) -> None:
        self.on_event = on_event
        self.member = member
        self.client = client
        self.adapter = client.adapter
        self._ids = itertools.count(1)
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.protocol_errors: list[str] = []
        self.info: dict[str, Any] = {}
        self.planned_exit = False
        self.frozen = False
        #: the worker's client calls reported outstanding past their bound, by call id
        self.hung: dict[Any, dict[str, Any]] = {}
        self._stderr = stderr_path.open("wb")
        self.stderr_path = stderr_path
        self.proc = processes.popen(
            client.worker_command(member), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, env=client.process_env(),
        )
        self._reader = threading.Thread(target=self._read, name=f"read-{member}", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
                if not isinstance(obj, dict) or "type" not in obj:
                    raise ValueError("not an object with a 'type'")
            except ValueError as exc:
                self.protocol_errors.append(f"malformed worker output {raw[:120]!r}: {exc}")
                continue
            if "in_reply_to" in obj and obj["in_reply_to"] is not None:
                with self._cond:
                    self._replies[int(obj["in_reply_to"])] = obj
                    self._cond.notify_all()
                if obj["type"] == "error":
                    self.on_event(obj)
                continue
            if not isinstance(obj["type"], str) or obj["type"] not in WORKER_EVENTS:
                # kept out of the history, which could not be read back with it
                self.protocol_errors.append(f"unknown event type {obj['type']!r} (a worker's "
                                            "events: conformance.history.EVENTS)")
                continue
            if obj["type"] == "call_outstanding":
                self.hung[obj.get("id")] = obj
            elif obj["type"] == "call_returned":
                self.hung.pop(obj.get("id"), None)
            self.on_event(obj)
        with self._cond:
            self._cond.notify_all()

    def send(self, cmd: dict[str, Any]) -> int:
        msg_id = next(self._ids)
        line = json.dumps({**cmd, "msg_id": msg_id}) + "\n"
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died(f"while sending {cmd.get('type')!r}") from None
        return msg_id

    def request(self, cmd: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send ``cmd`` and return its ``*_ok`` reply; an error reply raises WorkerError. The
        wait (``timeout``, default :func:`~conformance.calls.reply_timeout`) outlasts the bound
        of the client call the command makes: on a timeout while the worker reports that call
        outstanding, :class:`ClientCallHung`."""
        timeout = reply_timeout(cmd) if timeout is None else timeout
        msg_id = self.send(cmd)
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._replies:
                if not self.alive and not self._reader.is_alive():
                    raise self._died(f"before replying to {cmd.get('type')!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._timed_out(cmd, timeout)
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(msg_id)
        if reply["type"] == "error":
            err = WorkerError(f"worker {self.member}: {reply.get('code')}: {reply.get('message')}")
            err.code = reply.get("code")  # type: ignore[attr-defined]
            err.retriable = bool(reply.get("retriable"))  # type: ignore[attr-defined]
            raise err
        return reply

    def _timed_out(self, cmd: dict[str, Any], timeout: float) -> WorkerError:
        """No reply in time: the client's hang when the worker reported a call outstanding."""
        waited = f"did not reply to {cmd.get('type')!r} within {timeout:.0f} s"
        if self.hung:
            call = next(iter(self.hung.values()))
            return ClientCallHung(
                f"worker {self.member} {waited}: its client call {call.get('call')}() has not "
                f"returned (outstanding past its bound of {call.get('bound')} s)",
                self.member, str(call.get("call")))
        return WorkerError(f"worker {self.member} {waited}")

    def _died(self, when: str) -> WorkerError:
        code = self.proc.poll()
        tail = ""
        with contextlib.suppress(OSError):
            lines = self.stderr_path.read_text(errors="replace").strip().splitlines()
            tail = lines[-1] if lines else ""
        return WorkerError(f"worker {self.member} exited (code {code}) {when}"
                           + (f"; last stderr line: {tail}" if tail else ""))

    def kill(self) -> None:
        """SIGKILL: a real crash. Waits until every line it wrote has been recorded."""
        self.planned_exit = True
        processes.kill(self.proc)
        self.frozen = False
        self._finish()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the worker's process group at once (it leads its own session,
        see :func:`conformance.processes.popen`); nothing waits."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    def freeze(self) -> None:
        """SIGSTOP the worker (and anything it started): a stalled member, as in a long GC
        pause or a stopped container; it sends and answers nothing until :meth:`thaw`."""
        if self.alive:
            self.signal(signal.SIGSTOP)  # again if it already landed: harmless
            self.frozen = True

    def thaw(self) -> None:
        """SIGCONT a frozen worker: it goes on where it stopped."""
        if self.frozen:
            self.signal(signal.SIGCONT)
            self.frozen = False

    def stop(self, timeout: float | None = None, commit: bool = False) -> None:
        """Graceful: close the consumer (leaving the group), then let the process exit."""
        self.planned_exit = True
        close = {"type": "close", "commit": commit}
        timeout = reply_timeout(close) if timeout is None else timeout
        hung = False
        try:
            if self.alive:
                self.request(close, timeout=timeout)
        except ClientCallHung:
            hung = True  # its close() never returns: no point waiting for the exit
            raise
        finally:
            with contextlib.suppress(OSError):
                if self.proc.stdin:
                    self.proc.stdin.close()
            try:
                self.proc.wait(0 if hung else timeout)
            except subprocess.TimeoutExpired:
                processes.kill(self.proc)
            self._finish()

    def finish(self) -> None:
        """Wait for the reader to record the last lines; close the stderr file."""
        self._finish()

    def _finish(self) -> None:
        self._reader.join(10)
        with contextlib.suppress(OSError):
            self._stderr.close()
