"""The ``java`` client: the Java reference worker on Apache Kafka's own consumer (kafka-clients).

``java`` is the kafka-clients release of the embedded broker
(:data:`~conformance.broker.jars.DEFAULT_KAFKA_VERSION`), ``java==VERSION`` another one. The
worker's sources live in ``adapters/java`` (docs/java-worker.md): its own in ``src/main/java``,
the code it shares with the spring-kafka worker in ``shared/src/main/java``; Maven builds a
release once into the cache (:mod:`conformance.clients.maven`), the source hash covering both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.clients.maven import MavenWorker
from conformance.clients.native import NativeBuild

MAIN_CLASS = "io.github.kafkaconformance.worker.Main"

#: The oldest release the worker compiles against (onPartitionsLost, committed(Set), the
#: cooperative assignor: kafka-clients 2.4).
WORKER = MavenWorker(client="java", artifact="org.apache.kafka:kafka-clients",
                     version_property="kafka.clients.version", main_class=MAIN_CLASS,
                     project="java", oldest=(2, 4), default=DEFAULT_KAFKA_VERSION)


def build_dir(version: str) -> Path:
    return WORKER.build_dir(version)


def build(version: str | None, progress: Callable[[str], None] | None = None) -> NativeBuild:
    """The command that starts a Java worker on kafka-clients ``version`` (None: the broker's
    release), building it into the cache first if needed."""
    return WORKER.build(version, progress)
