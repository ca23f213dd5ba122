"""``kafka-conformance worker-check -- CMD ARGS...``: does a worker speak the worker protocol?

A list of named checks (:data:`CHECKS`), each verifying one rule of docs/worker-protocol.md:
it starts the worker command (``--id MEMBER`` appended) as a fresh process, drives it through
the protocol against a broker (a topic and records of its own) and returns pass or fail with a
one-line reason. Every line the worker writes is kept in a transcript, in arrival order across
the workers of a check, beside the commands sent, so that order rules are judged on what the
harness would see. Checks are independent: a worker that breaks one rule fails that check only
(a line that is not JSON is a ``framing`` failure, and ignored by the others).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from adapters.base import Capabilities
from conformance.broker.base import Broker
from conformance.clients.client import Client
from conformance.clients.spec import ClientSpec
from conformance.errors import ConformanceError, WorkerError
from conformance.harness.core import SCENARIO_CONFIG, Harness
from conformance.harness.workers import WorkerHandle
from conformance.protocols import GroupProtocol
from conformance.strategies import Strategy

#: The error codes of docs/worker-protocol.md.
ERROR_CODES = frozenset({
    "malformed-command", "unknown-adapter", "usage-error", "unsupported",
    "no-offset-for-partition", "commit-failed", "fenced-member", "illegal-state",
    "consumer-error", "adapter-error"})
#: The keys of ``capabilities`` (adapters/base.py Capabilities).
CAPABILITY_KEYS = frozenset(f.name for f in fields(Capabilities))
#: keys a worker may leave out (read as false): clients without a separate offset store
OPTIONAL_KEYS = frozenset({"stores_processed"})
#: Fields of ``ready`` and of the ``init_ok`` reply.
READY_FIELDS = ("adapter", "client", "client_version", "capabilities", "pid")
REPLY_TIMEOUT = 30.0
#: How long a worker may take to exit after ``close_ok`` or the end of its stdin.
EXIT_BOUND = 10.0
#: How long records or an assignment may take to arrive.
ARRIVAL_TIMEOUT = 30.0
#: How long a line already written may take to arrive through its pipe on a loaded machine.
LINE_LAG = 5.0
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


# -- the kit ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One check's verdict: ``pass``, ``fail`` (a protocol violation) or ``error`` (the
    infrastructure failed, nothing is known about the rule)."""

    name: str
    rule: str
    verdict: str
    reason: str
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "rule": self.rule, "verdict": self.verdict,
                "reason": self.reason, "seconds": round(self.seconds, 2)}


@dataclass
class Session:
    """What one check works with: the broker, the worker command, topics and workers."""

    broker: Broker
    command: tuple[str, ...]
    adapter: str
    workdir: Path
    workers: list[CheckedWorker] = field(default_factory=list)
    harnesses: list[Harness] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return Client(ClientSpec(self.adapter), "", command=self.command)

    def start(self, member: str = "m1") -> CheckedWorker:
        worker = CheckedWorker(member, self.client, self.workdir / f"{member}.stderr")
        self.workers.append(worker)
        return worker

    def topic(self, partitions: int = 1, records: int = 0, **config: Any) -> Harness:
        """A fresh topic and group (a :class:`Harness` used for its topic, config and
        producer), with ``records`` keyed records spread over the partitions."""
        harness = Harness(self.broker, self.client, {**SCENARIO_CONFIG, **config},
                          Strategy(), partitions=partitions,
                          workdir=self.workdir / f"topic{len(self.harnesses)}")
        self.harnesses.append(harness)
        harness.setup()
        for p in range(partitions):
            per = records // partitions + (1 if p < records % partitions else 0)
            if per:
                harness.produce(per, keys=[f"k{p}-{i}" for i in range(per)], partition=p)
        return harness

    def init(self, worker: CheckedWorker, harness: Harness, strategy: str = "MANUAL",
             **config: Any) -> dict[str, Any]:
        cfg = {**harness.config, **config, "client_id": f"{harness.group}-{worker.member}"}
        return worker.ok({"type": "init", "adapter": self.adapter, "config": cfg,
                          "strategy": Strategy.parse(strategy).to_json()})

    def close(self) -> None:
        for worker in self.workers:
            if worker.alive:
                worker.kill()
            worker.finish()
        for harness in self.harnesses:
            harness.close()
            with contextlib.suppress(Exception):
                self.broker.admin.delete_topic(harness.topic, wait=False)


