"""``exclusive-ownership`` (S8): one partition, one owner.

Analysis
    Concurrent processing: for every two spans of one partition held by different members whose
    intervals overlap, both members processing records of the partition inside the overlap
    means two consumers worked on the partition at once (a zombie after a missed revoke).
    Manual assignments (S7) are outside group coordination and never make a concurrent pair.
    An isolated member's processing (frozen, or cut off, black-holed or slowed by a network
    fault) from the start of its isolation until it hears of the group after the end
    (``outages.isolations``, ``Isolation.window``) is judged by ``zombie-fencing`` instead.

    Settled group: at each harness ``settled`` event, every partition of the scenario topic
    (``partitions`` of the ``scenario`` event, or the ``count`` of the latest
    ``partitions_added`` event before it) must have exactly one open span. Spans of members
    that were killed, stopped, died or closed are already ended, so only live members count;
    when the event lists its ``live`` members, a frozen member's still open spans do not count.
    Without a scenario topic or partition count, the ``owners`` keys of the event stand in.
    A ``settled`` event with ``timeout: true`` (the group did not settle in time) describes no
    settled state and is not checked here: ``member-assigned`` judges it.

    Unsubscribe: a member that unsubscribed (worker event ``unsubscribed``) gave its partitions
    back. The listener must hear ``revoked`` or ``lost`` of each partition it owned before the
    partition is assigned to it again (S8: an application commits or releases per-partition
    state there); a span that an ``assigned`` event ends instead says it never did.

Anomalies
    ``concurrent-owners``  evidence: the first processed event of each member in the overlap
    ``unowned-partition``  a partition with no open span at ``settled``
    ``multiple-owners``    a partition with more than one open span at ``settled``
    ``unsubscribe-without-revoke``  evidence: the ``unsubscribed`` and the next ``assigned``
"""

from __future__ import annotations

from collections import defaultdict

from conformance.checkers.outages import isolations
from conformance.checkers.registry import registers
from conformance.checkers.spans import TP, Settings, Span, Spans, processings, tp_name
from conformance.history import Event, History
from conformance.verdicts import Violation

CHECK = "exclusive-ownership"
SECTION = "S8"


@registers(CHECK, section="S8", rank=60,
           line="at most one member owns a partition at a time")
def check_exclusive_ownership(history: History) -> list[Violation]:
    """Concurrent owners anywhere, and unowned or multiply owned partitions when settled."""
    spans = Spans(history)
    return concurrent_owners(history, spans) + settled_owners(history, spans) \
        + unsubscribed_unheard(history, spans)


def unsubscribed_unheard(history: History, spans: Spans) -> list[Violation]:
    """Spans open at the member's ``unsubscribed`` event that a new ``assigned`` ended: the
    listener never heard the partition go."""
    out = []
    for u in history.of_type("unsubscribed"):
        for s in spans.all:
            if s.member == u.source and s.contains(u.index) and s.end_type == "assigned" \
                    and not s.manual:
                out.append(Violation(
                    check=CHECK, anomaly="unsubscribe-without-revoke", section=SECTION,
                    message=f"{u.source} unsubscribed while owning {tp_name(s.tp)} and was "
                            f"assigned it again without hearing it revoked or lost",
                    evidence=[u.index, int(s.end or u.index)],
                    details={"member": u.source, "topic": s.tp[0], "partition": s.tp[1]}))
    return out


def concurrent_owners(history: History, spans: Spans) -> list[Violation]:
    """Pairs of overlapping spans of different members that both processed inside the overlap."""
    done: dict[tuple[str, TP], list[int]] = defaultdict(list)
    zombie: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for iso in isolations(history):
        zombie[iso.member].append(iso.window)
    for p in processings(history):
        if any(lo < p.index < hi for lo, hi in zombie.get(p.member, ())):
            continue  # an isolated member finishing what it had in hand: zombie-fencing's
        if not done[(p.member, p.tp)] or done[(p.member, p.tp)][-1] != p.index:
            done[(p.member, p.tp)].append(p.index)
    by_tp: dict[TP, list[Span]] = defaultdict(list)
    for s in spans.all:
        by_tp[s.tp].append(s)
    out = []
    for tp, group in by_tp.items():
        for n, a in enumerate(group):
            for b in group[n + 1:]:
                group_pair = a.member != b.member and not (a.manual or b.manual)
                window = a.window(b) if group_pair else None
                if window is None:
                    continue
                ia = _first_in(done[(a.member, tp)], window)
                ib = _first_in(done[(b.member, tp)], window)
                if ia is not None and ib is not None:
                    out.append(_concurrent(tp, a, b, ia, ib))
    return sorted(out, key=lambda v: v.evidence)


def _first_in(indices: list[int], window: tuple[int, float]) -> int | None:
    return next((i for i in indices if window[0] < i < window[1]), None)


def _concurrent(tp: TP, a: Span, b: Span, ia: int, ib: int) -> Violation:
    return Violation(
        check=CHECK, anomaly="concurrent-owners", section=SECTION,
        message=f"{a.member} and {b.member} both processed {tp_name(tp)} while both owned it",
        evidence=sorted({ia, ib}),
        details={"topic": tp[0], "partition": tp[1], "members": [a.member, b.member],
                 "spans": [[a.start, a.end], [b.start, b.end]]},
    )


def settled_owners(history: History, spans: Spans) -> list[Violation]:
    """At each ``settled`` event, each partition of the topic has exactly one open span."""
    settings = Settings.of(history)
    count = settings.partitions
    out = []
    for e in history:
        if e.type == "partitions_added" and e.data.get("topic", settings.topic) == settings.topic:
            count = int(e.data.get("count", count or 0))
        elif e.type == "settled" and not e.data.get("timeout"):
            live = e.data.get("live")
            for tp in _partitions(e, settings.topic, count):
                open_spans = [s for s in spans.open_at(tp, e.index)
                              if not isinstance(live, list) or s.member in live]
                out.extend(_settled(e, tp, open_spans))
    return out


def _owners(e: Event) -> dict[TP, str]:
    owners = e.data.get("owners") or {}
    out = {}
    for name, member in owners.items():
        topic, _, part = str(name).rpartition(":")
        if part.lstrip("-").isdigit():
            out[(topic, int(part))] = str(member)
    return out


def _partitions(e: Event, topic: str | None, count: int | None) -> list[TP]:
    if topic is not None and count is not None:
        return [(topic, p) for p in range(count)]
    return sorted(_owners(e))


def _settled(e: Event, tp: TP, open_spans: list[Span]) -> list[Violation]:
    owners = [s for s in open_spans if not s.manual]  # group owners; manual ones only help
    if open_spans and len(owners) <= 1:
        return []
    anomaly = "unowned-partition" if not open_spans else "multiple-owners"
    members = [s.member for s in owners]
    what = "no owner" if not open_spans else f"owners {', '.join(members)}"
    return [Violation(
        check=CHECK, anomaly=anomaly, section=SECTION,
        message=f"{tp_name(tp)} has {what} when the group settled",
        evidence=sorted({s.start for s in owners} | {e.index}),
        details={"topic": tp[0], "partition": tp[1], "owners": members,
                 "harness_owner": _owners(e).get(tp)},
    )]
