"""Commits and the group's committed offsets, derived from a history.

Commits
    ``committed`` events (``requested=False``) and ``commit_requested`` events with explicit
    offsets (``requested=True``). Negative offsets (librdkafka's ``OFFSET_INVALID``) are not
    commits and are dropped. The group's committed offset of a partition at index ``i`` is the
    offset of the latest ``ok`` ``committed`` event for it before ``i`` (the broker keeps the last
    write).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

from conformance.checkers.spans import (
    TP,
    Settings,
)
from conformance.history import HARNESS, Event, History


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
    """(index of a ``member_killed`` or ``member_frozen`` event, offsets) of the positions a
    member may have committed by auto commit without reporting it yet: with auto commit on,
    the client commits in the background and reports it later (librdkafka at the next poll),
    so a SIGKILL can land between the two, and a SIGSTOP can hold the report back until the
    thaw while the broker has applied the commit (soak seed 71: confluent-kafka, consumer
    protocol, stored-message path: m1 stored 5, was frozen, m2 was given the partition and
    started at 5; m1 reported the auto commit of 5 after its thaw, 6.6 s later). Every
    position the member held after one of its polls, or after one of its processed records
    (a client that commits stored offsets commits what was processed), counts unless an ok
    commit of the member reported since covers it (the broker applies a member's commits in
    order); a position beyond that commit stays."""
    if not Settings.of(history).enable_auto_commit:
        return []
    held: dict[str, list[dict[TP, int]]] = defaultdict(list)
    out = []
    for e in history.of_type("polled", "processed", "committed", "member_killed",
                             "member_frozen"):
        if e.type in ("polled", "processed") and e.source != HARNESS:
            position: dict[TP, int] = {}
            for r in e.records():
                position[r.tp] = max(position.get(r.tp, 0), r.offset + 1)
            held[e.source].append(position)
        elif e.type == "committed" and e.source != HARNESS and e.data.get("ok") is True:
            # what this commit covers is settled; a position beyond it may still be committed
            # (soak seed 71: java, an auto commit of 39 reported after the poll that reached
            # 52, then a SIGKILL 140 ms later; the drain started at 52)
            done = e.offsets()
            held[e.source] = [q for q in ({tp: o for tp, o in p.items()
                                           if tp not in done or o > done[tp]}
                                          for p in held[e.source]) if q]
        elif e.type == "member_killed":
            member = str(e.data.get("member"))
            out.extend((e.index, p) for p in held.pop(member, []) if p)
        elif e.type == "member_frozen":
            member = str(e.data.get("member"))
            out.extend((e.index, dict(p)) for p in held.get(member, []) if p)
    return out


class GroupOffsets:
    """The group's committed offsets over time: ok ``committed`` events of any member, and the
    offsets the broker reported (``group_offsets``). A commit requested by a member that was
    killed before it reported the outcome may or may not have landed: it is *uncertain*, one
    of the :meth:`possible` offsets from the kill on; so is a commit between its request and
    its ok outcome, and every position a killed or frozen member with auto commit on may have
    committed unreported (:func:`unreported_auto_commits`)."""

    def __init__(self, history: History) -> None:
        self._acks: dict[tuple[TP, str | None], list[tuple[int, int]]] = defaultdict(list)
        self._maybe: dict[TP, list[tuple[int, int]]] = defaultdict(list)
        #: ack index -> request index: the broker applies one member's commits in the order
        #: it sent them, whatever order their acknowledgements come back in
        self._sent = {e.index: requested for requested, e in commit_pairs(history)}
        #: when each ok commit was acknowledged, and when each broker report was asked for
        self._acked_at: dict[int, float] = {}
        self._asked_at: dict[int, float] = {}
        #: ack index -> the index after which its request may have been sent, for a commit
        #: reported without a request of its own (auto commit): the member's previous report
        self._sent_after: dict[int, int] = {}
        previous: dict[str, int] = {}
        for c in commits(history):
            if c.index not in self._sent:
                self._sent_after[c.index] = previous.get(c.member, -1)
            previous[c.member] = c.index
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
        # an unreported commit possible from a kill or freeze on stays possible past an ack
        # whose request may have been sent before that moment (soak seed 85: java, consumer
        # protocol, auto commit every 200 ms: m3 polled 26..32 and was frozen; after the thaw
        # it reported an auto commit of 26, sent before the freeze, and the drain started at
        # 33, the position an unreported auto commit had sent just before the SIGSTOP)
        unknown = self._sent_after.get(since, since) if settled else -1
        # an ok commit sent after the settled one may have been sent: whichever the broker
        # applied last is unknown when one of them is an auto commit, whose request the
        # history does not hold (soak seed 88: java, classic, auto commit every 200 ms: m1
        # asked for an async commit of 18, then reported an auto commit of 17 sent before
        # it, then the async one's ok; the drain started at 18, either was the last)
        earliest = self._sent_after.get(since, sent) if settled else -1
        unordered = [(i, off) for i, off in self._acks.get((tp, None), [])
                     if i < index and i != since and i in self._acked_at
                     and earliest < self._sent.get(i, i)]
        return ([settled] if settled else []) + unordered + [
            (i, off) for i, off in self._maybe.get(tp, []) if unknown < i < index] + [
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
