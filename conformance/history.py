"""The recorded history of one scenario: the one vocabulary every stage shares.

A history is an append-only sequence of events, stored as JSON Lines (one object per line).
Every event has these keys:

    type    str    the event name (tables below)
    ts      float  seconds on CLOCK_MONOTONIC (``time.monotonic()``), shared by every process
                   on one host, so worker and harness events order correctly
    source  str    ``"harness"`` or the member id of a worker (``"m1"``, ``"m2"``, ...)

and the fields of its type. A record is written compactly as a list ``[topic, partition, offset,
key]`` (key is a string or null). Partitions are written ``[topic, partition]``; offsets
``[topic, partition, offset]`` where offset is the NEXT offset to read (Kafka's convention).

Harness events (source ``"harness"``):

    scenario          topic, group, partitions, client, spec (the client spec it ran as, e.g.
                      ``kafka-python==2.0.2``), config (normalized consumer config),
                      strategy (commit strategy description, with ``bound``: the most records a
                      member may process after its last commit, or null when unbounded)
    produced          records: [[topic, partition, offset, key, payload_id], ...] acknowledged
                      by the broker with acks=all
    member_started    member
    member_killed     member (SIGKILL delivered and the process reaped); ``hung``: the client
                      call that never returned, when that is why
    member_stopped    member (graceful close finished)
    member_died       member, returncode (exited without being asked: an infrastructure error)
    partitions_added  topic, count (the new total)
    settled           owners: {"topic:partition": member}, timeout (the group did not settle
                      in time), live (members taking commands), partitions (the topic's count)
    step              name, args, label, family (a step of a generated or replayed scenario
                      starts; docs/faults.md)
    member_frozen     member, on_event (SIGSTOP sent; on_event: halfway through a batch)
    member_thawed     member, frozen_seconds, sent (SIGCONT sent; ``sent``: its monotonic time,
                      the end of the freeze for the checkers)
    network_fault     member, kind ("delay", "cut" or "drop"), seconds, delay_ms (through the
                      broker's fault proxies)
    network_healed    member
    broker_stopped    node (SIGKILLed and fenced)     broker_started  node (back and in sync)
    leader_moved      topic, partition, before, after (node ids)
    coordinator_moved group, before, after (node ids)
    teardown          (the example's steps are over: members stop, the drain starts)
    group_offsets     offsets: [[topic, partition, offset], ...] the group's committed offsets
                      as the broker reports them (admin API), independent of what workers say;
                      asked: the monotonic time the question was sent (the answer may predate
                      commits acknowledged after it)
    seek_checked      member, topic, partition, offset, honored, owned, paused, seek_event,
                      waited: whether the member read from the sought offset after a rewind
    drain_started     member
    drain_finished    member, complete, joined (whether it got a partition)
    note              text (free-form, for reports)

Worker events (source = the member id), see docs/worker-protocol.md:

    ready             adapter, client, client_version, capabilities
    assigned          partitions          revoked   partitions          lost   partitions
    polled            records             processed records
    seeked            topic, partition, offset
    paused / resumed  partitions
    commit_requested  mode ("sync" | "async" | "auto" | "revoke"), offsets (null: all consumed)
    committed         mode, ok (bool), offsets (what the broker acknowledged), error (str|null)
    error             code, message, fatal
    call_outstanding  call, id, since, seconds, bound (a client call outstanding past its
                      bound: ``conformance.calls``; workers with ``reports_calls``)
    call_returned     call, id, seconds (that call returned after all)
    closed
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

HARNESS = "harness"


class HistoryFormatError(ValueError):
    """A history file or event that does not follow the format above."""


class Rec(NamedTuple):
    """One record's identity and key, as it appears in events."""

    topic: str
    partition: int
    offset: int
    key: str | None = None

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class Event:
    """One entry of a history; ``index`` is its position, used as evidence."""

    type: str
    ts: float
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    index: int = -1

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "ts": self.ts, "source": self.source, **self.data}

    @classmethod
    def from_json(cls, obj: Any, index: int = -1) -> Event:
        if not isinstance(obj, dict):
            raise HistoryFormatError(f"event {index}: expected a JSON object, got {obj!r:.80}")
        try:
            data = dict(obj)
            etype, ts, source = data.pop("type"), data.pop("ts"), data.pop("source")
        except KeyError as exc:
            raise HistoryFormatError(f"event {index}: missing key {exc.args[0]!r}") from None
        if not isinstance(etype, str) or not isinstance(source, str):
            raise HistoryFormatError(f"event {index}: 'type' and 'source' must be strings")
        if not isinstance(ts, int | float):
            raise HistoryFormatError(f"event {index}: 'ts' must be a number")
        return cls(etype, float(ts), source, data, index)

    def records(self) -> list[Rec]:
        """The records of a ``polled``/``processed`` event."""
        return [Rec(r[0], int(r[1]), int(r[2]), r[3] if len(r) > 3 else None)
                for r in self.data.get("records", [])]

    def partitions(self) -> list[tuple[str, int]]:
        """The partitions of an ``assigned``/``revoked``/``lost`` event."""
        return [(p[0], int(p[1])) for p in self.data.get("partitions", [])]

    def offsets(self) -> dict[tuple[str, int], int]:
        """The offsets of a ``committed``/``commit_requested`` event."""
        return {(o[0], int(o[1])): int(o[2]) for o in self.data.get("offsets") or []}


