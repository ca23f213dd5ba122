"""The confluent-kafka adapter's seek outlives librdkafka's transient refusals."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as CTopicPartition

from adapters.base import ConsumerError, TopicPartition
from adapters.confluent_kafka import ConfluentAdapter


class Refusing:
    """A librdkafka consumer whose seek fails with ``codes`` first, then succeeds."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.seeks: list[tuple[str, int, int]] = []

    def assignment(self) -> list[CTopicPartition]:
        return [CTopicPartition("t", 0)]

    def seek(self, tp: CTopicPartition) -> None:
        if self.codes:
            raise KafkaException(KafkaError(self.codes.pop(0)))
        self.seeks.append((tp.topic, tp.partition, tp.offset))


def adapter(consumer: Refusing) -> ConfluentAdapter:
    a = ConfluentAdapter.__new__(ConfluentAdapter)
    a._consumer, a._closed, a._subscribed, a._positions = consumer, False, True, {}
    return a


@pytest.mark.parametrize("code", [KafkaError._STATE, KafkaError._OUTDATED])
def test_a_seek_that_raced_the_fetch_start_is_retried(code: int) -> None:
    consumer = Refusing(code, code)
    adapter(consumer).seek(TopicPartition("t", 0), 7)
    assert consumer.seeks == [("t", 0, 7)]


def test_other_seek_errors_are_not_retried() -> None:
    consumer = Refusing(KafkaError._INVALID_ARG)
    with pytest.raises(ConsumerError, match="seek failed"):
        adapter(consumer).seek(TopicPartition("t", 0), 7)
    assert consumer.seeks == []
