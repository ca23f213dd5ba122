"""The checks: one rule of docs/worker-protocol.md each, registered in :data:`CHECKS` in the
order they run, and the pure judgements of lines they share."""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from adapters.base import Capabilities
from conformance.protocols import GroupProtocol
from conformance.strategies import Strategy
from conformance.worker_check.session import ARRIVAL_TIMEOUT, Session, poll_until
from conformance.worker_check.transport import Line, Violation, _short

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
#: How long a worker may take to exit after ``close_ok`` or the end of its stdin.
EXIT_BOUND = 10.0
#: How long a line already written may take to arrive through its pipe on a loaded machine.
LINE_LAG = 5.0


def records_of(lines: list[Line], type_: str = "polled") -> list[tuple[Any, ...]]:
    """The records of ``type_`` events, in order, as (topic, partition, offset, key) tuples."""
    return [_record(r) for ln in lines if ln.type == type_ for r in ln.obj.get("records") or []]


def _record(r: Any) -> tuple[Any, ...]:
    try:
        return (str(r[0]), int(r[1]), int(r[2]), r[3])
    except (TypeError, ValueError, IndexError, KeyError):
        raise Violation(f"a record is not [topic, partition, offset, key]: {r!r}") from None


def _first(lines: list[Line], predicate: Callable[[Line], bool]) -> Line | None:
    return next((ln for ln in lines if predicate(ln)), None)


def _partitions(items: Any) -> set[tuple[str, int]]:
    return {(str(t), int(p)) for t, p in items or []}


def _offsets(items: Any) -> list[tuple[str, int, int]]:
    return sorted((str(t), int(p), int(o)) for t, p, o in items or [])


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
