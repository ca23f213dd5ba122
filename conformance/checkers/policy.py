"""Detection vs policy: which violations fail, which are documented hazards, which are allowed.

Checkers report every anomaly they detect; ``judge`` decides, one violation at a time, what the
scenario's configuration and the history make of it. A violation is a *hazard* only when
docs/semantics.md explains that loss, reordering or early commit as Kafka's documented
behaviour under the scenario's configuration AND the history shows that it lies within that
explanation (measured on the events); anything beyond it fails. Under auto commit, a client
that silently drops records therefore fails: a dropped record was never polled by a member
that crashed.

    anomaly                        setting                    within the explanation when
    key-order-across-growth        always: allowed (S9)       -
    lost-before-first-assignment   auto_offset_reset=latest   always: ``no-loss`` measures it (the
                                   (S3)                       record preceded the partition's
                                                              first assignment or a reset)
    lost                           enable_auto_commit (S4)    every record of the violation was
                                                              polled by a member that was then
                                                              SIGKILLed without processing it,
                                                              and an ok ``auto`` commit of that
                                                              member reported between the poll
                                                              and the kill covered its offset
                                                              (never for a member whose client
                                                              commits only stored, processed
                                                              offsets: ``stores_processed``)
    lost                           processing "pool" (S6)     the same, with any ok commit of
                                                              the member (or a commit it had
                                                              requested without an outcome when
                                                              it was killed)
    commit-beyond-processed        auto commit (S4), pool     the offset does not exceed the
                                   (S6)                       member's polled position (highest
                                                              offset it had polled of the
                                                              partition + 1) at the commit
                                                              (S4: not a ``stores_processed``
                                                              member's)
    group-offset-beyond-processed  auto commit (S4), pool     the offset does not exceed the
                                   (S6)                       polled position of any member
                                                              before the observation (S4: of
                                                              any not ``stores_processed``)
    skip                           pool (S6)                  every skipped offset had been
                                                              polled by the member before
    nonmonotonic                   pool (S6)                  the record had been polled by the
                                                              member before
    zombie-read                    always (S8)                the zombie then reported the
                                                              partition lost or revoked (not
                                                              the revoke of its own close), or
                                                              was SIGKILLed within two
                                                              heartbeat intervals of the end of
                                                              the isolation, and
                                                              one poll returned it, or every
                                                              poll that did came within two
                                                              heartbeat intervals of the end of
                                                              the isolation

Everything else fails. Verdict: FAIL if any violation fails, else HAZARD if any is a hazard, else
PASS (allowed anomalies included, named in the note). Without the history (``judge`` called
with ``history=None``) nothing can be measured, so no violation is a hazard.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.checkers.group_offsets import (
    Commit,
    commits,
    unreported_auto_commits,
    unresolved_at_kill,
)
from conformance.checkers.loss import lost_groups
from conformance.checkers.spans import TP, Settings, between, produced_offsets
from conformance.history import HARNESS, History, Produced
from conformance.verdicts import Verdict, Violation

ALLOWED = "allowed"
HAZARD = "hazard"
FAILS = "fail"

POOL_HAZARDS = ("lost", "skip", "nonmonotonic", "commit-beyond-processed",
                "group-offset-beyond-processed")

S4_STORED = ("with enable_auto_commit the client may commit offsets stored when poll() "
             "returned records, before processing (librdkafka, S4)")
S4_CRASH = ("with enable_auto_commit a member killed after an auto commit covered records it "
            "had polled but not processed loses them (librdkafka stores offsets on poll, S4)")
S8_STALE_BATCH = ("a member removed from the group while stalled learns it only from the "
                  "coordinator, by its next heartbeat or commit (fetches are not fenced by "
                  "the group): what its polls return before that, one poll or within two "
                  "heartbeat intervals of its return, is Kafka's behaviour, also the Java "
                  "client's (S8)")
STORED_ONLY = ("the member's client commits only offsets stored after processing "
               "(stores_processed), so S4's polled-but-unprocessed hazard is not its own")
#: adapters whose pause is applied by their own poll loop before its next poll, so the poll in
#: flight when the application paused may still return the partition (documented)
PAUSE_BEFORE_NEXT_POLL = ("spring-kafka",)
PAUSE_IN_FLIGHT = ("spring-kafka's container applies pausePartition() before its next poll "
                   "(documented): the one poll already in flight may still return the "
                   "partition")
S6_POOL = ("a worker pool lets poll() run and commit before workers finish, losing and "
           "reordering records (S6)")


class Facts:
    """What the policy measures violations against, derived from the history on demand."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.polls: dict[tuple[str, int, int], list[tuple[str, int]]] = defaultdict(list)
        self._pos: dict[tuple[str | None, TP], tuple[list[int], list[int]]] = {}
        raw: dict[tuple[str | None, TP], list[tuple[int, int]]] = defaultdict(list)
        for e in history.of_type("polled"):
            if e.source == HARNESS:
                continue
            for r in e.records():
                self.polls[(r.topic, r.partition, r.offset)].append((e.source, e.index))
                raw[(e.source, r.tp)].append((e.index, r.offset + 1))
                raw[(None, r.tp)].append((e.index, r.offset + 1))
        for key, items in raw.items():
            best, maxima = 0, []
            for _i, off in items:
                best = max(best, off)
                maxima.append(best)
            self._pos[key] = ([i for i, _ in items], maxima)
        self.kills: dict[str, list[int]] = defaultdict(list)
        for e in history.of_type("member_killed"):
            self.kills[str(e.data.get("member"))].append(e.index)
        self.commits: dict[str, list[Commit]] = defaultdict(list)
        for c in commits(history):
            if c.ok:
                self.commits[c.member].append(c)
        self.uncertain: dict[int, dict[TP, int]] = defaultdict(dict)
        #: auto commits a killed member may have written without reporting them
        self.unreported: dict[int, dict[TP, int]] = defaultdict(dict)
        for kill, offsets in unreported_auto_commits(history):
            for tp, off in offsets.items():
                self.unreported[kill][tp] = max(off, self.unreported[kill].get(tp, off))
        for kill, offsets in [*unresolved_at_kill(history), *unreported_auto_commits(history)]:
            for tp, off in offsets.items():
                self.uncertain[kill][tp] = max(off, self.uncertain[kill].get(tp, off))
        #: members whose client commits only offsets stored after processing (their
        #: ``ready`` event's capability): S4's polled-but-unprocessed hazard is not theirs
        self.stores_processed = {
            e.source for e in history.of_type("ready")
            if isinstance(e.data.get("capabilities"), dict)
            and e.data["capabilities"].get("stores_processed")}
        self._lost: dict[tuple[TP, str], list[Produced]] | None = None
        self._produced: dict[TP, list[int]] | None = None

    def position(self, tp: TP, before: int, member: str | None = None) -> int | None:
        """The polled position of ``tp`` before event ``before``: the highest offset polled
        (by ``member``, or anyone) + 1; None when nothing was polled."""
        indices, maxima = self._pos.get((member, tp), ([], []))
        n = bisect.bisect_left(indices, before)
        return maxima[n - 1] if n else None

    def unstored_position(self, tp: TP, before: int) -> int | None:
        """:meth:`position` over the members that are not ``stores_processed`` only."""
        found = [p for m in {m for (m, t) in self._pos if t == tp and m is not None}
                 - self.stores_processed if (p := self.position(tp, before, m)) is not None]
        return max(found, default=None)

    def polled_by(self, member: str, tp: TP, offset: int, before: int) -> bool:
        return any(m == member and i < before for m, i in self.polls.get((*tp, offset), []))

    def lost(self, tp: TP, anomaly: str) -> list[Produced]:
        if self._lost is None:
            self._lost = lost_groups(self.history)
        return self._lost.get((tp, anomaly), [])

    def produced(self, tp: TP) -> list[int]:
        if self._produced is None:
            self._produced = produced_offsets(self.history)
        return self._produced.get(tp, [])

    def crash_loss(self, record: Produced, auto_only: bool) -> str:
        """"" when a crash explains the record's loss (see the module docstring), else why not."""
        polls = self.polls.get((record.topic, record.partition, record.offset), [])
        if not polls:
            return "never polled by any member"
        why = "polled only by members that were not killed afterwards"
        for member, index in polls:
            if auto_only and member in self.stores_processed:
                why = STORED_ONLY
                continue
            kill = next((k for k in self.kills.get(member, []) if k > index), None)
            if kill is None:
                continue
            covered = [c for c in self.commits.get(member, []) if index < c.index < kill
                       and (c.mode == "auto" or not auto_only)
                       and c.offsets.get(record.tp, -1) > record.offset]
            maybe = (self.unreported if auto_only else self.uncertain).get(
                kill, {}).get(record.tp, -1) > record.offset
            if covered or maybe:
                return ""
            why = (f"no {'auto ' if auto_only else ''}commit of the killed member covered it "
                   f"between its poll and the kill")
        return why


