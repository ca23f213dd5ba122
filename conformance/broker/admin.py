"""Admin operations the harness needs, on any cluster, with the run-prefix guard.

This is the suite's own infrastructure client (librdkafka through confluent-kafka), never the
client under test. On a cluster the run does not own (``guard=True``), it refuses to create or
delete a topic or group whose name does not start with the run's prefix.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
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


class Admin:
    """Topic and group administration for one cluster."""

    def __init__(self, bootstrap: str, client_config: dict[str, Any] | None = None,
                 prefix: str = "", guard: bool = False) -> None:
        self.bootstrap = bootstrap
        self.client_config = dict(client_config or {})
        self.prefix = prefix
        self.guard = guard
        self._client = AdminClient({"bootstrap.servers": bootstrap, "logger": LIBRDKAFKA_LOG,
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
        self._owned(name, "create topic")
        topic = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                         config=config or {})
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
        """The group's committed offsets (next offset to read), optionally of one topic."""
        deadline = time.monotonic() + _TIMEOUT
        while True:
            fut = self._client.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
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
                if tp.offset >= 0 and (topic is None or tp.topic == topic)}

    def delete_group(self, group: str) -> None:
        self._owned(group, "delete group")
        self._wait(self._client.delete_consumer_groups([group], request_timeout=_TIMEOUT),
                   "delete group")

    def groups(self) -> list[str]:
        res = self._client.list_consumer_groups(request_timeout=_TIMEOUT).result(timeout=_TIMEOUT)
        return sorted(g.group_id for g in res.valid)
