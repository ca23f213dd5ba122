"""The harness's transactional producer (KIP-98): topics then hold control markers (offsets no
record takes) and, for aborted transactions, records no read_committed consumer may see.

Records of a committed transaction are recorded as ``produced`` (with ``transactional: true``,
so every check treats them as any other record); those of an aborted transaction as
``aborted``: the ``isolation`` check judges what members do with them, and no other check
counts them as owed to the group.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException, Producer

from conformance.broker.admin import LIBRDKAFKA_LOG
from conformance.errors import BrokerError
from conformance.harness.session import Recorder

TIMEOUT = 30.0


class Transactions:
    """Produce in transactions that commit or abort (``harness.transactions``)."""

    def __init__(self, harness: Recorder) -> None:
        self.h = harness
        self._producer: Producer | None = None

    def _open(self) -> Producer:
        if self._producer is None:
            h = self.h
            producer = Producer({"bootstrap.servers": h.broker.bootstrap_servers,
                                 "transactional.id": f"{h.group}-tx", "acks": "all",
                                 "enable.idempotence": True, "linger.ms": 1,
                                 "logger": LIBRDKAFKA_LOG, **h.broker.client_config})
            try:
                producer.init_transactions(TIMEOUT)
            except KafkaException as exc:
                raise BrokerError(f"cannot start a transactional producer: {exc}") from None
            self._producer = producer
        return self._producer

    def produce(self, count: int, keys: list[str], commit: bool) -> list[list[Any]]:
        """Produce ``count`` keyed records in one transaction, then commit or abort it, and
        record them (``produced`` or ``aborted``) once the outcome is known."""
        producer = self._open()
        acked: list[list[Any]] = []
        failed: list[str] = []

        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                failed.append(str(err))
            else:
                acked.append([msg.topic(), msg.partition(), msg.offset(),
                              msg.key().decode() if msg.key() else None, msg.value().decode()])

        try:
            producer.begin_transaction()
            for i in range(count):
                payload = f"{self.h.group}:{self.h.next_payload_id()}"
                producer.produce(self.h.topic, key=keys[i % len(keys)].encode(),
                                 value=payload.encode(), on_delivery=delivered)
            left = producer.flush(TIMEOUT)
            if left or failed:
                producer.abort_transaction(TIMEOUT)
                raise BrokerError(f"transactional produce failed: {left} undelivered, "
                                  f"errors: {failed[:3]}")
            if commit:
                producer.commit_transaction(TIMEOUT)
            else:
                producer.abort_transaction(TIMEOUT)
        except KafkaException as exc:
            raise BrokerError(f"transaction failed: {exc}") from None
        acked.sort(key=lambda r: (r[1], r[2]))
        if commit:
            self.h.record("produced", records=acked, transactional=True)
        else:
            self.h.record("aborted", records=acked)
        return acked

    def close(self) -> None:
        self._producer = None
