"""Shared derivations every checker builds on: settings, ownership spans, processings, seeks.

Commits and the group's offsets are derived in ``group_offsets``; isolations of a member and
blocks of the group in ``outages``.

Settings
    ``Settings.from_scenario(scenario)`` reads the ``scenario`` event's ``config`` and ``strategy``
    with defaults for missing keys: Kafka's own defaults (``auto_offset_reset="latest"``,
    ``enable_auto_commit=True`` unless a strategy other than ``"auto"`` is named), strategy
    ``"auto"`` under auto commit else ``"BATCH"`` (Spring's default), ``bound=None``
    (unbounded), processing ``"in-loop"``.

Ownership spans
    A member owns a partition from its ``assigned`` event for it (``start``) to its ``revoked`` or
    ``lost`` event for it, its ``closed`` event, or the harness ``member_killed`` /
    ``member_stopped`` / ``member_died`` event naming it (``end``; ``None`` while still open when
    the history ends). An event with index ``i`` is inside a span when ``start < i < end``. An
    ``assigned`` event for a partition the member already owns continues the open span; a
    ``manual`` one (``assign()`` replaces the whole assignment) also ends the member's spans of
    the partitions it does not list (``end_type`` ``"assigned"``). After the member's
    ``unsubscribed`` event it left the group: an ``assigned`` event for a partition whose span
    is still open (no ``revoked`` or ``lost`` was heard) ends that span and begins a new one
    (``end_type`` ``"assigned"``; ``exclusive-ownership`` flags the missing revoke).

Processings
    Every record of every ``processed`` event, in history order (event index, then position in
    the event). A processing belongs to the member's span that contains it, else to the member's
    latest span of that partition that began before it (e.g. a pool worker finishing after the
    revoke), else to an *orphan* span (``start == -1``) of its own.

"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conformance.history import HARNESS, Event, History, Rec

TP = tuple[str, int]
MEMBER_END_EVENTS = ("member_killed", "member_stopped", "member_died")
REBALANCE_EVENTS = ("assigned", "revoked", "lost")
RESETS = ("earliest", "latest", "none")


def tp_name(tp: TP) -> str:
    """``topic-partition`` as Kafka tools print it."""
    return f"{tp[0]}-{tp[1]}"


def condense(values: Iterable[Any], limit: int = 50) -> list[Any]:
    """The first ``limit`` values: huge evidence is condensed to its first cases."""
    out = []
    for v in values:
        if len(out) >= limit:
            break
        out.append(v)
    return out


# -- settings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """The scenario configuration the checkers and the policy depend on."""

    topic: str | None = None
    partitions: int | None = None
    auto_offset_reset: str = "latest"
    enable_auto_commit: bool = True
    strategy: str = "auto"
    bound: int | None = None
    commit_on_revoke: bool = False
    asynchronous: bool = False
    processing: str = "in-loop"
    #: the heartbeat interval the member was configured with (Kafka's default when absent);
    #: under the ``consumer`` protocol the broker's, which the embedded broker sets alike
    heartbeat_interval_ms: int = 3000
    #: the member's session timeout and poll interval (Kafka's defaults when absent); the
    #: classic protocol's rebalance waits up to the poll interval for every member to rejoin
    session_timeout_ms: int = 45000
    max_poll_interval_ms: int = 300000

    @classmethod
    def from_scenario(cls, scenario: dict[str, Any] | None) -> Settings:
        scenario = scenario if isinstance(scenario, dict) else {}
        config = scenario.get("config") if isinstance(scenario.get("config"), dict) else {}
        strategy = scenario.get("strategy") if isinstance(scenario.get("strategy"), dict) else {}
        reset = str(config.get("auto_offset_reset") or "latest").lower()
        auto = config.get("enable_auto_commit")
        named = strategy.get("name")
        auto = (not named or str(named).lower() == "auto") if auto is None else bool(auto)
        bound = strategy.get("bound")
        partitions = scenario.get("partitions")

        def millis(key: str, default: int) -> int:
            value = config.get(key)
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
            return value if ok else default

        return cls(
            topic=scenario.get("topic"),
            partitions=partitions if isinstance(partitions, int) else None,
            auto_offset_reset=reset if reset in RESETS else "latest",
            enable_auto_commit=auto,
            strategy=str(strategy.get("name") or ("auto" if auto else "BATCH")),
            bound=bound if isinstance(bound, int) and not isinstance(bound, bool) else None,
            commit_on_revoke=bool(strategy.get("commit_on_revoke", False)),
            asynchronous=bool(strategy.get("asynchronous", False)),
            processing=str(strategy.get("processing") or "in-loop"),
            heartbeat_interval_ms=millis("heartbeat_interval_ms", 3000),
            session_timeout_ms=millis("session_timeout_ms", 45000),
            max_poll_interval_ms=millis("max_poll_interval_ms", 300000),
        )

    @classmethod
    def of(cls, history: History) -> Settings:
        return cls.from_scenario(history.scenario())


# -- spans --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    """One member's ownership of one partition (event indices, see the module docstring)."""

    member: str
    tp: TP
    start: int
    end: int | None = None
    manual: bool = False
    end_type: str | None = None

    def contains(self, index: int) -> bool:
        return self.start < index and (self.end is None or index < self.end)

    def window(self, other: Span) -> tuple[int, float] | None:
        """The open interval both spans cover, or None when they do not overlap."""
        lo = max(self.start, other.start)
        hi = min(float("inf") if self.end is None else self.end,
                 float("inf") if other.end is None else other.end)
        return (lo, hi) if lo < hi else None

    @property
    def orphan(self) -> bool:
        return self.start < 0


