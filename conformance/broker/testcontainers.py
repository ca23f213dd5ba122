"""Apache Kafka (KRaft) in a Docker container, for users who have Docker.

Needs the ``testcontainers`` extra. Without a Docker daemon it fails with one clear line.
"""

from __future__ import annotations

from typing import Any

from conformance.broker.base import Broker
from conformance.errors import BrokerError, PrerequisiteError

DEFAULT_IMAGE = "apache/kafka:{version}"


class ContainerKafka(Broker):
    provider = "testcontainers"
    owned = True

    def __init__(self, kafka_version: str = "4.1.1", image: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kafka_version = kafka_version
        self.image = image or DEFAULT_IMAGE.format(version=kafka_version)
        self._container: Any = None
        self._bootstrap = ""

    @property
    def version(self) -> str:
        return self.kafka_version

    @property
    def bootstrap_servers(self) -> str:
        if not self._bootstrap:
            raise BrokerError("the container broker is not started")
        return self._bootstrap

    def start(self) -> ContainerKafka:
        try:
            from testcontainers.community.kafka import KafkaContainer  # type: ignore
        except ImportError:
            try:
                from testcontainers.kafka import KafkaContainer  # type: ignore
            except ImportError:
                raise PrerequisiteError(
                    "the testcontainers provider needs the 'testcontainers' package: "
                    "pip install 'kafka-conformance[testcontainers]'"
                ) from None
        try:
            container = KafkaContainer(self.image)
            if hasattr(container, "with_kraft"):
                container = container.with_kraft()
            self._container = container.start()
        except Exception as exc:
            self._container = None
            if _is_docker_missing(exc):
                raise PrerequisiteError(
                    "Docker is not available (no daemon at the Docker socket); use the "
                    "embedded broker (the default) or --bootstrap-servers"
                ) from None
            raise BrokerError(f"the Kafka container did not start: {exc}") from None
        self._bootstrap = self._container.get_bootstrap_server()
        return self

    def stop(self) -> None:
        if self._container is not None:
            try:
                self._container.stop()
            finally:
                self._container = None
        self._admin = None


def _is_docker_missing(exc: BaseException) -> bool:
    text = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    return any(s in text for s in ("DockerException", "docker.errors", "Connection aborted",
                                   "FileNotFoundError", "Error while fetching server API version"))
