"""``pause-honored`` (S7): a paused partition stays quiet until it is resumed.

A consumer promises that after ``pause(partitions)`` its polls return no record of those
partitions until ``resume(partitions)`` (the KafkaConsumer Javadoc; librdkafka, kafka-python,
aiokafka, franz-go and kafkajs say the same). Filed under S7 with ``seek``: both are the
positions the application controls.

Analysis
    For every member, its events are walked in order. A partition is *paused* from the
    member's ``paused`` event naming it until the first of: a ``resumed`` event naming it, a
    ``revoked`` or ``lost`` event naming it (the pause does not outlive the assignment: a
    partition given back is fetched again, the KafkaConsumer Javadoc's "rebalance will not
    preserve the pause/resume state"), an ``assigned`` event naming it (a new assignment
    starts unpaused), an ``unsubscribed`` event, or the member's end. Records in hand when the
    member paused (polled before the ``paused`` event) may still be processed; a ``polled``
    event after it that returns records of a paused partition is a violation. The workers call
    ``pause()`` between polls, on the polling thread, so no poll is in flight when the
    ``paused`` event is written (none of the built-in clients documents returning records a
    fetch had buffered before the pause; the contract test
    ``test_pause_stops_delivery_and_resume_continues`` holds each of them to it).

Anomalies (one per member, partition and pause)
    ``paused-partition-delivered``  a poll returned records of a partition the member had
                                    paused and not resumed. Evidence: the ``paused`` event and
                                    the offending ``polled`` events (condensed to the first
                                    50). Details: member, topic, partition, ``paused`` (the
                                    event index), ``polls`` (how many), ``offsets``, ``count``,
                                    ``seconds_after_pause`` (to the first such poll).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from conformance.checkers.registry import registers
from conformance.checkers.spans import TP, condense, tp_name
from conformance.history import HARNESS, Event, History
from conformance.verdicts import Violation

CHECK = "pause-honored"
SECTION = "S7"
#: the member's events that end every pause of the partitions they name
UNPAUSING = ("resumed", "revoked", "lost", "assigned")


@dataclass
class _Pause:
    """One pause of one partition: its ``paused`` event and the polls that broke it."""

    paused: Event
    polls: list[Event] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


@registers(CHECK, section="S7", rank=100,
           line="a paused partition returns no record until it is resumed")
def check_pause_honored(history: History) -> list[Violation]:
    """Polls that returned records of a partition the member had paused."""
    broken: list[tuple[str, TP, _Pause]] = []
    by_member: dict[str, list[Event]] = defaultdict(list)
    for e in history.events:
        if e.source != HARNESS:
            by_member[e.source].append(e)
    for member, events in by_member.items():
        paused: dict[TP, _Pause] = {}
        for e in events:
            if e.type == "paused":
                for tp in e.partitions():
                    paused.setdefault(tp, _Pause(e))
            elif e.type in UNPAUSING:
                for tp in e.partitions():
                    pause = paused.pop(tp, None)
                    if pause is not None and pause.polls:
                        broken.append((member, tp, pause))
            elif e.type == "unsubscribed":
                broken.extend((member, tp, p) for tp, p in paused.items() if p.polls)
                paused.clear()
            elif e.type == "polled":
                for r in e.records():
                    pause = paused.get(r.tp)
                    if pause is None:
                        continue
                    if not pause.polls or pause.polls[-1] is not e:
                        pause.polls.append(e)
                    pause.offsets.append(r.offset)
        broken.extend((member, tp, p) for tp, p in paused.items() if p.polls)
    return [_violation(member, tp, pause)
            for member, tp, pause in sorted(broken, key=lambda b: b[2].polls[0].index)]


def _violation(member: str, tp: TP, pause: _Pause) -> Violation:
    first = pause.polls[0]
    return Violation(
        check=CHECK, anomaly="paused-partition-delivered", section=SECTION,
        message=(f"{member} paused {tp_name(tp)} and its polls returned "
                 f"{len(pause.offsets)} record(s) of it before it was resumed "
                 f"({len(pause.polls)} poll(s), the first "
                 f"{max(0.0, first.ts - pause.paused.ts):.2f} s after the pause)"),
        evidence=[pause.paused.index, *condense(p.index for p in pause.polls)],
        details={"member": member, "topic": tp[0], "partition": tp[1],
                 "paused": pause.paused.index, "polls": len(pause.polls),
                 "offsets": condense(pause.offsets), "count": len(pause.offsets),
                 "seconds_after_pause": round(max(0.0, first.ts - pause.paused.ts), 3)},
    )