def poll_until(worker: CheckedWorker, done: Callable[[], bool], what: str,
               timeout: float = ARRIVAL_TIMEOUT, **poll: Any) -> None:
    """``poll`` (timeout 0.5 s) until ``done()``; Violation after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise Violation(f"{what} did not happen within {timeout:.0f} s of polling")
        worker.ok({"type": "poll", "timeout": 0.5, **poll})


def records_of(lines: list[Line], type_: str = "polled") -> list[tuple[Any, ...]]:
    """The records of ``type_`` events, in order, as (topic, partition, offset, key) tuples."""
    return [_record(r) for ln in lines if ln.type == type_ for r in ln.obj.get("records") or []]


def _record(r: Any) -> tuple[Any, ...]:
    try:
        return (str(r[0]), int(r[1]), int(r[2]), r[3])
    except (TypeError, ValueError, IndexError, KeyError):
        raise Violation(f"a record is not [topic, partition, offset, key]: {r!r}") from None


def _short(obj: Any, limit: int = 160) -> str:
    text = obj.decode(errors="replace") if isinstance(obj, bytes) else json.dumps(obj)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _first(lines: list[Line], predicate: Callable[[Line], bool]) -> Line | None:
    return next((ln for ln in lines if predicate(ln)), None)


def _partitions(items: Any) -> set[tuple[str, int]]:
    return {(str(t), int(p)) for t, p in items or []}


def _offsets(items: Any) -> list[tuple[str, int, int]]:
    return sorted((str(t), int(p), int(o)) for t, p, o in items or [])


# -- the checks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    name: str
    rule: str
    run: Callable[[Session], str]


CHECKS: list[Check] = []


def check(name: str, rule: str) -> Callable[[Callable[[Session], str]], Callable[[Session], str]]:
    def register(fn: Callable[[Session], str]) -> Callable[[Session], str]:
        CHECKS.append(Check(name, rule, fn))
        return fn
    return register


@check("framing", "Framing: every stdout line is one JSON object with type, ts (seconds on "
       "CLOCK_MONOTONIC) and source (the --id); nothing else on stdout")
def check_framing(s: Session) -> str:
    h = s.topic(records=3)
    w = s.start("m1")
    w.ok({"type": "describe", "adapter": s.adapter, "configs": [h.config]})
    s.init(w, h, "BATCH")
    w.ok({"type": "subscribe", "topics": [h.topic]})
    poll_until(w, lambda: len(records_of(w.events("processed"), "processed")) >= 3,
               "processing the 3 records")
    w.ok({"type": "close", "commit": True})
    out = w.out()
    for n, ln in enumerate(out, 1):
        problem = framing_problem(ln, w.member, w.started)
        if problem:
            raise Violation(f"stdout line {n} {_short(ln.raw, 100)}: {problem}")
    return f"{len(out)} lines, each a JSON object with type, ts and source"


def framing_problem(line: Line, member: str, started: float) -> str | None:
    """What is wrong with one stdout line (None: nothing): not UTF-8 or not a JSON object, no
    string type, no numeric ts on the kit's monotonic clock (between the worker's start and the
    line's arrival), a source other than ``member``."""
    try:
        line.raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if line.obj is None:
        return "not a JSON object"
    if not isinstance(line.obj.get("type"), str):
        return "no string 'type'"
    ts = line.obj.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        return "no numeric 'ts'"
    if not started - 1.0 <= ts <= line.arrived + 0.1:
        return (f"ts {ts} is not on the host's monotonic clock (the line arrived at "
                f"{line.arrived:.3f})")
    if line.obj.get("source") != member:
        return f"source {line.obj.get('source')!r}, expected the --id {member!r}"
    return None


@check("describe", "describe before init: describe_ok with adapter, client, client_version, "
       "capabilities (the keys of Capabilities, booleans) and one 'unsupported' entry (null or "
       "a reason) per config; then init still works")
