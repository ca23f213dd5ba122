"""``duplicates-bounded`` (S5, S8): re-deliveries happen only where the contract allows them.

Analysis
    For each record processed more than once, take every two consecutive processings: member A
    at event ``i``, then member B at event ``j > i``. Each belongs to an ownership span (see
    ``spans``). When both lie in the same span the pair is a re-read inside one ownership;
    otherwise it is part of the *hand-over* from A's span to B's span.

Anomalies
    ``redelivered-after-commit``  the offset is below the last offset A committed (ok
                                  ``committed`` event before B's ``assigned`` event of the span
                                  holding ``j``): a committed record came back. Not when a
                                  later ok commit of another member moved the group's offset
                                  back to or below the record before that ``assigned`` event
                                  (a late async ack or a rewind: no longer committed). A
                                  ``seeked`` of B to an offset <= the record inside its span
                                  before ``j`` makes the re-read deliberate (S7) and exempts it.
    ``duplicate-without-cause``   A == B, one span holds both, and no ``seeked`` of that member
                                  for the partition to an offset <= the record lies between.
    ``duplicates-over-bound``     one hand-over re-processed more records than the scenario's
                                  ``strategy.bound`` (when it is an int). Records below an
                                  offset A tried to commit in its span but the broker refused
                                  (A had been fenced: S8's re-delivery from the last commit)
                                  do not count, nor those below an offset A had asked to
                                  commit and had no outcome for when it was killed (an async
                                  commit cut short by the kill may not have landed: the bound
                                  counts from the last commit requested; also when A's span
                                  ended, e.g. by ``lost``, before the kill and A had not owned
                                  the partition again since), nor records A
                                  processed and then sought back
                                  over (its rewind left them uncommitted, S7), nor those
                                  B re-read after seeking back over them (its own rewind,
                                  S7). Pairs whose
                                  B span began before A's are a stale owner's reads, judged
                                  by ``zombie-fencing`` and ``exclusive-ownership``.

Also ``duplicates-after-stale-commit``: the records of a hand-over that a commit of a third
member moved the group's offset back over, after A's own last ok commit, while that member
did not own the partition or owned it only in a span begun before A's (a stale owner that
never heard it lost the partition); they do not count toward ``duplicates-over-bound``.

``duplicate_figures`` measures what a report shows next to the verdict: total and distinct
processings, hand-overs with duplicates, the largest duplicate count of one hand-over.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from conformance.checkers.group_offsets import (
    GroupOffsets,
    asked,
    commit_pairs,
    commits,
    unresolved_at_kill,
)
from conformance.checkers.registry import figures, registers
from conformance.checkers.spans import (
    TP,
    Processing,
    Seeks,
    Settings,
    Span,
    Spans,
    condense,
    processings,
    tp_name,
)
from conformance.history import HARNESS, History
from conformance.verdicts import Violation

CHECK = "duplicates-bounded"
SECTION = "S5"


@dataclass(frozen=True)
class Repeat:
    """Two consecutive processings of one record and the spans they belong to."""

    first: Processing
    second: Processing
    span_a: Span
    span_b: Span

    @property
    def handover(self) -> bool:
        return self.span_a != self.span_b


def repeats(history: History, spans: Spans) -> list[Repeat]:
    """Every pair of consecutive processings of one record, ordered by the second one."""
    seen: dict[tuple[str, int, int], Processing] = {}
    out = []
    for p in processings(history):
        key = (p.rec.topic, p.rec.partition, p.rec.offset)
        prev = seen.get(key)
        if prev is not None:
            out.append(Repeat(prev, p, spans.owning(prev.member, prev.tp, prev.index),
                              spans.owning(p.member, p.tp, p.index)))
        seen[key] = p
    return out


def handovers(found: list[Repeat]) -> dict[tuple[Span, Span], list[Repeat]]:
    """The repeats that cross from one span to another, grouped by (A's span, B's span)."""
    out: dict[tuple[Span, Span], list[Repeat]] = defaultdict(list)
    for r in found:
        if r.handover:
            out[(r.span_a, r.span_b)].append(r)
    return out


@registers(CHECK, section="S5", rank=20,
           line="re-deliveries stay within the commit strategy's bound")
def check_duplicates(history: History) -> list[Violation]:
    """Re-deliveries of committed records, causeless re-reads and hand-overs over the bound."""
    settings, spans = Settings.of(history), Spans(history)
    group, seeks = GroupOffsets(history), Seeks(history)
    found = repeats(history, spans)
    out = []
    for r in found:
        if not r.handover:
            if r.first.member == r.second.member and seeks.back_to(
                    r.first.member, r.first.tp, r.first.index, r.second.index,
                    r.first.rec.offset) is None:
                out.append(_without_cause(r))
            continue
        v = _after_commit(r, group, seeks)
        if v is not None:
            out.append(v)
    if settings.bound is not None:
        failed = _failed_commits(history)
        cut_short: dict[tuple[str, TP], list[tuple[int, int]]] = defaultdict(list)
        for kill, offsets in unresolved_at_kill(history):
            member = str(history.events[kill].data.get("member"))
            for tp, off in offsets.items():
                cut_short[(member, tp)].append((kill, off))
        for (a, b), rs in handovers(found).items():
            if not b.orphan and b.start < a.start:
                # B processed in an ownership older than A's: a stale owner (a zombie) reading
                # on, which zombie-fencing and exclusive-ownership judge; not a hand-over
                continue
            covered = max((off for i, off in failed.get((a.member, a.tp), [])
                           if a.contains(i)), default=-1)
            # records a commit of A covered but the broker refused (A was fenced): re-reading
            # them is the documented price of a lost membership (S8), not the strategy's
            rs = [r for r in rs if r.first.rec.offset >= covered]
            # records a commit of A covered that A had asked for and had no outcome of when it
            # was killed: the bound counts from the last commit requested. The kill may come
            # after A's span ended: a member that heard of its loss (``lost``, e.g. fenced
            # during a network cut) between the kill step and the SIGKILL still had those
            # requests unanswered; they count as long as A had not taken the partition again
            pending = max((off for kill, off in cut_short.get((a.member, a.tp), [])
                           if _last_span_before(spans, a, kill)), default=-1)
            rs = [r for r in rs if r.first.rec.offset >= pending]
            # records A processed before it sought back over them (in this span or a later
            # one of its own, before B took over): its rewind (S7), not the strategy, left
            # them uncommitted
            end = b.start if not b.orphan else 1 << 62
            rs = [r for r in rs if seeks.back_to(a.member, a.tp, r.first.index,
                                                 min(end, r.second.index),
                                                 r.first.rec.offset) is None]
            # records B re-read after seeking back over them in its own span: its rewind
            # (S7), as for redelivered-after-commit
            rs = [r for r in rs if seeks.back_to(b.member, b.tp, b.start, r.second.index,
                                                 r.first.rec.offset) is None]
            # records a commit of another member that did not own the partition moved the
            # group's offset back over, after A's own last commit: that commit's doing, not
            # the strategy's (reported as its own anomaly)
            stale = _stale_commit(history, spans, group, a, b)
            if stale is not None:
                moved = [r for r in rs if stale[1] <= r.first.rec.offset < stale[2]]
                if moved:
                    out.append(_after_stale_commit(a, b, moved, stale))
                    rs = [r for r in rs if r not in moved]
            if len(rs) > settings.bound:
                out.append(_over_bound(a, b, rs, settings))
    return sorted(out, key=lambda v: v.evidence[-1] if v.evidence else -1)


def _stale_commit(history: History, spans: Spans, group: GroupOffsets, a: Span, b: Span
                  ) -> tuple[int, int, int, str] | None:
    """(event index, offset, A's own offset, member) when the group's offset of A's partition at B's
    start was set, below A's own last ok commit, by a commit of a third member that did not
    own the partition when the commit was acknowledged, or owned it only in a span begun
    before A's (a stale owner: kafka-python's unsubscribe without a revoke leaves the member
    committing on for a partition the group gave A; soak seed 70)."""
    if b.orphan:
        return None
    settled = group.at(a.tp, b.start)
    own = group.at(a.tp, b.start, member=a.member)
    if settled is None or own is None or settled[1] >= own[1] or settled[0] <= own[0]:
        return None
    event = history.events[settled[0]]
    if event.type != "committed" or event.source in (a.member, b.member, HARNESS):
        return None
    held = spans.at(event.source, a.tp, settled[0])
    if held is not None and held.start > a.start:
        return None  # its own, later ownership
    return settled[0], settled[1], own[1], event.source


def _after_stale_commit(a: Span, b: Span, rs: list[Repeat],
                        stale: tuple[int, int, int, str]) -> Violation:
    index, offset, own, member = stale
    offsets = sorted(r.first.rec.offset for r in rs)
    return Violation(
        check=CHECK, anomaly="duplicates-after-stale-commit", section=SECTION,
        message=f"{len(rs)} record(s) of {tp_name(a.tp)} re-processed when {a.member} handed "
                f"over to {b.member}: {member}'s commit of {offset}, made while {a.member} owned "
                f"the partition, moved the group's offset back from {a.member}'s {own}",
        evidence=sorted({index, b.start, *condense(r.second.index for r in rs)}),
        details={"topic": a.tp[0], "partition": a.tp[1], "from": a.member, "to": b.member,
                 "count": len(rs), "committed": offset, "own": own, "by": member,
                 "offsets": condense(offsets)},
    )


def _last_span_before(spans: Spans, a: Span, index: int) -> bool:
    """Whether ``a`` is its member's latest span of its partition begun before ``index``
    (``index`` lies in it or after its end, before any later span of that member)."""
    if a.orphan:
        return a.start <= index and (a.end is None or index <= a.end)
    return spans.latest_before(a.member, a.tp, index) == a


def _failed_commits(history: History) -> dict[tuple[str, TP], list[tuple[int, int]]]:
    """(member, partition) -> (index of the request, else of the outcome, offset) of every
    commit reported failed (the outcome may come after the span ended, e.g. after on_lost)."""
    requested = {e.index: r for r, e in commit_pairs(history)}
    out: dict[tuple[str, TP], list[tuple[int, int]]] = defaultdict(list)
    for c in commits(history):
        if not c.ok:
            # a commit without offsets reports none when it fails: what its request tracked
            offsets = c.offsets or (asked(history.events[requested[c.index]])
                                    if c.index in requested else {})
            for tp, off in offsets.items():
                out[(c.member, tp)].append((requested.get(c.index, c.index), off))
    return out


def _after_commit(r: Repeat, group: GroupOffsets, seeks: Seeks) -> Violation | None:
    tp, offset, j = r.first.tp, r.first.rec.offset, r.second.index
    cutoff = r.span_b.start if not r.span_b.orphan else j
    last = group.at(tp, cutoff, member=r.first.member)
    if last is None or offset >= last[1]:
        return None
    if any(offset >= off for _, off in group.possible(tp, cutoff)):
        return None  # a later commit (late async ack, rewind) moved the group offset back
    if seeks.back_to(r.second.member, tp, r.span_b.start, j, offset) is not None:
        return None
    evidence = [r.first.index, last[0]] + ([cutoff] if cutoff != j else []) + [j]
    return Violation(
        check=CHECK, anomaly="redelivered-after-commit", section=SECTION,
        message=f"{tp_name(tp)} offset {offset} processed again by {r.second.member} although "
                f"{r.first.member} had committed {last[1]}",
        evidence=sorted(set(evidence)),
        details={"topic": tp[0], "partition": tp[1], "offset": offset, "committed": last[1],
                 "from": r.first.member, "to": r.second.member},
    )


def _without_cause(r: Repeat) -> Violation:
    tp, offset = r.first.tp, r.first.rec.offset
    return Violation(
        check=CHECK, anomaly="duplicate-without-cause", section=SECTION,
        message=f"{r.first.member} processed {tp_name(tp)} offset {offset} twice in one "
                f"ownership without a seek",
        evidence=sorted({r.first.index, r.second.index}),
        details={"topic": tp[0], "partition": tp[1], "offset": offset,
                 "member": r.first.member, "span_start": r.span_a.start},
    )


def _over_bound(a: Span, b: Span, rs: list[Repeat], settings: Settings) -> Violation:
    offsets = sorted(r.first.rec.offset for r in rs)
    marks = [i for i in (a.end, b.start) if i is not None and i >= 0]
    return Violation(
        check=CHECK, anomaly="duplicates-over-bound", section=SECTION,
        message=f"{len(rs)} record(s) of {tp_name(a.tp)} re-processed when {a.member} handed "
                f"over to {b.member}; strategy {settings.strategy} allows {settings.bound}",
        evidence=sorted(set(marks + condense(r.second.index for r in rs))),
        details={"topic": a.tp[0], "partition": a.tp[1], "from": a.member, "to": b.member,
                 "count": len(rs), "bound": settings.bound, "strategy": settings.strategy,
                 "offsets": condense(offsets)},
    )


@figures(CHECK)
def duplicate_figures(history: History) -> dict[str, Any]:
    """Processings, duplicates and the largest number of duplicates of one hand-over."""
    spans = Spans(history)
    found = repeats(history, spans)
    per = [len(rs) for rs in handovers(found).values()]
    total = len(processings(history))
    settings = Settings.of(history)
    return {
        "processings": total,
        "duplicates": len(found),
        "distinct_records": total - len(found),
        "handovers_with_duplicates": len(per),
        "max_duplicates_per_handover": max(per, default=0),
        "bound": settings.bound,
        "strategy": settings.strategy,
    }
