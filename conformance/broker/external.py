"""An existing cluster given by ``--bootstrap-servers`` (plus client properties, e.g. SASL/SSL).

The run does not own it: the admin guard only creates and deletes topics and groups that carry
the run's prefix, and ``stop()`` deletes exactly those it created.
"""

from __future__ import annotations

from typing import Any

from conformance.broker.base import Broker
from conformance.errors import BrokerError


class ExternalKafka(Broker):
    provider = "external"
    owned = False

    def __init__(self, bootstrap_servers: str, client_config: dict[str, Any] | None = None,
                 prefix: str | None = None, connect_timeout: float = 15.0) -> None:
        super().__init__(client_config=client_config, prefix=prefix)
        self._bootstrap = bootstrap_servers
        self.connect_timeout = connect_timeout
        self._version = "unknown"
        self._reached = False  # stop() touches the cluster only if start() reached it

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    @property
    def version(self) -> str:
        return self._version

    def start(self) -> ExternalKafka:
        try:
            ids = self.admin.broker_ids(timeout=self.connect_timeout)
        except BrokerError as exc:
            raise BrokerError(
                f"broker unreachable at {self._bootstrap}: {exc}; check --bootstrap-servers and "
                f"the client properties (--client-property)"
            ) from None
        if not ids:
            raise BrokerError(f"broker unreachable at {self._bootstrap}: no brokers in metadata")
        self._reached = True
        return self

    def stop(self) -> None:
        """Delete the topics and groups of this run (and only those)."""
        if self._admin is None or not self._reached:  # never reached: nothing of ours is there
            self._admin = None
            return
        admin = self._admin
        try:
            for group in admin.groups():
                if group.startswith(self.prefix):
                    admin.delete_group(group)
            for topic in admin.topics():
                if topic.startswith(self.prefix):
                    admin.delete_topic(topic, wait=False)
        except BrokerError:
            pass  # best effort: the cluster may be gone; nothing else is touched
        self._admin = None