def check_describe(s: Session) -> str:
    h = s.topic()
    w = s.start("m1")
    configs = [h.config, {**h.config, "group_protocol": GroupProtocol.CONSUMER},
               {**h.config, "assignment_strategy": "cooperative-sticky"}]
    reply = w.ok({"type": "describe", "adapter": s.adapter, "configs": configs})
    for key in ("adapter", "client", "client_version"):
        if not isinstance(reply.get(key), str):
            raise Violation(f"describe_ok has no string {key!r}")
    extra = _capabilities(reply, "describe_ok")
    unsupported = reply.get("unsupported")
    if not isinstance(unsupported, list) or len(unsupported) != len(configs):
        raise Violation(f"describe_ok 'unsupported' is {_short(unsupported)}: expected a list "
                        f"of {len(configs)} entries, one per config")
    bad = [u for u in unsupported if u is not None and not (isinstance(u, str) and u)]
    if bad:
        raise Violation(f"an 'unsupported' entry is neither null nor a reason: {bad[0]!r}")
    if w.events("ready"):
        raise Violation("describe wrote 'ready': it must not create a consumer")
    s.init(w, h)
    runs = sum(u is None for u in unsupported)
    return (f"client {reply['client']} {reply['client_version']}; {runs} of 3 configs run"
            + (f"; capabilities beyond Capabilities (ignored): {extra}" if extra else ""))


def _capabilities(obj: dict[str, Any], what: str) -> list[str]:
    """Violation unless ``capabilities`` has every key of Capabilities (``OPTIONAL_KEYS`` may
    be left out), each a boolean; returns the keys beyond those (the harness ignores them)."""
    caps = obj.get("capabilities")
    if not isinstance(caps, dict):
        raise Violation(f"{what} has no 'capabilities' object")
    missing = CAPABILITY_KEYS - OPTIONAL_KEYS - set(caps)
    if missing:
        raise Violation(f"{what} capabilities lack {sorted(missing)}")
    wrong = sorted(k for k, v in caps.items() if not isinstance(v, bool))
    if wrong:
        raise Violation(f"{what} capabilities not booleans: {wrong}")
    return sorted(set(caps) - CAPABILITY_KEYS)


@check("one-reply", "Exactly one reply per command, in_reply_to = its msg_id; a line that is "
       "not JSON, a command without type and an unknown type get one malformed-command error "
       "each (fatal false), and the worker goes on")
def check_one_reply(s: Session) -> str:
    h = s.topic()
    w = s.start("m1")
    w.send_raw("this line is not JSON\n")
    expect: dict[int, str] = {}
    expect[w.send({"no_type": True})] = "malformed-command"
    expect[w.send({"type": "frobnicate"})] = "malformed-command"
    expect[w.send({"type": "describe", "adapter": s.adapter, "configs": []})] = "describe_ok"
    cfg = {**h.config, "client_id": f"{h.group}-m1"}
    expect[w.send({"type": "init", "adapter": s.adapter, "config": cfg,
                   "strategy": Strategy.parse("MANUAL").to_json()})] = "init_ok"
    expect[w.send({"type": "assignment"})] = "assignment_ok"
    expect[w.send({"type": "frobnicate"})] = "malformed-command"
    expect[w.send({"type": "assignment"})] = "assignment_ok"
    barrier = w.send({"type": "assignment"})
    w.reply_to(barrier, "assignment")
    out = [ln for ln in w.out() if ln.obj is not None]
    for msg_id, wanted in expect.items():
        replies = [ln.obj for ln in out if ln.obj.get("in_reply_to") == msg_id]
        if len(replies) != 1:
            raise Violation(f"msg_id {msg_id} (expected {wanted}) got {len(replies)} replies")
        reply = replies[0]
        if wanted.endswith("_ok"):
            if reply.get("type") != wanted:
                raise Violation(f"msg_id {msg_id}: expected {wanted}, got {_short(reply)}")
        elif reply.get("type") != "error" or reply.get("code") != wanted \
                or reply.get("fatal") is not False:
            raise Violation(f"msg_id {msg_id}: expected error {wanted} (fatal false), got "
                            f"{_short(reply)}")
    unanswered = [ln.obj for ln in out if ln.type == "error" and ln.obj.get("in_reply_to") is None
                  and ln.obj.get("code") == "malformed-command"]
    if len(unanswered) != 1:
        raise Violation(f"the line that is not JSON got {len(unanswered)} malformed-command "
                        f"errors without in_reply_to, expected 1")
    stray = [ln.obj for ln in out if ln.is_reply
             and ln.obj.get("in_reply_to") not in (*expect, barrier)]
    if stray:
        raise Violation(f"a reply to no command sent: {_short(stray[0])}")
    return f"{len(expect) + 2} commands, one reply each; the worker went on after errors"


