"""The recorded history of one scenario: the one vocabulary every stage shares.

A history is an append-only sequence of events, stored as JSON Lines (one object per line).
Every event has these keys:

    type    str    the event name: one of :data:`EVENTS`, the table of every event type (who
                   records it, its fields, what it means; docs/history.md is made from it)
    ts      float  seconds on CLOCK_MONOTONIC (``time.monotonic()``), shared by every process
                   on one host, so worker and harness events order correctly
    source  str    ``"harness"`` or the member id of a worker (``"m1"``, ``"m2"``, ...)

and the fields of its type. A record is written compactly as a list ``[topic, partition, offset,
key]`` (key is a string or null). Partitions are written ``[topic, partition]``; offsets
``[topic, partition, offset]`` where offset is the NEXT offset to read (Kafka's convention).

Reading a history (:meth:`History.from_jsonl`) rejects an event of a type not in :data:`EVENTS`
(:class:`UnknownEventType`) or recorded by the wrong side (a worker event from the harness or
the other way round); fields are not checked, so histories saved by earlier versions, whose
events lack fields added since, still load.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from conformance.errors import UsageError

#: The source of every event the harness records (a worker's events carry its member id).
HARNESS = "harness"
#: Who records a worker event, in :data:`EVENTS` (its ``source`` is the member id).
WORKER = "worker"


class HistoryFormatError(UsageError, ValueError):
    """A history file or event that does not follow the format above (exit 2 at the CLI)."""


class UnknownEventType(HistoryFormatError):
    """An event whose type is not in :data:`EVENTS`."""


@dataclass(frozen=True)
class EventType:
    """One event type: who records it (:data:`HARNESS` or :data:`WORKER`) and where (``by``),
    its fields (``name?``: present only sometimes) and what it means."""

    name: str
    recorder: str
    by: str
    fields: tuple[str, ...]
    meaning: str


_CORE, _FAULTS, _DRAIN = "harness/core.py", "harness/faults.py", "harness/drain.py"
_SCENARIO, _CALLS = "machines/scenario.py", "those with capabilities.reports_calls"


def _harness(name: str, by: str, fields: str, meaning: str) -> EventType:
    return EventType(name, HARNESS, by, tuple(fields.split()), meaning)


def _worker(name: str, fields: str, meaning: str, by: str = "") -> EventType:
    return EventType(name, WORKER, by, tuple(fields.split()), meaning)


#: Every event type a history may hold, harness events first: the one table of the
#: vocabulary (docs/history.md is generated from it: ``python -m conformance.history``).
EVENTS: dict[str, EventType] = {e.name: e for e in (
    _harness("scenario", _CORE, "topic group partitions client spec config strategy",
             "the example starts: its topic and group, the adapter (`client`) and the client "
             "spec it ran as (`spec`, e.g. `kafka-python==2.0.2`), the normalized consumer "
             "config, the commit strategy (with `bound`: the most records a member may process "
             "after its last commit, or null when unbounded)"),
    _harness("produced", f"{_CORE}, harness/transactions.py",
             "records transactional?",
             "records acknowledged by the broker with acks=all: "
             "`[[topic, partition, offset, key, payload_id], ...]`; `transactional`: written "
             "in a transaction that committed"),
    _harness("aborted", "harness/transactions.py", "records",
             "records of a transaction that aborted (as in `produced`): owed to no member, "
             "never to be seen by a read_committed one (the `isolation` check)"),
    _harness("member_started", _CORE, "member adapter polling config?",
             "a worker started: its consume path (`adapter`), whether it polls on its own "
             "(`polling`), its config overrides"),
    _harness("member_killed", _CORE, "member on_event hung?",
             "SIGKILL delivered and the process reaped; `on_event`: it landed on the event "
             "chosen (halfway through a batch); `hung`: the client call that never returned, "
             "when that is why"),
    _harness("member_stopped", _CORE, "member", "graceful close finished"),
    _harness("member_died", _CORE, "member returncode",
             "the worker exited without being asked (an infrastructure error)"),
    _harness("member_frozen", _CORE, "member on_event",
             "SIGSTOP sent (`on_event`: halfway through a batch)"),
    _harness("member_thawed", _CORE, "member sent frozen_seconds",
             "SIGCONT sent; `sent`: its monotonic time, the end of the freeze for the checkers"),
    _harness("partitions_added", _CORE, "topic count", "partitions added; `count`: the new total"),
    _harness("settled", _CORE, "owners timeout live partitions",
             "`owners`: `{\"topic:partition\": member}`; `timeout`: the group did not settle "
             "in time; `live`: the members taking commands; `partitions`: the topic's count"),
    _harness("group_offsets", _CORE, "offsets asked",
             "the group's committed offsets as the broker reports them (admin API), "
             "independent of what workers say; `asked`: the monotonic time the question was "
             "sent (the answer may predate commits acknowledged after it)"),
    _harness("drain_started", _DRAIN, "member", "a fresh member starts reading to the end"),
    _harness("drain_finished", _DRAIN, "member complete joined",
             "the drain member stopped; `complete`: it read to the end; `joined`: it got a "
             "partition"),
    _harness("network_fault", _FAULTS, "member kind seconds delay_ms",
             "one member's connections delayed, cut or black-holed (`kind`: `delay`, `cut` or "
             "`drop`) through the broker's fault proxies"),
    _harness("network_healed", _FAULTS, "member", "that member's connections healed"),
    _harness("protocol_fault", _FAULTS,
             "fault member api kind error count delay_ms seconds",
             "one member's next `count` (null: every) requests of one Kafka API to be answered "
             "with an error, their responses lost or delayed (`kind`)"),
    _harness("protocol_touched", _FAULTS,
             "fault member api kind error correlation_id api_version",
             "one request touched by that fault, recorded before the client gets the answer"),
    _harness("protocol_healed", _FAULTS,
             "fault member api kind touched spent correlation_ids refused",
             "the fault healed: how many requests it touched and refused"),
    _harness("broker_stopped", _FAULTS, "node", "a broker node SIGKILLed and fenced"),
    _harness("broker_started", _FAULTS, "node", "that node back and in sync"),
    _harness("leader_moved", _FAULTS, "topic partition before after",
             "a partition's leader moved (node ids)"),
    _harness("coordinator_moved", _FAULTS, "group before after",
             "the group coordinator moved (node ids)"),
    _harness("topic_recreated", "scenarios/offsets.py, S1", "topic partitions",
             "the topic was deleted and created again"),
    _harness("step", _SCENARIO, "name args label family",
             "a step of a generated or replayed scenario starts (docs/faults.md)"),
    _harness("seek_checked", _SCENARIO,
             "member topic partition offset honored owned paused seek_event waited",
             "whether a member read from the sought offset after a rewind step"),
    _harness("teardown", "machines/group.py, machines/minimize.py, program.py", "",
             "the example's steps are over: members stop, the drain starts"),
    _harness("note", "harness/, machines/, scenarios/", "text", "free-form, for reports"),
    _worker("ready", "adapter client client_version capabilities pid",
            "the consumer is created (`init`)"),
    _worker("assigned", "partitions manual?",
            "partitions gained (the listener, or `assign`: `manual`)"),
    _worker("revoked", "partitions",
            "at the start of the listener's revoke (a commit of mode `revoke` may follow)"),
    _worker("lost", "partitions", "partitions taken without a chance to commit"),
    _worker("polled", "records", "records returned by one poll"),
    _worker("processed", "records", "the application step finished for these records"),
    _worker("seeked", "topic partition offset to?",
            "after a seek (`to: \"end\"`: the client's own seek to the end)"),
    _worker("unsubscribed", "", "after `unsubscribe()` returned",
            by="those with capabilities.unsubscribe"),
    _worker("paused", "partitions", "after `pause`"),
    _worker("resumed", "partitions", "after `resume`"),
    _worker("commit_requested", "mode offsets tracked?",
            "before a commit call (`offsets` null: of what the client tracks, then "
            "`tracked`)"),
    _worker("committed", "mode ok offsets error",
            "a commit's outcome (`mode` `auto`: the client's own commits)"),
    _worker("error", "code message fatal retriable?",
            "an error outside any command, or the error reply to one (`retriable`)"),
    _worker("call_outstanding", "call id since seconds bound",
            "a client call outstanding past its bound (`conformance/calls.py`)",
            by=_CALLS),
    _worker("call_returned", "call id seconds", "that call returned after all",
            by=_CALLS),
    _worker("closed", "", "the consumer is closed"),
)}
#: The event types the harness records, and those workers write.
HARNESS_EVENTS = frozenset(n for n, e in EVENTS.items() if e.recorder == HARNESS)
WORKER_EVENTS = frozenset(n for n, e in EVENTS.items() if e.recorder == WORKER)


def events_markdown() -> str:
    """:data:`EVENTS` as the Markdown table of docs/history.md."""
    rows = ["| type | recorded by | fields (`?`: sometimes) | meaning |", "|---|---|---|---|"]
    for e in EVENTS.values():
        who = "harness" if e.recorder == HARNESS else "worker"
        fields = ", ".join(f"`{f}`" for f in e.fields) or "none"
        rows.append(f"| `{e.name}` | {who}{f' ({e.by})' if e.by else ''} | {fields} "
                    f"| {e.meaning} |")
    return "\n".join(rows) + "\n"


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
        """Read a history file (:meth:`from_lines`); a :class:`HistoryFormatError` names it."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            return cls.from_lines(text.splitlines())
        except HistoryFormatError as exc:
            raise type(exc)(f"{path}: {exc}") from None

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> History:
        """Parse JSON Lines, checking each event's type and side against :data:`EVENTS`."""
        history = cls()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HistoryFormatError(f"line {n}: not JSON ({exc.msg})") from None
            event = Event.from_json(obj, len(history))
            _check_type(event, n)
            history.add(event)
        return history


def _check_type(event: Event, line: int) -> None:
    """Raise if ``event``'s type is not in :data:`EVENTS` or recorded by the other side."""
    kind = EVENTS.get(event.type)
    if kind is None:
        raise UnknownEventType(f"line {line}: unknown event type {event.type!r} from "
                               f"{event.source!r} (the types: conformance.history.EVENTS, "
                               f"docs/history.md)")
    if (event.source == HARNESS) != (kind.recorder == HARNESS):
        side = "the harness" if kind.recorder == HARNESS else "a worker"
        raise HistoryFormatError(f"line {line}: a {event.type!r} event is recorded by {side}, "
                                 f"not by {event.source!r}")


if __name__ == "__main__":
    print(events_markdown(), end="")
