"""The timeline of one history as a list: one row of chips per partition, marks in time order
(the text twin of the picture in ``timeline_svg``, folded under it in the report; both render
the marks of ``timeline_model``).

A chip is a mark on its partition's row; a member's mark (a rebalance, a kill, a failed commit
without offsets, a fault) goes to the rows of the partitions it names or its member held.
Adjacent chips of one member and kind whose offset ranges continue each other collapse into
one range (a read processed again is a read); ``polled`` and ``commit_requested`` marks exist
only for evidence events, and the group's offsets are not listed. Events named in the evidence
are highlighted and never hidden; long rows keep their head, tail and the surroundings of the
evidence, with ``... N more`` in the gaps; rows beyond ``max_rows`` are dropped (rows of
failing partitions first kept) and counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from itertools import groupby

from conformance.history import HARNESS, History
from conformance.report.timeline_model import ENDINGS, TP, Mark, build_model

MERGEABLE = ("produced", "processed", "polled")
#: fault marks shown on the member's rows, in the list's words
FAULTS = {"member_frozen": "frozen (SIGSTOP)", "member_thawed": "thawed (SIGCONT)",
          "network_healed": "network healed", "protocol_healed": "protocol fault healed"}


@dataclass
class Item:
    """One chip of a timeline row: an event, or a collapsed range of events, or a gap."""

    kind: str
    member: str = ""
    first: int = -1
    last: int = -1
    ts: float = 0.0
    lo: int | None = None
    hi: int | None = None
    text: str = ""
    highlight: bool = False
    hidden: int = 0
    suffix: str = ""

    @property
    def label(self) -> str:
        """What the chip says."""
        if self.kind == "gap":
            return f"... {self.hidden} more"
        who = f"{self.member} " if self.member and self.member != HARNESS else ""
        rng = ""
        if self.lo is not None:
            rng = f" {self.lo}" if self.hi in (None, self.lo) else f" {self.lo}\u2013{self.hi}"
        return f"{who}{self.text or self.kind}{rng}{self.suffix}".strip()

    @property
    def where(self) -> str:
        """Event index (or range) and time offset, for the chip's small print."""
        idx = f"#{self.first}" if self.last == self.first else f"#{self.first}\u2013#{self.last}"
        return f"{idx} +{self.ts:.3f}s"


@dataclass
class Row:
    """The timeline of one partition."""

    name: str
    tp: TP
    items: list[Item] = field(default_factory=list)
    failing: bool = False
    total: int = 0


@dataclass
class Timeline:
    """Every row of one history, or the reason there is none."""

    rows: list[Row] = field(default_factory=list)
    hidden_rows: int = 0
    events: int = 0
    error: str = ""


def build_timeline(history: History, evidence: set[int] | frozenset[int] = frozenset(),
                   focus: set[TP] | frozenset[TP] = frozenset(), max_rows: int = 32,
                   max_items: int = 120) -> Timeline:
    """The per-partition timeline of ``history`` with ``evidence`` events highlighted.

    ``focus`` names the failing partitions (kept first when rows are capped, marked in the page);
    partitions touched by evidence events are added to it.
    """
    model = build_model(history, evidence)
    t0 = model.times[0] if model.times else 0.0
    rows: dict[TP, list[Item]] = defaultdict(list)
    focus = set(focus)
    for _event, marks in groupby(model.marks, key=lambda m: m.events[0]):
        for mark in sorted(marks, key=_read_offset):
            placed = _place(mark, t0, rows)
            if mark.highlight:
                focus.update(placed)
    for tp in model.scenario:
        rows.setdefault(tp, [])
    chosen = sorted(rows)
    hidden = 0
    if len(chosen) > max_rows:
        keep = [tp for tp in chosen if tp in focus][:max_rows]
        keep += [tp for tp in chosen if tp not in focus][: max_rows - len(keep)]
        hidden = len(chosen) - len(keep)
        chosen = sorted(keep)
    out = []
    for tp in chosen:
        merged = _merge(rows[tp])
        out.append(Row(f"{tp[0]}-{tp[1]}", tp, _cap(merged, max_items), tp in focus, len(merged)))
    return Timeline(out, hidden, len(history))


def _read_offset(m: Mark) -> int:
    """An event's reads of a partition in offset order (first reads and reads again, which the
    model keeps apart, meet again); its other marks as they come."""
    return m.first if m.kind in ("processed", "again") and m.first is not None else 0


def _place(m: Mark, t0: float, rows: dict[TP, list[Item]]) -> list[TP]:
    """Append the chip of mark ``m`` to the rows it concerns; return those partitions."""
    k, tps = m.kind, list(m.partitions)
    member, text, suffix = m.member, "", ""
    mode = f" ({m.mode})" if m.mode else ""
    if m.partition is not None:
        tps = [m.partition]
    if k == "produced":
        member = HARNESS
    elif k == "again":
        k = "processed"
    elif k == "committed":  # (on its member's lane it names no partitions)
        tps, text, suffix = (tps if m.first is not None else []), k, mode
    elif k == "commit_requested":
        text, suffix = "commit requested" if m.first is not None else "commit requested all", mode
    elif k == "commit_failed":
        text, suffix = "commit failed", clip(f"{mode}: {m.detail}", 80)
    elif k == "seeked":
        text = "seek"
    elif k in ENDINGS:
        text = m.text
    elif k == "partitions_added":
        member, text = HARNESS, f"partitions added (now {len(m.partitions)})"
        tps = sorted({tp for tp in rows if tp[0] == m.label} | set(m.partitions))
    elif k == "error":
        text = clip(m.title, 80)
    elif k == "fault":
        member, text = HARNESS, clip(m.label, 90)
        tps = tps if m.member else sorted(rows)
    elif k in FAULTS:
        text = FAULTS[k]
    elif k not in ("assigned", "revoked", "lost", "processed", "polled"):
        return []  # the group's offsets, spans and vertical marks: the picture's
    for tp in tps:
        rows[tp].append(Item(k, member, m.events[0], m.events[0], m.t - t0, m.first, m.last,
                             text, m.highlight, 0, suffix))
    return tps


def _merge(items: list[Item]) -> list[Item]:
    """Collapse adjacent chips of one member and kind whose offset ranges continue each other."""
    out: list[Item] = []
    for it in items:
        prev = out[-1] if out else None
        if (prev is not None and it.kind in MERGEABLE and prev.kind == it.kind
                and prev.member == it.member and prev.highlight == it.highlight
                and prev.hi is not None and it.lo == prev.hi + 1):
            prev.hi, prev.last = it.hi, max(prev.last, it.last)
        else:
            out.append(replace(it))
    return out


def _cap(items: list[Item], limit: int, context: int = 2) -> list[Item]:
    """At most about ``limit`` chips: head, tail and highlighted chips with their neighbours."""
    if len(items) <= limit:
        return items
    keep = set(range(limit // 3)) | set(range(len(items) - limit // 3, len(items)))
    for i, it in enumerate(items):
        if it.highlight:
            keep.update(range(max(0, i - context), min(len(items), i + context + 1)))
    out: list[Item] = []
    skipped = 0
    for i, it in enumerate(items):
        if i in keep:
            if skipped:
                out.append(Item("gap", hidden=skipped))
                skipped = 0
            out.append(it)
        else:
            skipped += 1
    if skipped:
        out.append(Item("gap", hidden=skipped))
    return out


def clip(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis."""
    return text if len(text) <= n else text[: n - 1] + "\u2026"
