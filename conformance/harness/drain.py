"""The final drain: stop every member, then read to the end with a fresh member.

What the drain member reads (and the group's committed offsets) decide whether a record that no
member processed is lost or was simply never read (see the ``no-loss`` check)."""

from __future__ import annotations

import contextlib
import time

from conformance.errors import WorkerError
from conformance.harness.session import Session
from conformance.strategies import Strategy


def drain(h: Session, timeout: float = 60.0, attempts: int = 3,
          assignment_timeout: float = 20.0) -> bool:
    """Stop every member, then read to the end with a fresh member of the same group.

    A drain member that gets no partition within ``assignment_timeout`` is replaced by
    another (``drain2``, ``drain3``): a member stuck outside the group is a liveness
    problem of the client, recorded as a note, not a reason to call records lost."""
    for member in h.frozen():
        h.thaw_member(member)
    h.stop_members(h.live())
    # the last record the drain member can read: aborted ones unless it reads committed only
    last = h.history.last_written(h.topic, aborted=h.config.get("isolation_level")
                                  != "read_committed")
    # past the last record the drain can read, a partition holds only control markers (a
    # transaction's end), which no consumer position passes until another record follows
    ends = {p: min(hi, last.get(p, -1) + 1)
            for p, (_lo, hi) in h.broker.admin.watermarks(h.topic).items()}
    committed: dict[tuple[str, int], int] = {}
    positions: dict[int, int] = {}
    drains = [f"drain{n}" if n > 1 else "drain" for n in range(1, attempts + 1)]

    def read(member: str) -> None:
        # processed, not polled: a worker whose listener runs apart from its poll (a Spring
        # container) may poll the last records and be stopped before it processes them
        for e in h.history.by_source(member):
            if e.type == "processed":
                for r in e.data["records"]:
                    positions[int(r[1])] = max(positions.get(int(r[1]), 0), int(r[2]) + 1)

    def behind() -> list[int]:
        return [p for p, hi in ends.items() if hi > 0 and positions.get(p, -1) < hi
                and committed.get((h.topic, p), -1) < hi]

    def caught_up(member: str) -> bool:
        read(member)
        return not behind()

    def has_partitions(member: str) -> bool:
        return bool(h.own.of(member)) or not behind()

    deadline = time.monotonic() + timeout
    ok = False
    committed = h.broker.admin.committed(h.group, h.topic)
    for member in drains:
        handle = h.start_member(member, strategy=Strategy("BATCH"))
        h.record("drain_started", member=member)
        joined = h.wait_for(lambda m=member: has_partitions(m), assignment_timeout)
        while joined and time.monotonic() < deadline and handle.alive:
            committed = h.broker.admin.committed(h.group, h.topic)
            if h.wait_for(lambda m=member: caught_up(m),
                             min(1.0, max(0.0, deadline - time.monotonic()))):
                ok = True
                break
            owned = {p for _t, p in h.owned(member)}
            for p in behind():  # records the adapter never handed over move the position
                if p in owned:
                    with contextlib.suppress(WorkerError):
                        reply = h.request(member, {"type": "position", "topic": h.topic,
                                                "partition": p}, timeout=10)
                        positions[p] = max(positions.get(p, 0), int(reply["offset"]))
            if not behind():
                ok = True
                break
        h.stop_member(member)
        h.record("drain_finished", member=member, complete=ok, joined=joined)
        if ok or joined:
            break
        h.record("note", text=f"{member} got no partition within "
                                 f"{assignment_timeout:.0f} s; trying a fresh member")
    return ok

