"""Outages: isolations of a member (frozen, cut off, black-holed, slowed) and blocks of the
group (a broker stopped, a leader or coordinator moved), derived from a history.

Isolations
    A member is *isolated* from a harness ``member_frozen`` event (SIGSTOP) until its next
    ``member_thawed`` (SIGCONT), or from a ``network_fault`` (``kind`` ``"delay"``, ``"cut"`` or
    ``"drop"``: its connections slowed, closed or black-holed) until its next
    ``network_healed``. Past its session timeout the group moves on without it; once the
    isolation ends it is a zombie until it *hears* of the group: its first ``revoked``,
    ``lost`` or ``assigned`` event after the end. Until then it may finish the records it had
    in hand or buffered (judged by ``zombie-fencing``, not as a concurrent owner).

    Which events of the member came after the end is judged per event. A stopped process emits
    nothing, so an event recorded after the freeze with a later timestamp was emitted after
    SIGCONT (maybe just before the harness recorded the thaw); one written before SIGSTOP may
    still be recorded after the freeze, with an earlier timestamp. A network-isolated member
    keeps running: its events count as after the end when their timestamp is later than the
    ``network_healed`` event's.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.checkers.spans import (
    REBALANCE_EVENTS,
)
from conformance.history import HARNESS, Event, History

# -- isolations ---------------------------------------------------------------------------------
#: The harness event that starts an isolation -> the one that ends it.
ISOLATION_EVENTS = {"member_frozen": "member_thawed", "network_fault": "network_healed"}
#: How each kind of isolation is told in messages.
ISOLATION_WORDS = {"frozen": "frozen", "cut": "cut off", "drop": "black-holed",
                   "delay": "slowed"}


@dataclass(frozen=True)
class Isolation:
    """One isolation of a member (see the module docstring): the event that began it, the one
    that ended it (None when it never ended), the index of the first ``revoked``/``lost``/
    ``assigned`` event of the member after the end (``heard``, None when it never heard) and
    the index of the member's next isolation (``until``), if any."""

    member: str
    began: Event
    ended: Event | None = None
    heard: int | None = None
    until: int | None = None

    @property
    def kind(self) -> str:
        """``"frozen"``, or the ``kind`` of the network fault (``"delay"``, ``"cut"``,
        ``"drop"``)."""
        if self.began.type == "member_frozen":
            return "frozen"
        return str(self.began.data.get("kind") or "network")

    @property
    def words(self) -> str:
        return ISOLATION_WORDS.get(self.kind, f"isolated ({self.kind})")

    @property
    def seconds(self) -> float | None:
        """How long the isolation lasted (the thaw's ``frozen_seconds`` when it has one)."""
        if self.ended is None:
            return None
        recorded = self.ended.data.get("frozen_seconds")
        if isinstance(recorded, int | float) and not isinstance(recorded, bool):
            return float(recorded)
        return round(self.ended.ts - self.began.ts, 3)

    @property
    def end_ts(self) -> float:
        """A member event with a later timestamp was emitted after the isolation ended
        (infinity while it has not ended): for a freeze, the moment SIGCONT was sent (the
        thaw's ``sent``, else its own timestamp). A stopped process emits nothing, so a
        member event stamped between the freeze and the thaw was emitted before the SIGSTOP
        took hold (seen: a JVM worker ran on for 16 ms after the harness sent it). For a
        network fault, the ``network_healed`` event's."""
        if self.ended is None:
            return float("inf")
        if self.kind == "frozen":
            sent = self.ended.data.get("sent")
            return float(sent) if isinstance(sent, int | float) else self.ended.ts
        return self.ended.ts

    def _since(self, e: Event) -> bool:
        return (e.source == self.member and e.index > self.began.index
                and (self.until is None or e.index < self.until))

    def after(self, e: Event) -> bool:
        """``e``, an event of the member, was emitted after the isolation ended."""
        return self.ended is not None and self._since(e) and e.ts > self.end_ts

    def during(self, e: Event) -> bool:
        """``e``, an event of the member, was emitted while it was isolated (never for a
        freeze: a stopped process emits nothing)."""
        return (self.kind != "frozen" and self._since(e)
                and self.began.ts < e.ts <= self.end_ts)

    def before_end(self, e: Event) -> bool:
        """``e``, an event of the member, was emitted before the isolation ended (for a freeze:
        before SIGSTOP took hold)."""
        return e.source == self.member and (e.index < self.began.index or e.ts <= self.end_ts)

    @property
    def window(self) -> tuple[int, float]:
        """The open interval of event indices from the isolation to the member's hearing of
        the group (to its next isolation, or infinity, when it never heard)."""
        hi = self.heard if self.heard is not None else self.until
        return (self.began.index, float("inf") if hi is None else hi)


