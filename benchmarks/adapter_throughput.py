"""Records/s through adapter + worker process + event stream vs the same client in a bare loop.

    python benchmarks/adapter_throughput.py [--records 100000] [--runs 3] [--client NAME ...]

Both paths use auto commit (the commit strategy's own cost is not worker overhead). Target:
the worker path reaches >= 50% of the bare rate (100k records of 100 B). Also prints the median
time from worker start to first assignment.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer
from kafka import KafkaConsumer

from conformance.broker.embedded import EmbeddedKafka
from conformance.harness import Harness
from conformance.strategies import Strategy


def fill(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "log_level": 0})
    for i in range(count):
        producer.produce(topic, value=b"x" * 100, key=str(i % 64).encode())
        if i % 20000 == 0:
            producer.poll(0)
    producer.flush(60)


def bare_confluent(bootstrap: str, topic: str, count: int) -> float:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bare-{uuid.uuid4().hex}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": True,
                  "log_level": 0})
    c.subscribe([topic])
    got, started = 0, None
    while got < count:
        for m in c.consume(500, 1.0):
            if not m.error():
                started = started or time.monotonic()
                got += 1
    elapsed = time.monotonic() - started
    c.close()
    return count / elapsed


def bare_kafka_python(bootstrap: str, topic: str, count: int) -> float:
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bare-{uuid.uuid4().hex}",
                      auto_offset_reset="earliest", enable_auto_commit=True,
                      max_poll_records=500)
    got, started = 0, None
    while got < count:
        for records in c.poll(timeout_ms=1000).values():
            started = started or time.monotonic()
            got += len(records)
    elapsed = time.monotonic() - started
    c.close()
    return count / elapsed


BARE = {"confluent-kafka": bare_confluent, "kafka-python": bare_kafka_python}


def through_worker(broker, adapter: str, topic: str, count: int, workdir: Path
                   ) -> tuple[float, float]:
    """(records/s from the first processed batch to the last, seconds to first assignment)."""
    h = Harness(broker, adapter, {"auto_offset_reset": "earliest", "max_poll_records": 500},
                Strategy("auto"), workdir=workdir, topic=topic,
                group=f"{broker.prefix}bench-{uuid.uuid4().hex[:6]}")
    h.record("scenario", topic=topic)
    t0 = time.monotonic()
    h.start_member("m1")
    h.wait_for(lambda: bool(h.own.of("m1")), 60)
    to_assignment = time.monotonic() - t0
    total = {"n": 0, "first": None}

    def done() -> bool:
        for e in h.history.events[total.get("seen", 0):]:
            if e.type == "processed":
                total["first"] = total["first"] or e.ts
                total["n"] += len(e.data["records"])
        total["seen"] = len(h.history.events)
        return total["n"] >= count

    h.wait_for(done, 300, poll=0.5)
    last = max(e.ts for e in h.history.events if e.type == "processed")
    h.close()
    return count / (last - total["first"]), to_assignment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--client", action="append", default=None)
    args = parser.parse_args()
    with EmbeddedKafka() as broker, tempfile.TemporaryDirectory() as tmp:
        topic = f"{broker.prefix}throughput"
        broker.admin.create_topic(topic, 1)
        fill(broker.bootstrap_servers, topic, args.records)
        for client in args.client or list(BARE):
            bare = [BARE[client](broker.bootstrap_servers, topic, args.records)
                    for _ in range(args.runs)]
            worker = [through_worker(broker, client, topic, args.records, Path(tmp) / str(i))
                      for i in range(args.runs)]
            b = statistics.median(bare)
            w = statistics.median(r for r, _ in worker)
            a = statistics.median(s for _, s in worker)
            print(f"{client}: bare {b:,.0f} rec/s, via worker {w:,.0f} rec/s, ratio "
                  f"{w / b:.2f} (target >= 0.50); median start->first assignment {a:.2f} s; "
                  f"records={args.records} runs={args.runs}")


if __name__ == "__main__":
    main()
