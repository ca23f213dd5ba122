"""The timeline of one history as typed marks: the one model that the picture
(``timeline_svg``) and the list (``timeline_list``) both render.

``build_model`` reads the events in time order and makes, for each, a mark per place it
concerns:

    a partition  records produced, processed (``processed``; already processed: ``again``),
                 polled (evidence only), commits asked for (evidence only), acknowledged or
                 failed, the broker's committed offset when it moved, seeks
    a member     rebalances (with the partitions they name), commits (with their offsets),
                 kills, stops, deaths, closes, errors, pauses, faults and their ends, fault
                 steps (with the partitions the member held)
    the group    partition growth, broker faults, the teardown, other events of the evidence

A mark's offsets are numbers, one contiguous run ``first``..``last``; its words (``text``,
``title``) are derived from its fields, never stored. ``merge`` joins a member's consecutive
runs on one partition, and its acknowledged commits in a row, by those numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from conformance.history import HARNESS, Event, History

TP = tuple[str, int]
DASH = "\u2013"
WINDOW = 1.0  #: seconds between marks beyond which ``merge`` keeps them apart
RUNS = ("processed", "again", "produced")  #: kinds whose contiguous offset runs merge
RECORDS = (*RUNS, "polled")  #: kinds of a run of records produced or read
COMMITS = ("committed", "commit_requested", "commit_failed")
ENDINGS = {"member_killed": "killed", "member_stopped": "stopped", "member_died": "died",
           "closed": "closed"}
#: a span's start -> (the kind of its end, its word)
SPANS = {"paused": ("resumed", "paused"), "member_frozen": ("member_thawed", "frozen"),
         "network_fault": ("network_healed", "network fault"),
         "protocol_fault": ("protocol_healed", "protocol fault")}
ENDS = {"resumed": "resumed", "member_thawed": "thawed", "network_healed": "network healed",
        "protocol_healed": "protocol fault healed"}
#: the words of marks that carry no offsets and no name of their own
WORDS = {**{k: w for k, w in ENDINGS.items() if k != "member_died"}, **ENDS,
         **{start: word for start, (_end, word) in SPANS.items()}, "error": "error",
         "coordinator_moved": "coordinator moved", "teardown": "teardown"}
VERTICAL = ("partitions_added", "broker_stopped", "broker_started", "leader_moved",
            "coordinator_moved", "teardown")


@dataclass
class Mark:
    """One thing that happened, at ``t`` (or from ``t`` to ``t2``): on ``partition``, else on
    ``member``'s lane, else across the group."""

    kind: str
    t: float
    member: str = ""
    partition: TP | None = None
    t2: float | None = None
    first: int | None = None  #: the offsets it covers, one contiguous run
    last: int | None = None
    events: list[int] = field(default_factory=list)  #: the history's event indices
    highlight: bool = False  #: named in the evidence
    #: a rebalance's, pause's or growth's partitions; else those its member held
    partitions: tuple[TP, ...] = ()
    offsets: tuple[tuple[TP, int], ...] = ()  #: a commit's, on its member's lane
    mode: str = ""  #: a commit's mode
    label: str = ""  #: the event's own name for it: step label, error code, node, topic, type
    detail: str = ""  #: what went wrong (a commit, an error), or an event's fields

    @property
    def text(self) -> str:
        """The mark's short words: its offsets, or what it is."""
        k, label = self.kind, self.label
        if k in WORDS:
            return WORDS[k]
        if k in ("fault", "other"):
            return label
        if k == "member_died":
            return f"died (rc {label})"
        if k == "partitions_added":
            return f"{len(self.partitions)} partitions"
        if k in ("broker_stopped", "broker_started"):
            return f"broker {label} {'stopped' if k == 'broker_stopped' else 'back'}"
        if k == "leader_moved":
            return f"leader of p{label} moved"
        return offset_text(self.first, self.last)

    @property
    def what(self) -> str:
        """What a run of records says happened, without its offsets ('m1 processed again')."""
        return {"produced": "produced", "again": f"{self.member} processed again"}.get(
            self.kind, f"{self.member} {self.kind}")

    @property
    def title(self) -> str:
        """The mark in a sentence (the picture's tooltip)."""
        k, who, text = self.kind, self.member, self.text
        if k in RECORDS:
            return f"{self.what} {text}"
        if k == "committed" and len(self.events) > 1:  # a run of commits
            return " ".join(w for w in (f"{who} committed", text,
                                        f"({len(self.events)} commits)") if w)
        if k in COMMITS:
            said = f"{who} {k.replace('_', ' ')}"
            mode = f" ({self.mode})" if self.mode else ""
            why = f": {self.detail}" if k == "commit_failed" else ""
            if self.partition is not None:
                return f"{said}{f' {text}' if text else ''}{mode}{why}"
            listed = ", ".join(f"{t}-{p}: {o}" for (t, p), o in self.offsets)
            return f"{said}{mode}{why} {listed}".strip()
        if k == "group_offset":
            return f"the broker's committed offset {text}"
        if k == "seeked":
            return f"{who} seek to {text}"
        if k in ("assigned", "revoked", "lost"):
            return f"{who} {k} {tp_list(self.partitions)}"
        if k in SPANS:
            return f"{who} {text} {tp_list(self.partitions) if k == 'paused' else ''}".strip()
        if k in ENDINGS or k in ENDS:
            return f"{who} {text}"
        if k == "owner":
            return f"{who} owns it (from event #{self.events[0]})"
        if k == "error":
            return f"error {self.label}: {self.detail}"
        if k == "other":
            return f"{self.label} {self.detail}"
        return "" if k == "life" else text


