"""Admin operations the harness needs, on any cluster, with the run-prefix guard.

This is the suite's own infrastructure client (librdkafka through confluent-kafka), never the
client under test. On a cluster the run does not own (``guard=True``), it refuses to create or
delete a topic or group whose name does not start with the run's prefix.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    ElectionType,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic, OffsetSpec

from conformance.errors import BrokerError, UsageError

_TIMEOUT = 30.0

#: librdkafka's own log lines of the suite's infrastructure clients (never on the terminal
#: unless logging is configured; errors surface as exceptions with one-line messages).
LIBRDKAFKA_LOG = logging.getLogger("kafka_conformance.librdkafka")
LIBRDKAFKA_LOG.addHandler(logging.NullHandler())

#: Errors right after a topic change (new partitions, leader moves) that pass by themselves.
_TRANSIENT = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
              KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.NOT_COORDINATOR,
              KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.REQUEST_TIMED_OUT}

#: The internal topic whose partition leaders are the group coordinators.
OFFSETS_TOPIC = "__consumer_offsets"


@dataclass(frozen=True)
class GroupState:
    """A consumer group as its coordinator describes it."""

    state: str  # STABLE, EMPTY, PREPARING_REBALANCING, COMPLETING_REBALANCING, DEAD, ...
    members: int
    owned: set[tuple[str, int]]


class Admin:
    """Topic and group administration for one cluster."""

    def __init__(self, bootstrap: str, client_config: dict[str, Any] | None = None,
                 prefix: str = "", guard: bool = False) -> None:
        self.bootstrap = bootstrap
        self.client_config = dict(client_config or {})
        self.prefix = prefix
        self.guard = guard
        self._client = self._new_client()

    def _new_client(self) -> AdminClient:
        """An admin client. Calls that go to a group coordinator use a fresh one each time:
        librdkafka's admin client keeps a moved coordinator cached (NOT_COORDINATOR forever)."""
        return AdminClient({"bootstrap.servers": self.bootstrap, "logger": LIBRDKAFKA_LOG,
                            "log.connection.close": False, **self.client_config})

    # -- guard -------------------------------------------------------------------------------
    def _owned(self, name: str, what: str) -> None:
        if self.guard and not name.startswith(self.prefix):
            raise UsageError(
                f"refusing to {what} {name!r}: on an external cluster only names starting with "
                f"the run prefix {self.prefix!r} are touched"
            )

    @staticmethod
    def _wait(futures: dict, what: str) -> None:
        for key, fut in futures.items():
            try:
                fut.result(timeout=_TIMEOUT)
            except KafkaException as exc:
                raise BrokerError(f"{what} {key}: {exc.args[0].str()}") from None
            except Exception as exc:
                raise BrokerError(f"{what} {key}: {exc}") from None

    # -- cluster -----------------------------------------------------------------------------
    def broker_ids(self, timeout: float = 10.0) -> list[int]:
        try:
            md = self._client.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise BrokerError(f"cannot reach {self.bootstrap}: {exc.args[0].str()}") from None
        return sorted(md.brokers)

    def partition_count(self, topic: str) -> int:
        md = self._client.list_topics(topic, timeout=_TIMEOUT)
        t = md.topics.get(topic)
        return 0 if t is None or t.error else len(t.partitions)

    def cluster_id(self) -> str | None:
        return self._client.list_topics(timeout=_TIMEOUT).cluster_id

    # -- topics ------------------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                     config: dict[str, str] | None = None) -> None:
        """Create ``name`` and wait for its leaders. With 3+ replicas the topic gets
        ``min.insync.replicas=2`` (unless ``config`` says otherwise): an acks=all write then
        survives the loss of one node."""
        self._owned(name, "create topic")
        config = dict(config or {})
        if replication_factor >= 3:
            config.setdefault("min.insync.replicas", "2")
        topic = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                         config=config)
        self._wait(self._client.create_topics([topic], operation_timeout=_TIMEOUT), "create topic")
        self.wait_partitions(name, partitions)

    def add_partitions(self, name: str, total: int) -> None:
        """Grow ``name`` to ``total`` partitions."""
        self._owned(name, "add partitions to")
        self._wait(self._client.create_partitions([NewPartitions(name, total)]), "add partitions")
        self.wait_partitions(name, total)

    def wait_partitions(self, name: str, count: int, timeout: float = _TIMEOUT) -> None:
        """Wait until metadata shows ``count`` partitions, each with a leader."""
        deadline = time.monotonic() + timeout
        while True:
            md = self._client.list_topics(name, timeout=timeout).topics.get(name)
            if md and not md.error and len(md.partitions) >= count \
                    and all(p.leader >= 0 for p in md.partitions.values()):
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"topic {name} did not reach {count} partitions with leaders")
            time.sleep(0.05)

    def delete_topic(self, name: str, wait: bool = True) -> None:
        self._owned(name, "delete topic")
        self._wait(self._client.delete_topics([name], operation_timeout=_TIMEOUT), "delete topic")
        deadline = time.monotonic() + _TIMEOUT
        while wait and name in self._client.list_topics(timeout=_TIMEOUT).topics:
            if time.monotonic() > deadline:
                raise BrokerError(f"topic {name} still listed after deletion")
            time.sleep(0.05)

    def topics(self) -> list[str]:
        return sorted(self._client.list_topics(timeout=_TIMEOUT).topics)

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        """Per partition: (log start offset, log end offset)."""
        count = self.partition_count(topic)
        low = self._list_offsets(topic, count, OffsetSpec.earliest())
        high = self._list_offsets(topic, count, OffsetSpec.latest())
        return {p: (low[p], high[p]) for p in range(count)}

    def _list_offsets(self, topic: str, count: int, spec: OffsetSpec) -> dict[int, int]:
        deadline = time.monotonic() + _TIMEOUT
        while True:
            req = {TopicPartition(topic, p): spec for p in range(count)}
            try:
                futs = self._client.list_offsets(req, request_timeout=_TIMEOUT)
                return {tp.partition: f.result(timeout=_TIMEOUT).offset for tp, f in futs.items()}
            except KafkaException as exc:
                err = exc.args[0]
                transient = err.retriable() or err.code() in _TRANSIENT
                if not transient or time.monotonic() > deadline:
                    raise BrokerError(f"list offsets of {topic}: {err.str()}") from None
                time.sleep(0.1)  # e.g. leaders of just-added partitions not known yet

    # -- groups ------------------------------------------------------------------------------
    def committed(self, group: str, topic: str | None = None) -> dict[tuple[str, int], int]:
        """The group's committed offsets (next offset to read), optionally of one topic.

        With ``topic``, read through a consumer of the group that never joins it: librdkafka's
        admin ListConsumerGroupOffsets crashes the process (SIGSEGV, NULL consumer group in
        rd_kafka_handle_OffsetFetch, librdkafka#5040) when its coordinator answers
        NOT_COORDINATOR, as it does after the coordinator moved. Without ``topic`` the admin
        call is used, on a fresh client (no stale coordinator cached), which narrows that risk.
        """
        if topic is not None:
            return self._committed_of_topic(group, topic)
        deadline = time.monotonic() + _TIMEOUT
        while True:
            client = self._new_client()  # referenced until the result: its futures die with it
            fut = client.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
            try:
                res = fut[group].result(timeout=_TIMEOUT)
                break
            except KafkaException as exc:
                err = exc.args[0]
                if not (err.retriable() or err.code() in _TRANSIENT) \
                        or time.monotonic() > deadline:
                    raise BrokerError(f"list offsets of group {group}: {err.str()}") from None
                time.sleep(0.1)
        return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions
                if tp.offset >= 0}

    def _committed_of_topic(self, group: str, topic: str) -> dict[tuple[str, int], int]:
        parts = [TopicPartition(topic, p) for p in range(self.partition_count(topic))]
        if not parts:
            return {}
        reader = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                           "enable.auto.commit": False, "logger": LIBRDKAFKA_LOG,
                           "log.connection.close": False, **self.client_config})
        deadline = time.monotonic() + _TIMEOUT
        try:
            while True:
                try:
                    res = reader.committed(parts, timeout=_TIMEOUT)
                    errors = [tp.error for tp in res if tp.error is not None]
                    if not errors:
                        return {(tp.topic, tp.partition): tp.offset for tp in res
                                if tp.offset >= 0}
                    err = errors[0]
                except KafkaException as exc:
                    err = exc.args[0]
                if not (err.retriable() or err.code() in _TRANSIENT) \
                        or time.monotonic() > deadline:
                    raise BrokerError(f"committed offsets of group {group}: {err.str()}")
                time.sleep(0.1)  # NOT_COORDINATOR once after a move: it looks it up again
        finally:
            reader.close()

    def delete_group(self, group: str) -> None:
        self._owned(group, "delete group")
        client = self._new_client()
        self._wait(client.delete_consumer_groups([group], request_timeout=_TIMEOUT),
                   "delete group")

    def groups(self) -> list[str]:
        res = self._client.list_consumer_groups(request_timeout=_TIMEOUT).result(timeout=_TIMEOUT)
        return sorted(g.group_id for g in res.valid)

    def group_state(self, group: str) -> GroupState:
        """The group as its coordinator sees it: state, members, partitions they own."""
        client = self._new_client()
        futures = client.describe_consumer_groups([group], request_timeout=_TIMEOUT)
        try:
            description = futures[group].result(timeout=_TIMEOUT)
        except KafkaException as exc:
            raise BrokerError(f"describe group {group}: {exc.args[0].str()}") from None
        owned = {(tp.topic, tp.partition) for member in description.members
                 for tp in (member.assignment.topic_partitions if member.assignment else [])}
        return GroupState(description.state.name, len(description.members), owned)

    # -- failover ----------------------------------------------------------------------------
    def partition_states(self, topic: str) -> dict[int, PartitionState]:
        """Per partition of ``topic``: leader (-1 while none), replicas in preference order, ISR.
        Waits up to 10 s for a topic some broker does not know yet (just created)."""
        deadline = time.monotonic() + 10.0
        while True:
            md = self._metadata(topic).topics.get(topic)
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
        for node, b in self._metadata(None, timeout).brokers.items():
            with contextlib.suppress(OSError):  # e.g. killed and not fenced yet
                views[node] = broker_metadata((b.host, b.port), topic, timeout)
        if not views:
            raise BrokerError("no broker answered a metadata request")
        return views

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
        protocol = str(self.client_config.get("security.protocol", "plaintext")).lower()
        if protocol != "plaintext":
            raise BrokerError(f"failover operations speak plain TCP to each broker; this cluster "
                              f"uses security.protocol={protocol}")

    def move_leader(self, topic: str, partition: int, to_node: int,
                    timeout: float = 60.0) -> int:
        """Make ``to_node`` (a replica) lead ``topic``/``partition``: reorder the replica list by a
        reassignment so that it is the preferred replica, run a preferred leader election, and
        wait until every broker reports it as leader. Returns the previous leader."""
        self._owned(topic, "move a partition leader of")
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
        brokers = self._metadata(None).brokers
        errors: list[str] = []
        while True:
            for b in brokers.values():
                try:
                    alter_partition_reassignment((b.host, b.port), topic, partition, replicas,
                                                 timeout=max(1.0, deadline - time.monotonic()))
                    return
                except BrokerError as exc:
                    code = getattr(exc, "code", None)
                    if code is not None and code not in _TRANSIENT | {KafkaError.NOT_CONTROLLER}:
                        raise
                    errors.append(str(exc))  # broker gone, or the controller moved: next one
            if time.monotonic() > deadline:
                raise BrokerError(errors[-1] if errors else f"no broker to reassign {topic}")
            time.sleep(0.2)

    def _elect_preferred(self, topic: str, partition: int, deadline: float) -> None:
        tp = TopicPartition(topic, partition)
        while True:
            left = max(1.0, deadline - time.monotonic())
            try:
                # no request_timeout: confluent-kafka 2.16's elect_leaders rejects any keyword
                # (SystemError in its argument parsing); the result wait bounds it instead
                res = self._client.elect_leaders(ElectionType.PREFERRED, [tp]).result(timeout=left)
                exc = next(iter(res.values()), None)
                err = exc.args[0] if exc is not None else None
            except KafkaException as top:
                err = top.args[0]
            except TimeoutError:
                raise BrokerError(f"preferred leader election of {topic}-{partition}: no answer "
                                  f"within {left:.0f} s") from None
            if err is None or err.code() == KafkaError.ELECTION_NOT_NEEDED:
                return
            # the preferred replica may not be (back) in the ISR yet
            retry = err.retriable() or err.code() in _TRANSIENT | {
                KafkaError.PREFERRED_LEADER_NOT_AVAILABLE, KafkaError.NOT_CONTROLLER}
            if not retry or time.monotonic() > deadline:
                raise BrokerError(f"preferred leader election of {topic}-{partition}: "
                                  f"{err.str()}")
            time.sleep(0.1)

    def _metadata(self, topic: str | None, timeout: float = _TIMEOUT) -> Any:
        try:
            return self._client.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise BrokerError(f"metadata of {topic or 'the cluster'}: "
                              f"{exc.args[0].str()}") from None

    # -- coordinators ------------------------------------------------------------------------
    def coordinator(self, group: str, timeout: float = _TIMEOUT) -> int:
        """The node id of ``group``'s coordinator, as describing the group reports it."""
        deadline = time.monotonic() + timeout
        while True:
            client = self._new_client()
            fut = client.describe_consumer_groups([group], request_timeout=timeout)[group]
            try:
                return fut.result(timeout=timeout + 5).coordinator.id
            except KafkaException as exc:
                err = exc.args[0]
                if not (err.retriable() or err.code() in _TRANSIENT) \
                        or time.monotonic() > deadline:
                    raise BrokerError(f"describe group {group}: {err.name()}") from None
            except TimeoutError:
                raise BrokerError(f"describe group {group}: no answer within "
                                  f"{timeout + 5:.0f} s") from None
            time.sleep(0.1)

    def offsets_partition(self, group: str) -> int:
        """The __consumer_offsets partition holding ``group`` (its leader is the coordinator)."""
        count = self.partition_count(OFFSETS_TOPIC)
        if count == 0:
            raise BrokerError(f"{OFFSETS_TOPIC} does not exist yet (no group has used the cluster)")
        return offsets_partition_for(group, count)

    def move_coordinator(self, group: str, to_node: int | None = None,
                         timeout: float = 60.0) -> tuple[int, int]:
        """Move ``group``'s coordinator to ``to_node`` (default: the first other in-sync replica
        of its __consumer_offsets partition) by moving that partition's leader; wait until
        describing the group reports it. Returns (old, new) coordinator node ids."""
        deadline = time.monotonic() + timeout
        old = self.coordinator(group)
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
        while (now := self.coordinator(group)) != to_node:
            if time.monotonic() > deadline:
                raise BrokerError(f"group {group}'s coordinator is still node {now}, not "
                                  f"{to_node}, {timeout:.0f} s after moving "
                                  f"{OFFSETS_TOPIC}-{partition}")
            time.sleep(0.1)
        return old, to_node


