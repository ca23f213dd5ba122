"""``no-loss`` (S1): every acknowledged record is processed by some member by the end.

Analysis
    Every record of the harness ``produced`` events must appear in some worker ``processed``
    event (any member, the final ``drain`` member included). Records that never do are lost.

Anomalies (one Violation per partition and anomaly; offsets condensed to the first 50)
    ``lost``                          a produced record nobody processed
    ``lost-before-first-assignment``  under ``auto_offset_reset="latest"``, a lost record whose
                                      ``produced`` event precedes the partition's first
                                      ``assigned`` event by any member (or the partition was
                                      never assigned): no committed offset could protect it (S3).
                                      Also a lost record whose offset is below the first offset
                                      a span read after starting with no committed offset (the
                                      reset to the log end skipped it, so it existed then): the
                                      harness writes a ``produced`` event after the whole batch
                                      is acknowledged, so the event index alone can come too late.

Evidence: the ``produced`` event indices; details: topic, partition, offsets, keys, count.
"""

from __future__ import annotations

from collections import defaultdict

from conformance.checkers.positions import starts
from conformance.checkers.registry import registers
from conformance.checkers.spans import TP, Settings, Spans, condense, processings, tp_name
from conformance.history import History, Produced
from conformance.verdicts import Violation

CHECK = "no-loss"
SECTION = "S1"


def lost_records(history: History) -> list[Produced]:
    """The produced records no member processed, in production order."""
    done = {(p.rec.topic, p.rec.partition, p.rec.offset) for p in processings(history)}
    return [r for r in history.produced() if (r.topic, r.partition, r.offset) not in done]


def reset_positions(history: History) -> dict[TP, int]:
    """Per partition, the highest first offset read by a span that started without any
    committed offset (its position came from the reset policy)."""
    out: dict[TP, int] = {}
    for s in starts(history):
        if not s.accepted:
            out[s.span.tp] = max(s.offset, out.get(s.span.tp, s.offset))
    return out


def _anomaly(record: Produced, first: dict[TP, int], reset: dict[TP, int]) -> str:
    assigned = first.get(record.tp)
    before = assigned is None or record.event < assigned
    skipped_by_reset = record.offset < reset.get(record.tp, -1)
    return "lost-before-first-assignment" if before or skipped_by_reset else "lost"


def lost_groups(history: History) -> dict[tuple[TP, str], list[Produced]]:
    """The records never processed, by partition and anomaly (every record, uncondensed)."""
    latest = Settings.of(history).auto_offset_reset == "latest"
    first = Spans(history).first_assigned()
    reset = reset_positions(history) if latest else {}
    groups: dict[tuple[TP, str], list[Produced]] = defaultdict(list)
    for r in lost_records(history):
        groups[(r.tp, _anomaly(r, first, reset) if latest else "lost")].append(r)
    return dict(groups)


@registers(CHECK, section="S1", rank=10,
           line="every produced record is processed by some member")
def check_no_loss(history: History) -> list[Violation]:
    """One violation per partition and anomaly listing the records never processed."""
    first = Spans(history).first_assigned()
    return [_violation(tp, anomaly, records, first.get(tp))
            for (tp, anomaly), records in sorted(lost_groups(history).items())]


def _violation(tp: TP, anomaly: str, records: list[Produced], first: int | None) -> Violation:
    records = sorted(records, key=lambda r: r.offset)
    offsets = [r.offset for r in records]
    shown = ", ".join(map(str, offsets[:5])) + (", ..." if len(offsets) > 5 else "")
    why = (" produced before the partition's first assignment" if anomaly != "lost" else "")
    return Violation(
        check=CHECK,
        anomaly=anomaly,
        section="S3" if anomaly != "lost" else SECTION,
        message=f"{len(records)} record(s) of {tp_name(tp)}{why} never processed "
                f"(offsets {shown})",
        evidence=condense(sorted({r.event for r in records})),
        details={"topic": tp[0], "partition": tp[1], "offsets": condense(offsets),
                 "keys": condense(r.key for r in records), "count": len(records),
                 "first_assigned": first},
    )
