"""Evidence for fixed scenarios: the offsets a scenario expected against the offsets read.

A fixed scenario knows which offsets of a partition must be processed (S1: 20..29 by the member
that resumes; S7: 7..19 after a seek to 7; S8: every produced offset, by any member). ``compare``
turns the difference into violations of the generic checkers' shape (details ``topic``,
``partition``, ``member`` and the offsets; evidence = indices of the events that prove it):

    wrong-start  the first offset processed is not the expected first one (details ``first``,
                 ``expected_start``, ``missing``: produced offsets jumped over); evidence: the
                 first ``processed`` event, the ``produced`` events of the offsets jumped
                 over and the caller's context (e.g. the commit resumed from)
    missing      expected offsets never processed; evidence: their ``produced`` events and the
                 ``processed`` events either side of each gap
    duplicated   offsets processed more than once; evidence: the ``processed`` events
    unexpected   offsets processed that were not expected (below the start, an old topic's);
                 evidence: the ``processed`` events
    out-of-order (``ordered``: one member's reads) an offset read after a higher one;
                 evidence: the ``processed`` events of both

Reads are the ``processed`` records of ``topic``/``partition`` after event ``since`` (e.g. a
seek, a topic recreation) by ``member`` (or any member). A scenario of several harnesses
judges each history on its own, then writes them as one file (``write_combined``) and moves
each part's evidence by the part's start (``shifted``). Notes name the offending offsets,
never a prefix that stops before them (``offsets_text``, ``note_of``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from conformance.checkers.spans import condense
from conformance.history import Event, History
from conformance.verdicts import CheckResult, Verdict, Violation


def reads(history: History, topic: str, partition: int, member: str | None = None,
          since: int = -1, until: int | None = None) -> list[tuple[int, int]]:
    """(offset, event index) of every record of the partition processed after event ``since``
    (and before event ``until``)."""
    out = []
    for e in history.of_type("processed"):
        if not _within(e.index, since, until) or (member is not None and e.source != member):
            continue
        out += [(r.offset, e.index) for r in e.records()
                if r.topic == topic and r.partition == partition]
    return out


def produced_offsets(history: History, topic: str, partition: int, since: int = -1,
                     until: int | None = None) -> list[int]:
    """The partition's acknowledged offsets produced between events ``since`` and ``until``."""
    return sorted(p.offset for p in history.produced() if p.topic == topic
                  and p.partition == partition and _within(p.event, since, until))


def last_commit(history: History, member: str, topic: str, partition: int,
                before: int | None = None) -> Event | None:
    """The member's last successful ``committed`` event covering the partition."""
    found = None
    for e in history.of_type("committed"):
        if before is not None and e.index >= before:
            break
        if e.source == member and e.data.get("ok") and (topic, partition) in e.offsets():
            found = e
    return found


def compare(history: History, check: str, section: str, *, topic: str, partition: int,
            expected: Iterable[int], member: str | None = None, since: int = -1,
            until: int | None = None, start: bool = True, ordered: bool = False,
            context: Sequence[int] = ()) -> list[Violation]:
    """Violations between the ``expected`` offsets and those processed (see the module doc);
    ``start``: also judge the first offset read; ``ordered``: also their order; ``context``
    joins the start's evidence."""
    want = sorted(set(expected))
    got = reads(history, topic, partition, member, since, until)
    where: dict[int, list[int]] = defaultdict(list)
    for offset, index in got:
        where[offset].append(index)
    base = {"topic": topic, "partition": partition, "member": member}
    who = member or "the group"
    span = _span(want)
    out = []
    if start and want:
        wrong = wrong_start(history, check, section, topic=topic, partition=partition,
                            expected_start=want[0], member=member, since=since,
                            until=until, context=context)
        out += [wrong] if wrong else []
    missing = [o for o in want if o not in where]
    if missing:
        evidence = _produced_events(history, topic, partition, missing, since, until)
        evidence |= _gap_edges(got, missing)
        out.append(Violation(
            check, "missing", section,
            f"{who} never processed offset(s) {offsets_text(missing)} of partition "
            f"{partition} (expected {span})", condense(sorted(evidence), 100),
            {**base, "missing": condense(missing), "offsets": condense(missing),
             "count": len(missing), "expected": span}))
    twice = [o for o in sorted(where) if len(where[o]) > 1]
    if twice:
        out.append(Violation(
            check, "duplicated", section,
            f"{who} processed offset(s) {offsets_text(twice)} of partition {partition} more "
            f"than once", condense(sorted({i for o in twice for i in where[o]}), 100),
            {**base, "duplicated": condense(twice), "offsets": condense(twice),
             "count": len(twice), "members": _members(history, where, twice)}))
    extra = sorted(o for o in where if o not in set(want))
    if extra:
        out.append(Violation(
            check, "unexpected", section,
            f"{who} processed offset(s) {offsets_text(extra)} of partition {partition}, "
            f"outside the expected {span}",
            condense(sorted({i for o in extra for i in where[o]}), 100),
            {**base, "unexpected": condense(extra), "offsets": condense(extra),
             "count": len(extra), "expected": span}))
    back = [(a, b) for a, b in itertools.pairwise(got) if b[0] < a[0]]
    if ordered and back:
        late = [b[0] for _a, b in back]
        out.append(Violation(
            check, "out-of-order", section,
            f"{who} read offset(s) {offsets_text(late)} of partition {partition} after a "
            f"higher one (first: {back[0][1][0]} after {back[0][0][0]})",
            condense(sorted({i for a, b in back for i in (a[1], b[1])}), 100),
            {**base, "offsets": condense(late), "count": len(back),
             "after": condense(a[0] for a, _b in back)}))
    return out


