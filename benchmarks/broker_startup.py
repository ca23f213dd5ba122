"""Embedded broker: median seconds from start() to ready (jars cached), peak RSS per node, and
the CPU seconds the nodes spend to get ready and over 20 group rounds (a topic, 200 records, a
consumer group reading them), which is what a test or a run asks of them.

    python benchmarks/broker_startup.py [--runs 3] [--nodes 1,3]

Targets on 2 cores: 1 node <= 10 s, 3 nodes <= 20 s, <= 700 MB RSS per node.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time

import psutil
from confluent_kafka import Consumer, Producer

from conformance.broker.embedded import EmbeddedKafka
from conformance.broker.jars import ensure_jars


def sample_rss(pids: list[int], stop: threading.Event, peak: dict[int, int]) -> None:
    while not stop.is_set():
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                peak[pid] = max(peak.get(pid, 0), psutil.Process(pid).memory_info().rss)
        stop.wait(0.2)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def group_rounds(broker: EmbeddedKafka, rounds: int = 20) -> None:
    """A topic, 200 records and a consumer group that reads them, ``rounds`` times."""
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "log_level": 3})
    for i in range(rounds):
        topic = f"{broker.prefix}round-{i}"
        broker.admin.create_topic(topic, partitions=2)
        for _ in range(200):
            producer.produce(topic, value=b"x" * 100)
        producer.flush(30)
        consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": topic,
                             "auto.offset.reset": "earliest", "log_level": 3})
        consumer.subscribe([topic])
        read, deadline = 0, time.monotonic() + 60
        while read < 200 and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            read += message is not None and not message.error()
        consumer.close()
    del producer


def one_run(nodes: int) -> tuple[float, float, float, float]:
    broker = EmbeddedKafka(nodes=nodes)
    started = time.monotonic()
    broker.start()
    ready = time.monotonic() - started
    try:
        peak: dict[int, int] = {}
        stop = threading.Event()
        pids = [p.pid for p in broker.node_processes()]
        cpu_ready = cpu_seconds(pids)
        group_rounds(broker)
        cpu_rounds = cpu_seconds(pids) - cpu_ready
        sampler = threading.Thread(target=sample_rss, args=(pids, stop, peak))
        sampler.start()
        topic = f"{broker.prefix}bench"
        broker.admin.create_topic(topic, partitions=6, replication_factor=nodes)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "acks": "all",
                             "log_level": 3})
        for i in range(50_000):
            producer.produce(topic, value=b"x" * 100, key=str(i % 100).encode())
            if i % 10_000 == 0:
                producer.poll(0)
        producer.flush(60)
        del producer  # no reconnect noise after the broker stops
        stop.set()
        sampler.join()
        return ready, max(peak.values()) / 2**20, cpu_ready, cpu_rounds
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", default="1,3", help="node counts to measure, e.g. 1")
    args = parser.parse_args()
    ensure_jars()
    targets = {1: 10.0, 3: 20.0}
    for nodes in (int(n) for n in args.nodes.split(",")):
        target = targets.get(nodes, 10.0 * nodes)
        runs = [one_run(nodes) for _ in range(args.runs)]
        ready = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        cpu_ready = statistics.median(r[2] for r in runs)
        cpu_rounds = statistics.median(r[3] for r in runs)
        print(f"{nodes} node(s): median start->ready {ready:.1f} s (target <= {target:.0f} s, "
              f"ratio {ready / target:.2f}); peak RSS per node {rss:.0f} MB "
              f"(target <= 700 MB, ratio {rss / 700:.2f}); CPU to ready {cpu_ready:.1f} s, "
              f"over 20 group rounds {cpu_rounds:.1f} s (medians); runs={args.runs}")


if __name__ == "__main__":
    main()
