"""Replaying a step sequence, and minimizing a failing one by deleting steps (ddmin).

Hypothesis's shrinker needs many replays, and each replay here is a real group on a real broker
(seconds, not microseconds), so within a CI budget it often removes nothing. After a failure,
:func:`minimize` deletes chunks of steps (halves, quarters, ... single steps; Zeller's ddmin)
and keeps a deletion when the replay still fails the same check, until no single step can go
(1-minimal: "shrunk") or the budget runs out ("partly shrunk"). A replay that does not fail,
or meets an infrastructure error, keeps the steps: timing noise makes it conservative.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.broker.base import Broker
from conformance.checkers import run_checks
from conformance.errors import ConformanceError
from conformance.harness import Harness
from conformance.history import History
from conformance.machines.scenario import Scenario, ScenarioSpec
from conformance.verdicts import CheckResult, Verdict

Steps = list[tuple[str, dict[str, Any]]]


@dataclass
class Replayed:
    """One replay: its harness (closed; history and infrastructure errors) and verdicts."""

    harness: Harness
    results: list[CheckResult]
    seconds: float

    def fails(self, check: str) -> bool:
        return not self.harness.infra_errors and any(
            r.check == check and r.verdict == Verdict.FAIL for r in self.results)


def replay(broker: Broker, spec: ScenarioSpec, steps: Steps, workdir: Path,
           log: Callable[[str, dict[str, Any]], None] | None = None) -> Replayed:
    """Run ``steps`` on a fresh topic and group: a first member, the steps (a leading
    ``start_member`` is that member), then the teardown of a generated example (stop, drain,
    observe the group) and every checker."""
    started = time.monotonic()
    h = Harness(broker, spec.client, spec.config, spec.strategy, partitions=spec.partitions,
                workdir=workdir)
    try:
        h.setup()
        sc = Scenario.of(h, spec)
        if not steps or steps[0][0] != "start_member":
            sc.run("start_member")
        for name, args in steps:
            if log is not None:
                log(name, args)
            sc.run(name, args)
        h.record("teardown")
        h.drain()
        h.observe_group()
        h.check_workers()
    except ConformanceError as exc:
        h.infra_errors.append(f"replay: {exc}")
    finally:
        h.close()
        with contextlib.suppress(ConformanceError):
            broker.admin.delete_topic(h.topic, wait=False)
    h.history.to_jsonl(workdir / "history.jsonl")
    return Replayed(h, run_checks(h.history), time.monotonic() - started)


@dataclass
class Minimized:
    steps: Steps
    finished: bool  # 1-minimal: no single step can be deleted
    replays: int
    last_failure: Replayed | None  # the replay of ``steps`` that failed, if any ran


def _stepper(steps: Steps, history: History) -> Callable[[int], int] | None:
    """The step during which an event (by index) was recorded; None when the history's steps
    are not ``steps`` (nothing to map)."""
    marks = [e.index for e in history.of_type("step")]
    if [e.data.get("name") for e in history.of_type("step")] != [name for name, _a in steps]:
        return None
    return lambda index: max(bisect.bisect_right(marks, index) - 1, 0)


def evidence_core(steps: Steps, history: History, evidence: Iterable[int],
                  settled: bool = False) -> Steps | None:
    """The steps during which the evidence of a failure was recorded, with the steps that
    started the members they or their events name (and every start before, so that
    members keep their names), the steps that wrote the records it cites or wrote
    records in between and the partitions added before them (the key's partition depends
    on the count; a settle before each step kept made cores longer, not likelier to
    fail): a first
    candidate for :func:`minimize`, often the whole reduction at once. ``settled``: also
    the last ``settle`` before the first step kept after the first member's start, so that
    a step aimed at a partition (a pause) or at a rebalance among members (a second start)
    finds the group as the original did. None when the history's steps are not ``steps``
    (nothing to map), the core is everything, or (``settled``) no such settle exists."""
    step_of = _stepper(steps, history)
    if step_of is None:
        return None

    evidence = sorted(set(evidence))
    keep = {step_of(i) for i in evidence}
    # the records the evidence names were written by some step, and records written between
    # the first and the last evidence (e.g. while a partition was paused) are part of it too
    cited = {(r.topic, r.partition, r.offset) for i in evidence if 0 <= i < len(history.events)
             for r in history.events[i].records()}
    keep |= {step_of(e.index) for e in history.of_type("produced")
             if any((r[0], int(r[1]), int(r[2])) in cited for r in e.data.get("records", []))}
    if keep:
        first, last = min(keep), max(keep)
        keep |= {k for k in range(first, last) if steps[k][0].startswith("produce")}
    # partitions added before a record was written decide which partition it landed on
    writes = [k for k in keep if steps[k][0].startswith("produce")]
    keep |= {k for k in range(max(writes, default=0)) if steps[k][0] == "add_partitions"}
    started = {e.data.get("member"): step_of(e.index) for e in history.of_type("member_started")}
    named = {a.get("member") for k, (_n, a) in enumerate(steps) if k in keep}
    named |= {e.data.get("member") or e.source for e in
              (history.events[i] for i in evidence if 0 <= i < len(history.events))}
    last_start = max((started[m] for m in named if m in started), default=0)
    keep |= {k for k, (name, _a) in enumerate(steps)
             if name == "start_member" and k <= last_start}
    keep.add(0)
    if settled:
        later = [k for k in keep if k > 0]
        before = [k for k in range(1, min(later, default=0)) if steps[k][0] == "settle"]
        if not before:
            return None
        keep.add(before[-1])
    if len(keep) >= len(steps):
        return None
    return [step for k, step in enumerate(steps) if k in keep]


def members_named(history: History, evidence: Iterable[int]) -> set[str]:
    """The started members that recorded the events of ``evidence`` or that they name."""
    started = {e.data.get("member") for e in history.of_type("member_started")}
    named = {history.events[i].data.get("member") or history.events[i].source
             for i in set(evidence) if 0 <= i < len(history.events)}
    return {m for m in named if m in started}


#: steps that start or end a member: not carried over to the first member alone (a freeze is:
#: the first member frozen past its session timeout is removed and comes back, as a later one)
_LIFECYCLE = frozenset({"start_member", "kill_member"})


def single_member_core(steps: Steps, history: History, evidence: Iterable[int]) -> Steps | None:
    """The failure replayed by the first member alone, after a settle. The steps kept: those
    during which the evidence was recorded, when it names one later member (or, when it names
    none, e.g. records lost, every call aimed at the later member most steps aim at), aimed at
    the first member instead; the last plain write before them that reached the partitions
    they aim at, the writes (and, for calls, the consumes) between them, the writes of the
    records the evidence cites, and the partitions added before those. A later member often
    meets the failing call only because the example started it first (the canonical example
    starts members early and exposes a broken call later): this candidate is often a handful
    of steps at once. The member is the one the evidence names most (a removal's evidence
    also names the member that got the partitions); its own start is the head's, and no
    other start is kept. None when the first member or no single member is named most, no
    later member is aimed at, or the history's steps are not ``steps``."""
    step_of = _stepper(steps, history)
    if step_of is None:
        return None
    starts = [e.data.get("member") for e in history.of_type("member_started")]
    if not starts or not steps or steps[0][0] != "start_member":
        return None

    evidence = sorted(i for i in set(evidence) if 0 <= i < len(history.events))
    at = {step_of(i) for i in evidence}
    mentions = Counter(history.events[i].data.get("member") or history.events[i].source
                       for i in evidence)
    mentions.update(steps[k][1].get("member") for k in at)
    ranked = [(m, n) for m, n in mentions.most_common() if m in starts]
    first = starts[0]
    tie = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
    if ranked and (ranked[0][0] == first or tie):
        return None  # the first member's own failure, or no member named most
    if ranked:
        member = ranked[0][0]
        # its own start is the head's; another member's start is not carried over
        at = {k for k in at if steps[k][0] != "start_member"}
        calls = at
    else:  # nothing names a member (e.g. lost records): the later member most steps aim at
        aimed_at = Counter(a.get("member") for name, a in steps
                           if a.get("member") in starts[1:] and name not in _LIFECYCLE)
        if not aimed_at:
            return None
        member = aimed_at.most_common(1)[0][0]
        calls = {k for k, (name, a) in enumerate(steps)
                 if a.get("member") == member and name not in _LIFECYCLE}
    if any(steps[k][0] in _LIFECYCLE for k in calls):
        return None
    cited = {(r.topic, r.partition, r.offset) for i in evidence
             for r in history.events[i].records()}
    keep = set(calls) | (at if ranked else set())
    first_call = min(calls)
    aimed = {a["partition"] for k in calls for _n, a in [steps[k]] if "partition" in a}
    # the last write before the first call that reached the partition(s) the calls aim at
    wrote = {step_of(e.index) for e in history.of_type("produced")
             if not aimed or any(int(r[1]) in aimed for r in e.data.get("records", []))}
    earlier = [k for k in range(1, first_call) if k in wrote and steps[k][0] == "produce"]
    keep |= set(earlier[-1:])
    between = range(first_call, max(keep) + (1 if ranked else 2))
    keep |= {k for k in between if k < len(steps) and (
        steps[k][0].startswith("produce") or (not ranked and steps[k][0] == "consume"))}
    keep |= {step_of(e.index) for e in history.of_type("produced")
             if any((r[0], int(r[1]), int(r[2])) in cited for r in e.data.get("records", []))}
    writes = [k for k in keep if steps[k][0].startswith("produce")]
    keep |= {k for k in range(max(writes, default=0)) if steps[k][0] == "add_partitions"}
    keep.discard(0)
    if any(steps[k][1].get("member") not in (None, member) or steps[k][0] in _LIFECYCLE
           for k in keep):
        return None
    renamed = [(name, {**args, "member": first} if args.get("member") == member else args)
               for k, (name, args) in enumerate(steps) if k in keep]
    return [steps[0], ("settle", {}), *renamed]