def ownership_spans(history: History) -> list[Span]:
    """Every ownership span of the history, ordered by start."""
    opened: dict[tuple[str, TP], tuple[int, bool]] = {}
    spans: list[Span] = []
    unsubscribed: dict[str, int] = {}  # member -> index of its latest unsubscribed event

    def close(member: str, tps: Iterable[TP], event: Event) -> None:
        for tp in list(tps):
            began = opened.pop((member, tp), None)
            if began is not None:
                spans.append(Span(member, tp, began[0], event.index, began[1], event.type))

    for e in history:
        if e.source == HARNESS:
            if e.type in MEMBER_END_EVENTS:
                member = e.data.get("member")
                close(str(member), [tp for (m, tp) in opened if m == member], e)
        elif e.type == "assigned":
            manual = bool(e.data.get("manual"))
            if manual:  # assign() replaces the member's whole assignment
                close(e.source, [tp for (m, tp) in opened
                                 if m == e.source and tp not in e.partitions()], e)
            for tp in e.partitions():
                began = opened.get((e.source, tp))
                if began is not None and unsubscribed.get(e.source, -1) > began[0]:
                    close(e.source, [tp], e)  # joined again, unheard of the revoke: a new span
                opened.setdefault((e.source, tp), (e.index, manual))
        elif e.type == "unsubscribed":
            unsubscribed[e.source] = e.index
        elif e.type in ("revoked", "lost"):
            close(e.source, e.partitions(), e)
        elif e.type == "closed":
            close(e.source, [tp for (m, tp) in opened if m == e.source], e)
    spans.extend(Span(m, tp, s, None, manual) for (m, tp), (s, manual) in opened.items())
    return sorted(spans, key=lambda s: (s.start, s.member, s.tp))


