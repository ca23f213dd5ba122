"""Starts, drives, kills and stops consumer workers; produces records; records the history.

Every worker is ``python -m conformance.worker`` in its own process; its stdout lines are read
by a thread and appended to the shared :class:`~conformance.history.History` (arrival order);
replies to commands are handed to the waiting caller. Every wait has a timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from adapters.base import ConsumerConfig
from conformance import processes
from conformance.broker.admin import LIBRDKAFKA_LOG
from conformance.broker.base import Broker
from conformance.clients import Client
from conformance.errors import BrokerError, WorkerError
from conformance.history import HARNESS, Event, History
from conformance.strategies import Strategy

REPLY_TIMEOUT = 60.0
#: A group is settled once its assignment has not changed for this long.
SETTLE_QUIET = 0.5

#: Consumer settings of the suite's scenarios: fast failure detection (session timeout),
#: added partitions noticed within seconds (metadata age), small batches.
SCENARIO_CONFIG: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 500,
    "max_poll_interval_ms": 30000,
    "max_poll_records": 50,
    "auto_commit_interval_ms": 1000,
    "metadata_max_age_ms": 2000,
}


class MidBatch:
    """Event predicate: true once half of a polled batch has been processed (at least one
    record), so that a crash leaves processed-but-uncommitted and unprocessed records."""

    def __init__(self) -> None:
        self.size = 0
        self.done = 0

    def __call__(self, event: Event) -> bool:
        if event.type == "polled":
            self.size, self.done = len(event.data.get("records", [])), 0
        elif event.type == "processed" and self.size:
            self.done += len(event.data.get("records", []))
            return self.done >= max(1, self.size // 2)
        return False


class WorkerHandle:
    """One worker process, started with its client's interpreter and environment: send
    commands, await replies, kill or stop it."""

    def __init__(self, harness: Harness, member: str, client: Client, stderr_path: Path) -> None:
        self.harness = harness
        self.member = member
        self.client = client
        self.adapter = client.adapter
        self._ids = itertools.count(1)
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.protocol_errors: list[str] = []
        self.info: dict[str, Any] = {}
        self.planned_exit = False
        self._stderr = stderr_path.open("wb")
        self.stderr_path = stderr_path
        self.proc = processes.popen(
            client.worker_command(member), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, env=client.process_env(),
        )
        self._reader = threading.Thread(target=self._read, name=f"read-{member}", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
                if not isinstance(obj, dict) or "type" not in obj:
                    raise ValueError("not an object with a 'type'")
            except ValueError as exc:
                self.protocol_errors.append(f"malformed worker output {raw[:120]!r}: {exc}")
                continue
            if "in_reply_to" in obj and obj["in_reply_to"] is not None:
                with self._cond:
                    self._replies[int(obj["in_reply_to"])] = obj
                    self._cond.notify_all()
                if obj["type"] == "error":
                    self.harness.record_worker_event(obj)
                continue
            self.harness.record_worker_event(obj)
        with self._cond:
            self._cond.notify_all()

    def send(self, cmd: dict[str, Any]) -> int:
        msg_id = next(self._ids)
        line = json.dumps({**cmd, "msg_id": msg_id}) + "\n"
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died(f"while sending {cmd.get('type')!r}") from None
        return msg_id

    def request(self, cmd: dict[str, Any], timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """Send ``cmd`` and return its ``*_ok`` reply; an error reply raises WorkerError."""
        msg_id = self.send(cmd)
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._replies:
                if not self.alive and not self._reader.is_alive():
                    raise self._died(f"before replying to {cmd.get('type')!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkerError(f"worker {self.member} did not reply to {cmd.get('type')!r} "
                                      f"within {timeout:.0f} s")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(msg_id)
        if reply["type"] == "error":
            err = WorkerError(f"worker {self.member}: {reply.get('code')}: {reply.get('message')}")
            err.code = reply.get("code")  # type: ignore[attr-defined]
            err.retriable = bool(reply.get("retriable"))  # type: ignore[attr-defined]
            raise err
        return reply

    def _died(self, when: str) -> WorkerError:
        code = self.proc.poll()
        tail = ""
        with contextlib.suppress(OSError):
            lines = self.stderr_path.read_text(errors="replace").strip().splitlines()
            tail = lines[-1] if lines else ""
        return WorkerError(f"worker {self.member} exited (code {code}) {when}"
                           + (f"; last stderr line: {tail}" if tail else ""))

    def kill(self) -> None:
        """SIGKILL: a real crash. Waits until every line it wrote has been recorded."""
        self.planned_exit = True
        processes.kill(self.proc)
        self._finish()

    def stop(self, timeout: float = 30.0, commit: bool = False) -> None:
        """Graceful: close the consumer (leaving the group), then let the process exit."""
        self.planned_exit = True
        try:
            if self.alive:
                self.request({"type": "close", "commit": commit}, timeout=timeout)
        finally:
            with contextlib.suppress(OSError):
                if self.proc.stdin:
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                processes.kill(self.proc)
            self._finish()

    def _finish(self) -> None:
        self._reader.join(10)
        with contextlib.suppress(OSError):
            self._stderr.close()


@dataclass
class Ownership:
    """Current partitions per member, derived from the events as they arrive."""

    owned: dict[str, set[tuple[str, int]]]
    last_change: float
    joined: set[str]


class Harness:
    """One scenario: a topic, a group, workers of one client, and the recorded history.

    ``client`` is a resolved :class:`~conformance.clients.Client` (its workers start with its
    interpreter) or an adapter name of the client installed beside the suite."""

    def __init__(self, broker: Broker, client: Client | str, config: dict[str, Any],
                 strategy: Strategy, *, partitions: int = 3, workdir: Path,
                 topic: str | None = None, group: str | None = None, label: str = "") -> None:
        self.broker = broker
        self.client = client if isinstance(client, Client) else Client.beside(client)
        self.adapter = self.client.adapter
        suffix = uuid.uuid4().hex[:8]
        self.topic = topic or f"{broker.prefix}t-{suffix}"
        self.group = group or f"{broker.prefix}g-{suffix}"
        self.config = {"bootstrap_servers": broker.bootstrap_servers, "group_id": self.group,
                       **config, "extra": {**broker.client_config, **config.get("extra", {})}}
        ConsumerConfig.from_json(self.config)  # validate early
        self.strategy = strategy
        self.partitions = partitions
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.history = History()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.workers: dict[str, WorkerHandle] = {}
        self._member_ids = itertools.count(1)
        self._payload_ids = itertools.count(1)
        self.own = Ownership({}, time.monotonic(), set())
        self.infra_errors: list[str] = []
        self._producer: Producer | None = None
        self._kill_on: dict[str, tuple[Callable[[Event], bool], threading.Event]] = {}

    # -- history ---------------------------------------------------------------------------
    def record(self, type_: str, **data: Any) -> None:
        with self._cond:
            self.history.append(type_, HARNESS, time.monotonic(), **data)
            self._cond.notify_all()

    def record_worker_event(self, obj: dict[str, Any]) -> None:
        obj = dict(obj)
        etype, ts, source = obj.pop("type"), float(obj.pop("ts", time.monotonic())), \
            str(obj.pop("source", "?"))
        obj.pop("in_reply_to", None)
        with self._cond:
            event = self.history.append(etype, source, ts, **obj)
            armed = self._kill_on.get(source)
            if armed is not None and armed[0](event):
                processes.kill_now(self.workers[source].proc)  # crash right at this event
                self._kill_on.pop(source)[1].set()
            owned = self.own.owned.setdefault(source, set())
            if etype == "assigned":
                owned |= set(map(tuple, event.data.get("partitions", [])))
                self.own.joined.add(source)
                self.own.last_change = time.monotonic()
            elif etype in ("revoked", "lost"):
                owned -= set(map(tuple, event.data.get("partitions", [])))
                self.own.last_change = time.monotonic()
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, poll: float = 0.25) -> bool:
        """Wait until ``predicate()`` (called under the history lock) holds; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, poll))
        return True

    # -- setup -----------------------------------------------------------------------------
    def setup(self) -> None:
        self.broker.admin.create_topic(self.topic, self.partitions,
                                       replication_factor=min(3, self.broker.nodes))
        cfg = {k: v for k, v in self.config.items() if k not in ("extra", "bootstrap_servers")}
        self.record("scenario", topic=self.topic, group=self.group, partitions=self.partitions,
                    client=self.adapter, spec=self.client.label, config=cfg,
                    strategy=self.strategy.describe(int(self.config.get("max_poll_records", 500))))
        self._producer = Producer({"bootstrap.servers": self.broker.bootstrap_servers,
                                   "acks": "all", "enable.idempotence": True,
                                   "linger.ms": 1, "logger": LIBRDKAFKA_LOG,
                                   **self.broker.client_config})

    # -- members ---------------------------------------------------------------------------
    def live(self) -> list[str]:
        return [m for m, w in self.workers.items() if w.alive and not w.planned_exit]

    def start_member(self, member: str | None = None, *, subscribe: bool = True,
                     run: bool = True, config: dict[str, Any] | None = None,
                     strategy: Strategy | None = None) -> WorkerHandle:
        member = member or f"m{next(self._member_ids)}"
        handle = WorkerHandle(self, member, self.client, self.workdir / f"{member}.stderr")
        self.workers[member] = handle
        self.record("member_started", member=member)
        cfg = {**self.config, **(config or {}), "client_id": f"{self.group}-{member}"}
        handle.info = handle.request({"type": "init", "adapter": self.adapter, "config": cfg,
                                      "strategy": (strategy or self.strategy).to_json()})
        if subscribe:
            handle.request({"type": "subscribe", "topics": [self.topic]})
        if run:
            handle.request({"type": "run", "poll_timeout": 0.1})
        return handle

    def kill_member(self, member: str, mid_batch: bool = False, timeout: float = 5.0,
                    trigger: Callable[[], object] | None = None,
                    when: Callable[[Event], bool] | None = None) -> bool:
        """SIGKILL ``member``. With ``mid_batch``, the kill is sent by the reader thread the
        moment the member has processed half of a polled batch (:class:`MidBatch`);
        ``when`` chooses another event (called under the history lock). ``trigger`` runs once
        the kill is armed (e.g. producing the batch; when it returns produced records, the wait
        ends at once if the member owns none of their partitions, since the batch cannot reach
        it); after ``timeout`` seconds without the event the member is killed anyway. Returns
        whether the kill landed on the event."""
        handle = self.workers[member]
        landed = False
        if mid_batch or when is not None:
            armed = threading.Event()
            with self._cond:
                self._kill_on[member] = (when or MidBatch(), armed)
            produced = trigger() if trigger is not None else None
            targets = ({(str(r[0]), int(r[1])) for r in produced}
                       if isinstance(produced, list) else None)

            def unreachable() -> bool:
                return targets is not None and not targets & self.own.owned.get(member, set())

            self.wait_for(lambda: armed.is_set() or not handle.alive or unreachable(), timeout)
            with self._cond:
                self._kill_on.pop(member, None)
                landed = armed.is_set()
        handle.kill()
        self.record("member_killed", member=member, on_event=landed)
        return landed

    def stop_member(self, member: str, timeout: float = 30.0) -> None:
        handle = self.workers[member]
        try:
            handle.stop(timeout)
        except WorkerError as exc:
            self.infra_errors.append(str(exc))
        self.record("member_stopped", member=member)

    def stop_members(self, members: list[str], timeout: float = 30.0) -> None:
        """Stop several members at once (each leaves the group; one rebalance instead of a
        chain of them). Recorded in the order given."""
        threads = [threading.Thread(target=self.stop_member, args=(m, timeout),
                                    name=f"stop-{m}", daemon=True) for m in members]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout + 15)

    def check_workers(self) -> None:
        """Record workers that exited without being asked to (an infrastructure error)."""
        for member, handle in self.workers.items():
            if not handle.alive and not handle.planned_exit:
                handle.planned_exit = True
                handle._finish()
                self.record("member_died", member=member, returncode=handle.proc.returncode)
                self.infra_errors.append(f"worker {member} died unplanned "
                                         f"(exit {handle.proc.returncode})")
            for err in handle.protocol_errors:
                self.infra_errors.append(f"worker {member}: {err}")
            handle.protocol_errors.clear()

    # -- records and partitions ------------------------------------------------------------
    def produce(self, count: int, keys: list[str] | None = None,
                partition: int | None = None) -> list[list[Any]]:
        """Produce ``count`` keyed records (acks=all), to ``partition`` if given (else by key),
        and record the acknowledged ones."""
        assert self._producer is not None, "setup() first"
        acked: list[list[Any]] = []
        failed: list[str] = []
        keys = keys or ["k0"]

        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                failed.append(str(err))
            else:
                acked.append([msg.topic(), msg.partition(), msg.offset(),
                              msg.key().decode() if msg.key() else None, msg.value().decode()])

        for i in range(count):
            payload = f"{self.group}:{next(self._payload_ids)}"
            extra = {} if partition is None else {"partition": partition}
            self._producer.produce(self.topic, key=keys[i % len(keys)].encode(),
                                   value=payload.encode(), on_delivery=delivered, **extra)
        left = self._producer.flush(30)
        if left or failed:
            raise BrokerError(f"produce failed: {left} undelivered, errors: {failed[:3]}")
        acked.sort(key=lambda r: (r[1], r[2]))
        self.record("produced", records=acked)
        return acked

    def add_partitions(self, count: int) -> None:
        self.partitions += count
        self.broker.admin.add_partitions(self.topic, self.partitions)
        self.record("partitions_added", topic=self.topic, count=self.partitions)

    def observe_group(self) -> None:
        """Record the group's committed offsets as the broker reports them."""
        offsets = self.broker.admin.committed(self.group, self.topic)
        self.record("group_offsets", offsets=[[t, p, o] for (t, p), o in sorted(offsets.items())])

    # -- waiting ---------------------------------------------------------------------------
    def settled(self) -> bool:
        """Every partition owned by exactly one live member, every live member has joined,
        and no assignment change for :data:`SETTLE_QUIET` seconds. Called under the history
        lock."""
        live = self.live()
        if not live or any(m not in self.own.joined for m in live):
            return False
        seen: list[tuple[str, int]] = []
        for m in live:
            seen.extend(self.own.owned.get(m, ()))
        wanted = {(self.topic, p) for p in range(self.partitions)}
        if len(seen) != len(set(seen)) or set(seen) != wanted:
            return False
        return time.monotonic() - self.own.last_change >= SETTLE_QUIET

    def settle(self, timeout: float = 45.0) -> bool:
        ok = self.wait_for(self.settled, timeout)
        with self._cond:
            owners = {f"{t}:{p}": m for m in self.live() for t, p in self.own.owned.get(m, ())}
        self.record("settled", owners=owners, timeout=not ok)
        return ok

    def processed_offsets(self) -> dict[tuple[str, int], set[int]]:
        done: dict[tuple[str, int], set[int]] = {}
        for e in self.history.of_type("processed"):
            for r in e.data.get("records", []):
                done.setdefault((r[0], int(r[1])), set()).add(int(r[2]))
        return done

    def drain(self, timeout: float = 60.0, attempts: int = 3,
              assignment_timeout: float = 20.0) -> bool:
        """Stop every member, then read to the end with a fresh member of the same group.

        A drain member that gets no partition within ``assignment_timeout`` is replaced by
        another (``drain2``, ``drain3``): a member stuck outside the group is a liveness
        problem of the client, recorded as a note, not a reason to call records lost."""
        self.stop_members(self.live())
        ends = {p: hi for p, (_lo, hi) in self.broker.admin.watermarks(self.topic).items()}
        committed: dict[tuple[str, int], int] = {}
        positions: dict[int, int] = {}
        drains = [f"drain{n}" if n > 1 else "drain" for n in range(1, attempts + 1)]

        def read(member: str) -> None:
            for e in self.history.by_source(member):
                if e.type == "polled":
                    for r in e.data["records"]:
                        positions[int(r[1])] = max(positions.get(int(r[1]), 0), int(r[2]) + 1)

        def behind() -> list[int]:
            return [p for p, hi in ends.items() if hi > 0 and positions.get(p, -1) < hi
                    and committed.get((self.topic, p), -1) < hi]

        def caught_up(member: str) -> bool:
            read(member)
            return not behind()

        def has_partitions(member: str) -> bool:
            return bool(self.own.owned.get(member)) or not behind()

        deadline = time.monotonic() + timeout
        ok = False
        committed = self.broker.admin.committed(self.group, self.topic)
        for member in drains:
            handle = self.start_member(member, strategy=Strategy("BATCH"))
            self.record("drain_started", member=member)
            joined = self.wait_for(lambda m=member: has_partitions(m), assignment_timeout)
            while joined and time.monotonic() < deadline and handle.alive:
                committed = self.broker.admin.committed(self.group, self.topic)
                if self.wait_for(lambda m=member: caught_up(m),
                                 min(1.0, max(0.0, deadline - time.monotonic()))):
                    ok = True
                    break
                owned = {p for _t, p in self.own.owned.get(member, ())}
                for p in behind():  # records the adapter never handed over move the position
                    if p in owned:
                        with contextlib.suppress(WorkerError):
                            reply = handle.request({"type": "position", "topic": self.topic,
                                                    "partition": p}, timeout=10)
                            positions[p] = max(positions.get(p, 0), int(reply["offset"]))
                if not behind():
                    ok = True
                    break
            self.stop_member(member)
            self.record("drain_finished", member=member, complete=ok)
            if ok or joined:
                break
            self.record("note", text=f"{member} got no partition within "
                                     f"{assignment_timeout:.0f} s; trying a fresh member")
        return ok

    def close(self) -> None:
        """Kill whatever still runs and flush the producer; idempotent."""
        for handle in self.workers.values():
            if handle.alive:
                handle.planned_exit = True
                processes.kill(handle.proc)
                handle._finish()
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None
