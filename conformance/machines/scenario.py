"""The steps a generated (or replayed) scenario is made of, over one :class:`Harness`.

Each step is recorded as ``(name, arguments)`` with members resolved to ids, so a failing example
can be saved as JSON and replayed step by step (``kafka-conformance replay``) without Hypothesis.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.clients import Client, ClientSpec
from conformance.errors import ConformanceError, UsageError, WorkerError
from conformance.harness import Harness
from conformance.machines import steps
from conformance.machines.steps import FAMILIES, MAX_MEMBERS, MAX_PARTITIONS
from conformance.protocols import EARLY_ACCESS, GroupProtocol, early_access
from conformance.strategies import Strategy

#: How long a ``settle`` step waits for the group (a live group settles within seconds).
SETTLE_TIMEOUT = 30.0

__all__ = ["MAX_MEMBERS", "MAX_PARTITIONS", "Scenario", "ScenarioSpec", "load_replay",
           "program", "save_replay"]
#: Worker error codes that mean "the partition moved away meanwhile" (not an infrastructure error)
RACING_CODES = ("illegal-state", "consumer-error")
#: error codes that are a command's outcome, not a failed step: a commit refused because the
#: member was removed from the group meanwhile (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, a fenced
#: epoch) is recorded by the worker as a ``committed`` event with ``ok: false``, which the
#: checks judge (docs/worker-protocol.md)
OUTCOME_CODES = {"commit": ("commit-failed", "fenced-member")}


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
    #: fault families drawn beside ``core`` (see :mod:`conformance.machines.steps`)
    faults: tuple[str, ...] = ()
    #: added to the example number where examples spread over dimension values and consume
    #: paths: a client's configurations run spread apart, so together they reach more values
    spread: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.client, str):
            self.client = Client.beside(self.client)
        unknown = [f for f in self.faults if f not in FAMILIES]
        if unknown:
            raise UsageError(f"unknown fault family {', '.join(unknown)} "
                             f"(known: {', '.join(FAMILIES[1:])})")
        self.faults = tuple(f for f in FAMILIES[1:] if f in self.faults)

    @property
    def families(self) -> tuple[str, ...]:
        return ("core", *self.faults)

    def paths(self) -> list[str]:
        """The client's consume paths that run this configuration: its adapter, then each
        variant the client offers that supports the config (asked once per client)."""
        out = [self.client.adapter]
        try:
            variants = self.client.variants
        except ConformanceError:
            return out
        for variant in variants:
            with contextlib.suppress(ConformanceError):
                if self.client.unsupported(self.config, variant) is None:
                    out.append(variant)
        return out

    @property
    def adapter(self) -> str:
        return self.client.adapter

    @property
    def early_access(self) -> bool:
        """The configuration runs the consumer protocol as early access (``--early-access``
        on a release that does not have it generally available)."""
        return early_access(self.config.get("group_protocol"), self.config.get("early_access"),
                            self.client.capabilities)

    @property
    def label(self) -> str:
        cfg = self.config
        bits = [cfg.get("group_protocol", GroupProtocol.CLASSIC)]
        if bits[0] == GroupProtocol.CLASSIC:
            bits.append(cfg.get("assignment_strategy", "range"))
        if self.early_access:
            bits.append(EARLY_ACCESS)
        bits += [f"reset={cfg.get('auto_offset_reset', 'earliest')}", self.strategy.label]
        return " ".join(bits)

    def config_json(self) -> dict[str, Any]:
        """The configuration as asked for (``ClientResult.config``): the consumer config and
        the commit ``strategy``."""
        return {**self.config, "strategy": self.strategy.to_json()}

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client.label, "adapter": self.adapter, "config": self.config,
                "strategy": self.strategy.to_json(), "partitions": self.partitions,
                "growth": self.growth, "faults": list(self.faults)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioSpec:
        spec = ClientSpec.parse(str(data.get("client") or data["adapter"]))
        client = Client.beside(spec.adapter) if spec.beside else Client(spec, python="")
        return cls(client, dict(data.get("config", {})),
                   Strategy.from_json(data.get("strategy", {})),
                   int(data.get("partitions", 3)), bool(data.get("growth", True)),
                   tuple(data.get("faults", ())))


class Scenario:
    """Runs steps of :data:`~conformance.machines.steps.STEPS` on a harness and records them
    (``steps``: what a replay needs; a ``step`` event with its label in the history). It is
    the :class:`~conformance.machines.steps.Stage` every step acts on."""

    def __init__(self, harness: Harness, families: tuple[str, ...] = ("core",),
                 growth: bool = True, paths: list[str] | None = None) -> None:
        self.h = harness
        self.families = families
        self.growth = growth
        #: the consume paths members are started with (the default adapter first)
        self.paths = paths or [harness.adapter]
        self.steps: list[tuple[str, dict[str, Any]]] = []
        self.paused: set[tuple[str, int]] = set()
        #: why the example ends early (a group that never settled), else ""
        self.ended = ""

    @classmethod
    def of(cls, harness: Harness, spec: ScenarioSpec) -> Scenario:
        return cls(harness, spec.families, spec.growth, spec.paths())

    def run(self, name: str, args: dict[str, Any] | None = None) -> Any:
        """Record step ``name`` and run it. A member named in ``args`` that is not live (in a
        replay: gone, frozen or never started) leaves the step without a target: skipped."""
        step = steps.get(name)
        args = dict(args or {})
        member = args.get("member")
        if member is not None and member not in self.h.live():
            self.h.record("note", text=f"step {name} skipped: {member} is not live")
            return None
        self.steps.append((name, args))
        self.h.record("step", name=name, args=args, label=step.describe(args),
                      family=step.family)
        return step.run(self, **args)

    # -- what steps share ------------------------------------------------------------------
    def owned_request(self, member: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """A command about a partition the member owned a moment ago; a rebalance may have
        taken it since, which the client reports as an illegal state: the step then has no
        target (recorded as a note), like a replayed step whose member is gone. A commit
        refused because the group removed the member is the command's outcome (a note; the
        worker's ``committed`` event says it failed), not a failed step."""
        try:
            return self.h.request(member, cmd)
        except WorkerError as exc:
            code = getattr(exc, "code", None)
            if code in OUTCOME_CODES.get(cmd["type"], ()):
                self.h.record("note", text=f"{cmd['type']} refused: {exc}")
                return None
            if code not in RACING_CODES:
                raise
            self.h.record("note", text=f"{cmd['type']} skipped: {exc}")
            return None

    def rewind(self, member: str, partition: int, back: int, wait: float = 10.0) -> None:
        """Once the member has read what the partition holds (unless paused), seek it ``back``
        records before its position, then watch that the member reads from there (recorded as
        ``seek_checked``) and back to where it was: the step leaves nothing moving."""
        topic = self.h.topic
        if (member, partition) not in self.paused:
            self._caught_up(member, partition, wait)
        pos = self.owned_request(member, {"type": "position", "topic": topic,
                                          "partition": partition})
        if pos is None:
            return
        target = max(0, int(pos["offset"]) - back)
        if self.owned_request(member, {"type": "seek", "topic": topic, "partition": partition,
                                       "offset": target}) is None:
            return
        seek_event = self.h.last_event_index(member, "seeked")
        produced = any(r.partition == partition and r.offset >= target
                       for r in self.h.history.produced())
        if seek_event is None or not produced:
            return

        back_at = int(pos["offset"]) - 1

        def read(offset: int, beyond: bool = False) -> bool:
            """The member read ``offset`` since the seek (``beyond``: or a later one, which
            ends a wait at once when a client skipped or ignored it)."""
            return any(e.source == member and e.type in ("polled", "processed")
                       and any(r.partition == partition and (
                           r.offset >= offset if beyond else r.offset == offset)
                               for r in e.records())
                       for e in self.h.history.events[seek_event + 1:])

        def moved() -> bool:
            return (topic, partition) not in self.h.own.of(member)

        started = time.monotonic()
        self.h.wait_for(lambda: read(target, beyond=True) or moved(), wait)
        honored = self.h.wait_for(lambda: read(target), 0)
        if honored and back_at > target:
            self._read_up_to(member, partition, lambda: read(back_at, beyond=True) or moved(),
                             back_at, wait)
        owned = self.h.owns(member, partition)
        self.h.record("seek_checked", member=member, topic=topic, partition=partition,
                      offset=target, honored=honored, owned=owned and member in self.h.live(),
                      paused=(member, partition) in self.paused, seek_event=seek_event,
                      waited=round(time.monotonic() - started, 1))

    def _read_all(self, member: str, partition: int) -> Callable[[], bool]:
        """A predicate: the member has polled the last record written to the partition that a
        consumer can see (not an aborted one) by now."""
        visible = self.h.history.last_written(self.h.topic, aborted=False).get(partition, -1)

        def read_all() -> bool:  # under the history lock: no request in here
            return visible < 0 or any(
                e.source == member and e.type == "polled"
                and any(r.partition == partition and r.offset >= visible for r in e.records())
                for e in reversed(self.h.history.events))
        return read_all

    def _caught_up(self, member: str, partition: int, wait: float) -> bool:
        """Wait until the member has polled the last visible record of the partition, or its
        position is past it; False when neither within ``wait``."""
        visible = self.h.history.last_written(self.h.topic, aborted=False).get(partition, -1)
        return self._read_up_to(member, partition, self._read_all(member, partition),
                                visible, wait)

    def _read_up_to(self, member: str, partition: int, read: Callable[[], bool], past: int,
                    wait: float) -> bool:
        """Wait until ``read()`` (under the history lock) holds or the member's position on
        the partition is past offset ``past``, asked every half second once the member has
        polled records of it (a position not known yet may block the call): a client that
        dropped that record has still moved on, and nothing is gained by waiting ``wait`` s
        for it. False when neither within ``wait`` (or the partition moved away)."""
        deadline = time.monotonic() + wait

        def reading() -> bool:  # polled it since its last assignment: a known position
            for e in reversed(self.h.history.events):
                if e.source != member:
                    continue
                if e.type == "polled" and any(r.partition == partition for r in e.records()):
                    return True
                if e.type == "assigned":
                    return False
            return False
        while True:
            if self.h.wait_for(read, max(0.0, min(0.5, deadline - time.monotonic()))):
                return True
            if time.monotonic() >= deadline:
                return False
            if not self.h.wait_for(reading, 0):
                continue
            pos = self.owned_request(member, {"type": "position", "topic": self.h.topic,
                                              "partition": partition})
            if pos is None:
                return False
            if int(pos["offset"]) > past:
                return True

    def catch_up(self, member: str, wait: float = 5.0) -> bool:
        """Wait until the member has caught up (:meth:`_caught_up`) on every partition it
        owns and has not paused, for at most ``wait`` s in all (False: it did not)."""
        owned = sorted(p for t, p in self.h.owned(member) if t == self.h.topic
                       and (member, p) not in self.paused)
        deadline = time.monotonic() + wait
        return all([self._caught_up(member, p, max(0.0, deadline - time.monotonic()))
                    for p in owned])

    def seek_to_end(self, member: str, partition: int, wait: float = 10.0) -> None:
        """Once the member's position is past every record written to the partition (aborted
        ones too), seek it to the end with the client's own call; ``seeked`` carries the end
        the broker reports just before, which the next record must follow. A member that
        does not catch up within ``wait`` (paused, moved away) is left alone (a note)."""
        topic = self.h.topic
        last = self.h.history.last_written(topic).get(partition, -1)
        if (member, partition) not in self.paused:
            self._caught_up(member, partition, wait)
        reply = self.owned_request(member, {"type": "position", "topic": topic,
                                            "partition": partition})
        if reply is None or int(reply["offset"]) <= last:
            self.h.record("note", text=f"seek to the end skipped: {member} is not past offset "
                                       f"{last} of partition {partition}")
            return
        end = self.h.broker.admin.watermarks(topic)[partition][1]
        self.owned_request(member, {"type": "seek_to_end", "topic": topic,
                                    "partition": partition, "end": end})

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Wait until the group settles; a group that does not within ``timeout`` ends the
        example (the ``member-assigned`` check judges it)."""
        ok = self.h.settle(timeout)
        self.h.observe_group()
        if not ok:
            self.ended = f"the group did not settle within {timeout:.0f} s"
        return ok

    def consume(self, timeout: float = 8.0, quiet: float = 1.0) -> None:
        """Let the members work until every produced record was processed once, or nothing
        was polled or processed for ``quiet`` seconds, or ``timeout``."""
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


def program(spec: ScenarioSpec, steps_: list[tuple[str, dict[str, Any]]],
            nodes: int = 1, drawn: dict[str, str] | None = None) -> str:
    """The steps as a runnable Python program: saved to a file and run with the suite
    installed, it replays them on an embedded broker and exits 1 if a check fails (what the
    report shows and the console prints for a failure)."""
    options = [f"{spec.client.label!r}", f"config={spec.config!r}",
               f"strategy={spec.strategy.to_json()!r}", f"partitions={spec.partitions}"]
    if not spec.growth:
        options.append("growth=False")
    if spec.faults:
        options.append(f"faults={spec.faults!r}")
    if nodes != 1:
        options.append(f"nodes={nodes}")
    lines = [f"# {spec.client.label}  {spec.label}"]
    if drawn:
        lines.append("# drawn: " + ", ".join(f"{k}={v}" for k, v in drawn.items()))
    lines += ["from conformance.program import Program", "",
             "with Program(" + ", ".join(options) + ") as scenario:"]
    started = 0
    for name, args in steps_:
        arg_text = ", ".join(f"{k}={v!r}" for k, v in args.items())
        line = f"    scenario.{name}({arg_text})"
        if name == "start_member":
            started += 1
            line += f"  # m{started}"
        lines.append(line)
    if not steps_:
        lines.append("    pass")
    lines.append("# leaving the block stops the members, drains with a fresh member, runs every "
                 "check and exits 1 if one fails")
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
