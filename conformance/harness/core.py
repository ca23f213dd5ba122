"""The harness of one scenario: a topic, a group, its workers, and the recorded history.

Worker events are appended to the shared :class:`~conformance.history.History` in arrival
order and kept in :class:`Ownership`; steps start, kill, freeze and stop members, produce
records and add partitions. Every wait has a timeout.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from adapters.base import ConsumerConfig
from conformance.broker.admin import LIBRDKAFKA_LOG
from conformance.broker.base import Broker
from conformance.calls import reply_timeout
from conformance.clients import Client
from conformance.errors import BrokerError, ClientCallHung, WorkerError
from conformance.harness.drain import drain
from conformance.harness.faults import Faults
from conformance.harness.ownership import TP, Ownership
from conformance.harness.transactions import Transactions
from conformance.harness.workers import MidBatch, WorkerHandle
from conformance.history import HARNESS, Event, History
from conformance.strategies import Strategy

#: A group is settled once its assignment has not changed for this long.
SETTLE_QUIET = 0.5

#: Consumer settings of the suite's scenarios: fast failure detection (session timeout),
#: added partitions noticed within seconds (metadata age), small batches, and a poll interval
#: short enough that a frozen member can be kept past it (the zombie step).
SCENARIO_CONFIG: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 500,
    "max_poll_interval_ms": 6000,
    "max_poll_records": 50,
    "auto_commit_interval_ms": 1000,
    "metadata_max_age_ms": 2000,
}


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
        # reentrant: a wait_for predicate may call the harness's own locked queries (owned())
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.workers: dict[str, WorkerHandle] = {}
        self._member_ids = itertools.count(1)
        self._payload_ids = itertools.count(1)
        self.own = Ownership()
        self.infra_errors: list[str] = []
        #: client calls that never returned (their members were killed): the example ends
        self.hung: list[str] = []
        self._producer: Producer | None = None
        #: member -> (event predicate, set once it fired, signal sent right at that event)
        self._signal_on: dict[str, tuple[Callable[[Event], bool], threading.Event, int]] = {}
        self._frozen_at: dict[str, float] = {}
        self._grown_at = float("-inf")
        self.faults = Faults(self)
        self.transactions = Transactions(self)

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
            armed = self._signal_on.get(source)
            if armed is not None and armed[0](event):
                self.workers[source].signal(armed[2])  # crash or freeze right at this event
                self._signal_on.pop(source)[1].set()
            self.own.apply(event)
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
    def __enter__(self) -> Harness:
        """``with Harness(...) as h``: set up (closed again if that fails), closed at the end."""
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        """Members that run and take commands (not stopped, killed or frozen)."""
        return [m for m, w in self.workers.items()
                if w.alive and not w.planned_exit and not w.frozen]

    def frozen(self) -> list[str]:
        return [m for m, w in self.workers.items() if w.alive and w.frozen]

    def owned(self, member: str) -> set[TP]:
        """What ``member`` owns now (a copy)."""
        with self._cond:
            return self.own.of(member)

    def owns(self, member: str, partition: int) -> bool:
        return (self.topic, partition) in self.owned(member)

    def request(self, member: str, cmd: dict[str, Any],
                timeout: float | None = None) -> dict[str, Any]:
        """Send ``cmd`` to ``member``'s worker and return its reply (WorkerError on error;
        :class:`ClientCallHung` when the client call it made never returned: the member is
        then SIGKILLed, recorded with the call)."""
        try:
            return self.workers[member].request(cmd, timeout)
        except ClientCallHung as exc:
            self.kill_hung(member, exc.call)
            raise

    def kill_hung(self, member: str, call: str) -> None:
        """SIGKILL a member whose client call never returned (``member_killed`` with
        ``hung``: the call; listed in :attr:`hung`), so that the example can end with the
        evidence."""
        handle = self.workers.get(member)
        if handle is not None and handle.alive:
            handle.kill()
        self.hung.append(f"{member}'s {call}() never returned")
        self.record("member_killed", member=member, on_event=False, hung=call)

    def last_event_index(self, member: str, type_: str) -> int | None:
        """Index of ``member``'s latest event of ``type_``, if any."""
        with self._cond:
            return max((e.index for e in self.history.by_source(member) if e.type == type_),
                       default=None)

    def start_member(self, member: str | None = None, *, subscribe: bool = True,
                     run: bool = True, config: dict[str, Any] | None = None,
                     strategy: Strategy | None = None,
                     adapter: str | None = None) -> WorkerHandle:
        """Start a worker; ``adapter``: one of the client's consume paths (a variant,
        ``NAME:variant``) instead of its default; ``config``: overrides for this member."""
        member = member or f"m{next(self._member_ids)}"
        handle = WorkerHandle(member, self.client, self.workdir / f"{member}.stderr",
                              self.record_worker_event)
        self.workers[member] = handle
        adapter = adapter or self.adapter
        self.record("member_started", member=member, adapter=adapter, polling=run,
                    **({"config": config} if config else {}))
        cfg = {**self.config, **(config or {}), "client_id": f"{self.group}-{member}"}
        handle.info = handle.request({"type": "init", "adapter": adapter, "config": cfg,
                                      "strategy": (strategy or self.strategy).to_json()})
        if subscribe:
            handle.request({"type": "subscribe", "topics": [self.topic]})
        if run:
            handle.request({"type": "run", "poll_timeout": 0.1})
        return handle

    def _on_event(self, member: str, sig: int, when: Callable[[Event], bool],
                  trigger: Callable[[], object] | None, timeout: float) -> bool:
        """Arm ``sig`` for ``member``: the reader thread sends it the moment ``when(event)``
        holds (called under the history lock). ``trigger`` runs once armed (e.g. producing the
        batch; when it returns produced records, the wait ends at once if the member owns none
        of their partitions, since the batch cannot reach it). Returns whether it was sent
        within ``timeout``; if not, it is disarmed."""
        handle = self.workers[member]
        armed = threading.Event()
        with self._cond:
            self._signal_on[member] = (when, armed, sig)
        produced = trigger() if trigger is not None else None
        targets = ({(str(r[0]), int(r[1])) for r in produced}
                   if isinstance(produced, list) else None)

        def unreachable() -> bool:
            return targets is not None and not targets & self.own.of(member)

        self.wait_for(lambda: armed.is_set() or not handle.alive or unreachable(), timeout)
        with self._cond:
            self._signal_on.pop(member, None)
            return armed.is_set()

    def kill_member(self, member: str, mid_batch: bool = False, timeout: float = 5.0,
                    trigger: Callable[[], object] | None = None,
                    when: Callable[[Event], bool] | None = None) -> bool:
        """SIGKILL ``member``. With ``mid_batch``, the moment it has processed half of a
        polled batch (:class:`MidBatch`), or at the event ``when`` chooses (see
        :meth:`_on_event`); after ``timeout`` without the event it is killed anyway. Returns
        whether the kill landed on the event."""
        landed = False
        if mid_batch or when is not None:
            landed = self._on_event(member, signal.SIGKILL, when or MidBatch(), trigger, timeout)
        self.workers[member].kill()
        self.record("member_killed", member=member, on_event=landed)
        return landed

    def freeze_member(self, member: str, mid_batch: bool = False, timeout: float = 5.0,
                      trigger: Callable[[], object] | None = None) -> bool:
        """SIGSTOP ``member`` (with ``mid_batch`` halfway through a polled batch, as for
        :meth:`kill_member`): it stays in the group's books until its session times out.
        Returns whether the freeze landed on the event."""
        landed = False
        if mid_batch:
            landed = self._on_event(member, signal.SIGSTOP, MidBatch(), trigger, timeout)
        self.workers[member].freeze()
        self._frozen_at[member] = time.monotonic()
        self.record("member_frozen", member=member, on_event=landed)
        return landed

    def thaw_member(self, member: str) -> None:
        """SIGCONT a frozen member: it goes on as if no time had passed (a zombie)."""
        sent = time.monotonic()
        self.workers[member].thaw()
        since = self._frozen_at.pop(member, sent)
        self.record("member_thawed", member=member, sent=sent,
                    frozen_seconds=round(sent - since, 3))

    def stop_member(self, member: str, timeout: float | None = None) -> None:
        """Close a member; one whose ``close()`` never returned is SIGKILLed instead (the
        ``call-never-returned`` check judges it), any other failure is the infrastructure's."""
        handle = self.workers[member]
        if handle.frozen:
            self.thaw_member(member)
        try:
            handle.stop(timeout)
        except ClientCallHung as exc:
            self.kill_hung(member, exc.call)
            return
        except WorkerError as exc:
            self.infra_errors.append(str(exc))
        self.record("member_stopped", member=member)

    def stop_members(self, members: list[str], timeout: float | None = None) -> None:
        """Stop several members at once (each leaves the group; one rebalance instead of a
        chain of them). Recorded in the order given."""
        threads = [threading.Thread(target=self.stop_member, args=(m, timeout),
                                    name=f"stop-{m}", daemon=True) for m in members]
        for thread in threads:
            thread.start()
        wait = reply_timeout({"type": "close"}) if timeout is None else timeout
        for thread in threads:
            thread.join(wait + 15)

    def check_workers(self) -> None:
        """Record workers that exited without being asked to (an infrastructure error)."""
        for member, handle in self.workers.items():
            if not handle.alive and not handle.planned_exit:
                handle.planned_exit = True
                handle.finish()
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
            payload = f"{self.group}:{self.next_payload_id()}"
            extra = {} if partition is None else {"partition": partition}
            self._producer.produce(self.topic, key=keys[i % len(keys)].encode(),
                                   value=payload.encode(), on_delivery=delivered, **extra)
        left = self._producer.flush(30)
        if left or failed:
            raise BrokerError(f"produce failed: {left} undelivered, errors: {failed[:3]}")
        acked.sort(key=lambda r: (r[1], r[2]))
        self.record("produced", records=acked)
        return acked

    def next_payload_id(self) -> int:
        """A payload number unique in this scenario (payloads identify records)."""
        return next(self._payload_ids)

    def add_partitions(self, count: int) -> None:
        self.partitions += count
        self.broker.admin.add_partitions(self.topic, self.partitions)
        self._grown_at = time.monotonic()
        self.record("partitions_added", topic=self.topic, count=self.partitions)

    def observe_group(self) -> None:
        """Record the group's committed offsets as the broker reports them (``asked``: when
        the question was sent; commits acknowledged after it may not show yet)."""
        asked = time.monotonic()
        offsets = self.broker.admin.committed(self.group, self.topic)
        self.record("group_offsets", asked=asked,
                    offsets=[[t, p, o] for (t, p), o in sorted(offsets.items())])

    # -- waiting ---------------------------------------------------------------------------
    def settled(self) -> bool:
        """Every partition owned by exactly one live member, every live member has joined,
        and no assignment change for :data:`SETTLE_QUIET` seconds; after partition growth,
        not before every member's metadata refresh has seen it (a member that notices the
        growth late rejoins: one more rebalance). Called under the history lock."""
        refresh = min(10.0, int(self.config.get("metadata_max_age_ms", 0)) / 1000.0)
        if time.monotonic() - self._grown_at < refresh + SETTLE_QUIET:
            return False
        wanted = {(self.topic, p) for p in range(self.partitions)}
        return self.own.settled(self.live(), wanted, SETTLE_QUIET)

    def settle(self, timeout: float = 45.0) -> bool:
        """Wait until :meth:`settled`; record the owners (``timeout`` if it did not settle)."""
        ok = self.wait_for(self.settled, timeout)
        with self._cond:
            live = self.live()
            owners = self.own.owners(live)
        self.record("settled", owners=owners, timeout=not ok, live=live,
                    partitions=self.partitions)
        return ok

    def processed_offsets(self) -> dict[tuple[str, int], set[int]]:
        done: dict[tuple[str, int], set[int]] = {}
        for e in self.history.of_type("processed"):
            for r in e.data.get("records", []):
                done.setdefault((r[0], int(r[1])), set()).add(int(r[2]))
        return done

    def drain(self, timeout: float = 60.0, attempts: int = 3,
              assignment_timeout: float = 20.0) -> bool:
        """Stop every member, then read to the end with a fresh member (see
        :func:`~conformance.harness.drain.drain`)."""
        return drain(self, timeout, attempts, assignment_timeout)

    def close(self) -> None:
        """Kill whatever still runs and flush the producer; idempotent."""
        for handle in self.workers.values():
            if handle.alive:
                handle.kill()
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None
        self.transactions.close()
