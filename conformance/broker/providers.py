"""Choose a broker provider from command-line style options."""

from __future__ import annotations

from typing import Any

from conformance.broker.base import Broker
from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.errors import UsageError

PROVIDERS = ("embedded", "testcontainers", "external")


def make_broker(provider: str | None = None, *, bootstrap_servers: str | None = None,
                nodes: int = 1, kafka_version: str = DEFAULT_KAFKA_VERSION,
                client_config: dict[str, Any] | None = None, port: int | None = None,
                proxied: bool = True) -> Broker:
    """An unstarted broker: external when bootstrap servers are given, else embedded."""
    provider = provider or ("external" if bootstrap_servers else "embedded")
    if provider == "external":
        if not bootstrap_servers:
            raise UsageError("the external provider needs --bootstrap-servers HOST:PORT[,...]")
        from conformance.broker.external import ExternalKafka

        return ExternalKafka(bootstrap_servers, client_config=client_config)
    if bootstrap_servers:
        raise UsageError(f"--bootstrap-servers cannot be combined with the {provider} provider")
    if provider == "embedded":
        from conformance.broker.embedded import EmbeddedKafka

        # proxied: every client connection goes through a fault proxy (network faults)
        return EmbeddedKafka(nodes=nodes, kafka_version=kafka_version, port=port,
                             client_config=client_config, proxied=proxied)
    if provider == "testcontainers":
        from conformance.broker.testcontainers import ContainerKafka

        return ContainerKafka(kafka_version=kafka_version, client_config=client_config)
    raise UsageError(f"unknown broker provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
