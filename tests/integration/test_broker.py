"""The embedded broker against itself and real clients (issue: Real Kafka on demand)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, Producer
from kafka import KafkaConsumer, KafkaProducer

from conformance import processes
from conformance.broker.embedded import EmbeddedKafka
from conformance.broker.jars import cache_root

pytestmark = pytest.mark.broker


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def produce_confluent(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "log_level": 3})
    for v in values:
        p.produce(topic, value=v, key=b"k")
    assert p.flush(30) == 0


def read_confluent(bootstrap: str, topic: str, count: int, timeout: float = 30) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-cr", "log_level": 3,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        c.close()
    return got


def read_kafka_python(bootstrap: str, topic: str, count: int, timeout: float = 30) -> list[bytes]:
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{topic}-kp",
                      auto_offset_reset="earliest", enable_auto_commit=False)
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                got.extend(r.value for r in records)
    finally:
        c.close()
    return got


def test_cross_client_round_trip(kafka_broker, kafka_names):
    topic, _ = kafka_names
    kafka_broker.admin.create_topic(topic, partitions=2)
    bootstrap = kafka_broker.bootstrap_servers
    produce_confluent(bootstrap, topic, [b"from-confluent-1", b"from-confluent-2"])
    assert sorted(read_kafka_python(bootstrap, topic, 2)) == [b"from-confluent-1",
                                                              b"from-confluent-2"]
    kp = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    kp.send(topic, key=b"k", value=b"from-kafka-python").get(timeout=30)
    kp.close()
    got = read_confluent(bootstrap, topic, 3)
    assert b"from-kafka-python" in got and len(got) == 3


def test_consumer_group_protocol_gets_partitions(kafka_broker, kafka_names):
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, partitions=3)
    assigned: list[int] = []
    c = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": group,
                  "group.protocol": "consumer", "log_level": 3})
    c.subscribe([topic], on_assign=lambda _c, parts: assigned.extend(p.partition for p in parts))
    try:
        deadline = time.monotonic() + 30
        while len(assigned) < 3 and time.monotonic() < deadline:
            c.poll(0.2)
        assert sorted(assigned) == [0, 1, 2]
    finally:
        c.close()


def test_admin_offsets_partitions_and_group(kafka_broker, kafka_names):
    topic, group = kafka_names
    admin = kafka_broker.admin
    admin.create_topic(topic, partitions=1)
    produce_confluent(kafka_broker.bootstrap_servers, topic, [b"a", b"b", b"c"])
    assert admin.watermarks(topic) == {0: (0, 3)}
    admin.add_partitions(topic, 3)
    assert admin.partition_count(topic) == 3
    c = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": group,
                  "enable.auto.commit": False, "log_level": 3})
    from confluent_kafka import TopicPartition
    c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    c.close()
    assert admin.committed(group, topic) == {(topic, 0): 2}
    admin.delete_topic(topic)
    assert topic not in admin.topics()


def _java_of(run_dir: Path) -> list[psutil.Process]:
    return [p for p in processes.processes_using(run_dir) if "java" in (p.name() or "")]


@pytest.mark.full
def test_three_nodes_survive_one_node_kill_and_stop_leaves_nothing():
    broker = EmbeddedKafka(nodes=3)
    with broker:
        run_dir = broker.run_dir
        assert run_dir is not None and len(_java_of(run_dir)) == 3
        assert len(broker.admin.broker_ids()) == 3
        topic = f"{broker.prefix}rf3"
        broker.admin.create_topic(topic, partitions=1, replication_factor=3,
                                  config={"min.insync.replicas": "2"})
        produce_confluent(broker.bootstrap_servers, topic, [b"before"])
        broker.kill_node(2)
        wait_until(lambda: len(broker.admin.broker_ids()) == 2, 30, "node 2 to leave")
        produce_confluent(broker.bootstrap_servers, topic, [b"during"])
        assert sorted(read_confluent(broker.bootstrap_servers, topic, 2)) == [b"before",
                                                                              b"during"]
        broker.restart_node(2)
        wait_until(lambda: len(broker.admin.broker_ids()) == 3, 60, "node 2 to rejoin")
    assert not run_dir.exists()
    assert _java_of(run_dir) == []


def test_killed_owner_leaves_no_jvm_and_later_start_reaps_its_folder(tmp_path):
    env = {**os.environ, "KAFKA_CONFORMANCE_CACHE": str(cache_root())}
    script = ("from conformance.broker.embedded import EmbeddedKafka\n"
              "import sys, time\n"
              "b = EmbeddedKafka().start()\n"
              "print(b.run_dir, flush=True)\n"
              "time.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env,
                             text=True)
    try:
        run_dir = Path(owner.stdout.readline().strip())
        assert run_dir.is_dir() and _java_of(run_dir)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        wait_until(lambda: not _java_of(run_dir), 30, "the orphaned JVM to die")
        assert run_dir.exists()  # nobody cleaned it yet
        assert processes.reap_orphans(run_dir.parent) >= 1
        assert not run_dir.exists()
    finally:
        processes.kill(owner)


def test_broker_run_cli_prints_bootstrap_and_stops_on_sigterm():
    proc = processes.popen([sys.executable, "-m", "conformance.cli", "broker", "run"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("bootstrap.servers=127.0.0.1:"), proc.stderr.read()
        bootstrap = line.split("=", 1)[1]
        jvms = [p for p in psutil.Process(proc.pid).children(recursive=True)
                if "java" in p.name()]
        assert len(jvms) == 1
        topic = f"cli-{uuid.uuid4().hex[:6]}"
        from conformance.broker.admin import Admin
        Admin(bootstrap).create_topic(topic)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 143
        wait_until(lambda: not any(j.is_running() and j.status() != psutil.STATUS_ZOMBIE
                                   for j in jvms), 10, "the JVM to exit")
    finally:
        processes.kill(proc)
