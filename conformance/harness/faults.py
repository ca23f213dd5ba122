"""Faults beyond a consumer crash, as harness operations that record what they did.

    zombie        SIGSTOP a member past its session timeout (and max.poll.interval.ms) while
                  the group moves on, then SIGCONT: ``member_frozen`` / ``member_thawed``
    network       delay, cut or black-hole one member's connections through the broker's fault
                  proxies (loopback only) for a while: ``network_fault`` / ``network_healed``
    failover      (3 nodes) restart a node, move a partition's leader, move the group
                  coordinator: ``broker_stopped`` / ``broker_started`` / ``leader_moved`` /
                  ``coordinator_moved``

Each waits for its effect with a timeout; what it could not bring about is a note, never a
hang. docs/faults.md lists the checks that judge each fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.harness.core import Harness

#: How long the group gets to move on without a frozen member, beyond its timeouts.
MOVE_ON_TIMEOUT = 30.0


class Faults:
    """The fault operations of one harness (``harness.faults``)."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness

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

    # -- broker failover -------------------------------------------------------------------
    @property
    def failover_available(self) -> bool:
        return self.h.broker.nodes >= 3 and hasattr(self.h.broker, "restart_node")

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
        before = self.h.broker.admin.leaders(self.h.topic).get(partition)
        self.h.broker.admin.move_leader(self.h.topic, partition, node)
        self.h.record("leader_moved", topic=self.h.topic, partition=partition, before=before,
                      after=node)

    def move_coordinator(self) -> None:
        old, new = self.h.broker.admin.move_coordinator(self.h.group)
        self.h.record("coordinator_moved", group=self.h.group, before=old, after=new)
