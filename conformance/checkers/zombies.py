"""``zombie-fencing`` (S8, S5): a member isolated past its session timeout is fenced when it
comes back.

Analysis
    For every isolation that ended (``spans`` Isolations: frozen then thawed, or a network
    fault, ``"cut"``, ``"drop"`` or ``"delay"``, then healed) of a member Z, take the
    partitions Z owned when the isolation ended (its non-manual spans open at its first event
    after the end). Z's events after the end are walked in order. A partition P is *taken* at
    event ``i`` when another member owns it there (a non-manual span open at ``i``) and got an
    ``assigned`` event with P after the start of the isolation (it has not revoked or lost P
    since), while Z has not been ``assigned`` P again since that start. Members that used
    manual assignment (S7) are not judged.

    Only what Z did after the isolation ended counts. A ``polled`` event returned after the
    end; records in hand (or polled while isolated) may legitimately be processed. A
    ``committed`` acknowledgement whose request (Z's pending ``commit_requested`` with the same
    offsets, ``group_offsets.commit_pairs``, a commit without offsets by the offsets the worker said
    the client tracked, ``spans.asked``; else its latest one of the same mode before it) was
    made before the end is a late answer to an old commit (seen: librdkafka reports the answers
    to async commits it sent just before a SIGSTOP only after the SIGCONT); an
    acknowledgement without a request (auto commit) whose offset does not exceed Z's position
    before the end (the highest offset it had polled of P + 1) may be one too, and is not
    counted.

Anomalies (one per isolation, partition and anomaly; event indices condensed to the first 50)
    ``zombie-commit-accepted``  Z's commit of a taken partition was reported successful: the
                                broker accepted a commit of a member it had removed from the
                                group (S5: a removed member's commit must fail)
    ``zombie-read``             a poll of Z returned records of a partition the group handed to
                                another member after the isolation began (whether or not that
                                member still owns it, e.g. in the rebalance Z's return causes)
                                before Z saw it revoked or lost (S8: the zombie keeps reading
                                what another member was given)

A ``zombie-read`` also says how many of Z's polls returned the partition (``polls``), how long
after the end the last of them returned (``last_seconds_after_end``) and the index of the
``lost``/``revoked`` event by which Z heard of the loss (``heard``; the revoke of its own close
does not count), so that the policy can tell the reads of a member that has not yet heard
from the group from a zombie that reads on.

Evidence: the start and the end of the isolation, the other member's ``assigned`` event, the
first offending event (and the event by which Z heard, if any). Details: member, owner, topic,
partition, ``fault`` (``"frozen"``, ``"cut"``, ``"drop"`` or ``"delay"``, with ``delay_ms``
for a delay), ``isolated_seconds``, the offending ``events``, ``offsets`` (committed or read),
count, and ``seconds_after_end`` from the end of the isolation to the first offence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.checkers.group_offsets import asked, commit_pairs
from conformance.checkers.outages import Isolation, isolations
from conformance.checkers.registry import registers
from conformance.checkers.spans import TP, Span, Spans, condense, tp_name
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
    heard: int | None = None  # zombie-read: when the zombie heard it had lost the partition
    killed: Event | None = None  # zombie-read: its SIGKILL, when it came before it heard


@registers(CHECK, section="S8", rank=70,
           line="a member isolated past its session can neither commit nor read")
def check_zombie_fencing(history: History) -> list[Violation]:
    """Commits accepted from, and records read by, members isolated past their session."""
    spans = Spans(history)
    manual = {s.member for s in spans.all if s.manual}
    out: list[Violation] = []
    for iso in isolations(history):
        if iso.ended is not None and iso.member not in manual:
            out.extend(_episode(history, spans, iso))
    return out


def _episode(history: History, spans: Spans, iso: Isolation) -> list[Violation]:
    mine = history.by_source(iso.member)
    after = [e for e in mine if iso.after(e)]
    if not after:
        return []
    first = after[0].index
    held = {s.tp for s in spans.all if s.member == iso.member and not s.manual
            and s.start < first and (s.end is None or s.end >= first)}
    position: dict[TP, int] = {}
    for e in mine:
        if e.type == "polled" and iso.before_end(e):
            for r in e.records():
                position[r.tp] = max(position.get(r.tp, 0), r.offset + 1)
    requests = [e for e in mine if e.type == "commit_requested"]
    # an answer with the offsets of a request answers that one (a client that sends async
    # commits one at a time answers an old one after later requests); a request without
    # offsets asked for what the client tracked
    exact = {outcome.index: history.events[index]
             for index, outcome in commit_pairs(history) if outcome.source == iso.member
             and outcome.offsets() and asked(history.events[index]) == outcome.offsets()}
    assigned: dict[tuple[str, TP], list[int]] = defaultdict(list)
    for e in history.of_type("assigned"):
        for tp in e.partitions():
            assigned[(e.source, tp)].append(e.index)
    owners: dict[int, str] = {}
    reassigned = {tp for e in mine if e.type == "assigned" and iso.during(e)
                  for tp in e.partitions()}
    noticed: set[TP] = set()
    found: dict[tuple[str, TP], _Offence] = {}

    def given(tp: TP, index: int, candidates: Iterable[Span]) -> int | None:
        """The index of the first ``assigned`` event for ``tp`` of another member's span among
        ``candidates`` after the isolation began and before ``index``."""
        if tp not in held or tp in reassigned:
            return None
        for s in candidates:
            if s.tp != tp or s.member == iso.member or s.manual:
                continue
            since = [i for i in assigned.get((s.member, tp), []) if iso.began.index < i < index]
            if since:
                owners[since[0]] = s.member
                return since[0]
        return None

    def handed(tp: TP, index: int) -> int | None:
        """Given away (whether or not the other member still owns it): a zombie's read."""
        return given(tp, index, spans.all)

    def taken(tp: TP, index: int) -> int | None:
        """Owned by another member at ``index``: a commit accepted then was not fenced."""
        return given(tp, index, spans.open_at(tp, index))

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
                owner = None if tp in noticed else handed(tp, e.index)
                if owner is not None:
                    note("zombie-read", tp, owner, e, offsets)
        elif e.type == "committed" and e.data.get("ok") is True:
            request = exact.get(e.index) or _request(requests, e)
            if request is not None and not iso.after(request):
                continue  # the answer to a commit made before the isolation ended
            for tp, off in sorted(e.offsets().items()):
                if request is None and off <= position.get(tp, 0):
                    continue  # maybe an auto commit sent before the isolation ended
                owner = taken(tp, e.index) if off >= 0 else None
                if owner is not None:
                    note("zombie-commit-accepted", tp, owner, e, [off])
    for (anomaly, tp), offence in found.items():
        if anomaly == "zombie-read":
            offence.heard = _heard(after, tp, offence.events[0].index)
            if offence.heard is None:
                offence.killed = next(
                    (e for e in history.of_type("member_killed")
                     if e.data.get("member") == iso.member
                     and e.index > offence.events[0].index), None)
    return [_violation(iso, anomaly, tp, offence)
            for (anomaly, tp), offence in sorted(found.items())]


