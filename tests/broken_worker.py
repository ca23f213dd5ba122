"""A deliberately broken worker for ``kafka-conformance worker-check``: runs the reference worker
(``python -m conformance.worker``) as a subprocess and corrupts its behaviour in ONE way.

    python tests/broken_worker.py MODE --id m1

Each mode breaks the rule of one worker-check check (:data:`TARGETS`); everything else is
passed through line by line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: mode -> the worker-check check it breaks.
TARGETS = {
    "garbage-line": "framing",  # a line that is not JSON after 'ready'
    "no-ts": "framing",  # lines without 'ts'
    "short-unsupported": "describe",  # one 'unsupported' entry too few
    "double-reply": "one-reply",  # every *_ok reply written twice
    "drop-in-reply-to": "one-reply",  # the error reply to an unknown command type has none
    "wrong-error-code": "error-codes",  # unknown-adapter reported as 'no-such-adapter'
    "no-ready": "init-ready",  # no 'ready' event
    "short-poll-reply": "subscribe-poll",  # poll_ok leaves out the last record it polled
    "shifted-commit": "commit",  # 'committed' reports offsets one beyond the commit
    "late-processed": "processed-before-commit",  # 'processed' moved after 'commit_requested'
    "seek-off-by-one": "seek",  # seeks one past the offset asked for
    "no-paused": "pause-resume",  # no 'paused' event
    "no-revoked": "rebalance",  # no 'revoked' event
    "linger-after-close": "close",  # keeps running after close_ok
    "ignore-eof": "end-of-stdin",  # does not exit at the end of stdin
}
DROPS = {("no-ready", "ready"), ("no-paused", "paused"), ("no-revoked", "revoked")}
KNOWN_TYPES = {"describe", "init", "subscribe", "assign", "poll", "run", "halt", "commit",
               "seek", "position", "committed", "pause", "resume", "assignment", "close"}


class Corrupter:
    """Rewrites commands on their way in and lines on their way out, per ``mode``."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.unknown_ids: set[Any] = set()
        self.held: list[str] = []
        self.closed = False

    def command(self, line: str) -> str:
        try:
            msg = json.loads(line)
        except ValueError:
            return line
        if not isinstance(msg, dict):
            return line
        if msg.get("type") not in KNOWN_TYPES:
            self.unknown_ids.add(msg.get("msg_id"))
        if self.mode == "seek-off-by-one" and msg.get("type") == "seek":
            msg["offset"] = int(msg["offset"]) + 1
            return json.dumps(msg) + "\n"
        return line

    def output(self, line: str) -> list[str]:
        obj = json.loads(line)
        kind, mode = obj.get("type"), self.mode
        if kind == "close_ok":
            self.closed = True
        if mode == "garbage-line" and kind == "ready":
            return [line, "worker started, hello!\n"]
        if mode == "no-ts":
            obj.pop("ts", None)
        elif mode == "short-unsupported" and kind == "describe_ok" and obj.get("unsupported"):
            obj["unsupported"] = obj["unsupported"][:-1]
        elif mode == "double-reply" and str(kind).endswith("_ok"):
            return [line, line]
        elif mode == "drop-in-reply-to" and kind == "error" \
                and obj.get("in_reply_to") in self.unknown_ids - {None}:
            obj.pop("in_reply_to")
        elif mode == "wrong-error-code" and obj.get("code") == "unknown-adapter":
            obj["code"] = "no-such-adapter"
        elif (mode, kind) in DROPS:
            return []
        elif mode == "short-poll-reply" and kind == "poll_ok" and obj.get("records"):
            obj["records"] = obj["records"][:-1]
        elif mode == "shifted-commit" and kind == "committed":
            obj["offsets"] = [[t, p, o + 1] for t, p, o in obj.get("offsets") or []]
        elif mode == "late-processed":
            if kind == "processed":
                self.held.append(line)
                return []
            held, self.held = self.held, []
            return [line, *held] if kind == "commit_requested" else [*held, line]
        else:
            return [line]
        return [json.dumps(obj, separators=(",", ":")) + "\n"]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TARGETS:
        print(f"usage: broken_worker.py MODE [--id M]; MODE one of {', '.join(TARGETS)}",
              file=sys.stderr)
        return 2
    corrupter = Corrupter(argv[0])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    child = subprocess.Popen([sys.executable, "-m", "conformance.worker", *argv[1:]],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                             bufsize=1)
    assert child.stdin is not None and child.stdout is not None
    stdin_done = threading.Event()

    def forward_commands() -> None:
        for line in sys.stdin:
            try:
                child.stdin.write(corrupter.command(line))
                child.stdin.flush()
            except (BrokenPipeError, OSError):
                break
        stdin_done.set()
        if corrupter.mode != "ignore-eof":
            child.stdin.close()

    threading.Thread(target=forward_commands, daemon=True).start()
    for line in child.stdout:
        for out in corrupter.output(line):
            sys.stdout.write(out)
        sys.stdout.flush()
    code = child.wait()
    if corrupter.mode == "linger-after-close" and corrupter.closed:
        stdin_done.wait()  # lingers until its own stdin ends (or it is killed)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
