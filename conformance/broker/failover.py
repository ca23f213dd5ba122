"""Broker failover: move partition leaders and group coordinators, wait for replicas in sync
or for a dead node to be fenced, as every broker itself reports it.

Built on the admin client (:class:`conformance.broker.admin.Admin`) for metadata, group
descriptions and preferred leader elections, and on :mod:`conformance.broker.wire` for what it
cannot do: reassign replicas, and ask one chosen broker for its metadata.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from confluent_kafka import KafkaError

from conformance.broker.admin import TRANSIENT, Admin
from conformance.broker.wire import (
    BrokerRefused,
    BrokerView,
    PartitionState,
    alter_partition_reassignment,
    broker_metadata,
)
from conformance.errors import BrokerError

#: The internal topic whose partition leaders are the group coordinators.
OFFSETS_TOPIC = "__consumer_offsets"


def offsets_partition_for(group: str, partitions: int) -> int:
    """Kafka's ``Utils.abs(group.hashCode()) % partitions`` (Java's String.hashCode)."""
    h = 0
    utf16 = group.encode("utf-16-be")
    for i in range(0, len(utf16), 2):
        h = (31 * h + int.from_bytes(utf16[i:i + 2], "big")) & 0xFFFFFFFF
    h = h - (1 << 32) if h >= 1 << 31 else h
    return (0 if h == -(1 << 31) else abs(h)) % partitions


class Failover:
    """Leader and coordinator moves on the cluster ``admin`` administers."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    # -- what the cluster reports ------------------------------------------------------------
    def partition_states(self, topic: str) -> dict[int, PartitionState]:
        """Per partition of ``topic``: leader (-1 while none), replicas in preference order, ISR.
        Waits up to 10 s for a topic some broker does not know yet (just created)."""
        deadline = time.monotonic() + 10.0
        while True:
            md = self.admin.metadata(topic).topics.get(topic)
            if md is not None and not md.error:
                return {p: PartitionState(m.leader, list(m.replicas), list(m.isrs))
                        for p, m in md.partitions.items()}
            if time.monotonic() > deadline:
                why = md.error.str() if md is not None else "no metadata"
                raise BrokerError(f"topic {topic} is unknown: {why}")
            time.sleep(0.1)

    def leaders(self, topic: str) -> dict[int, int]:
        """Per partition of ``topic``: the node id of its leader (-1 while it has none)."""
        return {p: s.leader for p, s in self.partition_states(topic).items()}

    def views(self, topic: str | None = None, timeout: float = 5.0) -> dict[int, BrokerView]:
        """Each reachable live broker's own metadata (of ``topic``, or of every topic)."""
        self._plain_tcp()
        views = {}
        for node, b in self.admin.metadata(None, timeout).brokers.items():
            with contextlib.suppress(OSError):  # e.g. killed and not fenced yet
                views[node] = broker_metadata((b.host, b.port), topic, timeout)
        if not views:
            raise BrokerError("no broker answered a metadata request")
        return views

    def offsets_partition(self, group: str) -> int:
        """The __consumer_offsets partition holding ``group`` (its leader is the coordinator)."""
        count = self.admin.partition_count(OFFSETS_TOPIC)
        if count == 0:
            raise BrokerError(f"{OFFSETS_TOPIC} does not exist yet (no group has used the cluster)")
        return offsets_partition_for(group, count)

    # -- waiting -----------------------------------------------------------------------------
    def wait_in_sync(self, topic: str | None = None, timeout: float = 60.0,
                     node: int | None = None) -> None:
        """Wait until, on every broker, each partition of ``topic`` (of every topic if None,
        internal ones too) has a leader and all its replicas in the ISR; with ``node``, until
        every broker lists that node and each replica on it is in the ISR."""
        def problems(view: BrokerView) -> list[str]:
            out = [] if node is None or node in view.brokers else [f"node {node} not listed"]
            if topic is not None and topic not in view.topics:
                out.append(f"{topic} unknown")
            for name, parts in view.topics.items():
                for p, st in parts.items():
                    wanted = st.replicas if node is None else [r for r in st.replicas if r == node]
                    if wanted and (st.leader < 0 or not set(wanted) <= set(st.isr)):
                        out.append(f"{name}-{p} leader {st.leader} replicas {st.replicas} "
                                   f"isr {st.isr}")
            return out

        what = f"replicas on node {node} in sync" if node is not None else "replicas in sync"
        self._wait_views(topic, problems, time.monotonic() + timeout, what)

    def wait_fenced(self, node: int, timeout: float = 60.0) -> None:
        """Wait until no live broker lists ``node`` or names it leader of any partition (after
        it died: the controller fences it after ``broker.session.timeout.ms``)."""
        def problems(view: BrokerView) -> list[str]:
            led = [f"{name}-{p}" for name, parts in view.topics.items()
                   for p, st in parts.items() if st.leader == node]
            listed = [f"node {node} listed"] if node in view.brokers else []
            return listed + ([f"node {node} leads {', '.join(led[:3])}"] if led else [])

        self._wait_views(None, problems, time.monotonic() + timeout, f"node {node} fenced")

    def _wait_views(self, topic: str | None, problems: Callable[[BrokerView], list[str]],
                    deadline: float, what: str) -> None:
        start = time.monotonic()
        while True:
            try:
                lagging = [f"broker {b}: {x}" for b, view in sorted(self.views(topic).items())
                           for x in problems(view)]
            except BrokerError as exc:
                lagging = [str(exc)]
            if not lagging:
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"timed out after {time.monotonic() - start:.0f} s waiting "
                                  f"for {what}: "
                                  + "; ".join(lagging[:5]) + (" ..." if len(lagging) > 5 else ""))
            time.sleep(0.1)

    def _plain_tcp(self) -> None:
        protocol = str(self.admin.client_config.get("security.protocol", "plaintext")).lower()
        if protocol != "plaintext":
            raise BrokerError(f"failover operations speak plain TCP to each broker; this cluster "
                              f"uses security.protocol={protocol}")

    # -- leaders -----------------------------------------------------------------------------
    def move_leader(self, topic: str, partition: int, to_node: int,
                    timeout: float = 60.0) -> int:
        """Make ``to_node`` (a replica) lead ``topic``/``partition``: reorder the replica list by a
        reassignment so that it is the preferred replica, run a preferred leader election, and
        wait until every broker reports it as leader. Returns the previous leader."""
        self.admin.check_owned(topic, "move a partition leader of")
        deadline = time.monotonic() + timeout
        where = f"{topic}-{partition}"
        state = self._partition_state(topic, partition)
        if state.leader == to_node:
            return to_node
        if to_node not in state.replicas:
            raise BrokerError(f"cannot move the leader of {where} to node {to_node}: it holds no "
                              f"replica (replicas {state.replicas})")
        old = state.leader
        if state.replicas[0] != to_node:
            order = [to_node, *(r for r in state.replicas if r != to_node)]
            self._reassign(topic, partition, order, deadline)
            self._wait_state(topic, partition, lambda s: s.replicas[:1] == [to_node], deadline,
                             f"replica order of {where} to become {order}")
        self._elect_preferred(topic, partition, deadline)

        def problems(view: BrokerView) -> list[str]:
            st = view.topics.get(topic, {}).get(partition)
            return [] if st is not None and st.leader == to_node else [
                f"leader {st.leader if st else 'unknown'}"]

        self._wait_views(topic, problems, deadline, f"node {to_node} leading {where}")
        return old

    def _partition_state(self, topic: str, partition: int) -> PartitionState:
        state = self.partition_states(topic).get(partition)
        if state is None:
            raise BrokerError(f"topic {topic} has no partition {partition}")
        return state

    def _wait_state(self, topic: str, partition: int, done: Callable[[PartitionState], bool],
                    deadline: float, what: str) -> None:
        while True:
            state = self._partition_state(topic, partition)
            if done(state):
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"timed out waiting for {what} (now: leader {state.leader}, "
                                  f"replicas {state.replicas}, isr {state.isr})")
            time.sleep(0.05)

    def _reassign(self, topic: str, partition: int, replicas: list[int], deadline: float) -> None:
        self._plain_tcp()
        brokers = self.admin.metadata(None).brokers
        errors: list[str] = []
        while True:
            for b in brokers.values():
                try:
                    alter_partition_reassignment((b.host, b.port), topic, partition, replicas,
                                                 timeout=max(1.0, deadline - time.monotonic()))
                    return
                except BrokerRefused as exc:
                    if exc.code not in TRANSIENT | {KafkaError.NOT_CONTROLLER}:
                        raise
                    errors.append(str(exc))  # the controller moved: next one
                except BrokerError as exc:
                    errors.append(str(exc))  # broker gone: next one
            if time.monotonic() > deadline:
                raise BrokerError(errors[-1] if errors else f"no broker to reassign {topic}")
            time.sleep(0.2)

    def _elect_preferred(self, topic: str, partition: int, deadline: float) -> None:
        while True:
            left = max(1.0, deadline - time.monotonic())
            err = self.admin.elect_preferred(topic, partition, left)
            if err is None or err.code() == KafkaError.ELECTION_NOT_NEEDED:
                return
            # the preferred replica may not be (back) in the ISR yet
            retry = err.retriable() or err.code() in TRANSIENT | {
                KafkaError.PREFERRED_LEADER_NOT_AVAILABLE, KafkaError.NOT_CONTROLLER}
            if not retry or time.monotonic() > deadline:
                raise BrokerError(f"preferred leader election of {topic}-{partition}: "
                                  f"{err.str()}")
            time.sleep(0.1)

    # -- coordinators ------------------------------------------------------------------------
    def move_coordinator(self, group: str, to_node: int | None = None,
                         timeout: float = 60.0) -> tuple[int, int]:
        """Move ``group``'s coordinator to ``to_node`` (default: the first other in-sync replica
        of its __consumer_offsets partition) by moving that partition's leader; wait until
        describing the group reports it. Returns (old, new) coordinator node ids."""
        deadline = time.monotonic() + timeout
        old = self.admin.coordinator(group)
        partition = self.offsets_partition(group)
        if to_node is None:
            state = self._partition_state(OFFSETS_TOPIC, partition)
            others = [r for r in state.replicas if r != old and r in state.isr]
            if not others:
                raise BrokerError(f"cannot move the coordinator of group {group}: no other "
                                  f"in-sync replica of {OFFSETS_TOPIC}-{partition} "
                                  f"(replicas {state.replicas}, isr {state.isr})")
            to_node = others[0]
        self.move_leader(OFFSETS_TOPIC, partition, to_node, timeout=timeout)
        while (now := self.admin.coordinator(group)) != to_node:
            if time.monotonic() > deadline:
                raise BrokerError(f"group {group}'s coordinator is still node {now}, not "
                                  f"{to_node}, {timeout:.0f} s after moving "
                                  f"{OFFSETS_TOPIC}-{partition}")
            time.sleep(0.1)
        return old, to_node