@check("error-codes", "Errors are replies with a documented code, a message and a boolean "
       "fatal: an unknown adapter gives unknown-adapter; auto_offset_reset=none (where describe "
       "says it runs) without a committed offset gives no-offset-for-partition")
def check_error_codes(s: Session) -> str:
    h = s.topic(records=2)
    w = s.start("m1")
    seen: list[dict[str, Any]] = []

    def error(cmd: dict[str, Any], code: str | None) -> dict[str, Any]:
        reply = w.ask(cmd)
        if reply.get("type") != "error":
            raise Violation(f"{cmd['type']!r} should fail but got {_short(reply)}")
        if code is not None and reply.get("code") != code:
            raise Violation(f"{cmd['type']!r}: expected code {code}, got {reply.get('code')!r}")
        seen.append(reply)
        return reply

    error({"type": "describe", "adapter": "no-such-adapter", "configs": []}, "unknown-adapter")
    error({"type": "init", "adapter": "no-such-adapter", "config": h.config,
           "strategy": Strategy.parse("MANUAL").to_json()}, "unknown-adapter")
    none = {**h.config, "auto_offset_reset": "none"}
    runs = w.ok({"type": "describe", "adapter": s.adapter, "configs": [none]})
    runs_none = (runs.get("unsupported") or ["?"])[0] is None
    s.init(w, h, **({"auto_offset_reset": "none"} if runs_none else {}))
    tested = "unknown-adapter"
    if runs_none:
        w.ok({"type": "subscribe", "topics": [h.topic]})
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while True:
            reply = w.ask({"type": "poll", "timeout": 0.5})
            if reply.get("type") == "error":
                break
            if reply.get("records"):
                raise Violation("poll with auto_offset_reset=none and no committed offset "
                                "returned records")
            if time.monotonic() > deadline:
                raise Violation("poll with auto_offset_reset=none and no committed offset gave "
                                f"no error within {ARRIVAL_TIMEOUT:.0f} s")
        if reply.get("code") != "no-offset-for-partition":
            raise Violation(f"poll without an offset to start from: expected "
                            f"no-offset-for-partition, got {reply.get('code')!r}")
        seen.append(reply)
        tested += ", no-offset-for-partition"
    seen += [ln.obj for ln in w.events("error")]
    for err in seen:
        if err.get("code") not in ERROR_CODES:
            raise Violation(f"undocumented error code {err.get('code')!r}")
        if not isinstance(err.get("message"), str) or not isinstance(err.get("fatal"), bool):
            raise Violation(f"an error without a string message and a boolean fatal: "
                            f"{_short(err)}")
    return f"{len(seen)} errors with documented codes ({tested})"


@check("init-ready", "init: a 'ready' event, then the init_ok reply, both with adapter, client, "
       "client_version, capabilities and pid")
def check_init_ready(s: Session) -> str:
    h = s.topic()
    w = s.start("m1")
    reply = s.init(w, h, "BATCH")
    ready = w.events("ready")
    if len(ready) != 1:
        raise Violation(f"{len(ready)} 'ready' events before init_ok, expected 1")
    for name, obj in (("ready", ready[0].obj), ("init_ok", reply)):
        missing = [k for k in READY_FIELDS if k not in obj]
        if missing:
            raise Violation(f"{name} lacks {missing}")
        if not isinstance(obj["pid"], int) or isinstance(obj["pid"], bool):
            raise Violation(f"{name} pid is not an integer: {obj['pid']!r}")
        _capabilities(obj, name)
    differ = [k for k in READY_FIELDS if ready[0].obj[k] != reply[k]]
    if differ:
        raise Violation(f"ready and init_ok differ in {differ}")
    return f"ready then init_ok ({reply['client']} {reply['client_version']})"


