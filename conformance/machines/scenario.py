"""The steps a generated (or replayed) scenario is made of, over one :class:`Harness`.

Each step is recorded as ``(name, arguments)`` with members resolved to ids, so a failing example
can be saved as JSON and replayed step by step (``kafka-conformance replay``) without Hypothesis.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.clients import Client, ClientSpec
from conformance.errors import UsageError, WorkerError
from conformance.harness import Harness
from conformance.strategies import Strategy

MAX_MEMBERS = 3
MAX_PARTITIONS = 6
#: Worker error codes that mean "the partition moved away meanwhile" (not an infrastructure error)
RACING_CODES = ("illegal-state", "consumer-error")


@dataclass
class ScenarioSpec:
    """What one generated scenario runs: client, consumer config, strategy, topic shape.

    ``client`` is a resolved :class:`Client`; an adapter name means the client installed
    beside the suite. A spec read from a replay file holds its client unresolved (no
    interpreter yet): :func:`conformance.clients.resolve` it before running."""

    client: Client
    config: dict[str, Any] = field(default_factory=dict)
    strategy: Strategy = field(default_factory=Strategy)
    partitions: int = 3
    growth: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.client, str):
            self.client = Client.beside(self.client)

    @property
    def adapter(self) -> str:
        return self.client.adapter

    @property
    def label(self) -> str:
        cfg = self.config
        bits = [cfg.get("group_protocol", "classic")]
        if cfg.get("group_protocol", "classic") == "classic":
            bits.append(cfg.get("assignment_strategy", "range"))
        bits += [f"reset={cfg.get('auto_offset_reset', 'earliest')}", self.strategy.label]
        return " ".join(bits)

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client.label, "adapter": self.adapter, "config": self.config,
                "strategy": self.strategy.to_json(), "partitions": self.partitions,
                "growth": self.growth}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioSpec:
        spec = ClientSpec.parse(str(data.get("client") or data["adapter"]))
        client = Client.beside(spec.adapter) if spec.beside else Client(spec, python="")
        return cls(client, dict(data.get("config", {})),
                   Strategy.from_json(data.get("strategy", {})),
                   int(data.get("partitions", 3)), bool(data.get("growth", True)))


class Scenario:
    """Executes steps on a harness and records them."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.steps: list[tuple[str, dict[str, Any]]] = []
        self.paused: set[tuple[str, int]] = set()

    def _log(self, name: str, **args: Any) -> None:
        self.steps.append((name, args))
        self.h.record("step", name=name, args=args)

    def _pick(self, index: int) -> str | None:
        live = self.h.live()
        return live[index % len(live)] if live else None

    # -- steps -----------------------------------------------------------------------------
    def produce(self, count: int, keys: int = 3) -> None:
        self._log("produce", count=count, keys=keys)
        self.h.produce(count, [f"k{i}" for i in range(keys)])

    def start_member(self) -> str:
        self._log("start_member")
        return self.h.start_member().member

    def kill_member(self, member: str, mid_batch: bool = False) -> None:
        """SIGKILL a member; ``mid_batch``: produce a batch and kill it while it processes."""
        self._log("kill_member", member=member, mid_batch=mid_batch)
        if mid_batch:
            self.h.kill_member(member, mid_batch=True,
                               trigger=lambda: self.h.produce(20, ["k0", "k1", "k2"]))
        else:
            self.h.kill_member(member)

    def stop_member(self, member: str) -> None:
        self._log("stop_member", member=member)
        self.h.stop_member(member)

    def add_partitions(self, count: int) -> None:
        self._log("add_partitions", count=count)
        self.h.add_partitions(count)

    def _owned_request(self, member: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """A command about a partition the member owned a moment ago; a rebalance may have
        taken it since, which the client reports as an illegal state: the step then has no
        target (recorded as a note), like a replayed step whose member is gone."""
        try:
            return self.h.workers[member].request(cmd)
        except WorkerError as exc:
            if getattr(exc, "code", None) not in RACING_CODES:
                raise
            self.h.record("note", text=f"{cmd['type']} skipped: {exc}")
            return None

    def pause(self, member: str, partition: int) -> None:
        self._log("pause", member=member, partition=partition)
        if self._owned_request(member, {"type": "pause",
                                        "partitions": [[self.h.topic, partition]]}) is not None:
            self.paused.add((member, partition))

    def resume(self, member: str, partition: int) -> None:
        self._log("resume", member=member, partition=partition)
        self.paused.discard((member, partition))
        self._owned_request(member, {"type": "resume",
                                     "partitions": [[self.h.topic, partition]]})

    def rewind(self, member: str, partition: int, back: int, wait: float = 10.0) -> None:
        """Seek a partition the member owns ``back`` records before its position, then watch
        that the member reads from there (recorded as ``seek_checked``)."""
        self._log("rewind", member=member, partition=partition, back=back)
        topic = self.h.topic
        pos = self._owned_request(member, {"type": "position", "topic": topic,
                                           "partition": partition})
        if pos is None:
            return
        target = max(0, int(pos["offset"]) - back)
        if self._owned_request(member, {"type": "seek", "topic": topic, "partition": partition,
                                        "offset": target}) is None:
            return
        seek_event = max((e.index for e in self.h.history.by_source(member)
                          if e.type == "seeked"), default=None)
        produced = any(r.partition == partition and r.offset >= target
                       for r in self.h.history.produced())
        if seek_event is None or not produced:
            return

        def read_target() -> bool:
            return any(e.source == member and e.type in ("polled", "processed")
                       and any(r.partition == partition and r.offset == target
                               for r in e.records())
                       for e in self.h.history.events[seek_event + 1:])

        def moved() -> bool:
            return (topic, partition) not in self.h.own.owned.get(member, set())

        started = time.monotonic()
        self.h.wait_for(lambda: read_target() or moved(), wait)
        with self.h._cond:
            honored = read_target()
        with self.h._cond:
            owned = (topic, partition) in self.h.own.owned.get(member, set())
        self.h.record("seek_checked", member=member, topic=topic, partition=partition,
                      offset=target, honored=honored, owned=owned and self.h.workers[member].alive,
                      paused=(member, partition) in self.paused, seek_event=seek_event,
                      waited=round(time.monotonic() - started, 1))

    def settle(self) -> None:
        self._log("settle")
        self.h.settle()
        self.h.observe_group()

    def consume(self, timeout: float = 8.0, quiet: float = 1.0) -> None:
        """Let the members work until every produced record was processed once, or nothing
        was polled or processed for ``quiet`` seconds, or ``timeout``."""
        self._log("consume")
        produced = {(r.topic, r.partition, r.offset) for r in self.h.history.produced()}
        started = time.monotonic()

        def done() -> bool:
            have = {(t, p, o) for (t, p), offs in self.h.processed_offsets().items()
                    for o in offs}
            if produced <= have:
                return True
            last = max((e.ts for e in reversed(self.h.history.events[-200:])
                        if e.type in ("polled", "processed")), default=started)
            now = time.monotonic()
            return now - max(last, started) >= quiet

        deadline = started + timeout
        while time.monotonic() < deadline:
            finished = self.h.wait_for(done, min(1.0, deadline - time.monotonic()), poll=0.25)
            self.h.observe_group()  # what the broker holds, independent of what workers say
            if finished:
                break

    def owned_partition(self, member: str, index: int) -> int | None:
        owned = sorted(self.h.own.owned.get(member, ()))
        return owned[index % len(owned)][1] if owned else None

    # -- replay ----------------------------------------------------------------------------
    def run_step(self, name: str, args: dict[str, Any]) -> None:
        fn = {"produce": self.produce, "kill_member": self.kill_member,
              "stop_member": self.stop_member, "add_partitions": self.add_partitions,
              "pause": self.pause, "resume": self.resume, "rewind": self.rewind,
              "settle": self.settle, "consume": self.consume}.get(name)
        if name == "start_member":
            self.start_member()
        elif fn is None:
            raise UsageError(f"unknown step {name!r} in the replay file")
        else:
            member = args.get("member")
            if member is not None and member not in self.h.live():
                return  # the member is gone in this replay: the step has no target
            fn(**args)


def program(spec: ScenarioSpec, steps: list[tuple[str, dict[str, Any]]]) -> str:
    """The steps as a readable program (what the report shows and a user can follow)."""
    lines = [f"# {spec.client.label}  {spec.label}", f"scenario = Scenario(topic with "
             f"{spec.partitions} partitions)"]
    for name, args in steps:
        arg_text = ", ".join(f"{k}={v!r}" for k, v in args.items())
        lines.append(f"scenario.{name}({arg_text})")
    lines.append("scenario.teardown()  # stop members, drain with a fresh member, run checks")
    return "\n".join(lines)


def save_replay(path: Path, spec: ScenarioSpec, steps: list[tuple[str, dict[str, Any]]],
                seed: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": "kafka-conformance/replay/1", "seed": seed,
                                "spec": spec.to_json(),
                                "steps": [[n, a] for n, a in steps],
                                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1))
    return path


def load_replay(path: Path) -> tuple[ScenarioSpec, list[tuple[str, dict[str, Any]]]]:
    try:
        data = json.loads(path.read_text())
        spec = ScenarioSpec.from_json(data["spec"])
        steps = [(str(n), dict(a)) for n, a in data["steps"]]
    except FileNotFoundError:
        raise UsageError(f"replay file not found: {path}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a kafka-conformance replay file ({exc})") from None
    return spec, steps
