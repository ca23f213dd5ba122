"""``progress`` (S8, liveness): a member that owns a partition with records to read reads them.

Kafka promises progress to a polling member: one that owns an unpaused partition and keeps
polling gets the records beyond its position (the classic protocol and KIP-848 alike; Kafka's
own system tests assert that consumption progresses). The final drain hides a member that
keeps a partition but never fetches it again (a fresh member reads what it never delivered,
and ``no-loss`` passes): this check judges the members while the example runs.

Analysis
    For every ownership span of a partition P by a member M (not manual), the *position* is
    known from M's first ``polled`` event of P in the span on: the offset after the last record
    of P it polled, or the offset of a later ``seeked`` event. Records are *waiting* from the
    first moment a produced record (``produced``, acknowledged) of P at or beyond the position
    exists; the wait ends at M's next ``polled`` event of P. M is *expected to poll* while the
    span is open, before the harness's ``teardown``, and outside these intervals (each extended
    by the bound, the time M needs to catch up after it): P paused by M (``paused`` until
    ``resumed``, also across a new assignment of P to M: librdkafka keeps the pause of a
    partition assigned again, the Java client forgets it), any member frozen or isolated by a
    network fault (the group may be rebalancing and waiting on it), a broker node stopped or a
    leader or the coordinator moved (extended by ``spans.BROKER_GRACE`` more: a client
    reconnects to a restarted node and refreshes its metadata on its own backoff), a transaction
    being produced (an open transaction holds ``read_committed`` readers back; extended by
    :data:`TRANSACTION_GRACE` only). A wait longer than the bound inside that time is a stall.

    The bound (``bound_seconds``): a few heartbeat intervals and fetch waits, at least
    :data:`MIN_BOUND` seconds: ``max(MIN_BOUND, 6 * heartbeat_interval_ms)``.

Anomalies (one per span)
    ``owned-partition-stalled``  M owned P, was expected to poll, records of P beyond its
                                 position waited longer than the bound, and none of its polls
                                 returned one. Evidence: M's ``assigned`` event, its last
                                 ``polled`` (or ``seeked``) event of P before the wait, the
                                 ``produced`` event of the first waiting record, the
                                 first event recorded once the bound ran out. Details:
                                 member, topic, partition, ``position``, ``waiting`` (how many
                                 records at its start), ``seconds`` (how long the stall lasted
                                 within the expected time), ``bound_seconds``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from conformance.checkers.group_offsets import GroupOffsets
from conformance.checkers.outages import group_blocks
from conformance.checkers.registry import registers
from conformance.checkers.spans import TP, Settings, Span, Spans, tp_name
from conformance.history import HARNESS, Event, History
from conformance.verdicts import Violation

CHECK = "progress"
SECTION = "S8"
#: the shortest stall bound, seconds
MIN_BOUND = 5.0
#: seconds after a transaction ended before a read_committed reader can be expected past it
TRANSACTION_GRACE = 1.0


def bound_seconds(settings: Settings) -> float:
    """How long records may wait for a polling owner."""
    return max(MIN_BOUND, 6 * settings.heartbeat_interval_ms / 1000)


@dataclass(frozen=True)
class _Wait:
    since: float
    seconds: float
    anchor: Event  # the event that set the position
    first: Event  # the produced event of the first waiting record
    position: int
    waiting: int


@registers(CHECK, section="S8", rank=120,
           line="a member that owns a partition with records to read reads them")
def check_progress(history: History) -> list[Violation]:
    """Spans in which records of an owned, unpaused partition waited past the bound."""
    bound = bound_seconds(Settings.of(history))
    teardown = next((e.ts for e in history.of_type("teardown")), float("inf"))
    produced: dict[TP, list[tuple[float, int, Event]]] = defaultdict(list)
    for e in history.of_type("produced"):
        for r in e.records():
            produced[r.tp].append((e.ts, r.offset, e))
    blocked_all = _cluster_blocks(history, bound)
    group, settings = GroupOffsets(history), Settings.of(history)
    out = []
    for span in Spans(history).all:
        if span.manual or span.orphan:
            continue
        blocked = blocked_all + _member_blocks(history, span.member, span.tp, bound)
        possible = [off for _i, off in group.possible(span.tp, span.start)]
        if possible:
            first: int | None = max(possible)  # beyond every offset it may start at
        elif settings.auto_offset_reset == "earliest":
            first = min((off for _ts, off, _e in produced.get(span.tp, [])), default=0)
        else:
            first = None  # latest: where the reset put it is not in the history
        v = _stall(history, span, first, produced.get(span.tp, []), blocked, bound, teardown)
        if v is not None:
            out.append(v)
    return out


def _stall(history: History, span: Span, first: int | None,
           produced: list[tuple[float, int, Event]], blocked: list[tuple[float, float]],
           bound: float, teardown: float) -> Violation | None:
    start = history.events[span.start]
    end = min(teardown, history.events[span.end].ts if span.end is not None else teardown)
    mine = [e for e in history.by_source(span.member)
            if span.contains(e.index) and e.type in ("polled", "seeked")]
    # until its first read the member starts at the committed offset (or the reset)
    position: int | None = first
    anchor: Event | None = start if first is not None else None
    # each moment the position changes, and the end of the span, close one interval in which
    # the records beyond the position waited
    for e in [*mine, None]:
        now = e.ts if e is not None else end
        if position is not None and anchor is not None:
            wait = _waited(anchor, position, produced, blocked, bound, min(now, end))
            if wait is not None:
                late = wait.since + bound
                overrun = next((x for x in history.events[wait.first.index:] if x.ts >= late),
                               None)
                return _violation(span, start, wait, bound, overrun)
        if e is None or e.ts >= end:
            break
        if e.type == "seeked" and e.data.get("partition") == span.tp[1]:
            position, anchor = int(e.data.get("offset", 0)), e
        elif e.type == "polled":
            got = [r.offset for r in e.records() if r.tp == span.tp]
            if got:
                position, anchor = max(got) + 1, e
    return None


def _waited(anchor: Event, position: int, produced: list[tuple[float, int, Event]],
            blocked: list[tuple[float, float]], bound: float, until: float) -> _Wait | None:
    """The wait for records at or beyond ``position`` from ``anchor`` to ``until``, when it
    lasted past ``bound`` outside the blocked intervals."""
    beyond = [(ts, off, e) for ts, off, e in produced if off >= position and ts < until]
    if not beyond:
        return None
    since = max(anchor.ts, min(ts for ts, _o, _e in beyond))
    first = min(beyond, key=lambda b: (b[0], b[1]))[2]
    # expected time: [since, until] without the blocked intervals; a stall is one stretch of
    # it longer than the bound
    cursor = since
    stretch = 0.0
    for lo, hi in sorted(blocked):
        if hi <= cursor or lo >= until:
            continue
        if lo - cursor > bound:
            stretch = lo - cursor
            break
        cursor = max(cursor, hi)
    else:
        stretch = until - cursor
        if stretch <= bound:
            return None
    waiting = len({off for ts, off, _e in beyond if ts <= cursor + bound})
    return _Wait(cursor, round(stretch, 3), anchor, first, position, waiting)


def _cluster_blocks(history: History, bound: float) -> list[tuple[float, float]]:
    """Intervals no member can be expected to progress in: faults (``outages.group_blocks``),
    open transactions."""
    out = group_blocks(history, bound)
    for e in history.of_type("step"):
        if e.source == HARNESS and e.data.get("name") == "produce_transaction":
            end = next((x.ts for x in history.events[e.index + 1:]
                        if x.source == HARNESS and x.type in ("produced", "aborted")), e.ts)
            out.append((e.ts, end + TRANSACTION_GRACE))
    return out


def _member_blocks(history: History, member: str, tp: TP, bound: float
                   ) -> list[tuple[float, float]]:
    """Intervals ``member`` cannot be expected to read ``tp`` in: ``tp`` paused (by its own
    events) until the member resumed it, extended by the bound.

    Only ``resumed`` ends a pause here, also across a new assignment of ``tp`` to the member:
    librdkafka keeps a partition paused when it is assigned again (librdkafka issue 1849), the
    Java client forgets the pause of a partition revoked or lost (KafkaConsumer.pause). Which
    one a client does is not a promise this check judges (``pause-honored`` ends a pause at a
    new assignment, the lenient side for deliveries; this is the lenient side for stalls)."""
    out = []
    paused: float | None = None
    for e in history.by_source(member):
        if e.type == "paused" and tp in e.partitions():
            paused = e.ts if paused is None else paused
        elif e.type == "resumed" and tp in e.partitions() and paused is not None:
            out.append((paused, e.ts + bound))
            paused = None
    if paused is not None:
        out.append((paused, float("inf")))
    return out


def _violation(span: Span, start: Event, wait: _Wait, bound: float,
               overrun: Event | None = None) -> Violation:
    tp = span.tp
    seconds = wait.seconds
    return Violation(
        check=CHECK, anomaly="owned-partition-stalled", section=SECTION,
        message=(f"{span.member} owned {tp_name(tp)} and kept polling, yet records from "
                 f"offset {wait.position} on waited {seconds:g} s for it (bound "
                 f"{bound:g} s) without one poll returning them"),
        evidence=sorted({start.index, wait.anchor.index, wait.first.index}
                        | ({overrun.index} if overrun is not None else set())),
        details={"member": span.member, "topic": tp[0], "partition": tp[1],
                 "position": wait.position, "waiting": wait.waiting, "seconds": seconds,
                 "bound_seconds": bound},
    )
