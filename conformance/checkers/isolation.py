"""``isolation`` (KIP-98): what members do with transactional records, by isolation level.

The harness produces some records in transactions: those of a committed transaction are
``produced`` events (``transactional: true``), those of an aborted one ``aborted`` events; each
transaction also leaves a control marker, an offset no record takes.

Analysis
    Every record a member was handed (``polled``) is looked up:
    - under ``read_committed`` a record of an aborted transaction must never reach the
      application;
    - under either level a record at an offset no producer wrote (a control marker) must never
      reach it; this is judged only on partitions that held transactions (elsewhere every
      offset is a produced record);
    - under ``read_uncommitted`` aborted records are delivered like any other: within one
      ownership span (see ``spans``), between two records the member was handed one after the
      other without a seek, no aborted record may be missing.
    Records produced outside transactions and committed transactional ones are judged by the
    other checks (a marker's offset is never counted as loss there: it was never produced).

Anomalies
    ``aborted-record-delivered``  read_committed, yet a record of an aborted transaction was
                                  handed to the application
    ``control-record-delivered``  a record at an offset no producer wrote (a transaction marker)
                                  was handed to the application
    ``aborted-record-skipped``    read_uncommitted, yet aborted records between two records
                                  handed over one after the other were never handed over
"""

from __future__ import annotations

from collections import defaultdict

from conformance.checkers.registry import registers
from conformance.checkers.spans import (
    TP,
    Processing,
    Seeks,
    Span,
    Spans,
    between,
    by_span,
    condense,
    processings,
    tp_name,
)
from conformance.history import History
from conformance.verdicts import Violation

CHECK = "isolation"
SECTION = "S1"
LEVELS = ("read_committed", "read_uncommitted")


def isolation_level(history: History) -> str:
    """The scenario's isolation level (Kafka's default, read_uncommitted, when not recorded)."""
    config = history.scenario().get("config")
    level = config.get("isolation_level") if isinstance(config, dict) else None
    return level if level in LEVELS else "read_uncommitted"


def aborted_records(history: History) -> dict[TP, dict[int, int]]:
    """Per partition: offset of each record of an aborted transaction -> its event index."""
    out: dict[TP, dict[int, int]] = defaultdict(dict)
    for e in history.of_type("aborted"):
        for r in e.data.get("records", []):
            out[(r[0], int(r[1]))][int(r[2])] = e.index
    return out


@registers(CHECK, section="S1", rank=90,
           line="aborted records and transaction markers never reach the application")
def check_isolation(history: History) -> list[Violation]:
    aborted = aborted_records(history)
    transactional = set(aborted) | {
        (r[0], int(r[1])) for e in history.of_type("produced") if e.data.get("transactional")
        for r in e.data.get("records", [])}
    if not transactional:
        return []
    level = isolation_level(history)
    written: dict[TP, set[int]] = defaultdict(set)
    for p in history.produced():
        written[(p.topic, p.partition)].add(p.offset)
    for tp, offsets in aborted.items():
        written[tp].update(offsets)
    handed = processings(history, ("polled",))
    out: list[Violation] = []
    for p in handed:
        tp, off = p.tp, p.rec.offset
        if level == "read_committed" and off in aborted.get(tp, {}):
            out.append(_delivered("aborted-record-delivered", p, level,
                                  "a record of an aborted transaction", aborted[tp][off]))
        elif tp in transactional and off not in written[tp]:
            out.append(_delivered("control-record-delivered", p, level,
                                  "a record at an offset no producer wrote (a control marker)",
                                  None))
    if level == "read_uncommitted":
        spans, seeks = Spans(history), Seeks(history)
        for span, items in by_span(spans, handed).items():
            out.extend(_skipped(span, items, seeks, aborted.get(span.tp, {})))
    return sorted(out, key=lambda v: v.evidence[-1])


def _delivered(anomaly: str, p: Processing, level: str, what: str,
               source: int | None) -> Violation:
    return Violation(
        check=CHECK, anomaly=anomaly, section=SECTION,
        message=f"{p.member} was handed {tp_name(p.tp)} offset {p.rec.offset}, {what}, under "
                f"{level}",
        evidence=sorted({p.index} | ({source} if source is not None else set())),
        details={"member": p.member, "topic": p.tp[0], "partition": p.tp[1],
                 "offset": p.rec.offset, "isolation_level": level})


def _skipped(span: Span, items: list[Processing], seeks: Seeks,
             aborted: dict[int, int]) -> list[Violation]:
    if not aborted or not items:
        return []
    offsets = sorted(aborted)
    pending = seeks.of(span.member, span.tp, span.start, items[-1].index)
    previous: Processing | None = None
    out = []
    for p in items:
        while pending and pending[0][0] < p.index:
            pending.pop(0)
            previous = None  # a seek: the next record has no predecessor to compare with
        if previous is not None and previous.rec.offset < p.rec.offset:
            missing = between(offsets, previous.rec.offset + 1, p.rec.offset)
            if missing:
                out.append(Violation(
                    check=CHECK, anomaly="aborted-record-skipped", section=SECTION,
                    message=f"{span.member} was handed {tp_name(span.tp)} offset "
                            f"{p.rec.offset} after {previous.rec.offset} under "
                            f"read_uncommitted, skipping {len(missing)} aborted record(s)",
                    evidence=sorted({previous.index, p.index, aborted[missing[0]]}),
                    details={"member": span.member, "topic": span.tp[0],
                             "partition": span.tp[1], "offset": p.rec.offset,
                             "previous": previous.rec.offset, "skipped": condense(missing),
                             "count": len(missing)}))
        previous = p
    return out