class Spans:
    """Ownership spans indexed by member and partition."""

    def __init__(self, history: History) -> None:
        self.all = ownership_spans(history)
        self._by: dict[tuple[str, TP], list[Span]] = defaultdict(list)
        for s in self.all:
            self._by[(s.member, s.tp)].append(s)
        self._orphans: dict[tuple[str, TP], Span] = {}

    def of(self, member: str, tp: TP) -> list[Span]:
        return self._by.get((member, tp), [])

    def at(self, member: str, tp: TP, index: int) -> Span | None:
        """The member's span of ``tp`` that contains ``index``."""
        for s in self.of(member, tp):
            if s.contains(index):
                return s
        return None

    def latest_before(self, member: str, tp: TP, index: int) -> Span | None:
        """The member's latest span of ``tp`` that began before ``index`` (ended or not)."""
        found = None
        for s in self.of(member, tp):
            if s.start < index:
                found = s
        return found

    def owning(self, member: str, tp: TP, index: int) -> Span:
        """The span a processing at ``index`` belongs to (see the module docstring)."""
        span = self.at(member, tp, index) or self.latest_before(member, tp, index)
        if span is None:
            span = self._orphans.setdefault((member, tp), Span(member, tp, -1, None, False,
                                                                "orphan"))
        return span

    def open_at(self, tp: TP, index: int) -> list[Span]:
        """Every span of ``tp`` (any member) that contains ``index``."""
        return [s for s in self.all if s.tp == tp and s.contains(index)]

    def first_assigned(self) -> dict[TP, int]:
        """The index of the first ``assigned`` event of each partition, by any member."""
        first: dict[TP, int] = {}
        for s in self.all:
            first.setdefault(s.tp, s.start)
        return first


# -- processings --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Processing:
    """One record of one ``processed`` event."""

    member: str
    rec: Rec
    index: int
    pos: int

    @property
    def tp(self) -> TP:
        return self.rec.tp

    @property
    def order(self) -> tuple[int, int]:
        return (self.index, self.pos)


def processings(history: History, types: tuple[str, ...] = ("processed",)) -> list[Processing]:
    """Every processed record in history order (``types=("polled",)`` for polls)."""
    return [Processing(e.source, r, e.index, pos)
            for e in history.of_type(*types) if e.source != HARNESS
            for pos, r in enumerate(e.records())]


def by_span(spans: Spans, items: Iterable[Processing]) -> dict[Span, list[Processing]]:
    """Processings grouped by the span they belong to, each list in history order."""
    out: dict[Span, list[Processing]] = defaultdict(list)
    for p in items:
        out[spans.owning(p.member, p.tp, p.index)].append(p)
    return out


@dataclass
class SpanProgress:
    """The highest offset a span processed before a given index (prefix maxima)."""

    indices: list[int] = field(default_factory=list)
    maxima: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, items: list[Processing]) -> SpanProgress:
        progress = cls()
        best = -1
        for p in items:
            best = max(best, p.rec.offset)
            progress.indices.append(p.index)
            progress.maxima.append(best)
        return progress

    def max_before(self, index: int) -> int | None:
        n = bisect.bisect_left(self.indices, index)
        return self.maxima[n - 1] if n else None


# -- seeks --------------------------------------------------------------------------------------
class Seeks:
    """``seeked`` events per member and partition: (event index, offset) in history order."""

    def __init__(self, history: History) -> None:
        self._by: dict[tuple[str, TP], list[tuple[int, int]]] = defaultdict(list)
        for e in history.of_type("seeked"):
            try:
                tp = (str(e.data["topic"]), int(e.data["partition"]))
                self._by[(e.source, tp)].append((e.index, int(e.data["offset"])))
            except (KeyError, TypeError, ValueError):
                continue

    def of(self, member: str, tp: TP, after: int = -1,
           before: float = float("inf")) -> list[tuple[int, int]]:
        """The member's seeks of ``tp`` with ``after < index < before``."""
        return [(i, off) for i, off in self._by.get((member, tp), []) if after < i < before]

    def back_to(self, member: str, tp: TP, after: int, before: int, offset: int) -> int | None:
        """The index of a seek of ``member`` to ``<= offset`` with ``after < index < before``."""
        for index, to in self.of(member, tp, after, before):
            if to <= offset:
                return index
        return None


# -- produced -----------------------------------------------------------------------------------
def produced_offsets(history: History) -> dict[TP, list[int]]:
    """The sorted offsets the broker acknowledged, per partition."""
    out: dict[TP, set[int]] = defaultdict(set)
    for p in history.produced():
        out[p.tp].add(p.offset)
    return {tp: sorted(offs) for tp, offs in out.items()}


def between(offsets: list[int], lo: int, hi: int) -> list[int]:
    """The sorted ``offsets`` in the half-open range ``[lo, hi)``."""
    return offsets[bisect.bisect_left(offsets, lo):bisect.bisect_left(offsets, hi)]