class PartitionState(NamedTuple):
    """One partition in the cluster metadata."""

    leader: int
    replicas: list[int]
    isr: list[int]


def offsets_partition_for(group: str, partitions: int) -> int:
    """Kafka's ``Utils.abs(group.hashCode()) % partitions`` (Java's String.hashCode)."""
    h = 0
    utf16 = group.encode("utf-16-be")
    for i in range(0, len(utf16), 2):
        h = (31 * h + int.from_bytes(utf16[i:i + 2], "big")) & 0xFFFFFFFF
    h = h - (1 << 32) if h >= 1 << 31 else h
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def alter_partition_reassignment(address: tuple[str, int], topic: str, partition: int,
                                 replicas: list[int], timeout: float = 30.0) -> None:
    """Send one AlterPartitionReassignments request (API 45 v0, KIP-455) on a plain TCP
    connection: set the replica list of ``topic``/``partition`` to ``replicas`` (same set in a
    new order: only the preferred leader changes). The request neither confluent-kafka nor the
    broker's own jars offer; KRaft brokers forward it to the active controller.

    BrokerError with the broker's error name and message on failure.
    """
    body = (struct.pack(">i", int(timeout * 1000))
            + _uvarint(2) + _string(topic)
            + _uvarint(2) + struct.pack(">i", partition)
            + _uvarint(len(replicas) + 1) + b"".join(struct.pack(">i", r) for r in replicas)
            + b"\x00\x00\x00")  # tags of partition, topic, request
    where = f"reassign {topic}-{partition} to {replicas} via {address[0]}:{address[1]}"
    try:
        r = _call(address, 45, 0, body, timeout)
    except OSError as exc:
        raise BrokerError(f"{where}: {exc}") from None
    r.int(4)  # throttle
    code, message = r.int(2), r.string()
    if code == 0:
        for _ in range(r.uvarint() - 1):
            r.string()
            for _ in range(r.uvarint() - 1):
                r.int(4)
                code, message = r.int(2), r.string()
                r.tags()
            r.tags()
    if code != 0:
        error = BrokerError(f"{where}: {KafkaError(code).name()}"
                            + (f" ({message})" if message else ""))
        error.code = code  # type: ignore[attr-defined]  # _reassign retries only retriable ones
        raise error


