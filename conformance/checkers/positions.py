"""``start-position`` (S1, S2): a member that gains a partition resumes at the committed offset.

Analysis
    For every non-manual ownership span, take the first ``polled`` or ``processed`` event of the
    member inside the span holding records of the partition; its lowest offset there is the
    start ``f``. Spans with no such event are not checked; spans where the member ``seeked`` the
    partition before that event are exempt (S7).

    Accepted starts ``a``: the group's committed offset when the ``assigned`` event arrived
    (latest ok commit of any member before it, or the broker's ``group_offsets`` report; also
    the offsets of commits a killed member had requested without an outcome, which may have
    landed, and under auto commit the positions a killed or frozen member held after its
    polls and processed records that no later ok commit of its covers, which it may have
    committed without reporting it (yet); also the offsets of commits
    requested before a ``group_offsets`` report but answered, ok or failed, only after it was
    asked, which may have landed after the report), and every ok commit of the partition
    acknowledged after the ``assigned`` event and before ``f``'s event (async commits race the
    hand-over). ``f`` is right when some ``a <= f`` has no produced offset in ``[a, f)`` (offsets
    that were never produced, such as transaction markers, cannot be skipped). While no commit
    is certain at the assignment (only uncertain ones, or ones acknowledged after it), the
    reset policy's start is accepted too.

    Without any such commit, ``auto_offset_reset`` decides (S2): ``earliest`` accepts ``f`` when
    no produced offset lies below it; ``latest`` accepts any ``f`` above the highest offset of the
    partition acknowledged in ``produced`` events before the ``assigned`` event; ``none`` accepts
    nothing (the client must raise instead of choosing a position).

Anomalies
    ``start-after-committed``    produced records between the expected start and ``f`` skipped
    ``start-before-committed``   ``f`` is below every accepted start: committed records re-read
    ``start-without-committed``  reset ``none``, no committed offset, yet records were read (S2)
    ``resumed-own-position``     a start after the committed offset where every skipped record
                                 had been processed by the same member before it lost the
                                 partition: it resumed at its own position instead of the
                                 group's committed offset (no record goes unprocessed, but the
                                 member ignores the group's state; librdkafka issue 1802)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from conformance.checkers.group_offsets import GroupOffsets
from conformance.checkers.registry import registers
from conformance.checkers.spans import (
    TP,
    Seeks,
    Settings,
    Span,
    Spans,
    between,
    condense,
    processings,
    produced_offsets,
    tp_name,
)
from conformance.history import HARNESS, History
from conformance.verdicts import Violation

CHECK = "start-position"
SECTION = "S1"


@dataclass(frozen=True)
class Start:
    """Where one span started reading, and the offsets it was allowed to start at."""

    span: Span
    index: int
    offset: int
    accepted: list[tuple[int, int]]
    committed: int | None
    #: no certain commit at the assignment, only uncertain ones (a killed member's request
    #: without outcome) or ones acknowledged after it: the reset policy may have decided the
    #: start as well
    may_reset: bool = False


def first_reads(history: History) -> dict[tuple[str, TP], list[tuple[int, int]]]:
    """(event index, lowest offset) of every ``polled``/``processed`` event, per member and
    partition, in history order."""
    out: dict[tuple[str, TP], list[tuple[int, int]]] = defaultdict(list)
    for e in history.of_type("polled", "processed"):
        if e.source == HARNESS:
            continue
        lowest: dict[TP, int] = {}
        for r in e.records():
            lowest[r.tp] = min(r.offset, lowest.get(r.tp, r.offset))
        for tp, off in lowest.items():
            out[(e.source, tp)].append((e.index, off))
    return out


def starts(history: History) -> list[Start]:
    """The checked starts: non-manual spans that read something without seeking first."""
    spans, group, seeks = Spans(history), GroupOffsets(history), Seeks(history)
    reads = first_reads(history)
    out = []
    for span in spans.all:
        if span.manual:
            continue
        first = next(((i, off) for i, off in reads.get((span.member, span.tp), [])
                      if span.contains(i)), None)
        if first is None or seeks.of(span.member, span.tp, span.start, first[0]):
            continue
        settled = group.at(span.tp, span.start)
        possible = group.possible(span.tp, span.start)
        accepted = possible + group.acks(span.tp, span.start, first[0])
        # nothing certain committed at the assignment: the member may have asked before any
        # commit that is known now landed, and the reset policy decided (soak seed 73: a
        # zombie that woke after a black hole started from its old assignment's reset while
        # the new owner's commits came in)
        out.append(Start(span, first[0], first[1], accepted,
                         settled[1] if settled else None, may_reset=settled is None))
    return out


@registers(CHECK, section="S1", rank=40,
           line="a new owner starts at the group's committed offset (or the reset)")
def check_start_position(history: History) -> list[Violation]:
    """Starts that skip past or fall behind the group's committed offset (or the reset)."""
    settings = Settings.of(history)
    produced = produced_offsets(history)
    before_assigned = _produced_before(history)
    own: dict[tuple[str, TP], list[tuple[int, int]]] = defaultdict(list)
    for p in processings(history):
        own[(p.member, p.tp)].append((p.index, p.rec.offset))
    out = []
    for s in starts(history):
        offs = produced.get(s.span.tp, [])
        if s.accepted:
            v = _against_commits(s, offs)
            if v is not None and v.anomaly == "start-after-committed":
                v = _own_position(v, s, offs, own.get((s.span.member, s.span.tp), []))
            if v is not None and s.may_reset and _against_reset(
                    s, offs, settings.auto_offset_reset,
                    before_assigned(s.span.tp, s.span.start)) is None:
                v = None  # the uncertain commit did not land: the reset policy decided
        else:
            v = _against_reset(s, offs, settings.auto_offset_reset,
                               before_assigned(s.span.tp, s.span.start))
        if v is not None:
            out.append(v)
    return out