@check("subscribe-poll", "subscribe + poll: 'assigned' before the first 'polled'; poll_ok "
       "carries exactly the records of its 'polled' event(s); each is 'processed' before "
       "poll_ok; all records produced arrive")
def check_subscribe_poll(s: Session) -> str:
    h = s.topic(partitions=2, records=8)
    w = s.start("m1")
    s.init(w, h)
    w.ok({"type": "subscribe", "topics": [h.topic]})
    polls = 0
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while len(set(records_of(w.events()))) < 8:
        if time.monotonic() > deadline:
            raise Violation(f"{len(set(records_of(w.events())))} of 8 records polled within "
                            f"{ARRIVAL_TIMEOUT:.0f} s")
        msg_id = w.send({"type": "poll", "timeout": 0.5})
        reply = w.reply_to(msg_id, "poll")
        polls += 1
        if reply.get("type") != "poll_ok":
            raise Violation(f"poll was answered with {_short(reply)}")
        with w._cond:
            start = next(i for i, ln in enumerate(w.lines)
                         if ln.direction == "in" and ln.obj and ln.obj.get("msg_id") == msg_id)
            during = [ln for ln in w.lines[start:] if ln.direction == "out"
                      and ln.obj is not None and not ln.is_reply]
        got = [_record(r) for r in reply.get("records") or []]
        polled = records_of(during)
        if got != polled:
            odd = next((p for p, g in itertools.zip_longest(polled, got) if p != g), None)
            raise Violation(f"poll_ok has {len(got)} records, its 'polled' events "
                            f"{len(polled)}; first difference: {odd}")
        unprocessed = set(got) - set(records_of(during, "processed"))
        if unprocessed:
            raise Violation(f"records polled but not 'processed' before poll_ok: "
                            f"{sorted(unprocessed)[:3]}")
    events = w.events()
    first_polled = _first(events, lambda ln: ln.type == "polled")
    first_assigned = _first(events, lambda ln: ln.type == "assigned")
    if first_assigned is None or first_polled is None or first_assigned.seq > first_polled.seq:
        raise Violation("'polled' came before any 'assigned'")
    wanted = {(h.topic, p, o) for p in range(2) for o in range(4)}
    got_all = {r[:3] for r in records_of(events)}
    if got_all != wanted:
        raise Violation(f"polled {sorted(got_all)[:4]}..., expected offsets 0-3 of both "
                        f"partitions")
    return f"8 records in {polls} polls, assigned first, each processed before poll_ok"


@check("commit", "commit: 'commit_requested' then 'committed' (ok, the same offsets) then "
       "commit_ok with them; 'committed' then reads them back; processed=true commits what "
       "was processed")
def check_commit(s: Session) -> str:
    h = s.topic(records=5)
    w = s.start("m1")
    s.init(w, h)
    w.ok({"type": "subscribe", "topics": [h.topic]})
    poll_until(w, lambda: len(records_of(w.events("processed"), "processed")) >= 5,
               "processing the 5 records")
    for cmd, wanted in (({"offsets": [[h.topic, 0, 3]]}, 3), ({"processed": True}, 5)):
        before = len(w.events())
        reply = w.ok({"type": "commit", "asynchronous": False, **cmd})
        offsets = [(h.topic, 0, wanted)]
        new = w.events()[before:]
        requested = [ln for ln in new if ln.type == "commit_requested"]
        done = [ln for ln in new if ln.type == "committed"]
        if len(requested) != 1 or len(done) != 1:
            raise Violation(f"commit {_short(cmd)}: {len(requested)} commit_requested and "
                            f"{len(done)} committed events before commit_ok, expected 1 each")
        req, com = requested[0].obj, done[0].obj
        if requested[0].seq > done[0].seq:
            raise Violation("'committed' came before 'commit_requested'")
        if req.get("mode") != "sync" or com.get("mode") != "sync":
            raise Violation(f"modes {req.get('mode')!r}/{com.get('mode')!r}, expected 'sync'")
        if _offsets(req.get("offsets")) != offsets:
            raise Violation(f"commit_requested offsets {req.get('offsets')}, expected "
                            f"{offsets}")
        if com.get("ok") is not True or _offsets(com.get("offsets")) != offsets:
            raise Violation(f"committed ok={com.get('ok')!r} offsets={com.get('offsets')}, "
                            f"expected ok true with {offsets}")
        if _offsets(reply.get("offsets")) != offsets:
            raise Violation(f"commit_ok offsets {reply.get('offsets')}, expected {offsets}")
        back = w.ok({"type": "committed", "partitions": [[h.topic, 0]]})
        if _offsets(back.get("offsets")) != offsets:
            raise Violation(f"'committed' read {back.get('offsets')} after committing "
                            f"{offsets}")
    return "explicit and processed commits: requested, committed, read back"