def wrong_start(history: History, check: str, section: str, *, topic: str, partition: int,
                expected_start: int, member: str | None = None, since: int = -1,
                until: int | None = None, context: Sequence[int] = ()) -> Violation | None:
    """A ``wrong-start`` violation when the first offset read is not ``expected_start``
    (nothing read: None, ``compare``'s ``missing`` covers it)."""
    got = reads(history, topic, partition, member, since, until)
    if not got or got[0][0] == expected_start:
        return None
    first, index = got[0]
    details: dict[str, Any] = {"topic": topic, "partition": partition, "member": member,
                               "expected_start": expected_start, "first": first,
                               "offsets": [first]}
    proof = {index, *context}
    if first > expected_start:  # the offsets jumped over, as far as they were produced
        skipped = [o for o in produced_offsets(history, topic, partition, until=until)
                   if expected_start <= o < first]
        details["missing"] = condense(sorted(set(skipped)))
        proof |= _produced_events(history, topic, partition, skipped, since, until)
    return Violation(
        check, "wrong-start", section,
        f"{member or 'the group'} started reading partition {partition} at offset {first} "
        f"instead of {expected_start}", sorted(proof), details)


def violation(check: str, section: str, anomaly: str, message: str, *, topic: str,
              partition: int, evidence: Iterable[int] = (), member: str | None = None,
              offsets: Iterable[int] = (), **details: Any) -> Violation:
    """A scenario-specific violation in the same shape as ``compare``'s."""
    return Violation(check, anomaly, section, message, sorted(set(evidence)),
                     {"topic": topic, "partition": partition, "member": member,
                      "offsets": list(offsets), **details})


def from_results(history: History, *results: CheckResult, bad_only: bool = True
                 ) -> list[Violation]:
    """The violations of generic checker results on ``history`` (of failing ones only, by
    default) in the fixed scenarios' shape: each names a member (where the checker names
    none, e.g. a lost record: the partition's owners, ``owners``) and its offsets (where the
    checker names one ``offset``, or ``skipped`` ones: those)."""
    return [_with_offsets(_with_member(history, v)) for r in results
            if not bad_only or r.verdict == Verdict.FAIL for v in r.violations]


def owners(history: History, topic: str, partition: int) -> list[str]:
    """The members ever assigned the partition, in order of their first assignment."""
    seen: dict[str, None] = {}
    for e in history.of_type("assigned"):
        if (topic, partition) in e.partitions():
            seen.setdefault(e.source, None)
    return list(seen)


def _with_offsets(v: Violation) -> Violation:
    if "offsets" in v.details:
        return v
    offset, skipped = v.details.get("offset"), v.details.get("skipped")
    offsets = list(skipped) if skipped else [offset] if isinstance(offset, int) else []
    return dataclasses.replace(v, details={**v.details, "offsets": offsets}) if offsets else v


