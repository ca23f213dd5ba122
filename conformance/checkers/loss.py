"""``no-loss`` (S1): every acknowledged record is processed by some member by the end.

Analysis
    Every record of the harness ``produced`` events must appear in some worker ``processed``
    event (any member, the final ``drain`` member included). Records that never do are lost.

Anomalies (one Violation per partition and anomaly; offsets condensed to the first 50)
    ``lost``                          a produced record nobody processed
    ``lost-before-first-assignment``  under ``auto_offset_reset="latest"``, a lost record whose
                                      ``produced`` event precedes the partition's first
                                      ``assigned`` event by any member (or the partition was
                                      never assigned): no committed offset could protect it (S3)

Evidence: the ``produced`` event indices; details: topic, partition, offsets, keys, count.
"""

from __future__ import annotations

from collections import defaultdict

from conformance.checkers.spans import TP, Settings, Spans, condense, processings, tp_name
from conformance.history import History, Produced
from conformance.verdicts import Violation

CHECK = "no-loss"
SECTION = "S1"


def lost_records(history: History) -> list[Produced]:
    """The produced records no member processed, in production order."""
    done = {(p.rec.topic, p.rec.partition, p.rec.offset) for p in processings(history)}
    return [r for r in history.produced() if (r.topic, r.partition, r.offset) not in done]


def _anomaly(record: Produced, first: dict[TP, int], latest: bool) -> str:
    assigned = first.get(record.tp)
    before = assigned is None or record.event < assigned
    return "lost-before-first-assignment" if latest and before else "lost"


def check_no_loss(history: History) -> list[Violation]:
    """One violation per partition and anomaly listing the records never processed."""
    latest = Settings.of(history).auto_offset_reset == "latest"
    first = Spans(history).first_assigned()
    groups: dict[tuple[TP, str], list[Produced]] = defaultdict(list)
    for r in lost_records(history):
        groups[(r.tp, _anomaly(r, first, latest))].append(r)
    return [_violation(tp, anomaly, records, first.get(tp))
            for (tp, anomaly), records in sorted(groups.items())]


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
