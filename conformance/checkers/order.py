"""``order`` (S9): processing order within a partition, and per-key order across growth.

Partition order
    The processings of one ownership span (see ``spans``) are walked in history order. Each
    offset must exceed the previous one, and no produced offset of the partition may lie
    between them. A ``seeked`` event of the member for the partition resets the expectation: the
    next processed record must be the first produced offset at or after the sought offset. The
    first record of a span has no expectation (``start-position`` checks it).

Per-key order
    Records of one key produced while the partition count is unchanged land in one partition,
    which the partition check covers. When a harness ``partitions_added`` event separates two
    records of a key that landed in different partitions, Kafka does not promise their order:
    such a pair processed against its production order (first processings compared) is
    reported so the report can say so; policy allows it (not a failure).

Seeks honored
    After a rewind the harness waits for the member to process the sought offset and records
    a ``seek_checked`` event (``honored``, and whether the member still owned the partition
    unpaused). A seek the member ignored while it kept the partition is ``seek-not-honored``.

Anomalies
    ``seek-not-honored``         a member kept reading elsewhere but never returned to the
                                 offset it sought (S7)
    ``nonmonotonic``             an offset not above the previous one of the span (or below the
                                 sought offset right after a seek)
    ``skip``                     produced offsets between two consecutive processings were skipped
    ``key-order-across-growth``  one violation per key, with the number of inverted pairs
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

from conformance.checkers.registry import figures, registers
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
    produced_offsets,
    tp_name,
)
from conformance.history import History, Produced
from conformance.verdicts import Violation

CHECK = "order"
SECTION = "S9"


@registers(CHECK, section="S9", rank=30,
           line="records of a partition are processed in offset order; seeks are honoured")
def check_order(history: History) -> list[Violation]:
    """Partition-order anomalies of every span, then per-key order across growth."""
    return partition_order(history) + seeks_not_honored(history) \
        + key_order_across_growth(history)


def seeks_not_honored(history: History) -> list[Violation]:
    """``seek-not-honored``: harness ``seek_checked`` observations that failed."""
    return [Violation(check=CHECK, anomaly="seek-not-honored", section="S7",
                      message=f"{e.data.get('member')}: seeked {e.data.get('topic')}-"
                              f"{e.data.get('partition')} to {e.data.get('offset')} but did not "
                              f"read from there within {e.data.get('waited', '?')} s while it "
                              f"kept the partition",
                      evidence=[e.index] + ([int(e.data["seek_event"])]
                                            if e.data.get("seek_event") is not None else []),
                      details={k: e.data.get(k) for k in ("member", "topic", "partition",
                                                          "offset")})
            for e in history.of_type("seek_checked")
            if not e.data.get("honored", True) and e.data.get("owned", False)
            and not e.data.get("paused", False)]


# -- partition order ----------------------------------------------------------------------------
def partition_order(history: History) -> list[Violation]:
    """``nonmonotonic`` and ``skip`` violations, span by span."""
    spans, seeks, produced = Spans(history), Seeks(history), produced_offsets(history)
    out: list[Violation] = []
    for span, items in by_span(spans, processings(history)).items():
        out.extend(_walk(span, items, seeks, produced.get(span.tp, [])))
    return sorted(out, key=lambda v: v.evidence[-1])


class _Anchor(NamedTuple):
    """What the next processing of a span must follow: a processed record or a seek."""

    index: int
    lo: int
    previous: int | None = None
    sought: int | None = None

    def after(self) -> str:
        return f"after {self.previous}" if self.sought is None else f"after a seek to {self.sought}"


def _walk(span: Span, items: list[Processing], seeks: Seeks, produced: list[int]
          ) -> list[Violation]:
    pending = seeks.of(span.member, span.tp, span.start, items[-1].index)
    anchor: _Anchor | None = None
    out = []
    for p in items:
        while pending and pending[0][0] < p.index:
            index, to = pending.pop(0)
            anchor = _Anchor(index, to, sought=to)
        off = p.rec.offset
        if anchor is not None and off < anchor.lo:
            out.append(_violation("nonmonotonic", span, p, anchor, []))
            continue
        skipped = between(produced, anchor.lo, off) if anchor is not None else []
        if anchor is not None and skipped:
            out.append(_violation("skip", span, p, anchor, skipped))
        anchor = _Anchor(p.index, off + 1, previous=off)
    return out


def _violation(anomaly: str, span: Span, p: Processing, anchor: _Anchor,
               skipped: list[int]) -> Violation:
    tail = f", skipping {len(skipped)} produced record(s)" if skipped else ""
    details = {"topic": span.tp[0], "partition": span.tp[1], "member": span.member,
               "offset": p.rec.offset, "previous": anchor.previous, "sought": anchor.sought,
               "event": p.index}
    if anomaly == "skip":
        details.update(skipped=condense(skipped), count=len(skipped))
    return Violation(
        check=CHECK, anomaly=anomaly, section=SECTION,
        message=f"{span.member} processed {tp_name(span.tp)} offset {p.rec.offset} "
                f"{anchor.after()}{tail}",
        evidence=sorted({anchor.index, p.index}),
        details=details,
    )


# -- per-key order across growth ----------------------------------------------------------------
def _inversions(history: History) -> dict[tuple[str, str], list[tuple[Produced, Produced]]]:
    """Per (topic, key): pairs (a, b) produced a-then-b in different partitions with a
    ``partitions_added`` event between them, whose first processings came b-then-a."""
    growth = [e.index for e in history.of_type("partitions_added")]
    if not growth:
        return {}
    first: dict[tuple[str, int, int], tuple[int, int]] = {}
    for p in processings(history):
        first.setdefault((p.rec.topic, p.rec.partition, p.rec.offset), p.order)
    keyed: dict[tuple[str, str], list[Produced]] = defaultdict(list)
    for r in history.produced():
        if r.key is not None and (r.topic, r.partition, r.offset) in first:
            keyed[(r.topic, r.key)].append(r)
    out: dict[tuple[str, str], list[tuple[Produced, Produced]]] = {}
    for key, recs in keyed.items():
        pairs = [(a, b) for n, a in enumerate(recs) for b in recs[n + 1:]
                 if a.partition != b.partition and b.event > a.event
                 and any(a.event < g < b.event for g in growth)
                 and first[(b.topic, b.partition, b.offset)]
                 < first[(a.topic, a.partition, a.offset)]]
        if pairs:
            out[key] = pairs
    return out


def _first_processed(history: History) -> dict[tuple[str, int, int], int]:
    first: dict[tuple[str, int, int], int] = {}
    for p in processings(history):
        first.setdefault((p.rec.topic, p.rec.partition, p.rec.offset), p.index)
    return first


def key_order_across_growth(history: History) -> list[Violation]:
    """One ``key-order-across-growth`` violation per key processed out of production order."""
    found = _inversions(history)
    if not found:
        return []
    first = _first_processed(history)
    out = []
    for (topic, key), pairs in found.items():
        a, b = pairs[0]
        ia, ib = first[(a.topic, a.partition, a.offset)], first[(b.topic, b.partition, b.offset)]
        partitions: set[TP] = {x.tp for pair in pairs for x in pair}
        out.append(Violation(
            check=CHECK, anomaly="key-order-across-growth", section=SECTION,
            message=f"key {key!r}: {tp_name(b.tp)} offset {b.offset} (produced after partition "
                    f"growth) was processed before {tp_name(a.tp)} offset {a.offset}",
            evidence=sorted({a.event, b.event, ia, ib}),
            details={"topic": topic, "key": key, "inversions": len(pairs),
                     "partitions": sorted(p for _, p in partitions),
                     "earlier": [a.partition, a.offset], "later": [b.partition, b.offset]},
        ))
    return out


@figures(CHECK)
def order_figures(history: History) -> dict[str, Any]:
    """Keys reordered across partition growth and inverted pairs (allowed, reported)."""
    found = _inversions(history)
    return {
        "keys_reordered_across_growth": len(found),
        "key_order_inversions": sum(len(p) for p in found.values()),
        "partition_growths": len(history.of_type("partitions_added")),
    }
