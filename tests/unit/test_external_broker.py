"""An external cluster that start() never reached is not touched again by stop()."""

from __future__ import annotations

import pytest

from conformance.broker.external import ExternalKafka
from conformance.errors import BrokerError


class Unreachable:
    """An admin client whose cluster never answers; records what was asked of it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def broker_ids(self, timeout: float) -> list[int]:
        self.asked.append("broker_ids")
        raise BrokerError("cannot reach 127.0.0.1:1")

    def groups(self) -> list[str]:
        self.asked.append("groups")
        return []

    def topics(self) -> list[str]:
        self.asked.append("topics")
        return []


class Reached(Unreachable):
    def broker_ids(self, timeout: float) -> list[int]:
        self.asked.append("broker_ids")
        return [1]


def test_stop_after_a_failed_start_asks_the_cluster_nothing() -> None:
    broker = ExternalKafka("127.0.0.1:1", prefix="kc-test")
    admin = broker._admin = Unreachable()  # type: ignore[assignment]
    with pytest.raises(BrokerError, match="broker unreachable"):
        broker.start()
    broker.stop()
    assert admin.asked == ["broker_ids"]


def test_stop_after_a_start_cleans_up_the_runs_own_names() -> None:
    broker = ExternalKafka("127.0.0.1:1", prefix="kc-test")
    admin = broker._admin = Reached()  # type: ignore[assignment]
    broker.start()
    broker.stop()
    assert admin.asked == ["broker_ids", "groups", "topics"]
