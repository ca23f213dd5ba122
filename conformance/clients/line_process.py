"""A child process that speaks JSON lines: commands on its stdin, lines read from its stdout by
the calling thread, its stderr kept in a temporary log (for the one-line cause when it dies).

Shared by the adapter host client (:mod:`conformance.clients.remote`) and the worker adapter
(:mod:`conformance.clients.worker_adapter`). Every wait is bounded; :meth:`stop` never raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from conformance import processes
from conformance.adapter_host import LineReader
from conformance.errors import WorkerError

STOP_GRACE = 5.0


class LineProcess:
    """One child speaking JSON lines. Subclasses name what it is (``kind``, in messages) and
    the error it raises (``error``)."""

    kind: ClassVar[str] = "process"
    error: ClassVar[type[WorkerError]] = WorkerError

    def __init__(self, label: str, command: list[str], env: dict[str, str] | None,
                 log_prefix: str) -> None:
        self.label = label
        self.stopped = False
        self.failure: WorkerError | None = None
        fd, path = tempfile.mkstemp(prefix=log_prefix, suffix=".log")
        self.log_path = Path(path)
        try:
            with os.fdopen(fd, "ab") as log:
                self.proc = processes.popen(command, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, env=env)
        except OSError as exc:
            self.log_path.unlink(missing_ok=True)
            raise self.error(f"{label}: cannot start {command[0]}: {exc}") from None
        assert self.proc.stdout is not None
        self.lines = LineReader(self.proc.stdout.fileno())

    def write(self, obj: dict[str, Any], what: str) -> None:
        """One JSON line to the child; a child gone meanwhile is :meth:`died`."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            self.died(what)

    def fail(self, message: str) -> None:
        """Stop the child and raise ``error`` with ``message`` (kept as ``failure``)."""
        self.failure = self.error(f"{self.label}: {message}")
        self.stop(graceful=False)
        raise self.failure

    def died(self, what: str) -> None:
        """The child exited during ``what``: fail with its exit code and last stderr line."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(STOP_GRACE)
        tail = [ln for ln in self.log_tail().splitlines() if ln.strip()]
        self.fail(f"the {self.kind} (pid {self.proc.pid}) exited (code {self.proc.poll()}) "
                  f"during {what}" + (f": {tail[-1].strip()}" if tail else ""))

    def log_tail(self, limit: int = 8000) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(max(0, self.log_path.stat().st_size - limit))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, echo: bool = False, graceful: bool = True) -> None:
        """End of stdin (``graceful``: the child exits by itself), then SIGTERM, then SIGKILL;
        reap it; drop its log (copied to stderr first with ``echo``). Idempotent; never
        raises."""
        if self.stopped:
            return
        self.stopped = True
        with contextlib.suppress(Exception):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(STOP_GRACE if graceful else 0.01)
        except subprocess.TimeoutExpired:
            processes.terminate(self.proc, grace=STOP_GRACE)
        except Exception:
            processes.kill(self.proc)
        with contextlib.suppress(Exception):
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        if echo:
            text = self.log_tail()
            if text.strip():
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"--- {self.kind} {self.label} (pid {self.proc.pid}) "
                                     f"stderr ---\n{text.rstrip()}\n")
        self.log_path.unlink(missing_ok=True)
