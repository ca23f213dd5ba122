"""The chain of events behind one violation, told in order (as Elle tells an anomaly): the
assignments and what the rebalance listener heard, the step that set it off, the commits, the
group's committed offsets as the broker reported them, the reads, each with its member,
partition and offsets; the violation is the last line (the template adds it).

Which events of the history are told (up to the last event the violation cites):

    cited       every event the violation cites as evidence (never left out)
    listener    ``assigned`` / ``revoked`` / ``lost`` of the violation's partitions
    commits     ``commit_requested`` / ``committed`` naming those partitions (or a member of the
                violation committing everything it consumed), ``group_offsets`` naming them
    reads       ``processed`` records of those partitions; ``polled`` only when cited
    positions   ``seeked`` / ``paused`` / ``resumed`` of those partitions
    members     the lifecycle of the members the violation names (started, killed, stopped,
                died, frozen, thawed, network and protocol faults) and their fatal errors
    steps       the step each cited event followed (what set it off), steps acting on those
                members, and group-wide events (partitions added, broker faults, teardown)

A member's read-and-commit loop collapses: a run of its uncited reads and commits becomes one
line of the offsets read, then its last commit request and last commit (what the others
would repeat). When the story is longer than ``limit`` lines, the earliest uncited lines go
first; the chain counts what it left out (all of it is in the example's history.jsonl).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.history import HARNESS, Event, History
from conformance.report.evidence import MEMBER_KEYS, ranges, summary
from conformance.verdicts import Violation

TP = tuple[str, int]
MAX_LINKS = 20
LISTENER = ("assigned", "revoked", "lost")
COMMITS = ("commit_requested", "committed")
LOOP = ("processed", "polled", *COMMITS)
POSITIONS = ("seeked", "paused", "resumed")
RECORDS = ("produced", "processed", "polled")
#: cited events that only say a record existed: the violation is its absence
ABSENCE = ("produced", "aborted")
HARNESS_WHO = {"produced": "producer", "aborted": "producer", "group_offsets": "broker"}
LIFECYCLE = ("member_started", "member_killed", "member_stopped", "member_died",
             "member_frozen", "member_thawed", "network_fault", "network_healed",
             "protocol_fault", "protocol_healed", "drain_started", "drain_finished")
GROUP_WIDE = ("partitions_added", "broker_stopped", "broker_started", "leader_moved",
              "coordinator_moved", "teardown")
VERBS = {
    "assigned": "listener heard: assigned", "revoked": "listener heard: revoked",
    "lost": "listener heard: lost", "commit_requested": "asks to commit",
    "committed": "commit acknowledged", "group_offsets": "broker reports the group's offsets",
    "processed": "processed", "polled": "polled", "produced": "produced", "seeked": "seeks",
    "paused": "paused", "resumed": "resumed", "member_started": "started",
    "member_killed": "killed (SIGKILL)", "member_stopped": "stopped (closed)",
    "member_died": "died", "member_frozen": "frozen (SIGSTOP)",
    "member_thawed": "thawed (SIGCONT)", "network_fault": "network fault",
    "network_healed": "network healed", "protocol_fault": "protocol fault",
    "protocol_healed": "protocol fault healed", "drain_started": "drain starts reading",
    "drain_finished": "drain finished", "partitions_added": "partitions added",
    "teardown": "steps over: members stop, a fresh member drains", "step": "step",
    "error": "error",
}


@dataclass
class Link:
    """One line of a chain: an event, or a collapsed run of one member's reads."""

    indices: list[int]
    ts: float
    member: str
    kind: str
    verb: str
    partitions: str = ""
    offsets: str = ""
    cited: bool = False

    @property
    def label(self) -> str:
        """``#12``, or ``#12`` to ``#30`` joined by a dash."""
        first, last = self.indices[0], self.indices[-1]
        return f"#{first}" if first == last else f"#{first}\u2013#{last}"


@dataclass
class Chain:
    """The events behind one violation, oldest first."""

    anomaly: str
    message: str
    number: int = 1
    links: list[Link] = field(default_factory=list)
    topic: str = ""
    told: int = 0
    left_out: int = 0
    events: int = 0

    def indices(self) -> list[int]:
        """Every event index the chain shows."""
        return [i for link in self.links for i in link.indices]


def focus_partitions(history: History, violation: Violation) -> set[TP]:
    """The partitions a violation is about: its details' topic and partition, else those of
    the events it cites."""
    d = violation.details or {}
    topic, part = d.get("topic"), d.get("partition")
    if isinstance(part, int) and not isinstance(part, bool):
        if isinstance(topic, str):
            return {(topic, part)}
        main = history.scenario().get("topic")
        if isinstance(main, str):
            return {(main, part)}
    out: set[TP] = set()
    for i in _cited(history, violation):
        out.update(_tps(history[i]))
    return out


