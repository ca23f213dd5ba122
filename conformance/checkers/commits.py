"""``commit-validity`` (S5, S8): a member commits only partitions it owns, up to what it processed.

Analysis
    Every ok ``committed`` event and every ``commit_requested`` event with explicit offsets is
    checked per partition (negative offsets are not commits and are ignored).

    Ownership: the member's span of the partition must contain the event, or, for a
    ``committed`` acknowledgement, its request: the member's latest ``commit_requested`` of the
    same mode before it, naming the partition or with offsets null (an async commit issued while
    owning may be acknowledged after the revoke). Exempt are commits
    with mode ``"revoke"`` or ``"auto"`` of a partition whose latest span ended with a ``revoked``
    event (the on-revoked commit, and the commit librdkafka makes when auto commit is on and
    partitions are unassigned), and every commit of a member that used manual assignment (S7:
    a standalone consumer may commit any partition).

    Extent: the offset must not exceed the allowed bound of the span at that moment, the largest
    of: the highest offset the member processed in the span before the event + 1; the span's
    start offset (the group's committed offset at the ``assigned`` event, or acknowledged after
    it and before the span's first read, as ``start-position`` accepts; the lowest offset of
    the span's first read before the event; when it has neither, under ``earliest`` the lowest
    produced offset and under ``latest`` the highest offset produced before the event + 1); and
    every offset the member ``seeked`` the partition to in the span before the event.

Anomalies
    ``commit-unowned-partition``  committing a partition the member does not own
    ``commit-beyond-processed``   committing records that were not processed: where loss starts
    ``group-offset-beyond-processed``  the broker's committed offset (harness ``group_offsets``
                                  observations) lies beyond a produced record that nobody had
                                  processed yet: a commit the client made without reporting it

    ``group-offset-regressed``    the broker's committed offset lies below an ok commit a
                                  member was told of, and no commit attempt since explains it:
                                  an acknowledged commit was lost or overtaken by one the client
                                  made without reporting it (records come back)

Observed offsets
    The harness asks the broker for the group's committed offsets at times (``group_offsets``
    events). An observed offset C of a partition is checked against the records processed by
    any member before the observation: every produced offset below C must have been processed
    or lie below the lowest offset any member started from without a committed offset (what a
    ``latest`` reset skips). This catches commits an adapter makes but never reports.
    C is also checked against the latest ok ``committed`` event of the partition acknowledged
    before the question was sent (the observation's ``asked``, else its own time; an
    acknowledgement that arrived while the question was out may not show in the answer)
    (offset A, any member): C < A needs a commit attempt of offset C (a request with explicit
    offsets or an outcome, ok or not, of any member) after A's request, or a commit request
    since then whose offsets nobody reported (a request without offsets and without an outcome
    naming the partition): otherwise ``group-offset-regressed``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from conformance.checkers.group_offsets import Commit, GroupOffsets, commit_pairs, commits
from conformance.checkers.isolation import aborted_records, isolation_level
from conformance.checkers.positions import first_reads
from conformance.checkers.registry import registers
from conformance.checkers.spans import (
    TP,
    Seeks,
    Settings,
    Span,
    SpanProgress,
    Spans,
    between,
    by_span,
    processings,
    produced_offsets,
    tp_name,
)
from conformance.history import HARNESS, Event, History
from conformance.verdicts import Violation

CHECK = "commit-validity"
SECTION = "S5"
REVOKE_MODES = ("revoke", "auto")


class _Request(NamedTuple):
    index: int
    mode: str
    offsets: dict[TP, int] | None


class _Context:
    """Everything the per-partition checks look up, derived once per history."""

    def __init__(self, history: History) -> None:
        self.settings = Settings.of(history)
        self.spans = Spans(history)
        self.group = GroupOffsets(history)
        self.seeks = Seeks(history)
        self.reads = first_reads(history)
        self.produced = produced_offsets(history)
        self.progress = {span: SpanProgress.of(items)
                         for span, items in by_span(self.spans, processings(history)).items()}
        self.acked: dict[TP, list[tuple[int, int]]] = defaultdict(list)
        for p in history.produced():
            self.acked[p.tp].append((p.event, p.offset))
        self.manual_from: dict[str, int] = {}
        self.requests: dict[str, list[_Request]] = defaultdict(list)
        for e in history.of_type("commit_requested"):
            offsets = None if e.data.get("offsets") is None else e.offsets()
            self.requests[e.source].append(_Request(e.index, str(e.data.get("mode") or ""),
                                                    offsets))
        for s in self.spans.all:
            if s.manual:
                self.manual_from.setdefault(s.member, s.start)
        # transactional partitions: offsets that are application records (aborted ones only
        # under read_uncommitted); the others are control markers or records read_committed
        # skips, which a position (an auto commit) moves past without handing anything over
        aborted = aborted_records(history)
        self.records: dict[TP, list[int]] = {}
        self.highest: dict[TP, int] = {}
        self.transactional = set(aborted) | {
            (r[0], int(r[1])) for e in history.of_type("produced")
            if e.data.get("transactional") for r in e.data.get("records", [])}
        uncommitted = isolation_level(history) == "read_uncommitted"
        for tp in self.transactional:
            offsets = set(self.produced.get(tp, []))
            self.highest[tp] = max(offsets | set(aborted.get(tp, {})), default=-1)
            if uncommitted:
                offsets |= set(aborted.get(tp, {}))
            self.records[tp] = sorted(offsets)

    def owner_span(self, c: Commit, tp: TP) -> Span | None:
        """The span that makes the commit legitimate, or None."""
        span = self.spans.at(c.member, tp, c.index)
        if span is not None:
            return span
        request = None if c.requested else self.request_of(c, tp)
        span = None if request is None else self.spans.at(c.member, tp, request)
        if span is not None:
            return span
        last = self.spans.latest_before(c.member, tp, c.index)
        if last is not None and last.end_type == "revoked" and c.mode in REVOKE_MODES:
            return last
        return None

    def request_of(self, c: Commit, tp: TP) -> int | None:
        """The index of the ``commit_requested`` event an acknowledgement answers."""
        found = None
        for r in self.requests.get(c.member, []):
            if r.index >= c.index:
                break
            if r.mode == c.mode and (r.offsets is None or tp in r.offsets):
                found = r.index
        return found

    def standalone(self, c: Commit) -> bool:
        return self.manual_from.get(c.member, c.index) < c.index

    def allowed(self, span: Span, index: int) -> tuple[int, int | None]:
        """(the highest offset the span may commit at ``index``, highest processed or None)."""
        processed = None
        if span in self.progress:
            processed = self.progress[span].max_before(index)
        candidates = [0] if processed is None else [processed + 1]
        candidates.append(self._start_offset(span, index))
        candidates.extend(off for _, off in self.seeks.of(span.member, span.tp, span.start, index))
        return self._past_non_records(span.tp, max(candidates)), processed

    def _past_non_records(self, tp: TP, bound: int) -> int:
        """``bound`` moved past the offsets of a transactional partition that are no records
        for the application (control markers; aborted records under read_committed): up to the
        next record, or past the marker after the last one."""
        if tp not in self.transactional:
            return bound
        later = [o for o in self.records.get(tp, []) if o >= bound]
        return later[0] if later else max(bound, self.highest.get(tp, -1) + 2)

    def _start_offset(self, span: Span, index: int) -> int:
        """Where the span's position began: the group's committed offset, else the first
        offset read in the span, else (nothing read yet) what the reset policy allows."""
        tp = span.tp
        settled = self.group.at(tp, span.start)
        found = [off for _, off in self.group.possible(tp, span.start)]
        read = next(((i, off) for i, off in self.reads.get((span.member, tp), [])
                     if span.contains(i) and i < index), None)
        # commits acknowledged after the assignment, before the first read: the hand-over race
        found.extend(off for _, off in self.group.acks(tp, span.start,
                                                       index if read is None else read[0]))
        if read is not None:
            found.append(read[1])
        elif settled is None and self.settings.auto_offset_reset == "earliest":
            found.append(min(self.produced.get(tp, [0]), default=0))
        elif settled is None and self.settings.auto_offset_reset == "latest":
            found.append(max((off + 1 for i, off in self.acked.get(tp, []) if i < index),
                             default=0))
        return max(found, default=0)


@registers(CHECK, section="S5", rank=50,
           line="members commit only partitions they own, never past what they processed")
def check_commit_validity(history: History) -> list[Violation]:
    """Commits of partitions not owned, and commits beyond what the member processed."""
    ctx = _Context(history)
    out = []
    for c in commits(history, requested=True):
        if not c.ok:
            continue
        for tp, off in sorted(c.offsets.items()):
            span = ctx.owner_span(c, tp)
            if span is None:
                if not ctx.standalone(c):
                    out.append(_unowned(c, tp, off, ctx.spans.latest_before(c.member, tp, c.index)))
                continue
            bound, processed = ctx.allowed(span, c.index)
            if off > bound:
                out.append(_beyond(c, tp, off, bound, processed, span))
    return out + check_observed_offsets(history) + check_regressed_offsets(history)


def check_regressed_offsets(history: History) -> list[Violation]:
    """Broker-observed committed offsets below an acknowledged commit, unexplained."""
    pairs = commit_pairs(history)
    request_of = {e.index: requested for requested, e in pairs}
    answered: dict[int, Event] = {requested: e for requested, e in pairs}
    # tp -> [(event index, offset, member, ts)] of ok commits, in order
    acked: dict[TP, list[tuple[int, int, str, float]]] = defaultdict(list)
    attempts: dict[TP, list[tuple[int, int]]] = defaultdict(list)  # tp -> (index, offset)
    unknown: list[tuple[int, Event | None]] = []  # requests without offsets: (index, its outcome)
    out, reported = [], set()
    for e in history.of_type("committed", "commit_requested", "group_offsets"):
        if e.type == "group_offsets":
            asked = e.data.get("asked")
            asked = float(asked) if isinstance(asked, int | float) else e.ts
            for tp, seen in sorted(e.offsets().items()):
                before = [a for a in acked.get(tp, []) if a[3] < asked]
                if not before or before[-1][1] <= seen or (tp, before[-1][0]) in reported:
                    continue
                index, offset, member, _ts = before[-1]
                since = request_of.get(index, index)
                if any(i > since and o == seen for i, o in attempts[tp]) or any(
                        i > since and (outcome is None or tp not in outcome.offsets())
                        for i, outcome in unknown):
                    continue
                reported.add((tp, index))
                out.append(Violation(
                    check=CHECK, anomaly="group-offset-regressed", section=SECTION,
                    message=f"the broker holds committed offset {seen} for {tp_name(tp)} "
                            f"but {member} was told its commit of {offset} succeeded, and no "
                            f"commit of {seen} was made since",
                    evidence=[index, e.index],
                    details={"topic": tp[0], "partition": tp[1], "member": member,
                             "committed": seen, "acknowledged": offset, "event": e.index}))
            continue
        if e.source == HARNESS:
            continue
        if e.type == "commit_requested" and e.data.get("offsets") is None:
            unknown.append((e.index, answered.get(e.index)))
        for tp, off in e.offsets().items():
            if off < 0:
                continue
            attempts[tp].append((e.index, off))
            if e.type == "committed" and e.data.get("ok") is True:
                acked[tp].append((e.index, off, e.source, e.ts))
    return out


def check_observed_offsets(history: History) -> list[Violation]:
    """Broker-observed committed offsets beyond unprocessed produced records.

    A record counts as processed at a broker report when its ``processed`` event comes before
    the report in the history or was written (by the worker's clock) before the report's
    answer arrived: a worker's events reach the harness through a pipe, so on a loaded
    machine a report can be recorded before the processing and commit it reflects (soak
    seed 57)."""
    produced = produced_offsets(history)
    done: dict[TP, set[int]] = defaultdict(set)
    first_read: dict[TP, int] = {}
    latest = Settings.of(history).auto_offset_reset == "latest"
    # every processed record by the time it was written, for the reports' clock
    written = sorted(((e.ts, r.tp, r.offset) for e in history.of_type("processed")
                      for r in e.records()), key=lambda x: x[0])
    early: dict[TP, set[int]] = defaultdict(set)
    at = 0
    out = []
    for e in history:
        if e.type == "processed":
            for r in e.records():
                done[r.tp].add(r.offset)
                first_read.setdefault(r.tp, r.offset)
        elif e.type == "group_offsets":
            while at < len(written) and written[at][0] <= e.ts:
                early[written[at][1]].add(written[at][2])
                at += 1
            for tp, committed in sorted(e.offsets().items()):
                floor = first_read.get(tp, 0) if latest else 0
                missing = [o for o in between(produced.get(tp, []), floor, committed)
                           if o not in done[tp] and o not in early[tp]]
                if missing:
                    out.append(Violation(
                        check=CHECK, anomaly="group-offset-beyond-processed", section=SECTION,
                        message=f"the broker holds committed offset {committed} for "
                                f"{tp_name(tp)} but {len(missing)} record(s) below it were "
                                f"never processed (first: {missing[0]})",
                        evidence=[e.index],
                        details={"topic": tp[0], "partition": tp[1], "committed": committed,
                                 "unprocessed": missing[:50], "count": len(missing)}))
    return out


def _what(c: Commit) -> str:
    return f"{c.mode or 'a'} commit" + (" request" if c.requested else "")


def _unowned(c: Commit, tp: TP, off: int, last: Span | None) -> Violation:
    ended = last.end if last is not None else None
    return Violation(
        check=CHECK, anomaly="commit-unowned-partition", section=SECTION,
        message=f"{c.member}: {_what(c)} of {tp_name(tp)} at {off} while not owning it",
        evidence=sorted({c.index} | ({ended} if ended is not None else set())),
        details={"topic": tp[0], "partition": tp[1], "member": c.member, "mode": c.mode,
                 "committed": off, "requested": c.requested, "span_ended": ended},
    )


def _beyond(c: Commit, tp: TP, off: int, bound: int, processed: int | None,
            span: Span) -> Violation:
    return Violation(
        check=CHECK, anomaly="commit-beyond-processed", section=SECTION,
        message=f"{c.member}: {_what(c)} of {tp_name(tp)} at {off} but it processed up to "
                f"{processed} (allowed up to {bound})",
        evidence=sorted({span.start, c.index} - {-1}),
        details={"topic": tp[0], "partition": tp[1], "member": c.member, "mode": c.mode,
                 "committed": off, "processed_max": processed, "allowed": bound,
                 "requested": c.requested, "event": c.index},
    )
