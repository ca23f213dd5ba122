"""The Broker interface every provider implements (embedded, testcontainers, external)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from conformance.broker.admin import Admin
from conformance.errors import UsageError

if TYPE_CHECKING:
    from conformance.broker.failover import Failover
    from conformance.faults.proxy import ProxySet


def run_prefix() -> str:
    """A fresh prefix for this run's topics and groups."""
    return f"kc-{uuid.uuid4().hex[:8]}-"


class Broker(ABC):
    """A running Kafka cluster the suite may use.

    ``owned`` is True when the run started the cluster itself: then nothing a user owns lives
    there. On a cluster the run does not own, the admin guard only lets it create and delete
    topics and groups named with ``prefix``.
    """

    provider: str = ""
    owned: bool = True
    #: whether ``kill_node``/``restart_node`` work (the broker fault family)
    restarts_nodes: bool = False

    def __init__(self, client_config: dict[str, Any] | None = None,
                 prefix: str | None = None) -> None:
        self.client_config: dict[str, Any] = dict(client_config or {})
        self.prefix = prefix or run_prefix()
        self._admin: Admin | None = None

    @abstractmethod
    def start(self) -> Broker:
        """Start (or connect to) the cluster and wait until it serves requests."""

    @abstractmethod
    def stop(self) -> None:
        """Stop what ``start`` started; idempotent."""

    @property
    @abstractmethod
    def bootstrap_servers(self) -> str: ...

    @property
    def version(self) -> str:
        return "unknown"

    @property
    def nodes(self) -> int:
        return len(self.admin.broker_ids())

    @property
    def admin(self) -> Admin:
        if self._admin is None:
            self._admin = Admin(self.bootstrap_servers, self.client_config, self.prefix,
                                guard=not self.owned)
        return self._admin

    @property
    def failover(self) -> Failover:
        """Leader and coordinator moves, waits for replicas in sync and nodes fenced."""
        # imported on first use: it brings kio, which every broker need not load (nor the
        # pytest plugin, before Hypothesis's plugin: kio registers strategies on import)
        from conformance.broker.failover import Failover
        return Failover(self.admin)

    @property
    def faults(self) -> ProxySet | None:
        """The fault proxies every client connection goes through (``fault``/``heal`` by
        client.id prefix, see ``conformance.faults``), or None: this broker has none, so
        network faults cannot be injected."""
        return None

    def fault_families(self) -> tuple[str, ...]:
        """The fault families this broker allows beyond ``core``: frozen members always,
        network faults through its proxies, Kafka-protocol faults when those proxies read
        Kafka frames, node failover on 3 nodes of a provider that restarts nodes. The one
        answer to "may this broker take this fault?"."""
        families = ["zombie"]
        proxies = self.faults
        if proxies is not None:
            families.append("network")
            if proxies.proxies and all(p.protocol for p in proxies.proxies):
                families.append("protocol")
        if self.restarts_nodes and self.nodes >= 3:
            families.append("broker")
        return tuple(families)

    def describe(self) -> dict[str, Any]:
        return {"provider": self.provider, "version": self.version,
                "bootstrap_servers": self.bootstrap_servers, "prefix": self.prefix}

    def kill_node(self, node_id: int) -> None:
        raise UsageError(f"the {self.provider} provider cannot kill broker nodes")

    def restart_node(self, node_id: int) -> None:
        raise UsageError(f"the {self.provider} provider cannot restart broker nodes")

    def move_coordinator(self, group: str, to_node: int | None = None,
                         timeout: float = 60.0) -> tuple[int, int]:
        """Move ``group``'s coordinator to another node (see ``Failover.move_coordinator``);
        returns (old, new) node ids. Refused by the admin guard on a cluster the run does not
        own (it moves a partition of __consumer_offsets)."""
        return self.failover.move_coordinator(group, to_node, timeout)

    def __enter__(self) -> Broker:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