@check("processed-before-commit", "A record's 'processed' event is written before any commit "
       "beyond it ('commit_requested' with a higher offset), here with COUNT:3 commits "
       "inside a batch")
def check_processed_before_commit(s: Session) -> str:
    h = s.topic(records=20)
    w = s.start("m1")
    s.init(w, h, "COUNT:3")
    w.ok({"type": "subscribe", "topics": [h.topic]})
    poll_until(w, lambda: len(set(records_of(w.events()))) >= 20, "polling the 20 records")
    commits, early = commit_before_processed(w.events())
    if early:
        raise Violation(early)
    if commits == 0:
        raise Violation("no commit_requested with strategy COUNT:3 after 20 records")
    return f"{commits} commits, each after the records below it were processed"


def commit_before_processed(events: list[Line]) -> tuple[int, str | None]:
    """Walk one worker's events: the number of ``commit_requested`` events and, for the first
    that goes beyond a polled record not yet ``processed``, why (None if there is none).
    Offsets null commit everything polled."""
    polled: set[tuple[str, int, int]] = set()
    processed: set[tuple[str, int, int]] = set()
    commits = 0
    for ln in events:
        if ln.type == "polled":
            polled |= {r[:3] for r in records_of([ln])}
        elif ln.type == "processed":
            processed |= {r[:3] for r in records_of([ln], "processed")}
        elif ln.type == "commit_requested":
            commits += 1
            raw = ln.obj.get("offsets") if ln.obj else None
            limits: dict[tuple[str, int], float] = (
                {(t, p): o for t, p, o in _offsets(raw)} if raw is not None
                else {(t, p): math.inf for t, p, _ in polled})
            early = sorted(r for r in polled - processed if r[2] < limits.get(r[:2], -1))
            if early:
                return commits, (f"commit_requested {_short(raw)} before 'processed' of "
                                 f"{early[0]}")
    return commits, None


@check("seek", "seek: a 'seeked' event and seek_ok; position then gives that offset and the "
       "next poll starts there")
def check_seek(s: Session) -> str:
    h = s.topic(records=5)
    w = s.start("m1")
    s.init(w, h)
    w.ok({"type": "subscribe", "topics": [h.topic]})
    poll_until(w, lambda: len(set(records_of(w.events()))) >= 5, "polling the 5 records")
    before = len(w.events())
    w.ok({"type": "seek", "topic": h.topic, "partition": 0, "offset": 2})
    seeked = [ln.obj for ln in w.events("seeked")]
    if not seeked or (seeked[-1].get("topic"), seeked[-1].get("partition"),
                      seeked[-1].get("offset")) != (h.topic, 0, 2):
        got = seeked[-1].get("offset") if seeked else "none"
        raise Violation(f"no 'seeked' event for offset 2 before seek_ok (got offset {got})")
    position = w.ok({"type": "position", "topic": h.topic, "partition": 0}).get("offset")
    if position != 2:
        raise Violation(f"position after seek to 2 is {position!r}")
    poll_until(w, lambda: bool(records_of(w.events()[before:])), "polling after the seek")
    first = records_of(w.events()[before:])[0]
    if first[2] != 2:
        raise Violation(f"the first record after seek to offset 2 is at offset {first[2]}")
    return "seeked, position 2, next record at offset 2"


@check("pause-resume", "pause: a 'paused' event and pause_ok, then no records of the partition; "
       "resume: a 'resumed' event and resume_ok, then its records arrive")