def _lost_beyond(auto_only: bool) -> Callable[[Violation, Facts], str]:
    def beyond(v: Violation, facts: Facts) -> str:
        tp = (str(v.details.get("topic")), int(v.details.get("partition", -1)))
        records = facts.lost(tp, v.anomaly)
        if not records:
            return "its records could not be measured"
        reasons = Counter(r for r in (facts.crash_loss(rec, auto_only) for rec in records) if r)
        if not reasons:
            return ""
        [(reason, n)] = reasons.most_common(1)
        total = sum(reasons.values())
        return f"{total} of {len(records)} record(s) beyond it ({n} {reason})"
    return beyond


def _commit_beyond(v: Violation, facts: Facts) -> str:
    d = v.details
    event = d.get("event", v.evidence[-1] if v.evidence else None)
    if event is None:
        return "the commit could not be measured"
    tp = (str(d.get("topic")), int(d.get("partition", -1)))
    position = facts.position(tp, int(event), str(d.get("member")))
    if position is not None and int(d.get("committed", 0)) <= position:
        return ""
    return (f"offset {d.get('committed')} is beyond the member's polled position "
            f"{position}: records never handed to the application")


def _auto_commit_beyond(v: Violation, facts: Facts) -> str:
    """S4: as :func:`_commit_beyond`, never for a ``stores_processed`` member."""
    if str(v.details.get("member")) in facts.stores_processed:
        return STORED_ONLY
    return _commit_beyond(v, facts)


