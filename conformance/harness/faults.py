"""Faults beyond a consumer crash, as harness operations that record what they did.

    zombie        SIGSTOP a member past its session timeout (and max.poll.interval.ms) while
                  the group moves on, then SIGCONT: ``member_frozen`` / ``member_thawed``
    network       delay, cut or black-hole one member's connections through the broker's fault
                  proxies (loopback only) for a while: ``network_fault`` / ``network_healed``
    protocol      one member's next requests of one Kafka API answered with an error, their
                  responses lost or delayed, through the same proxies: ``protocol_fault``, one
                  ``protocol_touched`` per request touched, ``protocol_healed`` (a refusal: a
                  ``note`` with the reason)
    failover      (3 nodes) restart a node, move a partition's leader, move the group
                  coordinator: ``broker_stopped`` / ``broker_started`` / ``leader_moved`` /
                  ``coordinator_moved``

Each waits for its effect with a timeout; what it could not bring about is a note, never a
hang. docs/faults.md lists the checks that judge each fault.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from adapters.base import ConsumerConfig
from conformance.errors import UsageError
from conformance.faults.protocol import ArmedFault, ProtocolFault, Touch
from conformance.harness.session import Session
from conformance.protocols import GroupProtocol

#: How long the group gets to move on without a frozen member, beyond its timeouts.
MOVE_ON_TIMEOUT = 30.0
#: How long a protocol fault waits for the requests it is to touch before it is healed.
PROTOCOL_WINDOW = 5.0
#: How long a fault on OffsetCommit waits for the member to report what became of its commit.
COMMIT_ANSWER = 5.0


class Faults:
    """The fault operations of one harness (``harness.faults``)."""

    def __init__(self, harness: Session) -> None:
        self.h = harness
        self._protocol_ids = itertools.count(1)

    # -- zombie ----------------------------------------------------------------------------
    def _timeout(self, key: str, default: int) -> float:
        return int(self.h.config.get(key, default)) / 1000.0

    def zombie(self, member: str, past_poll_interval: bool = False,
               trigger: Callable[[], object] | None = None,
               meanwhile: Callable[[], object] | None = None) -> None:
        """Freeze ``member`` halfway through a batch (``trigger`` produces it; without one, or
        if no batch reaches it within seconds, wherever it is) until its session timeout (and,
        if asked, its max.poll.interval.ms) has passed and the other live members own every
        partition (or :data:`MOVE_ON_TIMEOUT`), run ``meanwhile`` (producing what the new owners
        read and the zombie must not), then thaw it and wait until it notices (its next
        ``revoked``/``lost``/``assigned``/``error`` event) or a session timeout more."""
        h = self.h
        session = self._timeout("session_timeout_ms", 10000)
        at_least = session + 0.5
        if past_poll_interval:
            at_least = max(at_least, self._timeout("max_poll_interval_ms", 300000) + 0.5)
        wanted = {(h.topic, p) for p in range(h.partitions)}
        # a zombie needs something to lose: wait until the member owns partitions in a quiet
        # group (a freeze in the middle of a rebalance would find it owning nothing)
        if not h.wait_for(lambda: bool(h.own.of(member)) and h.settled(), MOVE_ON_TIMEOUT):
            h.record("note", text=f"{member} owned no partition of a settled group within "
                                  f"{MOVE_ON_TIMEOUT:.0f} s; frozen as it was")
        h.freeze_member(member, mid_batch=trigger is not None, trigger=trigger)
        frozen_at = time.monotonic()
        others = h.live()

        def moved_on() -> bool:
            if time.monotonic() - frozen_at < at_least:
                return False
            return not others or h.own.settled(h.live(), wanted, 0.0)

        if not h.wait_for(moved_on, at_least + MOVE_ON_TIMEOUT):
            h.record("note", text=f"the group did not move on without frozen {member} within "
                                  f"{at_least + MOVE_ON_TIMEOUT:.0f} s")
        if meanwhile is not None:  # e.g. new records: the new owner's, not the zombie's
            meanwhile()
        mark = len(h.history)
        h.thaw_member(member)

        def noticed() -> bool:
            return any(e.source == member and e.type in ("revoked", "lost", "assigned", "error")
                       for e in h.history.events[mark:])

        h.wait_for(noticed, session + 2.0)

    # -- network ---------------------------------------------------------------------------
    @property
    def network_available(self) -> bool:
        return getattr(self.h.broker, "faults", None) is not None

    def client_id(self, member: str) -> str:
        return f"{self.h.group}-{member}"

    def network(self, member: str, kind: str, seconds: float, delay_ms: int = 0) -> None:
        """Apply ``kind`` ("delay", "cut" or "drop") to ``member``'s connections for
        ``seconds`` while the others go on, then heal."""
        proxies = self.h.broker.faults  # type: ignore[attr-defined]
        client = self.client_id(member)
        proxies.fault(client, kind, delay_ms=delay_ms)
        self.h.record("network_fault", member=member, kind=kind, seconds=seconds,
                      delay_ms=delay_ms)
        try:
            self.h.wait_for(lambda: member not in self.h.live(), seconds)
        finally:
            proxies.heal(client)
            self.h.record("network_healed", member=member)

    # -- Kafka protocol --------------------------------------------------------------------
    @property
    def protocol_available(self) -> bool:
        """Whether the broker's fault proxies read Kafka frames (protocol faults work)."""
        return "protocol" in self.h.broker.fault_families()

    @property
    def group_protocol(self) -> GroupProtocol:
        """The configuration's group protocol."""
        return ConsumerConfig.from_json(self.h.config).group_protocol

    def protocol(self, member: str, api: str, kind: str, *, error: str | None = None,
                 count: int | None = 1, delay_ms: int = 0, seconds: float | None = None,
                 trigger: Callable[[], object] | None = None) -> ArmedFault:
        """Touch ``member``'s next ``count`` (None: every) ``api`` requests with ``kind``
        ("error", "lose-response" or "delay-response", see :mod:`conformance.faults.protocol`),
        run ``trigger`` (what makes the member send the api soon), then wait ``seconds`` (while
        the member lives) or, without, until ``count`` requests were touched or
        :data:`PROTOCOL_WINDOW` passed, and heal (like :meth:`network`, nothing outlives the
        step). Each touched request is recorded as it is touched (the history is locked; the
        proxy thread records it before the client gets the answer), a refusal as a note."""
        try:
            fault = ProtocolFault(api, kind, error, count, delay_ms)
        except ValueError as exc:
            raise UsageError(f"protocol fault: {exc}") from None
        proxies = self.h.broker.faults  # type: ignore[attr-defined]
        client = self.client_id(member)
        number = next(self._protocol_ids)
        what = {"fault": number, "member": member, "api": fault.api, "kind": kind}

        def heard(touch: Touch) -> None:  # from a proxy thread
            if touch.refused is not None:
                self.h.record("note", text=f"protocol fault {number} ({kind} {fault.api}) on "
                                           f"{member} refused for {fault.api} "
                                           f"v{touch.api_version} (correlation id "
                                           f"{touch.correlation_id}): {touch.refused}")
            else:
                self.h.record("protocol_touched", **what, error=touch.error,
                              correlation_id=touch.correlation_id,
                              api_version=touch.api_version)

        self.h.record("protocol_fault", **what, error=fault.error, count=count,
                      delay_ms=delay_ms, seconds=seconds)
        armed = proxies.protocol_fault(client, fault.api, kind, error=fault.error, count=count,
                                       delay_ms=delay_ms, listener=heard)
        mark = len(self.h.history.events)
        try:
            if trigger is not None:
                trigger()
            if seconds is not None:
                self.h.wait_for(lambda: member not in self.h.live(), seconds)
            else:
                armed.wait_touched(count or 1, PROTOCOL_WINDOW)
            if fault.api == "OffsetCommit" and kind != "delay-response" and armed.touches:
                # what the member made of its commit is recorded before the next step (a
                # kill right after the touch would otherwise leave it out of the history)
                self.h.wait_for(lambda: member not in self.h.live() or any(
                    e.source == member and e.type == "committed"
                    for e in self.h.history.events[mark:]), COMMIT_ANSWER)
        finally:
            proxies.heal_protocol(client, fault.api)
            touched = armed.touches
            self.h.record("protocol_healed", **what, touched=len(touched), spent=armed.spent,
                          correlation_ids=[t.correlation_id for t in touched],
                          refused=len(armed.refusals))
        return armed

    # -- broker failover -------------------------------------------------------------------
    @property
    def failover_available(self) -> bool:
        return "broker" in self.h.broker.fault_families()

    def _node_ids(self) -> list[int]:
        return sorted(self.h.broker.admin.broker_ids())

    def restart_node(self, index: int) -> None:
        """SIGKILL node ``index`` (of the sorted node ids), let the cluster fail over while the
        members go on, then start it again and wait until it is back in sync."""
        ids = self._node_ids()
        node = ids[index % len(ids)]
        broker = self.h.broker
        broker.kill_node(node)  # returns once the controller fenced it: leaders moved
        self.h.record("broker_stopped", node=node)
        broker.restart_node(node)  # returns once it is back and its replicas are in sync
        self.h.record("broker_started", node=node)

    def move_leader(self, partition: int, index: int) -> None:
        ids = self._node_ids()
        node = ids[index % len(ids)]
        before = self.h.broker.failover.leaders(self.h.topic).get(partition)
        self.h.broker.failover.move_leader(self.h.topic, partition, node)
        self.h.record("leader_moved", topic=self.h.topic, partition=partition, before=before,
                      after=node)

    def move_coordinator(self) -> None:
        old, new = self.h.broker.move_coordinator(self.h.group)
        self.h.record("coordinator_moved", group=self.h.group, before=old, after=new)