#: harness events that start an interval in which no member can be expected to make progress
#: or to rejoin, and the event that ends it (None: a moment): any member isolated (a rebalance
#: may wait on it: a classic member's poll blocks in the join until the isolated member
#: rejoins or times out), a broker node stopped, a leader or the coordinator moved
GROUP_BLOCKS = {"broker_stopped": "broker_started", "leader_moved": None,
                "coordinator_moved": None, **ISOLATION_EVENTS}
#: of those, the faults of the cluster itself (not of a member)
BROKER_EVENTS = ("broker_stopped", "leader_moved", "coordinator_moved")
#: seconds a client may take, after a broker fault ended, before it talks to the cluster
#: again: the longest default reconnect backoff among the clients (librdkafka's
#: ``reconnect.backoff.max.ms``, 10 s; the Java client's is 1 s); a fresh-clone CI run saw
#: confluent-kafka fetch a partition again 11.3 s after a node restart
BROKER_GRACE = 10.0


def group_blocks(history: History, bound: float, *, but: str | None = None
                 ) -> list[tuple[float, float]]:
    """Intervals (start, end) in which no member can be expected to progress or rejoin (see
    :data:`GROUP_BLOCKS`), each extended by ``bound`` (and broker faults by
    :data:`BROKER_GRACE` more); one never ended runs to infinity. ``but``: a member whose own
    isolations do not count."""
    out = []
    for e in history.events:
        if e.source != HARNESS or e.type not in GROUP_BLOCKS:
            continue
        if but is not None and e.type in ISOLATION_EVENTS and e.data.get("member") == but:
            continue
        ender = GROUP_BLOCKS[e.type]
        end = next((x.ts for x in history.events[e.index + 1:] if x.type == ender
                    and x.data.get("member") == e.data.get("member")),
                   float("inf")) if ender else e.ts
        grace = BROKER_GRACE if e.type in BROKER_EVENTS else 0.0
        out.append((e.ts, end + bound + grace))
    return out


def isolations(history: History) -> list[Isolation]:
    """Every isolation of every member, in history order."""
    marks = [e for e in history.of_type(*ISOLATION_EVENTS, *ISOLATION_EVENTS.values())
             if e.source == HARNESS and e.data.get("member") is not None]
    out = []
    for n, e in enumerate(marks):
        if e.type not in ISOLATION_EVENTS:
            continue
        member = str(e.data["member"])
        later = [x for x in marks[n + 1:] if str(x.data["member"]) == member]
        until = next((x.index for x in later if x.type in ISOLATION_EVENTS), None)
        ended = next((x for x in later if x.type == ISOLATION_EVENTS[e.type]
                      and (until is None or x.index < until)), None)
        iso = Isolation(member, e, ended, None, until)
        if ended is not None:
            heard = next((x.index for x in history.by_source(member)
                          if x.type in REBALANCE_EVENTS and iso.after(x)), None)
            iso = Isolation(member, e, ended, heard, until)
        out.append(iso)
    return out
