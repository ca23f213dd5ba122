"""``zombie-fencing`` (S8, S5): a member stopped past its session timeout is fenced when it wakes.

Analysis
    For every frozen-then-thawed member Z (harness ``member_frozen`` / ``member_thawed``, see
    ``spans`` Freezes) take the partitions Z owned when it was stopped (its non-manual spans open
    at its first event after the thaw). Z's events after the thaw are walked in order. A
    partition P is *taken* at event ``i`` when another member owns it there (a non-manual span
    open at ``i``) and got an ``assigned`` event with P after Z's freeze (it has not revoked or
    lost P since), while Z has not been ``assigned`` P again since the freeze.
    Members that used manual assignment (S7) are not judged.

    Only what Z did after SIGCONT counts. A ``polled`` event returned after the thaw; records
    in hand at the freeze may legitimately be processed. A ``committed`` acknowledgement whose
    request (Z's latest ``commit_requested`` of the same mode before it) was made before the
    freeze is a late answer to an old commit; an acknowledgement without a request (auto
    commit) whose offset does not exceed Z's position before the freeze (the highest offset it
    had polled of P + 1) may be one too, and is not counted.

Anomalies (one per freeze, partition and anomaly; event indices condensed to the first 50)
    ``zombie-commit-accepted``  Z's commit of a taken partition was reported successful: the
                                broker accepted a commit of a member it had removed from the
                                group (S5: a removed member's commit must fail)
    ``zombie-read``             a poll of Z returned records of a taken partition before Z saw
                                it revoked or lost (S8: the zombie keeps reading what another
                                member now owns)

Evidence: the freeze, the thaw, the other member's ``assigned`` event, the first offending
event. Details: member, owner, topic, partition, frozen_seconds, the offending ``events``,
``offsets`` (committed or read), count, and seconds from the thaw to the first offence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from conformance.checkers.spans import (
    TP,
    Freeze,
    Spans,
    condense,
    freezes,
    tp_name,
)
from conformance.history import Event, History
from conformance.verdicts import Violation

CHECK = "zombie-fencing"
SECTION = "S8"


@dataclass
class _Offence:
    """What one zombie did to one taken partition, and the owner's ``assigned`` event."""

    owner: str
    assigned: int
    events: list[Event] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


def check_zombie_fencing(history: History) -> list[Violation]:
    """Commits accepted from, and records read by, members after a freeze past their session."""
    spans = Spans(history)
    manual = {s.member for s in spans.all if s.manual}
    out: list[Violation] = []
    for fz in freezes(history):
        if fz.thawed is not None and fz.member not in manual:
            out.extend(_episode(history, spans, fz))
    return out


def _episode(history: History, spans: Spans, fz: Freeze) -> list[Violation]:
    mine = history.by_source(fz.member)
    after = [e for e in mine if fz.after_thaw(e)]
    if not after:
        return []
    first = after[0].index
    held = {s.tp for s in spans.all if s.member == fz.member and not s.manual
            and s.start < first and (s.end is None or s.end >= first)}
    position: dict[TP, int] = {}
    for e in mine:
        if e.type == "polled" and fz.before_freeze(e):
            for r in e.records():
                position[r.tp] = max(position.get(r.tp, 0), r.offset + 1)
    requests = [e for e in mine if e.type == "commit_requested"]
    assigned: dict[tuple[str, TP], list[int]] = defaultdict(list)
    for e in history.of_type("assigned"):
        for tp in e.partitions():
            assigned[(e.source, tp)].append(e.index)
    owners: dict[int, str] = {}
    reassigned: set[TP] = set()
    noticed: set[TP] = set()
    found: dict[tuple[str, TP], _Offence] = {}

    def taken(tp: TP, index: int) -> int | None:
        """The index of the other owner's ``assigned`` event (after the freeze) for ``tp``."""
        if tp not in held or tp in reassigned:
            return None
        for s in spans.open_at(tp, index):
            if s.member == fz.member or s.manual:
                continue
            since = [i for i in assigned.get((s.member, tp), []) if fz.frozen.index < i < index]
            if since:
                owners[since[0]] = s.member
                return since[0]
        return None

    def note(anomaly: str, tp: TP, owner: int, e: Event, offsets: list[int]) -> None:
        offence = found.setdefault((anomaly, tp), _Offence(owners[owner], owner))
        if not offence.events or offence.events[-1] is not e:
            offence.events.append(e)
        offence.offsets.extend(offsets)

    for e in after:
        if e.type == "assigned":
            reassigned |= set(e.partitions())
        elif e.type in ("revoked", "lost"):
            noticed |= set(e.partitions())
        elif e.type == "polled":
            by_tp: dict[TP, list[int]] = defaultdict(list)
            for r in e.records():
                by_tp[r.tp].append(r.offset)
            for tp, offsets in by_tp.items():
                owner = None if tp in noticed else taken(tp, e.index)
                if owner is not None:
                    note("zombie-read", tp, owner, e, offsets)
        elif e.type == "committed" and e.data.get("ok") is True:
            request = _request(requests, e)
            if request is not None and not fz.after_thaw(request):
                continue  # the answer to a commit made before the freeze
            for tp, off in sorted(e.offsets().items()):
                if request is None and off <= position.get(tp, 0):
                    continue  # maybe an auto commit sent before the freeze
                owner = taken(tp, e.index) if off >= 0 else None
                if owner is not None:
                    note("zombie-commit-accepted", tp, owner, e, [off])
    return [_violation(fz, anomaly, tp, offence)
            for (anomaly, tp), offence in sorted(found.items())]


def _request(requests: list[Event], ack: Event) -> Event | None:
    """The ``commit_requested`` event an acknowledgement answers: the member's latest one of
    the same mode before it (auto commits have none)."""
    mode = ack.data.get("mode")
    return next((r for r in reversed(requests)
                 if r.index < ack.index and r.data.get("mode") == mode), None)


def _violation(fz: Freeze, anomaly: str, tp: TP, offence: _Offence) -> Violation:
    assert fz.thawed is not None
    first = offence.events[0]
    z, owner = fz.member, offence.owner
    if anomaly == "zombie-commit-accepted":
        message = (f"{z} committed {tp_name(tp)} at {offence.offsets[0]} after it was thawed "
                   f"and the commit was accepted, while {owner} owned the partition and {z} "
                   f"had not been assigned it again: the zombie was not fenced")
        section = "S5"
    else:
        message = (f"{z} read {len(offence.offsets)} record(s) of {tp_name(tp)} after it was "
                   f"thawed, while {owner} owned the partition and before {z} saw it revoked "
                   f"or lost")
        section = SECTION
    return Violation(
        check=CHECK, anomaly=anomaly, section=section, message=message,
        evidence=sorted({fz.frozen.index, fz.thawed.index, offence.assigned, first.index}),
        details={"member": z, "owner": owner, "topic": tp[0], "partition": tp[1],
                 "frozen_seconds": fz.thawed.data.get("frozen_seconds"),
                 "events": condense(e.index for e in offence.events),
                 "offsets": condense(offence.offsets), "count": len(offence.offsets),
                 "seconds_after_thaw": round(max(0.0, first.ts - fz.thawed.ts), 3)},
    )
