"""The ``spring-kafka`` client: a worker running Spring for Apache Kafka's listener container.

``spring-kafka`` is spring-kafka :data:`DEFAULT_RELEASE` with kafka-clients pinned to the
embedded broker's release (:data:`~conformance.broker.jars.DEFAULT_KAFKA_VERSION`);
``spring-kafka==VERSION`` another release with the kafka-clients it brings. The worker's
sources live in ``adapters/spring`` (docs/spring-kafka-worker.md) and compile together with
the code every JVM worker shares (``adapters/java/shared``: the process, the command loop,
JSON lines, errors, config mapping); Maven builds a release once into the cache
(:mod:`conformance.clients.maven`), the source hash covering both folders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.clients.maven import MavenWorker
from conformance.clients.native import NativeBuild

MAIN_CLASS = "io.github.kafkaconformance.worker.SpringMain"
#: The release ``spring-kafka`` means (4.1.x needs Java 17).
DEFAULT_RELEASE = "4.1.2"

#: The oldest release the worker compiles against: the Spring 6 / Java 17 baseline, 3.x API.
WORKER = MavenWorker(client="spring-kafka", artifact="org.springframework.kafka:spring-kafka",
                     version_property="spring.kafka.version", main_class=MAIN_CLASS,
                     project="spring", oldest=(3, 0), default=DEFAULT_RELEASE,
                     default_pins=(("kafka.clients.version", DEFAULT_KAFKA_VERSION),))


def build_dir(version: str) -> Path:
    return WORKER.build_dir(version)


def build(version: str | None, progress: Callable[[str], None] | None = None) -> NativeBuild:
    """The command that starts a spring-kafka worker on release ``version`` (None: the
    default release), building it into the cache first if needed."""
    return WORKER.build(version, progress)
