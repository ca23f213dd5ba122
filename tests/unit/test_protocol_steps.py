"""The ``protocol`` step family: its catalog agrees with the proxy's protocol layer, its steps
are in the one step table, their labels read well, resolvers pick pairs the member's group
protocol meets, and only the dev and thorough profiles draw it (issue 21)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.broker.base import Broker
from conformance.faults import catalog
from conformance.faults import protocol as P
from conformance.faults.proxy import FaultProxy, ProxySet
from conformance.machines import steps
from conformance.matrix import HELD_BACK, fault_families, specs_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "faults.md"
PROTOCOL_STEPS = ("fail_next", "lose_next_response", "slow_api")


# -- the catalog -------------------------------------------------------------------------------
def test_every_pair_names_an_api_and_an_error_the_protocol_layer_knows() -> None:
    for e in catalog.ERRORS:
        assert P.api_name(P.api_key(e.api)) == e.api, e
        assert P.error_name(P.error_code(e.error)) == e.error, e
        fault = P.ProtocolFault(e.api, "error", e.error)
        assert (fault.api, fault.error) == (e.api, e.error)


def test_kio_can_answer_every_pair_in_some_version() -> None:
    for e in catalog.ERRORS:
        fault = P.ProtocolFault(e.api, "error", e.error)
        assert any(P.supports(fault, P.api_key(e.api), v) is None for v in range(20)), e


def test_the_catalog_is_one_row_per_pair_with_a_reason_and_a_source() -> None:
    pairs = [(e.api, e.error) for e in catalog.ERRORS]
    assert len(pairs) == len(set(pairs))
    for e in catalog.ERRORS:
        assert e.correct and e.sources and set(e.protocols) <= set(catalog.BOTH), e
        assert e.drawn or e.why_not_drawn, e
        assert catalog.find(e.api, e.error) is e
    for apis in (*catalog.LOSE_APIS.values(), *catalog.SLOW_APIS.values()):
        for api in apis:
            P.api_key(api)


def test_heartbeats_follow_the_group_protocol() -> None:
    classic = {e.api for e in catalog.errors_for("classic")}
    consumer = {e.api for e in catalog.errors_for("consumer")}
    assert {"Heartbeat", "JoinGroup", "SyncGroup"} <= classic
    assert "ConsumerGroupHeartbeat" not in classic
    assert "ConsumerGroupHeartbeat" in consumer
    assert not {"Heartbeat", "JoinGroup", "SyncGroup"} & consumer
    assert "Heartbeat" in catalog.LOSE_APIS["classic"]
    assert "ConsumerGroupHeartbeat" in catalog.LOSE_APIS["consumer"]


def test_pairs_that_would_fail_a_correct_client_are_not_drawn() -> None:
    assert not catalog.find("Fetch", "OFFSET_OUT_OF_RANGE").drawn  # type: ignore[union-attr]
    drawn = {(e.api, e.error) for p in catalog.BOTH for e in catalog.errors_for(p)}
    assert ("Fetch", "OFFSET_OUT_OF_RANGE") not in drawn
    assert ("OffsetCommit", "REBALANCE_IN_PROGRESS") in drawn


def test_the_docs_show_the_catalog() -> None:
    assert catalog.markdown_table() in DOCS.read_text()


# -- the steps ---------------------------------------------------------------------------------
def test_the_steps_are_in_the_table_in_the_protocol_family() -> None:
    assert "protocol" in steps.FAMILIES
    for name in PROTOCOL_STEPS:
        step = steps.get(name)
        assert step.family == "protocol" and step.needs_member and step.run.__doc__


@pytest.mark.parametrize(("name", "args", "label"), [
    ("fail_next", {"member": "m1", "api": "OffsetCommit", "error": "REBALANCE_IN_PROGRESS",
                   "count": 1}, "fail m1's next OffsetCommit with REBALANCE_IN_PROGRESS"),
    ("fail_next", {"member": "m2", "api": "Heartbeat", "error": "ILLEGAL_GENERATION",
                   "count": 3}, "fail m2's next 3 Heartbeat requests with ILLEGAL_GENERATION"),
    ("lose_next_response", {"member": "m1", "api": "OffsetCommit"},
     "lose the response to m1's next OffsetCommit"),
    ("slow_api", {"member": "m1", "api": "Fetch", "delay_ms": 500, "seconds": 2},
     "delay m1's Fetch responses by 500 ms for 2 s"),
])
def test_labels_read_well(name: str, args: dict[str, Any], label: str) -> None:
    assert steps.get(name).describe(args) == label


def scenario(protocol: str, members: dict[str, bool], families: tuple[str, ...] = (
        "core", "protocol"), proxied: bool = True) -> Any:
    """A stand-in Scenario: live members (name -> can unsubscribe), a group protocol."""
    workers = {m: SimpleNamespace(info={"capabilities": {"unsubscribe": able}})
               for m, able in members.items()}
    faults = SimpleNamespace(group_protocol=protocol, protocol_available=proxied)
    harness = SimpleNamespace(live=lambda: list(members), workers=workers, faults=faults)
    return SimpleNamespace(h=harness, families=families)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_fail_next_draws_the_pairs_of_the_group_protocol(protocol: str) -> None:
    sc = scenario(protocol, {"m1": True, "m2": False})
    step = steps.get("fail_next")
    drawn = [step.resolve(sc, {"i": i, "pair": p, "count": 2}) for i in range(2)
             for p in range(64)]
    pairs = {(a["api"], a["error"]) for a in drawn if a is not None}
    assert pairs == {(e.api, e.error) for e in catalog.errors_for(protocol)}
    # a member that cannot unsubscribe gets no pair that needs a rejoin
    assert not any(catalog.PROVOKE.get(a["api"]) == "rejoin" for a in drawn
                   if a is not None and a["member"] == "m2")
    assert all(a is not None and a["count"] == 2 for a in drawn)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_lose_and_slow_draw_the_apis_of_the_group_protocol(protocol: str) -> None:
    sc = scenario(protocol, {"m1": True})
    lose = {steps.get("lose_next_response").resolve(sc, {"i": 0, "api": a})["api"]
            for a in range(3)}
    assert lose == set(catalog.LOSE_APIS[protocol])
    slow = steps.get("slow_api").resolve(sc, {"i": 0, "api": 2, "delay_ms": 200, "seconds": 1})
    assert slow == {"member": "m1", "api": catalog.SLOW_APIS[protocol][2], "delay_ms": 200,
                    "seconds": 1}


def test_the_steps_need_the_family_and_proxies() -> None:
    for name in PROTOCOL_STEPS:
        step = steps.get(name)
        assert step.enabled(scenario("classic", {"m1": True}))
        assert not step.enabled(scenario("classic", {"m1": True}, families=("core",)))
        assert not step.enabled(scenario("classic", {"m1": True}, proxied=False))
        assert not step.enabled(scenario("classic", {}))


# -- gating ------------------------------------------------------------------------------------
class FakeBroker(Broker):
    """A broker that never starts: its proxies (unstarted) and node count are what it says."""

    def __init__(self, proxies: ProxySet | None, nodes: int = 1, restarts: bool = False) -> None:
        super().__init__()
        self._proxies, self._nodes, self.restarts_nodes = proxies, nodes, restarts

    def start(self) -> Broker:
        return self

    def stop(self) -> None:
        pass

    @property
    def bootstrap_servers(self) -> str:
        return "127.0.0.1:1"

    @property
    def nodes(self) -> int:
        return self._nodes

    @property
    def faults(self) -> ProxySet | None:
        return self._proxies


def proxies(protocol: bool) -> ProxySet:
    return ProxySet([FaultProxy(("127.0.0.1", 9), protocol=protocol)])


def test_a_proxied_broker_allows_the_protocol_family() -> None:
    assert fault_families(FakeBroker(proxies(True))) == ("zombie", "network", "protocol")
    assert "protocol" not in fault_families(FakeBroker(proxies(False)))
    assert fault_families(FakeBroker(None)) == ("zombie",)
    assert fault_families(None) == ("zombie",)


def test_only_a_provider_that_restarts_nodes_allows_failover_and_on_three_nodes() -> None:
    assert "broker" in fault_families(FakeBroker(None, nodes=3, restarts=True))
    assert "broker" not in fault_families(FakeBroker(None, nodes=3))
    assert "broker" not in fault_families(FakeBroker(None, nodes=1, restarts=True))


@pytest.mark.parametrize(("profile", "drawn"), [("smoke", False), ("ci", False), ("dev", True),
                                                ("thorough", True)])
def test_only_dev_and_thorough_draw_protocol_faults(profile: str, drawn: bool) -> None:
    families = ("zombie", "network", "protocol")
    specs = specs_for("confluent-kafka", ("classic", "consumer"), profile, families)
    assert specs
    for spec in specs:
        assert ("protocol" in spec.faults) is drawn
        assert ("protocol" in spec.families) is drawn
        assert {"zombie", "network"} <= set(spec.faults)  # the other families as before
    assert ("protocol" in HELD_BACK.get(profile, ())) is not drawn