def check_pause_resume(s: Session) -> str:
    h = s.topic(records=2)
    w = s.start("m1")
    s.init(w, h)
    w.ok({"type": "subscribe", "topics": [h.topic]})
    poll_until(w, lambda: len(set(records_of(w.events()))) >= 2, "polling the 2 records")
    tp = [[h.topic, 0]]
    w.ok({"type": "pause", "partitions": tp})
    if not any(_partitions(ln.obj.get("partitions")) == {(h.topic, 0)}
               for ln in w.events("paused")):
        raise Violation("no 'paused' event for the partition before pause_ok")
    h.produce(3, keys=["late"], partition=0)
    before = len(w.events())
    for _ in range(3):
        w.ok({"type": "poll", "timeout": 0.5})
    if records_of(w.events()[before:]):
        raise Violation(f"records of a paused partition were polled: "
                        f"{records_of(w.events()[before:])[:2]}")
    w.ok({"type": "resume", "partitions": tp})
    if not any(_partitions(ln.obj.get("partitions")) == {(h.topic, 0)}
               for ln in w.events("resumed")):
        raise Violation("no 'resumed' event for the partition before resume_ok")
    poll_until(w, lambda: len(records_of(w.events()[before:])) >= 3,
               "polling the 3 records produced while paused, after resume")
    return "nothing polled while paused, the records after resume"


@check("rebalance", "Rebalance (classic protocol, eager range assignor): when a second member "
       "joins, the first member's 'revoked' (or 'lost') of a partition precedes the second "
       "member's 'assigned' of it (by the lines' ts)")
def check_rebalance(s: Session) -> str:
    h = s.topic(partitions=2, assignment_strategy="range",
                group_protocol=GroupProtocol.CLASSIC)
    w1, w2 = s.start("m1"), s.start("m2")
    wanted = {(h.topic, 0), (h.topic, 1)}
    s.init(w1, h, "BATCH")
    w1.ok({"type": "subscribe", "topics": [h.topic]})
    w1.ok({"type": "run", "poll_timeout": 0.1})
    w1.wait(lambda: any(_partitions(ln.obj.get("partitions")) >= wanted
                        for ln in w1.events("assigned")), ARRIVAL_TIMEOUT,
            "m1 being assigned both partitions")
    s.init(w2, h, "BATCH")
    w2.ok({"type": "subscribe", "topics": [h.topic]})
    w2.ok({"type": "run", "poll_timeout": 0.1})
    w2.wait(lambda: any(ln.obj.get("partitions") for ln in w2.events("assigned")),
            ARRIVAL_TIMEOUT, "m2 being assigned a partition")
    first = next(ln for ln in w2.events("assigned") if ln.obj.get("partitions"))
    given = _partitions(first.obj.get("partitions"))
    for tp in sorted(given):
        def gone_line(tp=tp) -> Line | None:
            return _first(w1.events(), lambda ln: ln.type in ("revoked", "lost")
                          and tp in _partitions(ln.obj.get("partitions")))
        # m1's line may still be in its pipe when m2's arrives: wait for it, then order by ts
        with contextlib.suppress(Violation):
            w1.wait(lambda: gone_line() is not None, LINE_LAG,
                    f"m1 reporting {tp[0]}[{tp[1]}] revoked or lost")
        gone = gone_line()
        if gone is None or _emitted(gone) > _emitted(first):
            raise Violation(f"m2 was assigned {tp[0]}[{tp[1]}] before m1 reported it "
                            f"revoked or lost")
    return f"m1 revoked {len(given)} partition(s) before m2 was assigned them"


def _emitted(line: Line) -> float:
    """When a line was written: its ``ts`` (the host's monotonic clock, shared by the two
    processes: their lines reach the kit through two pipes, in no reliable order under load),
    else when it arrived."""
    ts = line.obj.get("ts") if isinstance(line.obj, dict) else None
    return float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else line.arrived


@check("close", "close: a 'closed' event and close_ok; the process then exits by itself "
       f"within {EXIT_BOUND:.0f} s (stdin still open)")
