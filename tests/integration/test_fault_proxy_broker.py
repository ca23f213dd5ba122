"""Network faults on a proxied embedded broker (issue #10, part 4): every client connection goes
through a fault proxy that names the client, and cutting one member stops its reads until healed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from conformance.broker.admin import LIBRDKAFKA_LOG
from conformance.broker.embedded import EmbeddedKafka
from conformance.broker.external import ExternalKafka

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("fault-proxy")]


@pytest.fixture(scope="module")
def proxied() -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka(nodes=1, proxied=True) as broker:
        yield broker


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def produce(broker: EmbeddedKafka, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": broker.bootstrap_servers, "acks": "all",
                  "client.id": "producer", "logger": LIBRDKAFKA_LOG})
    for v in values:
        p.produce(topic, value=v)
    assert p.flush(30) == 0


def test_brokers_without_proxies_have_no_faults():
    assert EmbeddedKafka().faults is None
    assert ExternalKafka("127.0.0.1:9092").faults is None


def test_clients_are_sent_to_the_proxies_and_brokers_talk_directly(proxied):
    node = proxied.node_list[0]
    assert node.proxy is not None and node.proxy.target == ("127.0.0.1", node.port)
    assert proxied.bootstrap_servers == f"127.0.0.1:{node.proxy.port}" != f"127.0.0.1:{node.port}"
    config = node.config_file.read_text()
    assert f"advertised.listeners=PLAINTEXT://127.0.0.1:{node.proxy.port}," in config
    assert "inter.broker.listener.name=INTERNAL\n" in config
    # metadata names the proxy, so a client never learns the real port
    admin = AdminClient({"bootstrap.servers": proxied.bootstrap_servers, "client.id": "meta",
                         "logger": LIBRDKAFKA_LOG})
    brokers = admin.list_topics(timeout=10).brokers
    assert {(b.host, b.port) for b in brokers.values()} == {("127.0.0.1", node.proxy.port)}
    assert proxied.describe()["proxied"] is True


def test_a_cut_member_stops_reading_until_healed(proxied):
    faults = proxied.faults
    assert faults is not None
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"{proxied.prefix}t-{suffix}", f"{proxied.prefix}g-{suffix}"
    proxied.admin.create_topic(topic, partitions=1)
    produce(proxied, topic, [b"a%d" % i for i in range(5)])
    consumer = Consumer({"bootstrap.servers": proxied.bootstrap_servers, "group.id": group,
                         "client.id": "g-m1", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": 30000,
                         "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
                         "logger": LIBRDKAFKA_LOG})
    got: list[bytes] = []

    def read(count: int) -> Callable[[], bool]:
        def more() -> bool:
            m = consumer.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
            return len(got) >= count
        return more

    try:
        consumer.subscribe([topic])
        wait_until(read(5), 30, "the first 5 records through the proxy")
        assert got == [b"a%d" % i for i in range(5)]
        assert faults.connections().get("g-m1", 0) >= 1

        faults.fault("g-m1", "cut")
        assert "g-m1" not in faults.connections()  # closed when fault() returns
        produce(proxied, topic, [b"b%d" % i for i in range(5)])  # others are not cut
        cut_until = time.monotonic() + 2.0
        while time.monotonic() < cut_until:  # it keeps trying; every attempt is refused
            read(10)()
            assert "g-m1" not in faults.connections()
        assert len(got) == 5

        faults.heal("g-m1")
        wait_until(read(10), 30, "the next 5 records after the heal")
        assert got[5:] == [b"b%d" % i for i in range(5)]
        assert faults.connections().get("g-m1", 0) >= 1
    finally:
        faults.heal()
        consumer.close()
