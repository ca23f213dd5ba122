"""Admin operations the harness needs, on any cluster, with the run-prefix guard.

This is the suite's own infrastructure client (librdkafka through confluent-kafka), never the
client under test. On a cluster the run does not own (``guard=True``), it refuses to create or
delete a topic or group whose name does not start with the run's prefix. Moving leaders and
coordinators is :mod:`conformance.broker.failover`, built on this.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

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
TRANSIENT = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
             KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.NOT_COORDINATOR,
             KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.REQUEST_TIMED_OUT}


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
    def check_owned(self, name: str, what: str) -> None:
        """UsageError unless the run may change ``name`` (the guard, on a cluster not owned)."""
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
        self.check_owned(name, "create topic")
        config = dict(config or {})
        if replication_factor >= 3:
            config.setdefault("min.insync.replicas", "2")
        topic = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                         config=config)
        self._wait(self._client.create_topics([topic], operation_timeout=_TIMEOUT), "create topic")
        self.wait_partitions(name, partitions)

    def add_partitions(self, name: str, total: int) -> None:
        """Grow ``name`` to ``total`` partitions."""
        self.check_owned(name, "add partitions to")
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
        self.check_owned(name, "delete topic")
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
                transient = err.retriable() or err.code() in TRANSIENT
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
                if not (err.retriable() or err.code() in TRANSIENT) \
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
                if not (err.retriable() or err.code() in TRANSIENT) \
                        or time.monotonic() > deadline:
                    raise BrokerError(f"committed offsets of group {group}: {err.str()}")
                time.sleep(0.1)  # NOT_COORDINATOR once after a move: it looks it up again
        finally:
            reader.close()

    def wait_group_coordinators(self, partitions: int, timeout: float = _TIMEOUT) -> None:
        """Return once every partition of ``__consumer_offsets`` (``partitions`` of them) has a
        coordinator that answers an offset fetch: a new cluster creates the topic at the first
        coordinator lookup and answers NOT_COORDINATOR while its partitions load, which some
        clients never recover from (librdkafka#5586: an assign()ed consumer's committed-offset
        fetch is not retried). A group per partition, found by Kafka's own placement."""
        deadline = time.monotonic() + timeout
        for partition in range(partitions):
            group = coordinator_group(partition, partitions)
            reader = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                               "enable.auto.commit": False, "logger": LIBRDKAFKA_LOG,
                               "log.connection.close": False, **self.client_config})
            try:
                while True:
                    try:
                        res = reader.committed([TopicPartition(group, 0)], timeout=5)
                        err = next((tp.error for tp in res if tp.error is not None), None)
                    except KafkaException as exc:
                        err = exc.args[0]
                    if err is None:
                        break
                    if time.monotonic() > deadline:
                        raise BrokerError(f"the group coordinator of __consumer_offsets "
                                          f"partition {partition} did not answer within "
                                          f"{timeout:.0f} s: {err.str()}")
                    time.sleep(0.1)
            finally:
                reader.close()

    def delete_group(self, group: str) -> None:
        self.check_owned(group, "delete group")
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

    # -- metadata and elections (for failover) -----------------------------------------------
    def metadata(self, topic: str | None, timeout: float = _TIMEOUT) -> Any:
        """librdkafka's cluster metadata (of ``topic``, or of every topic) from any broker."""
        try:
            return self._client.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise BrokerError(f"metadata of {topic or 'the cluster'}: "
                              f"{exc.args[0].str()}") from None

    def elect_preferred(self, topic: str, partition: int, timeout: float) -> KafkaError | None:
        """One preferred leader election of ``topic``/``partition``: its error, None if it
        ran. BrokerError when no answer comes within ``timeout``."""
        tp = TopicPartition(topic, partition)
        try:
            # no request_timeout: confluent-kafka 2.16's elect_leaders rejects any keyword
            # (SystemError in its argument parsing); the result wait bounds it instead
            res = self._client.elect_leaders(ElectionType.PREFERRED, [tp]).result(timeout=timeout)
        except KafkaException as top:
            return top.args[0]
        except TimeoutError:
            raise BrokerError(f"preferred leader election of {topic}-{partition}: no answer "
                              f"within {timeout:.0f} s") from None
        exc = next(iter(res.values()), None)
        return exc.args[0] if exc is not None else None

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
                if not (err.retriable() or err.code() in TRANSIENT) \
                        or time.monotonic() > deadline:
                    raise BrokerError(f"describe group {group}: {err.name()}") from None
            except TimeoutError:
                raise BrokerError(f"describe group {group}: no answer within "
                                  f"{timeout + 5:.0f} s") from None
            time.sleep(0.1)


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode()`` (signed 32 bits) of ``text``."""
    h = 0
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def coordinator_partition(group: str, partitions: int) -> int:
    """The ``__consumer_offsets`` partition of ``group`` (Kafka: ``Utils.abs(hashCode) % n``)."""
    h = java_string_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def coordinator_group(partition: int, partitions: int) -> str:
    """A group name whose coordinator is ``partition`` of ``__consumer_offsets``."""
    return next(g for g in (f"kc-coordinator-{i}" for i in range(10_000))
                if coordinator_partition(g, partitions) == partition)