def _heard(after: list[Event], tp: TP, since: int) -> int | None:
    """The index of the zombie's first ``lost``/``revoked`` of ``tp`` after event ``since``,
    unless it is the revoke of its own close (followed by ``closed`` before it polls or is
    assigned again): how it learned that the group had moved on."""
    for n, e in enumerate(after):
        if e.index <= since or e.type not in ("revoked", "lost") or tp not in e.partitions():
            continue
        following = next((f for f in after[n + 1:]
                          if f.type in ("closed", "assigned", "polled")), None)
        if e.type == "revoked" and following is not None and following.type == "closed":
            return None
        return e.index
    return None


def _request(requests: list[Event], ack: Event) -> Event | None:
    """The ``commit_requested`` event an acknowledgement answers: the member's latest one of
    the same mode before it (auto commits have none)."""
    mode = ack.data.get("mode")
    return next((r for r in reversed(requests)
                 if r.index < ack.index and r.data.get("mode") == mode), None)


def _violation(iso: Isolation, anomaly: str, tp: TP, offence: _Offence) -> Violation:
    assert iso.ended is not None
    first = offence.events[0]
    z, owner = iso.member, offence.owner
    seconds = iso.seconds
    had_been = f"after it had been {iso.words}" + (f" for {seconds:g} s" if seconds else "")
    if anomaly == "zombie-commit-accepted":
        message = (f"{z} committed {tp_name(tp)} at {offence.offsets[0]} {had_been} and the "
                   f"commit was accepted, while {owner} owned the partition and {z} had not "
                   f"been assigned it again: the zombie was not fenced")
        section = "S5"
    else:
        message = (f"{z} read {len(offence.offsets)} record(s) of {tp_name(tp)} {had_been}, "
                   f"while {owner} owned the partition and before {z} saw it revoked or lost")
        section = SECTION
    details = {"member": z, "owner": owner, "topic": tp[0], "partition": tp[1],
               "fault": iso.kind, "isolated_seconds": seconds,
               "events": condense(e.index for e in offence.events),
               "offsets": condense(offence.offsets), "count": len(offence.offsets),
               "seconds_after_end": round(max(0.0, first.ts - iso.ended.ts), 3)}
    if anomaly == "zombie-read":
        details["polls"] = len(offence.events)
        details["heard"] = offence.heard
        if offence.killed is not None:  # it could not hear any more
            details["killed_seconds_after_end"] = round(
                max(0.0, offence.killed.ts - iso.ended.ts), 3)
        details["last_seconds_after_end"] = round(
            max(0.0, offence.events[-1].ts - iso.ended.ts), 3)
    if iso.kind == "delay":
        details["delay_ms"] = iso.began.data.get("delay_ms")
    return Violation(
        check=CHECK, anomaly=anomaly, section=section, message=message,
        evidence=sorted({iso.began.index, iso.ended.index, offence.assigned, first.index}
                        | ({offence.heard} if offence.heard is not None else set())),
        details=details,
    )
