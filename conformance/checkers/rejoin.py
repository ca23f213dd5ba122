"""``member-rejoined`` (S8, liveness): a member removed from the group comes back while it polls.

A member the group removed (its session or poll interval expired, its epoch was fenced) must
rejoin and be assigned again while the application keeps polling: every client rejoins on its
own (the classic protocol on UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION, KIP-848 with epoch 0
after FENCED_MEMBER_EPOCH). ``member-assigned`` judges that a group settles when the harness
waits for it; this check judges every removal, whether a settle follows or not.

Analysis
    A *removal* of a member M (not manual, started by the harness with its poll loop running,
    ``member_started`` with ``polling: true``) is either an isolation of M that ended (frozen
    then thawed, or a network fault then healed; ``spans`` Isolations) during which another
    member was ``assigned`` a partition M owned when it began, counted from the end of the
    isolation; or M's ``lost`` event outside an isolation, counted from the event. M is
    *rejoined* by its first ``assigned`` event with a partition after that moment.

    M is expected to rejoin while it keeps polling: until the harness's ``teardown``, M's end
    (killed, stopped, died, ``closed``, ``unsubscribed``, an ``error`` that stopped its loop)
    or its next isolation, outside the intervals in which the group cannot be expected to
    rebalance (``outages.group_blocks``: another member isolated, a broker fault; each extended
    by the bound), and only while the group has no more members than the topic has partitions
    (every assignor then gives each member one). If that expected time holds a stretch longer
    than the bound without M rejoined, M was not rejoined.

    The bound (``bound_seconds``): the classic rebalance may wait a poll interval for the
    other members and a session timeout for a member that left, plus a few heartbeats; at
    least :data:`MIN_BOUND` seconds: ``max(MIN_BOUND, max_poll_interval_ms +
    session_timeout_ms + 4 * heartbeat_interval_ms)``.

Anomalies (one per removal)
    ``member-not-rejoined``  M was removed, kept polling for longer than the bound within the
                             expected time, and was not assigned again. Evidence: the start of
                             the removal (the isolation's start and end, or the ``lost``
                             event), the other member's ``assigned`` event that took M's
                             partition, M's last ``polled`` event. Details: member, ``removal``
                             (``"frozen"``, ``"cut"``, ``"drop"``, ``"delay"`` or ``"lost"``),
                             ``seconds`` (the stretch without a rejoin), ``bound_seconds``,
                             ``members`` and ``partitions`` at the end of the stretch.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.checkers.outages import group_blocks, isolations
from conformance.checkers.registry import registers
from conformance.checkers.spans import MEMBER_END_EVENTS, Settings, Spans
from conformance.history import HARNESS, Event, History
from conformance.verdicts import Violation

CHECK = "member-rejoined"
SECTION = "S8"
#: the shortest rejoin bound, seconds
MIN_BOUND = 10.0
#: member events after which it no longer polls as a member of the group
STOPPED = ("closed", "unsubscribed")


def bound_seconds(settings: Settings) -> float:
    """How long a removed member that keeps polling may take to be assigned again."""
    waits = (settings.max_poll_interval_ms + settings.session_timeout_ms
             + 4 * settings.heartbeat_interval_ms)
    return max(MIN_BOUND, waits / 1000)


@dataclass(frozen=True)
class _Removal:
    member: str
    kind: str
    since: float  # when the member could start to rejoin
    evidence: tuple[int, ...]
    began: int  # index from which the member's own events count


@registers(CHECK, section="S8", rank=130,
           line="a member removed from the group is assigned again while it polls")
def check_member_rejoined(history: History) -> list[Violation]:
    """Removals after which the polling member was not assigned again within the bound."""
    settings = Settings.of(history)
    bound = bound_seconds(settings)
    polling = {str(e.data.get("member")) for e in history.of_type("member_started")
               if e.source == HARNESS and e.data.get("polling") is True}
    manual = {s.member for s in Spans(history).all if s.manual}
    teardown = next((e.ts for e in history.of_type("teardown")), float("inf"))
    out = []
    for removal in _removals(history, polling - manual):
        mine = [e for e in history.by_source(removal.member) if e.index > removal.began
                and e.ts > removal.since]
        rejoined = next((e.ts for e in mine if e.type == "assigned" and e.partitions()),
                        float("inf"))
        until = min(rejoined, teardown, _end(history, removal))
        blocks = group_blocks(history, bound, but=removal.member)
        stretch = _stretch(removal.since, until, blocks, bound)
        if stretch is None or rejoined <= stretch[0] + bound:
            continue
        members, partitions = _group_size(history, settings, stretch[0] + bound)
        if partitions is not None and members > partitions:
            continue
        out.append(_violation(history, removal, stretch, bound, members, partitions))
    return out


def _removals(history: History, judged: set[str]) -> list[_Removal]:
    spans = Spans(history)
    out: list[_Removal] = []
    windows: dict[str, list[tuple[float, float]]] = {}
    for iso in isolations(history):
        if iso.member not in judged or iso.ended is None:
            continue
        windows.setdefault(iso.member, []).append((iso.began.ts, iso.end_ts))
        held = {s.tp for s in spans.all if s.member == iso.member and not s.manual
                and s.start < iso.began.index and (s.end is None or s.end > iso.began.index)}
        taken = next((e for e in history.of_type("assigned")
                      if e.source != iso.member and iso.began.index < e.index
                      and e.ts <= iso.end_ts and held & set(e.partitions())), None)
        if taken is not None:
            out.append(_Removal(iso.member, iso.kind, iso.end_ts,
                                (iso.began.index, iso.ended.index, taken.index),
                                iso.ended.index))
    for e in history.of_type("lost"):
        if e.source not in judged or not e.partitions():
            continue
        isolated = any(lo <= e.ts <= hi + 0.001 for lo, hi in windows.get(e.source, []))
        # a removal still pending (no assignment since) absorbs this one: the same removal
        pending = any(r.member == e.source and r.began < e.index and r.since <= e.ts
                      and not _assigned_between(history, r.member, r.began, e.index)
                      for r in out)
        if not isolated and not pending:
            out.append(_Removal(e.source, "lost", e.ts, (e.index,), e.index))
    return sorted(out, key=lambda r: r.since)


def _assigned_between(history: History, member: str, after: int, before: int) -> bool:
    return any(e.type == "assigned" and e.partitions() and after < e.index < before
               for e in history.by_source(member))


def _end(history: History, removal: _Removal) -> float:
    """When the member stopped polling as a group member, or was isolated again."""
    for e in history.events[removal.began + 1:]:
        if e.ts <= removal.since:
            continue
        if e.source == HARNESS and str(e.data.get("member")) == removal.member and e.type in (
                *MEMBER_END_EVENTS, "member_frozen", "network_fault"):
            return e.ts
        if e.source == removal.member and (e.type in STOPPED or (
                e.type == "error" and e.data.get("code") == "adapter-error")):
            return e.ts
    return float("inf")


def _stretch(since: float, until: float, blocks: list[tuple[float, float]],
             bound: float) -> tuple[float, float] | None:
    """The first stretch of [since, until] outside ``blocks`` longer than ``bound``."""
    cursor = since
    for lo, hi in sorted(blocks):
        if hi <= cursor or lo >= until:
            continue
        if lo - cursor > bound:
            return cursor, lo
        cursor = max(cursor, hi)
    return (cursor, until) if until - cursor > bound else None


def _group_size(history: History, settings: Settings, at: float) -> tuple[int, int | None]:
    """Members started and not ended, and the topic's partition count, at ``at``."""
    members: set[str] = set()
    partitions = settings.partitions
    for e in history.events:
        if e.ts > at:
            break
        if e.source == HARNESS:
            member = e.data.get("member")
            if e.type == "member_started":
                members.add(str(member))
            elif e.type in MEMBER_END_EVENTS:
                members.discard(str(member))
            elif e.type == "partitions_added" and isinstance(e.data.get("count"), int) \
                    and e.data.get("topic", settings.topic) == settings.topic:
                partitions = int(e.data["count"])
        elif e.type in STOPPED:
            members.discard(e.source)
    return len(members), partitions


def _violation(history: History, removal: _Removal, stretch: tuple[float, float],
               bound: float, members: int, partitions: int | None) -> Violation:
    seconds = round(stretch[1] - stretch[0], 3) if stretch[1] != float("inf") else None
    last_poll: Event | None = None
    for e in history.by_source(removal.member):
        if e.type == "polled" and e.ts <= stretch[1]:
            last_poll = e
    evidence = set(removal.evidence) | ({last_poll.index} if last_poll else set())
    said = (f"for {seconds:g} s" if seconds is not None else "until the history ends")
    what = {"lost": "lost its partitions"}.get(removal.kind, f"was removed ({removal.kind})")
    return Violation(
        check=CHECK, anomaly="member-not-rejoined", section=SECTION,
        message=(f"{removal.member} {what} and kept polling {said} (bound {bound:g} s) "
                 f"without being assigned again, with {members} member(s) for "
                 f"{partitions if partitions is not None else 'unknown'} partition(s)"),
        evidence=sorted(evidence),
        details={"member": removal.member, "removal": removal.kind, "seconds": seconds,
                 "bound_seconds": bound, "members": members, "partitions": partitions},
    )