def _with_member(history: History, v: Violation) -> Violation:
    topic, partition = v.details.get("topic"), v.details.get("partition")
    if "member" in v.details or not isinstance(topic, str) or not isinstance(partition, int):
        return v
    names = owners(history, topic, partition)
    return dataclasses.replace(v, details={**v.details, "member": ", ".join(names) or None,
                                           "owners": names})


# -- several harnesses, one file ----------------------------------------------------------------
def combine(histories: Sequence[History]) -> tuple[History, list[int]]:
    """One history of the parts one after the other, and the index each part starts at."""
    merged, starts = History(), []
    for part in histories:
        starts.append(len(merged))
        for e in part:
            merged.add(e)
    return merged, starts


def write_combined(path: Path, histories: Sequence[History]) -> tuple[Path, list[int]]:
    """Write the parts as one history file; returns it and each part's start index."""
    merged, starts = combine(histories)
    return merged.to_jsonl(path), starts


def shifted(violations: Iterable[Violation], by: int, **details: Any) -> list[Violation]:
    """The violations with their evidence moved by ``by`` events (a part of a combined
    history), ``details`` added (e.g. which part)."""
    return [dataclasses.replace(v, evidence=[i + by for i in v.evidence],
                                details={**v.details, **details}) for v in violations]


# -- text ---------------------------------------------------------------------------------------
def offsets_text(offsets: Sequence[int], limit: int = 12) -> str:
    """``3, 10, 17`` or runs ``20..24, 27``; past ``limit`` items ``..., (N in all)``. The
    list starts at the first offending offset, so a cut never hides it."""
    parts = [str(lo) if lo == hi else f"{lo}..{hi}" for lo, hi in _runs(sorted(offsets))]
    text = ", ".join(parts[:limit])
    return text + (f", ... ({len(offsets)} in all)" if len(parts) > limit else "")


def results_note(results: Iterable[CheckResult]) -> str:
    """A summary of generic checker results: each check's note and its first violations."""
    parts = []
    for r in results:
        detail = note_of(r.violations, 2)
        parts.append(f"{r.check}: {r.note}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts)


def note_of(violations: Sequence[Violation], limit: int = 3) -> str:
    """A summary: the first violations' messages, then how many more."""
    text = "; ".join(v.message for v in violations[:limit])
    more = len(violations) - limit
    return text + (f"; and {more} more violation(s)" if more > 0 else "")


def _span(offsets: Sequence[int]) -> str:
    if not offsets:
        return "nothing"
    if offsets == list(range(offsets[0], offsets[-1] + 1)):
        return f"{offsets[0]}..{offsets[-1]}"
    return offsets_text(offsets)


def _runs(offsets: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for o in offsets:
        if runs and o == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], o)
        else:
            runs.append((o, o))
    return runs


def _within(index: int, since: int, until: int | None) -> bool:
    return index > since and (until is None or index < until)


def _produced_events(history: History, topic: str, partition: int, offsets: Sequence[int],
                     since: int = -1, until: int | None = None) -> set[int]:
    """The ``produced`` events of ``offsets`` after ``since``; for an offset produced only
    before it (a record that waited for the member), its latest production."""
    wanted = set(offsets)
    hits = [p for p in history.produced()
            if p.topic == topic and p.partition == partition and p.offset in wanted
            and (until is None or p.event < until)]
    latest = {p.offset: p.event for p in hits}  # production order: the last one wins
    after = {p.offset for p in hits if p.event > since}
    return {p.event for p in hits if p.event > since} | \
        {event for offset, event in latest.items() if offset not in after}


def _gap_edges(got: Sequence[tuple[int, int]], missing: Sequence[int]) -> set[int]:
    """The ``processed`` events holding the offsets read just below and above each gap."""
    if not got:
        return set()
    by_offset = sorted(got)
    out: set[int] = set()
    for o in missing[:50]:
        below = [i for off, i in by_offset if off < o]
        above = [i for off, i in by_offset if off > o]
        if below:
            out.add(below[-1])
        if above:
            out.add(above[0])
    return out


def _members(history: History, where: dict[int, list[int]], offsets: Sequence[int]
             ) -> list[str]:
    return sorted({history[i].source for o in offsets for i in where[o]})