#: steps that change a group's membership or its partitions: the cause of a rebalance
_REBALANCING = frozenset({"start_member", "kill_member", "stop_member", "freeze_member",
                          "add_partitions", "resubscribe", "close_during_async_commit"})


def rebalance_core(steps: Steps, history: History, evidence: Iterable[int]) -> Steps | None:
    """A failure that follows a rebalance, replayed by two members: the member the evidence
    names (then the first member, after a settle), the step that caused the rebalance which
    gave it the assignment the evidence cites (the last membership or partition change before
    that assignment; a change of another member is played by a second member started for
    it), the steps during which the evidence was recorded, the writes from that change on and
    the partitions added before them. None when the evidence names no member or several,
    holds no assignment of it, names steps aimed at other members, or no such change
    exists."""
    step_of = _stepper(steps, history)
    if step_of is None:
        return None
    if not steps or steps[0][0] != "start_member":
        return None
    named = members_named(history, evidence)
    if len(named) != 1:
        return None
    [member] = named

    evidence = sorted(i for i in set(evidence) if 0 <= i < len(history.events))
    assigned = [i for i in evidence if history.events[i].type == "assigned"
                and history.events[i].source == member]
    started = {e.data.get("member"): step_of(e.index) for e in history.of_type("member_started")}
    if not assigned or member not in started:
        return None
    given = step_of(assigned[-1])
    changes = [k for k in range(started[member] + 1, given + 1)
               if steps[k][0] in _REBALANCING]
    if not changes:
        return None
    cause = changes[-1]
    other = steps[cause][1].get("member")
    if steps[cause][0] == "start_member":
        other = next((m for m, k in started.items() if k == cause), None)
    at = {step_of(i) for i in evidence}
    if any(steps[k][1].get("member") not in (None, member) for k in at):
        return None
    keep = {k for k in range(cause, max(at) + 1) if steps[k][0].startswith("produce")}
    keep |= at | {cause}
    writes = [k for k in keep if steps[k][0].startswith("produce")]
    keep |= {k for k in range(max(writes, default=0)) if steps[k][0] == "add_partitions"}
    names = {member: "m1"}
    head: Steps = [steps[0], ("settle", {})]
    if other not in (None, member):
        names[other] = "m2"
        if steps[cause][0] != "start_member":  # the other member must exist to be changed
            head += [("start_member", {}), ("settle", {})]
    body = [(name, {**args, "member": names[args["member"]]} if "member" in args else args)
            for k, (name, args) in enumerate(steps) if k in keep and k != 0
            if args.get("member") in (None, *names)]
    return head + body