class BrokerView(NamedTuple):
    """One broker's metadata cache: the brokers it lists, and per topic its partitions."""

    brokers: list[int]
    topics: dict[str, dict[int, PartitionState]]


def broker_metadata(address: tuple[str, int], topic: str | None = None,
                    timeout: float = 10.0) -> BrokerView:
    """What the broker at ``address`` itself reports (Metadata API 3 v12 on a plain TCP
    connection): librdkafka asks whichever broker it likes, and right after a change the
    brokers' caches may briefly disagree. Raises OSError when the broker cannot be reached."""
    topics = (_uvarint(2) + bytes(16) + _string(topic) + b"\x00") if topic else b"\x00"
    r = _call(address, 3, 12, topics + b"\x00\x00\x00", timeout)  # no auto-create, no ACLs, tags
    r.int(4)  # throttle
    brokers = []
    for _ in range(r.uvarint() - 1):
        brokers.append(r.int(4))
        r.string(), r.int(4), r.string(), r.tags()  # host, port, rack
    r.string(), r.int(4)  # cluster id, controller id
    result: dict[str, dict[int, PartitionState]] = {}
    for _ in range(r.uvarint() - 1):
        error, name = r.int(2), r.string() or ""
        r.pos += 17  # topic id, is_internal
        parts = {}
        for _ in range(r.uvarint() - 1):
            r.int(2)
            index, leader = r.int(4), r.int(4)
            r.int(4)  # leader epoch
            replicas, isr, _offline = r.ints(), r.ints(), r.ints()
            r.tags()
            parts[index] = PartitionState(leader, replicas, isr)
        r.int(4), r.tags()  # authorized operations
        if error == 0:
            result[name] = parts
    return BrokerView(brokers, result)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes([*out, n])


