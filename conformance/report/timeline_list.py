"""The timeline of one history as a list: one row of chips per partition, events in time order
(the text twin of the picture in ``timeline_svg``, folded under it in the report).

Consecutive ``produced``/``processed`` events of one member with contiguous offsets collapse
into one offset range; ``polled`` and ``commit_requested`` events appear only when named in the
evidence. Kills and failed commits without offsets go to the rows the member owned at that
moment. Events named in the evidence are highlighted and never hidden; long rows keep their
head, tail and the surroundings of the evidence, with ``... N more`` in the gaps; rows beyond
``max_rows`` are dropped (rows of failing partitions first kept) and counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from conformance.history import HARNESS, Event, History

TP = tuple[str, int]
OWNERSHIP = ("assigned", "revoked", "lost")
MEMBER_END = ("member_killed", "member_stopped", "member_died")
MERGEABLE = ("produced", "processed", "polled")
#: harness events that end or mark a fault, shown on the member's rows
FAULT_ENDS = {"member_frozen": "frozen (SIGSTOP)", "member_thawed": "thawed (SIGCONT)",
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
    events = sorted(history, key=lambda e: (e.ts, e.index))
    t0 = events[0].ts if events else 0.0
    rows: dict[TP, list[Item]] = defaultdict(list)
    owned: dict[str, set[TP]] = defaultdict(set)
    focus = set(focus)
    for e in events:
        hit = e.index in evidence
        placed = _place(e, hit, t0, rows, owned)
        if hit:
            focus.update(placed)
    for tp in _scenario_tps(history):
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


def _place(e: Event, hit: bool, t0: float, rows: dict[TP, list[Item]],
           owned: dict[str, set[TP]]) -> list[TP]:
    """Append the chips of event ``e`` to the rows it concerns; return those partitions."""
    ts = e.ts - t0

    def add(tp: TP, kind: str, member: str = e.source, lo: int | None = None,
            hi: int | None = None, text: str = "", suffix: str = "") -> TP:
        rows[tp].append(Item(kind, member, e.index, e.index, ts, lo, hi, text, hit, 0, suffix))
        return tp

    placed: list[TP] = []
    if e.type == "produced":
        by_tp: dict[TP, list[int]] = defaultdict(list)
        for r in e.data.get("records", []):
            by_tp[(str(r[0]), int(r[1]))].append(int(r[2]))
        for tp, offsets in by_tp.items():
            placed += [add(tp, "produced", HARNESS, lo, hi) for lo, hi in _runs(offsets)]
    elif e.type in OWNERSHIP:
        for tp in e.partitions():
            placed.append(add(tp, e.type))
            if e.type == "assigned":
                owned[e.source].add(tp)
            else:
                owned[e.source].discard(tp)
    elif e.type == "processed" or (e.type == "polled" and hit):
        by_tp = defaultdict(list)
        for r in e.records():
            by_tp[r.tp].append(r.offset)
        for tp, offsets in by_tp.items():
            placed += [add(tp, e.type, lo=lo, hi=hi) for lo, hi in _runs(offsets)]
    elif e.type == "committed" or (e.type == "commit_requested" and hit):
        placed += _place_commit(e, add, owned)
    elif e.type == "seeked":
        tp = (str(e.data["topic"]), int(e.data["partition"]))
        placed.append(add(tp, "seeked", lo=int(e.data["offset"]), text="seek"))
    elif e.type in MEMBER_END:
        member = str(e.data.get("member", ""))
        text = {"member_killed": "killed", "member_stopped": "stopped",
                "member_died": f"died (rc {e.data.get('returncode')})"}[e.type]
        placed += [add(tp, e.type, member, text=text) for tp in sorted(owned.pop(member, ()))]
    elif e.type == "closed":
        placed += [add(tp, "closed") for tp in sorted(owned.pop(e.source, ()))]
    elif e.type == "partitions_added":
        topic, count = str(e.data.get("topic")), int(e.data.get("count", 0))
        tps = {tp for tp in rows if tp[0] == topic} | {(topic, p) for p in range(count)}
        placed += [add(tp, "partitions_added", HARNESS, text=f"partitions added (now {count})")
                   for tp in sorted(tps)]
    elif e.type == "error" and (hit or e.data.get("fatal")):
        text = f"error {e.data.get('code', '')}: {e.data.get('message', '')}"
        placed += [add(tp, "error", text=clip(text, 80)) for tp in sorted(owned[e.source])]
    elif e.type == "step" and e.data.get("family") not in (None, "core"):
        # a fault: the step's own label, on the rows of the member it targets (else all rows)
        member = str((e.data.get("args") or {}).get("member") or "")
        tps = sorted(owned.get(member, ())) if member else sorted(rows)
        placed += [add(tp, "fault", HARNESS, text=clip(str(e.data.get("label") or
                                                           e.data.get("name")), 90))
                   for tp in tps]
    elif e.type in FAULT_ENDS:
        member = str(e.data.get("member", ""))
        placed += [add(tp, e.type, member, text=FAULT_ENDS[e.type])
                   for tp in sorted(owned.get(member, ()))]
    return placed


def _place_commit(e: Event, add: Any, owned: dict[str, set[TP]]) -> list[TP]:
    mode = f" ({e.data['mode']})" if e.data.get("mode") else ""
    offsets = e.offsets()
    if e.type == "commit_requested":
        if not offsets:
            return [add(tp, "commit_requested", text="commit requested all", suffix=mode)
                    for tp in sorted(owned[e.source])]
        return [add(tp, "commit_requested", lo=off, text="commit requested", suffix=mode)
                for tp, off in sorted(offsets.items())]
    if e.data.get("ok", True):
        return [add(tp, "committed", lo=off, text="committed", suffix=mode)
                for tp, off in sorted(offsets.items())]
    why = clip(f"{mode}: {e.data.get('error') or 'error'}", 80)
    if offsets:
        return [add(tp, "commit_failed", lo=off, text="commit failed", suffix=why)
                for tp, off in sorted(offsets.items())]
    return [add(tp, "commit_failed", text="commit failed", suffix=why)
            for tp in sorted(owned[e.source])]


def _runs(offsets: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of ``offsets`` in the given order: [0,1,2,5,6] -> [(0,2),(5,6)]."""
    runs: list[tuple[int, int]] = []
    for off in offsets:
        if runs and off == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], off)
        else:
            runs.append((off, off))
    return runs


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


def _scenario_tps(history: History) -> list[TP]:
    sc = history.scenario()
    topic, parts = sc.get("topic"), sc.get("partitions")
    if isinstance(topic, str) and isinstance(parts, int) and 0 < parts <= 10_000:
        return [(topic, p) for p in range(parts)]
    return []


def clip(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis."""
    return text if len(text) <= n else text[: n - 1] + "\u2026"