def check_close(s: Session) -> str:
    h = s.topic(records=1)
    w = s.start("m1")
    s.init(w, h, "BATCH")
    w.ok({"type": "subscribe", "topics": [h.topic]})
    poll_until(w, lambda: bool(records_of(w.events())), "polling the record")
    w.ok({"type": "close", "commit": True})
    if not w.events("closed"):
        raise Violation("no 'closed' event before close_ok")
    if not w.exited_within(EXIT_BOUND):
        raise Violation(f"the process still runs {EXIT_BOUND:.0f} s after close_ok")
    return f"closed, close_ok, exit code {w.proc.returncode}"


@check("end-of-stdin", "End of stdin: the worker exits without closing the consumer (no "
       f"'closed' event) within {EXIT_BOUND:.0f} s")
def check_end_of_stdin(s: Session) -> str:
    h = s.topic(records=1)
    w = s.start("m1")
    s.init(w, h, "BATCH")
    w.ok({"type": "subscribe", "topics": [h.topic]})
    poll_until(w, lambda: bool(records_of(w.events())), "polling the record")
    assert w.proc.stdin is not None
    w.proc.stdin.close()
    if not w.exited_within(EXIT_BOUND):
        raise Violation(f"the process still runs {EXIT_BOUND:.0f} s after its stdin ended")
    w.finish()
    if w.events("closed"):
        raise Violation("the worker closed the consumer at the end of stdin; it must just exit")
    return f"exited (code {w.proc.returncode}) without closing"


# -- running ---------------------------------------------------------------------------------
def select(names: tuple[str, ...] | list[str]) -> list[Check]:
    """The checks named (all when none); ValueError names an unknown one."""
    if not names:
        return list(CHECKS)
    known = {c.name: c for c in CHECKS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown check {unknown[0]!r}; one of {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]


def run_check(chk: Check, broker: Broker, command: tuple[str, ...], adapter: str,
              workdir: Path) -> Outcome:
    """Run one check with fresh workers; never raises for the worker's or broker's faults."""
    started = time.monotonic()
    folder = workdir / chk.name
    folder.mkdir(parents=True, exist_ok=True)
    session = Session(broker, command, adapter, folder)
    try:
        verdict, reason = "pass", chk.run(session)
    except Violation as exc:
        verdict, reason = "fail", str(exc)
    except WorkerError as exc:  # the worker died or spoke outside the protocol
        verdict, reason = "fail", str(exc)
    except ConformanceError as exc:  # the broker, a topic, producing
        verdict, reason = "error", f"infrastructure: {exc}"
    except OSError as exc:
        verdict, reason = "error", f"cannot start the worker: {exc}"
    except Exception as exc:  # a bug of the kit (or output it did not foresee): not a verdict
        verdict, reason = "error", f"internal error: {type(exc).__name__}: {exc}"
    finally:
        session.close()
    return Outcome(chk.name, chk.rule, verdict, reason.splitlines()[0] if reason else "",
                   time.monotonic() - started)


def run_checks(broker: Broker, command: tuple[str, ...], adapter: str,
               checks: list[Check] | None = None,
               progress: Callable[[Outcome], None] | None = None,
               jobs: int = 1) -> list[Outcome]:
    """Run ``checks`` (all by default) against a started broker, ``jobs`` at once (each has
    its own topic, group and workers); the outcomes come in the order of ``checks``."""
    chosen = checks or list(CHECKS)
    with tempfile.TemporaryDirectory(prefix="worker-check-") as tmp, \
            ThreadPoolExecutor(max(1, jobs), thread_name_prefix="kc-job-check") as pool:
        # "kc-job" threads live until every check ended: their workers die with the run
        futures = [pool.submit(run_check, chk, broker, command, adapter, Path(tmp))
                   for chk in chosen]
        outcomes = []
        for future in futures:
            outcomes.append(future.result())
            if progress is not None:
                progress(outcomes[-1])
    return outcomes


def exit_code(outcomes: list[Outcome]) -> int:
    """0 every check passed, 1 a check failed (a protocol violation), 3 infrastructure."""
    verdicts = {o.verdict for o in outcomes}
    if "error" in verdicts:
        return 3
    return 1 if "fail" in verdicts else 0


def summary_json(command: tuple[str, ...], adapter: str,
                 outcomes: list[Outcome]) -> dict[str, Any]:
    return {"command": list(command), "adapter": adapter, "exit_code": exit_code(outcomes),
            "checks": [o.to_json() for o in outcomes]}

