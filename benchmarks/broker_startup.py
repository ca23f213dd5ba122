"""Embedded broker: median seconds from start() to ready (jars cached), and peak RSS per node.

    python benchmarks/broker_startup.py [--runs 3]

Targets on 2 cores: 1 node <= 10 s, 3 nodes <= 20 s, <= 700 MB RSS per node.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time

import psutil
from confluent_kafka import Producer

from conformance.broker.embedded import EmbeddedKafka
from conformance.broker.jars import ensure_jars


def sample_rss(pids: list[int], stop: threading.Event, peak: dict[int, int]) -> None:
    while not stop.is_set():
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                peak[pid] = max(peak.get(pid, 0), psutil.Process(pid).memory_info().rss)
        stop.wait(0.2)


def one_run(nodes: int) -> tuple[float, float]:
    broker = EmbeddedKafka(nodes=nodes)
    started = time.monotonic()
    broker.start()
    ready = time.monotonic() - started
    try:
        peak: dict[int, int] = {}
        stop = threading.Event()
        pids = [p.pid for p in broker.node_processes()]
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
        return ready, max(peak.values()) / 2**20
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ensure_jars()
    for nodes, target in ((1, 10.0), (3, 20.0)):
        runs = [one_run(nodes) for _ in range(args.runs)]
        ready = statistics.median(r for r, _ in runs)
        rss = max(m for _, m in runs)
        print(f"{nodes} node(s): median start->ready {ready:.1f} s (target <= {target:.0f} s, "
              f"ratio {ready / target:.2f}); peak RSS per node {rss:.0f} MB "
              f"(target <= 700 MB, ratio {rss / 700:.2f}); runs={args.runs}")


if __name__ == "__main__":
    main()