@dataclass
class Model:
    """The marks of one history, in time order, and what they range over."""

    marks: list[Mark]
    partitions: list[TP]  #: every partition the history names, sorted
    scenario: list[TP]  #: the scenario's partitions
    members: dict[str, float]  #: member -> its first moment, in order of appearance
    times: list[float]  #: the events' moments, sorted, distinct


def build_model(history: History, evidence: Collection[int] = frozenset()) -> Model:
    """The marks of ``history``; those of ``evidence`` events are highlighted."""
    events = sorted(history, key=lambda e: (e.ts, e.index))
    scenario = scenario_partitions(history)
    reader = _Reader(set(scenario))
    for e in events:
        reader.read(e, e.index in evidence)
    return Model(reader.marks, sorted(reader.named), scenario, reader.members,
                 sorted({e.ts for e in events}))


class _Reader:
    """What ``build_model`` keeps while reading: the marks so far, the partitions named, the
    members seen, the partitions each member holds, the offsets processed, the broker's."""

    def __init__(self, named: set[TP]) -> None:
        self.marks: list[Mark] = []
        self.named = named
        self.members: dict[str, float] = {}
        self.held: dict[str, set[TP]] = defaultdict(set)
        self.seen: dict[TP, set[int]] = defaultdict(set)
        self.broker: dict[TP, int] = {}

    def read(self, e: Event, hit: bool) -> None:
        """Add the marks of ``e`` (``hit``: named in the evidence)."""
        member = str(e.data.get("member") or "") if e.source == HARNESS else e.source
        if member:
            self.members.setdefault(member, e.ts)

        def add(kind: str, **fields: Any) -> None:
            self.marks.append(Mark(kind, e.ts, events=[e.index], highlight=hit, **fields))

        if e.type == "produced":
            records = ((str(r[0]), int(r[1]), int(r[2])) for r in e.data.get("records", []))
            for tp, offsets in _by_partition(records).items():
                self.named.add(tp)
                for a, b in runs(offsets):
                    add("produced", partition=tp, first=a, last=b)
        elif e.type in ("assigned", "revoked", "lost"):
            parts = e.partitions()
            self.named.update(parts)
            add(e.type, member=e.source, partitions=tuple(parts))
            for tp in parts:
                if e.type == "assigned":
                    self.held[e.source].add(tp)
                else:
                    self.held[e.source].discard(tp)
        elif e.type in ("processed", "polled"):
            self._reads(e, hit, add)
        elif e.type in ("committed", "commit_requested", "group_offsets"):
            self._commits(e, hit, add)
        elif e.type == "seeked":
            offset = int(e.data["offset"])
            add("seeked", member=e.source, first=offset, last=offset,
                partition=(str(e.data["topic"]), int(e.data["partition"])))
        elif e.type in ENDINGS:
            who = member or e.source
            add(e.type, member=who, partitions=tuple(sorted(self.held.pop(who, set()))),
                label=str(e.data.get("returncode")) if e.type == "member_died" else "")
        elif e.type in SPANS or e.type in ENDS:
            parts = e.partitions() if e.type in ("paused", "resumed") else \
                sorted(self.held.get(member, ()))
            add(e.type, member=member, partitions=tuple(parts))
        elif e.type in VERTICAL:
            parts: list[TP] = []
            if e.type == "partitions_added":
                topic = str(e.data.get("topic"))
                parts = [(topic, p) for p in range(min(int(e.data.get("count", 0)), 10_000))]
                self.named.update(parts)
            name = {"partitions_added": "topic", "leader_moved": "partition",
                    "broker_stopped": "node", "broker_started": "node"}.get(e.type)
            add(e.type, partitions=tuple(parts), label=str(e.data.get(name)) if name else "")
        elif e.type == "error" and (hit or e.data.get("fatal")):
            add("error", member=e.source, partitions=tuple(sorted(self.held[e.source])),
                label=str(e.data.get("code", "")), detail=str(e.data.get("message", "")))
        elif e.type == "step" and e.data.get("family") not in (None, "core"):
            target = str((e.data.get("args") or {}).get("member") or "")
            add("fault", member=target, partitions=tuple(sorted(self.held.get(target, ()))),
                label=str(e.data.get("label") or e.data.get("name")))
        elif hit:  # any other evidence event
            add("other", member=member, label=e.type, detail=brief(e.data))

    def _reads(self, e: Event, hit: bool, add: Any) -> None:
        """Per partition, the runs processed for the first time, then those again (a
        ``polled`` event: its runs, when it is evidence)."""
        for tp, offsets in _by_partition((*r.tp, r.offset) for r in e.records()).items():
            self.named.add(tp)
            if e.type == "polled":
                for a, b in runs(offsets) if hit else ():
                    add("polled", member=e.source, partition=tp, first=a, last=b)
                continue
            seen = self.seen[tp]
            new, again = [o for o in offsets if o not in seen], [o for o in offsets if o in seen]
            seen.update(offsets)
            for kind, offs in (("processed", new), ("again", again)):
                for a, b in runs(offs):
                    add(kind, member=e.source, partition=tp, first=a, last=b)

    def _commits(self, e: Event, hit: bool, add: Any) -> None:
        """A commit's mark per partition (no offsets: per partition its member held) and one on
        its member's lane; the broker's offsets where they moved."""
        offsets = e.offsets()
        if e.type == "group_offsets":
            for tp, off in sorted(offsets.items()):
                self.named.add(tp)
                if self.broker.get(tp) != off or hit:
                    self.broker[tp] = off
                    add("group_offset", partition=tp, first=off, last=off)
            return
        if e.type == "commit_requested" and not hit:
            return
        ok = e.type == "committed" and e.data.get("ok", True)
        kind = "committed" if ok else e.type if e.type == "commit_requested" else "commit_failed"
        words = {"member": e.source, "mode": str(e.data.get("mode") or ""),
                 "detail": str(e.data.get("error") or "error") if kind == "commit_failed" else ""}
        targets = sorted(offsets.items()) or [(tp, None) for tp in sorted(self.held[e.source])]
        for tp, off in targets:
            self.named.add(tp)
            add(kind, partition=tp, first=off, last=off, **words)
        if kind != "commit_requested":
            add(kind, offsets=tuple(sorted(offsets.items())), **words)