@dataclass(frozen=True)
class Produced:
    """A record the broker acknowledged."""

    topic: str
    partition: int
    offset: int
    key: str | None
    payload_id: str
    event: int

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


class History:
    """An append-only list of events with JSONL persistence and a few typed views."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events: list[Event] = []
        for e in events:
            self.add(e)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __getitem__(self, index: int) -> Event:
        return self.events[index]

    def add(self, event: Event) -> Event:
        event = Event(event.type, event.ts, event.source, event.data, len(self.events))
        self.events.append(event)
        return event

    def append(self, type: str, source: str, ts: float, **data: Any) -> Event:
        return self.add(Event(type, ts, source, data))

    # -- views -------------------------------------------------------------------------------
    def phase_seconds(self) -> dict[str, float]:
        """Where the time went: seconds per step name (from a ``step`` event to the next),
        ``setup`` (before the first step) and ``teardown`` (from ``teardown`` to the end)."""
        if not self.events:
            return {}
        marks = [(e.ts, str(e.data.get("name"))) for e in self.events if e.type == "step"]
        end = self.events[-1].ts
        teardown = next((e.ts for e in self.events if e.type == "teardown"), end)
        out: dict[str, float] = {"setup": (marks[0][0] if marks else teardown)
                                 - self.events[0].ts}
        bounds = [*marks, (teardown, "")]
        for (start, name), (stop, _next) in itertools.pairwise(bounds):
            out[name] = out.get(name, 0.0) + max(0.0, stop - start)
        out["teardown"] = end - teardown
        return out

    def of_type(self, *types: str) -> list[Event]:
        return [e for e in self.events if e.type in types]

    def by_source(self, source: str) -> list[Event]:
        return [e for e in self.events if e.source == source]

    def members(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.events:
            if e.source != HARNESS:
                seen.setdefault(e.source, None)
        return list(seen)

    def scenario(self) -> dict[str, Any]:
        for e in self.events:
            if e.type == "scenario":
                return e.data
        return {}

    def produced(self) -> list[Produced]:
        out = []
        for e in self.of_type("produced"):
            for r in e.data.get("records", []):
                out.append(Produced(r[0], int(r[1]), int(r[2]), r[3], str(r[4]), e.index))
        return out

    def last_written(self, topic: str, aborted: bool = True) -> dict[int, int]:
        """Per partition of ``topic``, the offset of the last record written to it: produced
        ones, and with ``aborted`` those of aborted transactions too."""
        last: dict[int, int] = {}
        rows = [[r.topic, r.partition, r.offset] for r in self.produced()]
        if aborted:
            rows += [r for e in self.of_type("aborted") for r in e.data.get("records", [])]
        for r in rows:
            if r[0] == topic:
                last[int(r[1])] = max(last.get(int(r[1]), -1), int(r[2]))
        return last

    # -- persistence -------------------------------------------------------------------------
    def to_jsonl(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for e in self.events:
                fh.write(json.dumps(e.to_json(), separators=(",", ":")) + "\n")
        return path

    @classmethod
    def from_jsonl(cls, path: str | Path) -> History:
        return cls.from_lines(Path(path).read_text(encoding="utf-8").splitlines())

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> History:
        history = cls()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HistoryFormatError(f"line {n}: not JSON ({exc.msg})") from None
            history.add(Event.from_json(obj, len(history)))
        return history