def _observed_beyond(auto_only: bool) -> Callable[[Violation, Facts], str]:
    """The broker's offset against the polled position of any member before the observation;
    ``auto_only`` (S4): of any member that is not ``stores_processed``."""
    def beyond(v: Violation, facts: Facts) -> str:
        d = v.details
        if not v.evidence:
            return "the observation could not be measured"
        tp = (str(d.get("topic")), int(d.get("partition", -1)))
        position = (facts.unstored_position(tp, v.evidence[0]) if auto_only
                    else facts.position(tp, v.evidence[0]))
        committed = int(d.get("committed", 0))
        # offsets no record took (a transaction's marker) lie between a position and the
        # offset a client commits past them (soak seed 74: java polled 26..35, committed 37)
        if position is not None and (committed <= position
                                     or not between(facts.produced(tp), position, committed)):
            return ""
        who = "every member that stores offsets on poll" if auto_only else "every member"
        cause = STORED_ONLY if auto_only and position is None \
            else "records never handed to any member"
        return f"offset {d.get('committed')} is beyond the polled position {position} of " \
               f"{who}: {cause}"
    return beyond


def _skip_beyond(v: Violation, facts: Facts) -> str:
    d = v.details
    tp = (str(d.get("topic")), int(d.get("partition", -1)))
    event = int(d.get("event", v.evidence[-1] if v.evidence else -1))
    lo = d["previous"] + 1 if d.get("previous") is not None else d.get("sought")
    if lo is None or event < 0:
        return "the skip could not be measured"
    skipped = between(facts.produced(tp), int(lo), int(d.get("offset", 0)))
    unpolled = [o for o in skipped if not facts.polled_by(str(d.get("member")), tp, o, event)]
    if not unpolled:
        return ""
    return f"{len(unpolled)} skipped record(s) were never polled by the member"


def _paused_beyond(v: Violation, facts: Facts) -> str:
    """A paused partition delivered: within the documented in-flight poll of an adapter
    whose pause takes effect before its next poll, else beyond."""
    member = str(v.details.get("member"))
    adapters = {str(e.data.get("adapter", "")) for e in facts.history.of_type("ready")
                if e.source == member}
    if not any(a.startswith(PAUSE_BEFORE_NEXT_POLL) for a in adapters):
        return "the client's pause takes effect at once"
    if int(v.details.get("polls", 0)) > 1:
        return f"{v.details.get('polls')} polls returned the paused partition, not one in flight"
    return ""


def _reorder_beyond(v: Violation, facts: Facts) -> str:
    d = v.details
    tp = (str(d.get("topic")), int(d.get("partition", -1)))
    event = int(d.get("event", v.evidence[-1] if v.evidence else -1))
    if facts.polled_by(str(d.get("member")), tp, int(d.get("offset", -1)), event):
        return ""
    return "the record was not polled by the member before"


def _zombie_read_beyond(v: Violation, facts: Facts) -> str:
    """S8: reads before the member heard of the loss, within one poll or within the time its
    first heartbeat after the isolation takes to fall due and be answered (two heartbeat
    intervals: fetches are not fenced by the group, only heartbeats and commits are)."""
    d = v.details
    window = 2 * Settings.of(facts.history).heartbeat_interval_ms / 1000
    killed = d.get("killed_seconds_after_end")
    if d.get("heard") is None and not (isinstance(killed, int | float) and killed <= window):
        # a SIGKILL within the window leaves no time to hear: the reads are measured alone
        return "the member never heard that it had lost the partition"
    polls = int(d.get("polls", 0))
    if polls <= 1:
        return ""
    last = d.get("last_seconds_after_end")
    if isinstance(last, int | float) and last <= window:
        return ""
    return (f"{polls} polls returned the partition before the member heard of it, the last "
            f"{last} s after it came back (beyond two heartbeat intervals, {window:g} s)")