def _string(value: str) -> bytes:
    data = value.encode()
    return _uvarint(len(data) + 1) + data


def _call(address: tuple[str, int], api_key: int, version: int, body: bytes,
          timeout: float) -> _Reader:
    """One request (flexible header v2) on its own connection; the reader is past the
    response header."""
    client_id = b"kafka-conformance"
    request = struct.pack(">hhih", api_key, version, 1, len(client_id)) + client_id + b"\x00"
    with socket.create_connection(address, timeout=timeout + 5) as sock:
        sock.sendall(struct.pack(">i", len(request) + len(body)) + request + body)
        size = struct.unpack(">i", _recv(sock, 4))[0]
        r = _Reader(_recv(sock, size))
    r.int(4), r.tags()  # correlation id, header tags
    return r


def _recv(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed by the broker")
        buf += chunk
    return bytes(buf)


class _Reader:
    """Just enough of Kafka's flexible-version encoding to read a small response."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def int(self, size: int) -> int:
        value = int.from_bytes(self.data[self.pos:self.pos + size], "big", signed=True)
        self.pos += size
        return value

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def string(self) -> str | None:
        n = self.uvarint() - 1
        if n < 0:
            return None
        value = self.data[self.pos:self.pos + n].decode(errors="replace")
        self.pos += n
        return value

    def ints(self) -> list[int]:
        return [self.int(4) for _ in range(self.uvarint() - 1)]

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()