def evidence_prefix(steps: Steps, history: History, evidence: Iterable[int]) -> Steps | None:
    """The steps up to the last one during which evidence was recorded (None: all of them)."""
    marks = [e.index for e in history.of_type("step")]
    if len(marks) != len(steps) or not evidence:
        return None
    last = max(bisect.bisect_right(marks, i) - 1 for i in evidence)
    return steps[:last + 1] if 0 <= last < len(steps) - 1 else None


def minimize(broker: Broker, spec: ScenarioSpec, steps: Steps, check: str, seconds: float,
             workdir: Path, cores: Iterable[Steps | None] = ()) -> Minimized:
    """Delete steps of a sequence that fails ``check`` while it still fails, within
    ``seconds``. The first step (the first member) stays. ``cores`` (subsequences, e.g.
    :func:`evidence_core`, :func:`evidence_prefix`) are tried first, in order: deletion goes
    on from the first that fails too."""
    head, body = steps[:1], list(steps[1:])
    deadline = time.monotonic() + seconds
    counter = itertools.count(1)
    last: Replayed | None = None

    def fails(candidate: Steps) -> bool:
        nonlocal last
        run = replay(broker, spec, head + candidate, workdir / f"replay-{next(counter)}")
        if run.fails(check):
            last = run
            return True
        return False

    for core in cores:
        if time.monotonic() >= deadline:
            break
        if core is not None and core[:1] == head and len(core) < len(steps) \
                and fails(core[1:]):
            body = list(core[1:])
            break
    n = 2
    while body and time.monotonic() < deadline:
        size = math.ceil(len(body) / n)
        for start in range(0, len(body), size):
            if time.monotonic() >= deadline:
                break
            candidate = body[:start] + body[start + size:]
            if fails(candidate):
                body, n = candidate, max(n - 1, 2)
                break
        else:
            if size == 1:  # every single step is needed
                return Minimized(head + body, True, next(counter) - 1, last)
            n = min(len(body), n * 2)
    return Minimized(head + body, not body, next(counter) - 1, last)
