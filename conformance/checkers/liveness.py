"""``member-assigned`` (S8, liveness): a live group settles, and every live member gets work.

docs/semantics.md has no liveness section; the rule checked here: when the harness waits for the
group to settle, every partition ends up owned by exactly one live member, and when the topic
has at least as many partitions as live members, each of them owns at least one (every assignor
of both group protocols spreads a topic's partitions over all members). A member that stays in
the group's books but never reports an assignment is not working, whatever it polls.

Analysis
    The harness ``settled`` event carries ``timeout: true`` when the group did not settle in
    time, ``live`` (the members that run: not stopped, killed or frozen) and ``partitions``
    (the topic's count). Older histories lack the last two: live members are then derived
    (``member_started`` without a later end event, ``closed`` or an unthawed freeze) and the
    count is the scenario's, or that of the latest ``partitions_added``. Ownership is the
    non-manual spans (see ``spans``) open at the event.

    A timed-out settle with no live member is not judged. One with more live members than
    partitions is not a failure when every partition has exactly one live owner: the members
    beyond the partition count own nothing, and adapters do not report an empty assignment,
    so the harness cannot see that they joined.

    A ``drain_finished`` event with ``joined: false`` says the final drain member got no
    partition while records were left to read (older histories lack ``joined``: not judged).

Anomalies
    ``group-never-settled``    a timed-out ``settled`` event. Evidence: the event and each live
                               member's last ``assigned``/``revoked``/``lost`` event. Details:
                               live, partitions, owners per member, unowned and shared
                               partitions.
    ``member-never-assigned``  at a timed-out settle with at least as many partitions as live
                               members, a live member that owns nothing; or a drain member that
                               never joined and never got an ``assigned`` event. Evidence: its
                               ``member_started``, its last three ``polled`` events, the event.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from conformance.checkers.registry import registers
from conformance.checkers.spans import (
    MEMBER_END_EVENTS,
    REBALANCE_EVENTS,
    TP,
    Settings,
    Spans,
)
from conformance.history import HARNESS, Event, History
from conformance.verdicts import Violation

CHECK = "member-assigned"
SECTION = "S8"


class _Members:
    """Members started, ended and frozen as the history goes, and their events by index."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.started: dict[str, int] = {}
        self.gone: set[str] = set()
        self.frozen: set[str] = set()

    def apply(self, e: Event) -> None:
        member = e.data.get("member")
        if e.source != HARNESS:
            if e.type == "closed":
                self.gone.add(e.source)
            return
        if member is None:
            return
        member = str(member)
        if e.type == "member_started":
            self.started[member] = e.index
            self.gone.discard(member)
            self.frozen.discard(member)
        elif e.type in MEMBER_END_EVENTS:
            self.gone.add(member)
        elif e.type == "member_frozen":
            self.frozen.add(member)
        elif e.type == "member_thawed":
            self.frozen.discard(member)

    def live(self) -> list[str]:
        return [m for m in self.started if m not in self.gone and m not in self.frozen]

    def last(self, member: str, types: tuple[str, ...], before: int, n: int = 1) -> list[int]:
        """Indices of the member's last ``n`` events of ``types`` before ``before``."""
        found = [e.index for e in self.history.by_source(member)
                 if e.type in types and e.index < before]
        return found[-n:]


@registers(CHECK, section="S8", rank=80,
           line="the group settles, and every live member gets partitions")
def check_member_assigned(history: History) -> list[Violation]:
    """Groups that never settled, and live members left without partitions."""
    settings = Settings.of(history)
    spans = Spans(history)
    members = _Members(history)
    count = settings.partitions
    out: list[Violation] = []
    for e in history:
        members.apply(e)
        if e.source != HARNESS:
            continue
        if e.type == "partitions_added" and e.data.get("topic", settings.topic) == settings.topic:
            count = int(e.data.get("count", count or 0))
        elif e.type == "settled" and e.data.get("timeout") is True:
            live = e.data.get("live")
            live = [str(m) for m in live] if isinstance(live, list) else members.live()
            partitions = e.data.get("partitions")
            partitions = partitions if isinstance(partitions, int) else count
            out.extend(_timed_out(e, live, partitions, settings.topic, spans, members))
        elif e.type == "drain_finished" and e.data.get("joined") is False:
            member = str(e.data.get("member"))
            if count != 0 and not [s for s in spans.all
                                   if s.member == member and s.start < e.index]:
                out.append(_never_assigned(e, member, members, count, drain=True))
    return out


def _timed_out(e: Event, live: list[str], partitions: int | None, topic: str | None,
               spans: Spans, members: _Members) -> list[Violation]:
    if not live:
        return []
    owned: dict[str, list[TP]] = {m: [] for m in live}
    owners: dict[TP, list[str]] = defaultdict(list)
    for s in spans.all:
        if s.member in owned and not s.manual and s.contains(e.index) \
                and (topic is None or s.tp[0] == topic):
            owned[s.member].append(s.tp)
            owners[s.tp].append(s.member)
    wanted = ([(topic, p) for p in range(partitions)] if topic is not None and partitions
              is not None else sorted(owners))
    unowned = [tp for tp in wanted if not owners.get(tp)]
    shared = [tp for tp in wanted if len(owners.get(tp, [])) > 1]
    out = []
    idle_extra = partitions is not None and len(live) > partitions
    if not (idle_extra and not unowned and not shared):
        evidence = {e.index}
        for m in live:
            evidence.update(members.last(m, REBALANCE_EVENTS, e.index))
        out.append(Violation(
            check=CHECK, anomaly="group-never-settled", section=SECTION,
            message=f"the group did not settle: {_state(live, owned, unowned, shared)}",
            evidence=sorted(evidence),
            details={"live": live, "partitions": partitions,
                     "owners": {m: sorted(p for _t, p in tps) for m, tps in owned.items()},
                     "unowned": [p for _t, p in unowned], "shared": [p for _t, p in shared]}))
    if partitions is not None and partitions >= len(live):
        out.extend(_never_assigned(e, m, members, partitions) for m in live if not owned[m])
    return out


def _state(live: list[str], owned: dict[str, list[TP]], unowned: list[TP],
           shared: list[TP]) -> str:
    parts = [f"{len(live)} live member(s)"]
    if unowned:
        parts.append(f"partition(s) {', '.join(str(p) for _t, p in unowned)} without an owner")
    if shared:
        parts.append(f"partition(s) {', '.join(str(p) for _t, p in shared)} with several")
    idle = [m for m in live if not owned[m]]
    if idle:
        parts.append(f"{', '.join(idle)} owning nothing")
    return "; ".join(parts)


def _never_assigned(e: Event, member: str, members: _Members, partitions: int | None,
                    drain: bool = False) -> Violation:
    started = members.started.get(member)
    polls = members.last(member, ("polled",), e.index, n=3)
    assigned = members.last(member, ("assigned",), e.index)
    where = ("as the final drain member it got none while records were left to read" if drain
             else "the group did not settle")
    details: dict[str, Any] = {"member": member, "partitions": partitions, "drain": drain,
                               "last_assigned": assigned[0] if assigned else None,
                               "polls": len([x for x in members.history.by_source(member)
                                             if x.type == "polled" and x.index < e.index])}
    return Violation(
        check=CHECK, anomaly="member-never-assigned", section=SECTION,
        message=f"{member} is live but owns no partition: {where}"
                + (f" ({partitions} partition(s))" if partitions is not None else ""),
        evidence=sorted({*([started] if started is not None else []), *polls, e.index}),
        details=details,
    )