def named_members(history: History, violation: Violation) -> set[str]:
    """The members a violation names (details) or whose events it cites."""
    known = {e.source for e in history if e.source != HARNESS}
    known |= {str(e.data.get("member")) for e in history if e.data.get("member")}
    out: set[str] = set()
    d = violation.details or {}
    for key in MEMBER_KEYS:
        value = d.get(key)
        values = value if isinstance(value, list) else str(value or "").split(",")
        out.update(str(v).strip() for v in values)
    for i in _cited(history, violation):
        e = history[i]
        out.add(e.source)
        if e.data.get("member"):
            out.add(str(e.data["member"]))
    return out & known


def event_chain(history: History, violation: Violation, number: int = 1,
                limit: int = MAX_LINKS) -> Chain:
    """The chain of ``violation`` (its ``number`` among the cell's violations) in ``history``."""
    cited = _cited(history, violation)
    focus = focus_partitions(history, violation)
    end = max(cited, default=len(history) - 1)
    if all(history[i].type in ABSENCE for i in cited):
        # a record never read: the story runs on to the last event on its partitions
        end = max([end, *(e.index for e in history if _tps(e) & focus)])
    members = named_members(history, violation) | {
        e.source for e in history.events[: end + 1] if e.type in LISTENER and _tps(e) & focus}
    triggers = {_step_before(history, i) for i in cited} - {None}
    picked = [e for e in history.events[: end + 1]
              if e.index in cited or e.index in triggers or _tells(e, focus, members)]
    main = history.scenario().get("topic")
    topic = main if isinstance(main, str) else ""
    links = _collapse(picked, set(cited), focus, topic)
    told = len(links)
    if len(links) > limit:
        ranked = sorted(range(len(links)), key=lambda n: (_rank(links[n]), -n))
        keep = {n for n in ranked[:limit]} | {n for n, lk in enumerate(links) if lk.cited}
        links = [lk for n, lk in enumerate(links) if n in keep]
    return Chain(violation.anomaly, violation.message, number, links, topic, told,
                 told - len(links), len(history))


def _rank(link: Link) -> int:
    """Which lines a long chain keeps first (lower first; later before earlier within one):
    cited, then the listener, members and steps, then commits, then reads."""
    if link.cited:
        return 0
    if link.kind in COMMITS or link.kind == "group_offsets":
        return 2
    if link.kind in RECORDS:
        return 3
    return 1


def _cited(history: History, violation: Violation) -> list[int]:
    return sorted({i for i in violation.evidence
                   if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(history)})


def _step_before(history: History, index: int) -> int | None:
    """The last ``step`` event before ``index`` (the step that set the event off)."""
    for e in reversed(history.events[:index]):
        if e.type == "step":
            return e.index
    return None


def _tps(e: Event) -> set[TP]:
    """The partitions an event names (records, partitions or offsets)."""
    out: set[TP] = set()
    for key in ("records", "partitions", "offsets"):
        value = e.data.get(key)
        for item in value if isinstance(value, list) else ():
            if isinstance(item, list) and len(item) >= 2 and isinstance(item[1], int):
                out.add((str(item[0]), item[1]))
    if isinstance(e.data.get("topic"), str) and isinstance(e.data.get("partition"), int):
        out.add((e.data["topic"], int(e.data["partition"])))
    return out


def _member(e: Event) -> str:
    """Who an event is about: its member (the source, or the member a harness event names),
    ``producer`` for records produced, ``broker`` for the group's offsets, else ``harness``."""
    if e.source != HARNESS:
        return e.source
    if e.type in HARNESS_WHO:
        return HARNESS_WHO[e.type]
    args = e.data.get("args") if isinstance(e.data.get("args"), dict) else {}
    return str(e.data.get("member") or args.get("member") or HARNESS)


def _tells(e: Event, focus: set[TP], members: set[str]) -> bool:
    """Whether an uncited event belongs to the story (see the module doc)."""
    touches = bool(_tps(e) & focus) if focus else _member(e) in members
    if e.type in LISTENER or e.type in POSITIONS or e.type == "group_offsets":
        return touches
    if e.type in COMMITS:
        return touches or (not e.data.get("offsets") and e.source in members)
    if e.type == "processed":
        return touches
    if e.type in LIFECYCLE:
        return _member(e) in members
    if e.type == "error":
        return e.source in members and bool(e.data.get("fatal"))
    if e.type == "step":
        return _member(e) in members
    if e.type == "partitions_added":
        return not focus or e.data.get("topic") in {t for t, _p in focus}
    return e.type in GROUP_WIDE


