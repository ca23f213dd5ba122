"""Shared derivations every checker builds on: settings, ownership spans, processings, commits.

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

Commits
    ``committed`` events (``requested=False``) and ``commit_requested`` events with explicit
    offsets (``requested=True``). Negative offsets (librdkafka's ``OFFSET_INVALID``) are not
    commits and are dropped. The group's committed offset of a partition at index ``i`` is the
    offset of the latest ``ok`` ``committed`` event for it before ``i`` (the broker keeps the last
    write).

Isolations
    A member is *isolated* from a harness ``member_frozen`` event (SIGSTOP) until its next
    ``member_thawed`` (SIGCONT), or from a ``network_fault`` (``kind`` ``"delay"``, ``"cut"`` or
    ``"drop"``: its connections slowed, closed or black-holed) until its next
    ``network_healed``. Past its session timeout the group moves on without it; once the
    isolation ends it is a zombie until it *hears* of the group: its first ``revoked``,
    ``lost`` or ``assigned`` event after the end. Until then it may finish the records it had
    in hand or buffered (judged by ``zombie-fencing``, not as a concurrent owner).

    Which events of the member came after the end is judged per event. A stopped process emits
    nothing, so an event recorded after the freeze with a later timestamp was emitted after
    SIGCONT (maybe just before the harness recorded the thaw); one written before SIGSTOP may
    still be recorded after the freeze, with an earlier timestamp. A network-isolated member
    keeps running: its events count as after the end when their timestamp is later than the
    ``network_healed`` event's.
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


# -- commits ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Commit:
    """A ``committed`` (or explicit ``commit_requested``) event, offsets keyed by partition."""

    member: str
    index: int
    mode: str
    ok: bool
    offsets: dict[TP, int]
    requested: bool = False


def commits(history: History, requested: bool = False) -> list[Commit]:
    """``committed`` events in history order; with ``requested``, also explicit requests."""
    out = []
    for e in history.of_type("committed", "commit_requested"):
        is_request = e.type == "commit_requested"
        if e.source == HARNESS or (is_request and (not requested or not e.data.get("offsets"))):
            continue
        offsets = {tp: off for tp, off in e.offsets().items() if off >= 0}
        ok = True if is_request else e.data.get("ok") is True
        out.append(Commit(e.source, e.index, str(e.data.get("mode") or ""), ok, offsets,
                          is_request))
    return out


def asked(request: Event) -> dict[TP, int]:
    """The offsets a ``commit_requested`` event asked for: its ``offsets``, or for a commit
    without offsets what the worker said the client tracked (``tracked``; empty if unknown)."""
    if request.data.get("offsets") is not None:
        return request.offsets()
    return {(o[0], int(o[1])): int(o[2]) for o in request.data.get("tracked") or []}


def commit_pairs(history: History) -> list[tuple[int, Event]]:
    """(request index, outcome event) of every commit outcome a member reported for a request
    of its own: an outcome answers the member's earliest pending request of the same mode with
    the same offsets (async outcomes may arrive out of order), else its earliest pending one.
    Auto commits have no request."""
    pending: dict[str, list[Event]] = defaultdict(list)
    out = []
    for e in history.of_type("commit_requested", "committed"):
        if e.source == HARNESS:
            continue
        if e.type == "commit_requested":
            pending[e.source].append(e)
        elif e.data.get("mode") != "auto" and pending[e.source]:
            waiting = pending[e.source]
            same = [r for r in waiting if r.data.get("mode") == e.data.get("mode")]
            match = next((r for r in same if r.data.get("offsets") is not None
                          and r.offsets() == e.offsets()), same[0] if same else waiting[0])
            waiting.remove(match)
            out.append((match.index, e))
    return out


def _in_flight(history: History) -> list[tuple[int, float, float, dict[TP, int]]]:
    """(request index, outcome index, outcome time, offsets) of every commit a member reported
    after requesting it: the broker may have applied an ok one anywhere in between (e.g. while
    the member was frozen), a failed one anywhere after its request (outcome: infinity); the
    outcome time is when the member reported it, ok or failed."""
    out = []
    for requested, e in commit_pairs(history):
        # ok: applied somewhere in between; failed: perhaps applied anyway (a retry after
        # a lost response reports the retry's error), so from the request on
        ok = e.data.get("ok") is True
        outcome = e.index if ok else float("inf")
        # a failed commit without offsets reports none: what its request tracked
        offsets = e.offsets() or ({} if ok else asked(history.events[requested]))
        out.append((requested, outcome, e.ts,
                    {tp: off for tp, off in offsets.items() if off >= 0}))
    return out


def unresolved_at_kill(history: History) -> list[tuple[int, dict[TP, int]]]:
    """(index of the ``member_killed`` event, offsets) of the commit requests a member had no
    outcome for when it was killed (outcomes are matched to requests in order); a request
    without offsets counts with the offsets the worker said the client tracked (``tracked``)."""
    pending: dict[str, list[dict[TP, int]]] = defaultdict(list)
    out = []
    for e in history.of_type("commit_requested", "committed", "member_killed"):
        if e.type == "commit_requested" and e.source != HARNESS:
            offsets = {tp: off for tp, off in asked(e).items() if off >= 0}
            pending[e.source].append(offsets)
        elif e.type == "committed" and e.source != HARNESS and e.data.get("mode") != "auto":
            if pending[e.source]:
                pending[e.source].pop(0)
        elif e.type == "member_killed":
            member = str(e.data.get("member"))
            out.extend((e.index, offsets) for offsets in pending.pop(member, []) if offsets)
    return out


def unreported_auto_commits(history: History) -> list[tuple[int, dict[TP, int]]]:
    """(index of the ``member_killed`` event, offsets) of the positions a killed member may
    have committed by auto commit without reporting it: with auto commit on, the client
    commits its position in the background and reports it later (librdkafka at the next
    poll), so a SIGKILL can land between the two. Every position the member held after one of
    its polls counts, per partition since its last ok commit of that partition (the broker
    applies a member's commits in order)."""
    if not Settings.of(history).enable_auto_commit:
        return []
    held: dict[str, list[dict[TP, int]]] = defaultdict(list)
    out = []
    for e in history.of_type("polled", "committed", "member_killed"):
        if e.type == "polled" and e.source != HARNESS:
            position: dict[TP, int] = {}
            for r in e.records():
                position[r.tp] = max(position.get(r.tp, 0), r.offset + 1)
            held[e.source].append(position)
        elif e.type == "committed" and e.source != HARNESS and e.data.get("ok") is True:
            done = set(e.offsets())
            held[e.source] = [{tp: o for tp, o in p.items() if tp not in done}
                              for p in held[e.source]]
        elif e.type == "member_killed":
            member = str(e.data.get("member"))
            out.extend((e.index, p) for p in held.pop(member, []) if p)
    return out


class GroupOffsets:
    """The group's committed offsets over time: ok ``committed`` events of any member, and the
    offsets the broker reported (``group_offsets``). A commit requested by a member that was
    killed before it reported the outcome may or may not have landed: it is *uncertain*, one
    of the :meth:`possible` offsets from the kill on; so is a commit between its request and
    its ok outcome, and every position a killed member with auto commit on may have committed
    unreported (:func:`unreported_auto_commits`)."""

    def __init__(self, history: History) -> None:
        self._acks: dict[tuple[TP, str | None], list[tuple[int, int]]] = defaultdict(list)
        self._maybe: dict[TP, list[tuple[int, int]]] = defaultdict(list)
        #: ack index -> request index: the broker applies one member's commits in the order
        #: it sent them, whatever order their acknowledgements come back in
        self._sent = {e.index: requested for requested, e in commit_pairs(history)}
        #: when each ok commit was acknowledged, and when each broker report was asked for
        self._acked_at: dict[int, float] = {}
        self._asked_at: dict[int, float] = {}
        for c in commits(history):
            if c.ok:
                self._acked_at[c.index] = history.events[c.index].ts
                for tp, off in c.offsets.items():
                    self._acks[(tp, None)].append((c.index, off))
                    self._acks[(tp, c.member)].append((c.index, off))
        for e in history.of_type("group_offsets"):
            asked = e.data.get("asked")
            self._asked_at[e.index] = float(asked) if isinstance(asked, int | float) else e.ts
            for topic, partition, off in e.data.get("offsets", []):
                self._acks[((str(topic), int(partition)), None)].append((e.index, int(off)))
        for acks in self._acks.values():
            acks.sort()
        self._indices = {k: [i for i, _ in v] for k, v in self._acks.items()}
        for kill, offsets in [*unresolved_at_kill(history), *unreported_auto_commits(history)]:
            for tp, off in offsets.items():
                self._maybe[tp].append((kill, off))
        self._flight: dict[TP, list[tuple[int, float, float, int]]] = defaultdict(list)
        for requested, outcome, answered, offsets in _in_flight(history):
            for tp, off in offsets.items():
                self._flight[tp].append((requested, outcome, answered, off))

    def possible(self, tp: TP, index: int) -> list[tuple[int, int]]:
        """(event index, offset) of every offset the group may hold for ``tp`` at ``index``:
        the latest ok commit before it, and since then the uncertain commits of killed members,
        the commits in flight at ``index`` (requested before, reported ok after it) and the
        failed ones (requested before it). When the latest is a broker report, a commit
        requested before the report but answered (ok or failed) only after the report was
        asked for may have been applied after the report's moment: it counts as well, unless
        a commit sent after it had been acknowledged before the question."""
        settled = self.at(tp, index)
        since = settled[0] if settled else -1
        # a commit sent after the settled one's request may have been applied after it, even
        # if its answer (or failure) came first: the broker applies them in the order sent
        sent = self._sent.get(since, since) if settled else -1
        # a report shows the group at one moment after it was asked: a commit still unanswered
        # then may land later (soak seed 29, java: a commit sent 7 ms before a black hole, a
        # report showing the offset before it, the commit failed after the heal with the
        # retry's UNKNOWN_MEMBER_ID, yet the client resumed at it and a fresh drain started
        # there); one sent before a commit acknowledged ahead of the question is older
        asked_at = self._asked_at.get(since) if settled else None
        floor = self._applied_by(tp, asked_at) if asked_at is not None else sent
        return ([settled] if settled else []) + [
            (i, off) for i, off in self._maybe.get(tp, []) if since < i < index] + [
            (req, off) for req, outcome, answered, off in self._flight.get(tp, [])
            if req < index < outcome and (sent < req or (
                asked_at is not None and floor < req and answered > asked_at))]

    def _applied_by(self, tp: TP, moment: float) -> int:
        """The latest request index among the ok commits of ``tp`` acknowledged before
        ``moment`` (-1 if none): the broker had applied them, and every commit of the same
        member sent before them, by then."""
        return max((self._sent.get(i, i) for i, _ in self._acks.get((tp, None), [])
                    if self._acked_at.get(i, float("inf")) < moment), default=-1)

    def acks(self, tp: TP, after: int = -1, before: float = float("inf"),
             member: str | None = None) -> list[tuple[int, int]]:
        """(event index, offset) of the ok commits of ``tp`` with ``after < index < before``."""
        key = (tp, member)
        indices = self._indices.get(key, [])
        lo = bisect.bisect_right(indices, after)
        hi = bisect.bisect_left(indices, before)
        return self._acks[key][lo:hi] if hi > lo else []

    def at(self, tp: TP, index: int, member: str | None = None) -> tuple[int, int] | None:
        """(event index, offset) of the ok commit of ``tp`` acknowledged before ``index`` that
        the broker applied last: the latest acknowledged, unless an earlier acknowledgement
        answers a later request (out-of-order async acks) or a broker report came later; a
        report asked for before an earlier-recorded ack arrived, showing a lower offset, yields to
        that ack (the commit was not applied yet; a higher offset is a later commit's)."""
        key = (tp, member)
        n = bisect.bisect_left(self._indices.get(key, []), index)
        if not n:
            return None
        acks = self._acks[key]
        last = acks[n - 1]
        sent = self._sent.get(last[0], last[0])
        for i in range(n - 2, max(-1, n - 50), -1):  # recent acks answering later requests
            later = self._sent.get(acks[i][0], acks[i][0]) > sent
            behind = self._predates(last, acks[i]) and last[1] < acks[i][1]
            if (later and not self._predates(acks[i], last)) or behind:
                last, sent = acks[i], self._sent.get(acks[i][0], acks[i][0])
        return last

    def _predates(self, report: tuple[int, int], ack: tuple[int, int]) -> bool:
        """``report`` is a broker report asked for before ``ack`` (a commit requested before
        the question) was acknowledged, showing another offset: it saw the group before the
        commit was applied, so the commit is the later fact (soak seed 20: a report of 12
        asked while the commit of 13 was on its way made the drain's 14 look like a skip)."""
        asked = self._asked_at.get(report[0])
        acked = self._acked_at.get(ack[0])
        return asked is not None and acked is not None and asked < acked \
            and report[1] != ack[1]


# -- isolations ---------------------------------------------------------------------------------
#: The harness event that starts an isolation -> the one that ends it.
ISOLATION_EVENTS = {"member_frozen": "member_thawed", "network_fault": "network_healed"}
#: How each kind of isolation is told in messages.
ISOLATION_WORDS = {"frozen": "frozen", "cut": "cut off", "drop": "black-holed",
                   "delay": "slowed"}


@dataclass(frozen=True)
class Isolation:
    """One isolation of a member (see the module docstring): the event that began it, the one
    that ended it (None when it never ended), the index of the first ``revoked``/``lost``/
    ``assigned`` event of the member after the end (``heard``, None when it never heard) and
    the index of the member's next isolation (``until``), if any."""

    member: str
    began: Event
    ended: Event | None = None
    heard: int | None = None
    until: int | None = None

    @property
    def kind(self) -> str:
        """``"frozen"``, or the ``kind`` of the network fault (``"delay"``, ``"cut"``,
        ``"drop"``)."""
        if self.began.type == "member_frozen":
            return "frozen"
        return str(self.began.data.get("kind") or "network")

    @property
    def words(self) -> str:
        return ISOLATION_WORDS.get(self.kind, f"isolated ({self.kind})")

    @property
    def seconds(self) -> float | None:
        """How long the isolation lasted (the thaw's ``frozen_seconds`` when it has one)."""
        if self.ended is None:
            return None
        recorded = self.ended.data.get("frozen_seconds")
        if isinstance(recorded, int | float) and not isinstance(recorded, bool):
            return float(recorded)
        return round(self.ended.ts - self.began.ts, 3)

    @property
    def end_ts(self) -> float:
        """A member event with a later timestamp was emitted after the isolation ended
        (infinity while it has not ended): for a freeze, the moment SIGCONT was sent (the
        thaw's ``sent``, else its own timestamp). A stopped process emits nothing, so a
        member event stamped between the freeze and the thaw was emitted before the SIGSTOP
        took hold (seen: a JVM worker ran on for 16 ms after the harness sent it). For a
        network fault, the ``network_healed`` event's."""
        if self.ended is None:
            return float("inf")
        if self.kind == "frozen":
            sent = self.ended.data.get("sent")
            return float(sent) if isinstance(sent, int | float) else self.ended.ts
        return self.ended.ts

    def _since(self, e: Event) -> bool:
        return (e.source == self.member and e.index > self.began.index
                and (self.until is None or e.index < self.until))

    def after(self, e: Event) -> bool:
        """``e``, an event of the member, was emitted after the isolation ended."""
        return self.ended is not None and self._since(e) and e.ts > self.end_ts

    def during(self, e: Event) -> bool:
        """``e``, an event of the member, was emitted while it was isolated (never for a
        freeze: a stopped process emits nothing)."""
        return (self.kind != "frozen" and self._since(e)
                and self.began.ts < e.ts <= self.end_ts)

    def before_end(self, e: Event) -> bool:
        """``e``, an event of the member, was emitted before the isolation ended (for a freeze:
        before SIGSTOP took hold)."""
        return e.source == self.member and (e.index < self.began.index or e.ts <= self.end_ts)

    @property
    def window(self) -> tuple[int, float]:
        """The open interval of event indices from the isolation to the member's hearing of
        the group (to its next isolation, or infinity, when it never heard)."""
        hi = self.heard if self.heard is not None else self.until
        return (self.began.index, float("inf") if hi is None else hi)


#: harness events that start an interval in which no member can be expected to make progress
#: or to rejoin, and the event that ends it (None: a moment): any member isolated (a rebalance
#: may wait on it: a classic member's poll blocks in the join until the isolated member
#: rejoins or times out), a broker node stopped, a leader or the coordinator moved
GROUP_BLOCKS = {"broker_stopped": "broker_started", "leader_moved": None,
                "coordinator_moved": None, **ISOLATION_EVENTS}
#: of those, the faults of the cluster itself (not of a member)
BROKER_EVENTS = ("broker_stopped", "leader_moved", "coordinator_moved")
#: seconds a client may take, after a broker fault ended, before it talks to the cluster
#: again: the longest default reconnect backoff among the clients (librdkafka's
#: ``reconnect.backoff.max.ms``, 10 s; the Java client's is 1 s); a fresh-clone CI run saw
#: confluent-kafka fetch a partition again 11.3 s after a node restart
BROKER_GRACE = 10.0


def group_blocks(history: History, bound: float, *, but: str | None = None
                 ) -> list[tuple[float, float]]:
    """Intervals (start, end) in which no member can be expected to progress or rejoin (see
    :data:`GROUP_BLOCKS`), each extended by ``bound`` (and broker faults by
    :data:`BROKER_GRACE` more); one never ended runs to infinity. ``but``: a member whose own
    isolations do not count."""
    out = []
    for e in history.events:
        if e.source != HARNESS or e.type not in GROUP_BLOCKS:
            continue
        if but is not None and e.type in ISOLATION_EVENTS and e.data.get("member") == but:
            continue
        ender = GROUP_BLOCKS[e.type]
        end = next((x.ts for x in history.events[e.index + 1:] if x.type == ender
                    and x.data.get("member") == e.data.get("member")),
                   float("inf")) if ender else e.ts
        grace = BROKER_GRACE if e.type in BROKER_EVENTS else 0.0
        out.append((e.ts, end + bound + grace))
    return out


def isolations(history: History) -> list[Isolation]:
    """Every isolation of every member, in history order."""
    marks = [e for e in history.of_type(*ISOLATION_EVENTS, *ISOLATION_EVENTS.values())
             if e.source == HARNESS and e.data.get("member") is not None]
    out = []
    for n, e in enumerate(marks):
        if e.type not in ISOLATION_EVENTS:
            continue
        member = str(e.data["member"])
        later = [x for x in marks[n + 1:] if str(x.data["member"]) == member]
        until = next((x.index for x in later if x.type in ISOLATION_EVENTS), None)
        ended = next((x for x in later if x.type == ISOLATION_EVENTS[e.type]
                      and (until is None or x.index < until)), None)
        iso = Isolation(member, e, ended, None, until)
        if ended is not None:
            heard = next((x.index for x in history.by_source(member)
                          if x.type in REBALANCE_EVENTS and iso.after(x)), None)
            iso = Isolation(member, e, ended, heard, until)
        out.append(iso)
    return out