def _own_position(v: Violation, s: Start, produced: list[int],
                  own: list[tuple[int, int]]) -> Violation:
    """``v`` as ``resumed-own-position`` when the member itself had processed every record
    it skipped, before this span."""
    before = {off for i, off in own if i < s.span.start}
    skipped = set(between(produced, int(v.details["expected"]), s.offset))
    if not skipped or not skipped <= before:
        return v
    return Violation(
        check=CHECK, anomaly="resumed-own-position", section=SECTION,
        message=(f"{s.span.member} resumed {tp_name(s.span.tp)} at its own position "
                 f"{s.offset} instead of the committed offset {v.details['expected']} "
                 f"(it had processed the {len(skipped)} records in between before it lost "
                 "the partition; their commit never landed)"),
        evidence=v.evidence, details=v.details)


def _produced_before(history: History) -> Callable[[TP, int], int | None]:
    """highest(tp, index): the highest offset of ``tp`` acknowledged before event ``index``."""
    acked: dict[TP, list[tuple[int, int]]] = defaultdict(list)
    for p in history.produced():
        acked[p.tp].append((p.event, p.offset))

    def highest(tp: TP, index: int) -> int | None:
        return max((off for i, off in acked.get(tp, []) if i < index), default=None)

    return highest


def _against_commits(s: Start, produced: list[int]) -> Violation | None:
    offsets = [a for _, a in s.accepted]
    if any(a <= s.offset and not between(produced, a, s.offset) for a in offsets):
        return None
    evidence = [s.span.start, *(i for i, _ in s.accepted), s.index]
    below = [a for a in offsets if a <= s.offset]
    if not below:
        reread = between(produced, s.offset, min(offsets))
        return _violation("start-before-committed", s, evidence, min(offsets), reread,
                          "re-reading committed records")
    ref = max(below)
    return _violation("start-after-committed", s, evidence, ref,
                      between(produced, ref, s.offset), "skipping records")


def _against_reset(s: Start, produced: list[int], reset: str, highest: int | None
                   ) -> Violation | None:
    evidence = [s.span.start, s.index]
    if reset == "none":
        return _violation("start-without-committed", s, evidence, None, [],
                          "with no committed offset and auto_offset_reset=none", section="S2")
    if reset == "earliest":
        skipped = between(produced, -1, s.offset)
        if skipped:
            return _violation("start-after-committed", s, evidence, skipped[0], skipped,
                              "skipping records (auto_offset_reset=earliest)", section="S2")
        return None
    lo = 0 if highest is None else highest + 1
    if s.offset < lo:
        return _violation("start-before-committed", s, evidence, lo,
                          between(produced, s.offset, lo),
                          "re-reading records older than the log end (auto_offset_reset=latest)",
                          section="S2")
    return None


def _violation(anomaly: str, s: Start, evidence: list[int], expected: int | None,
               offsets: list[int], why: str, section: str = SECTION) -> Violation:
    tp = s.span.tp
    want = f", expected {expected}" if expected is not None else ""
    return Violation(
        check=CHECK, anomaly=anomaly, section=section,
        message=f"{s.span.member} started {tp_name(tp)} at {s.offset}{want}: {why}",
        evidence=sorted(set(evidence)),
        details={"topic": tp[0], "partition": tp[1], "member": s.span.member,
                 "first": s.offset, "expected": expected, "committed": s.committed,
                 "accepted": [a for _, a in s.accepted], "offsets": condense(offsets),
                 "count": len(offsets)},
    )