def _collapse(events: list[Event], cited: set[int], focus: set[TP], topic: str) -> list[Link]:
    """Links of ``events``: a member's uncited reads and commits in a row become its reads
    (one line) and its last commit request and last commit; cited records events of one
    source and type in a row (``produced`` 0, 1, 2 ...) become one line."""
    out: list[Link] = []
    run: list[Event] = []

    def flush() -> None:
        if not run:
            return
        lines = []
        reads = [e for e in run if e.type in ("processed", "polled")]
        if reads:
            lines.append(_records(reads, False, focus, topic))
        for kind in COMMITS:
            lines += [_link(e, False, focus, topic) for e in run if e.type == kind][-1:]
        out.extend(sorted(lines, key=lambda lk: lk.indices[0]))
        run.clear()

    group: list[Event] = []
    for e in events:
        loop = e.type in LOOP and e.index not in cited
        if loop and (not run or run[0].source == e.source):
            run.append(e)
            continue
        flush()
        if loop:
            run.append(e)
            continue
        if (e.index in cited and e.type in RECORDS and group and group[-1].type == e.type
                and group[-1].source == e.source and out and out[-1].indices[-1] ==
                group[-1].index):
            group.append(e)
            out[-1] = _records(group, True, focus, topic)
            continue
        group = [e] if e.index in cited and e.type in RECORDS else []
        out.append(_link(e, e.index in cited, focus, topic))
    flush()
    return out


def _records(events: list[Event], cited: bool, focus: set[TP], topic: str) -> Link:
    """One line for records events of one source in a row: the offsets per partition."""
    first = events[0]
    by: dict[TP, list[int]] = {}
    for e in events:
        for r in e.data.get("records") or []:
            by.setdefault((str(r[0]), int(r[1])), []).append(int(r[2]))
    shown = {tp: o for tp, o in by.items() if not focus or tp in focus} or by
    parts = ", ".join(_tp(tp, topic) for tp in shown)
    offsets = "; ".join(f"{_tp(tp, topic)} {ranges(o)}" if len(shown) > 1 else ranges(o)
                        for tp, o in shown.items())
    return Link([e.index for e in events], first.ts, _member(first), first.type,
                VERBS.get(first.type, first.type), parts, _clip(offsets), cited)


def _link(e: Event, cited: bool, focus: set[TP], topic: str) -> Link:
    """One line for one event: member, what happened, partitions and offsets."""
    verb, parts, offsets = VERBS.get(e.type, e.type), "", ""
    d = e.data
    if e.type in RECORDS:
        return _records([e], cited, focus, topic)
    if e.type in LISTENER or e.type in ("paused", "resumed"):
        parts = _tp_list(e.partitions(), focus, topic)
    elif e.type in (*COMMITS, "group_offsets"):
        offs = e.offsets()
        shown = {tp: o for tp, o in offs.items() if not focus or tp in focus} or offs
        parts = ", ".join(_tp(tp, topic) for tp in sorted(shown))
        offsets = ", ".join(f"\u2192 {o}" if len(shown) == 1 else f"{_tp(tp, topic)} \u2192 {o}"
                            for tp, o in sorted(shown.items()))
        if e.type == "commit_requested" and not offs:
            offsets = "everything consumed"
        extra = [str(d["mode"])] if d.get("mode") else []
        if e.type == "committed" and not d.get("ok", True):
            verb = "commit failed"
            extra.append(str(d.get("error") or "error"))
        if extra:
            verb += f" ({', '.join(extra)})"
    elif e.type == "seeked":
        parts = _tp((str(d.get("topic")), int(d.get("partition", -1))), topic)
        offsets = f"\u2192 {d.get('offset')}"
    elif e.type == "step":
        verb = f"step: {d.get('label') or d.get('name')}"
    elif e.type == "member_started" and d.get("adapter"):
        verb = f"started (path {d['adapter']})"
    elif e.type == "member_died":
        verb = f"died (rc {d.get('returncode')})"
    elif e.type == "partitions_added":
        verb = f"partitions added (now {d.get('count')})"
    elif e.type == "error":
        verb = f"error {d.get('code', '')}: {d.get('message', '')}"
    elif e.type not in VERBS:
        said = summary(e)
        verb = f"{e.type.replace('_', ' ')}: {said}" if said else e.type.replace("_", " ")
    return Link([e.index], e.ts, _member(e), e.type, _clip(verb), parts, _clip(offsets), cited)


def _tp(tp: TP, topic: str) -> str:
    """``p1`` for the scenario's topic, ``topic-1`` for another."""
    return f"p{tp[1]}" if tp[0] == topic else f"{tp[0]}-{tp[1]}"


def _tp_list(tps: list[TP], focus: set[TP], topic: str) -> str:
    """The partitions of a listener event, the violation's first (marked ``*``)."""
    if not tps:
        return "no partitions"
    ordered = sorted(tps, key=lambda tp: (tp not in focus, tp))
    return ", ".join(_tp(tp, topic) + ("*" if tp in focus else "") for tp in ordered)


def _clip(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def chain_json(chain: Chain, t0: float) -> dict[str, Any]:
    """A chain as plain values for the template (times relative to ``t0``)."""
    return {"anomaly": chain.anomaly, "message": chain.message, "number": chain.number,
            "topic": chain.topic, "told": chain.told, "left_out": chain.left_out,
            "events": chain.events,
            "links": [{"indices": lk.indices, "label": lk.label, "t": f"+{lk.ts - t0:.3f}s",
                       "member": lk.member, "kind": lk.kind, "verb": lk.verb,
                       "partitions": lk.partitions, "offsets": lk.offsets, "cited": lk.cited}
                      for lk in chain.links]}