def merge(marks: Iterable[Mark], window: float = WINDOW) -> list[Mark]:
    """``marks`` with a member's consecutive runs of one kind on one partition that continue
    each other's offsets as one mark, and its acknowledged commits in a row (offsets not going
    back) as one run; only marks at most ``window`` seconds apart, never a highlighted one.
    The marks given are not changed."""
    out: list[Mark] = []
    last: dict[tuple[str, TP | None, str], Mark] = {}
    for m in marks:
        key = (m.kind, m.partition, m.member)
        prev = last.get(key)
        if prev is not None and _continues(prev, m, window):
            prev.t2, prev.last = m.t, m.last
            prev.events.extend(m.events)
            continue
        m = replace(m, events=list(m.events))
        out.append(m)
        last[key] = m
    return out


def _continues(prev: Mark, m: Mark, window: float) -> bool:
    """Whether ``m`` continues ``prev`` (of the same kind, partition and member)."""
    if prev.highlight or m.highlight or m.t - (prev.t if prev.t2 is None else prev.t2) > window:
        return False
    if m.kind in RUNS:
        return prev.last is not None and m.first == prev.last + 1
    if m.kind == "committed":  # on a lane, or on a member's partitions: no offsets
        if prev.last is None or m.first is None:
            return prev.last is None and m.first is None
        return m.first >= prev.last
    return False


def runs(offsets: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of ``offsets`` in the given order: [0,1,2,5,6] -> [(0,2),(5,6)]."""
    out: list[tuple[int, int]] = []
    for off in offsets:
        if out and off == out[-1][1] + 1:
            out[-1] = (out[-1][0], off)
        else:
            out.append((off, off))
    return out


def offset_text(first: int | None, last: int | None) -> str:
    """'3', '3\u20139', or '' for no offsets."""
    if first is None:
        return ""
    return str(first) if last in (None, first) else f"{first}{DASH}{last}"


def tp_list(parts: Iterable[TP]) -> str:
    """'t-0, t-1', or 'nothing'."""
    return ", ".join(f"{t}-{p}" for t, p in parts) or "nothing"


def brief(data: dict[str, Any]) -> str:
    """An event's fields as ``key=value``, cut to 160 characters."""
    text = ", ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) <= 160 else text[:159] + "\u2026"


def scenario_partitions(history: History) -> list[TP]:
    """The partitions the scenario event names."""
    sc = history.scenario()
    topic, parts = sc.get("topic"), sc.get("partitions")
    if isinstance(topic, str) and isinstance(parts, int) and 0 < parts <= 10_000:
        return [(topic, p) for p in range(parts)]
    return []


def _by_partition(records: Iterable[tuple[str, int, int]]) -> dict[TP, list[int]]:
    out: dict[TP, list[int]] = defaultdict(list)
    for topic, part, offset in records:
        out[(topic, part)].append(offset)
    return out