@dataclass(frozen=True)
class Hazard:
    """Documented behaviour: its anomalies, the setting it needs, why it is documented, and how
    a violation is measured against it (``beyond`` returns "" when within, else why not)."""

    anomalies: tuple[str, ...]
    applies: Callable[[Settings], bool]
    reason: str
    beyond: Callable[[Violation, Facts], str] | None = None


def _auto(s: Settings) -> bool:
    return s.enable_auto_commit


def _pool(s: Settings) -> bool:
    return s.processing == "pool"


HAZARDS: tuple[Hazard, ...] = (
    Hazard(("lost-before-first-assignment",), lambda s: s.auto_offset_reset == "latest",
           "records produced before the partition's first assignment have no committed "
           "offset and auto_offset_reset=latest skips them (S3)"),
    Hazard(("lost",), _auto, S4_CRASH, _lost_beyond(auto_only=True)),
    Hazard(("commit-beyond-processed",), _auto, S4_STORED, _auto_commit_beyond),
    Hazard(("group-offset-beyond-processed",), _auto, S4_STORED, _observed_beyond(True)),
    Hazard(("lost",), _pool, S6_POOL, _lost_beyond(auto_only=False)),
    Hazard(("commit-beyond-processed",), _pool, S6_POOL, _commit_beyond),
    Hazard(("group-offset-beyond-processed",), _pool, S6_POOL, _observed_beyond(False)),
    Hazard(("zombie-read",), lambda s: True, S8_STALE_BATCH, _zombie_read_beyond),
    Hazard(("paused-partition-delivered",), lambda s: True, PAUSE_IN_FLIGHT, _paused_beyond),
    Hazard(("skip",), _pool, S6_POOL, _skip_beyond),
    Hazard(("nonmonotonic",), _pool, S6_POOL, _reorder_beyond),
)


def classify(violation: Violation, settings: Settings, facts: Facts | None = None
             ) -> tuple[str, str]:
    """(``allowed`` | ``hazard`` | ``fail``, the reason) for one violation under ``settings``,
    measured against the history's ``facts`` (None: cannot be measured, never a hazard)."""
    if violation.anomaly == "key-order-across-growth":
        return ALLOWED, "per-key order across partition growth is not promised by Kafka (S9)"
    beyond = ""
    for rule in HAZARDS:
        if violation.anomaly not in rule.anomalies or not rule.applies(settings):
            continue
        if rule.beyond is None:
            return HAZARD, rule.reason
        why = "not measured (no history)" if facts is None else rule.beyond(violation, facts)
        if not why:
            return HAZARD, rule.reason
        beyond = beyond or f"beyond the documented hazard: {why}"
    return FAILS, beyond


def judge(check_id: str, violations: list[Violation], scenario: dict[str, Any],
          history: History | None = None) -> tuple[Verdict, str]:
    """The verdict of ``check_id`` over ``violations`` under the scenario's configuration,
    each measured against ``history``, and a note naming what failed beyond a documented
    hazard, what was a hazard and what was allowed."""
    if not violations:
        return Verdict.PASS, ""
    settings = Settings.from_scenario(scenario)
    facts = Facts(history) if history is not None else None
    kinds: dict[str, Counter[str]] = {ALLOWED: Counter(), HAZARD: Counter(), FAILS: Counter()}
    reasons: dict[tuple[str, str], str] = {}
    for v in violations:
        kind, reason = classify(v, settings, facts)
        kinds[kind][v.anomaly] += 1
        if reason:
            reasons.setdefault((kind, v.anomaly), reason)
    parts = [_part(kind, kinds[kind], reasons) for kind in (FAILS, HAZARD, ALLOWED)
             if kinds[kind]]
    note = "; ".join(parts)
    if kinds[FAILS] and check_id == "no-loss" and history is not None \
            and drain_incomplete(history):
        return Verdict.UNKNOWN, ("undecided: the final drain never caught up (no drain member "
                                 "got its partitions), so unprocessed records may still be "
                                 "readable; " + note)
    if kinds[FAILS]:
        return Verdict.FAIL, note
    if kinds[HAZARD]:
        return Verdict.HAZARD, note
    return Verdict.PASS, note


def drain_incomplete(history: History) -> bool:
    """A final drain ran and none of its members reached the end of every partition."""
    drains = history.of_type("drain_finished")
    return bool(drains) and not any(e.data.get("complete") for e in drains)


def _part(kind: str, counts: Counter[str], reasons: dict[tuple[str, str], str]) -> str:
    label = {FAILS: "failed", HAZARD: "hazard", ALLOWED: "allowed"}[kind]
    items = ", ".join(f"{name} x{n}" + (f" ({reasons[(kind, name)]})"
                                        if (kind, name) in reasons else "")
                      for name, n in sorted(counts.items()))
    return f"{label}: {items}"
