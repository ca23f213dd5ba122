"""Configuration dimensions drawn per example (conformance/machines/dimensions.py)."""

from conformance.machines import dimensions
from conformance.machines.dimensions import DIMENSIONS, apply
from conformance.strategies import Strategy

BASE = {"max_poll_records": 50, "group_protocol": "classic"}
#: what the Python worker reports beside every adapter's own capabilities
WORKER = {"commit_without_offsets": True}


def test_the_first_example_keeps_the_configuration() -> None:
    config, strategy, drawn = apply(BASE, Strategy.parse("BATCH+revoke"), {}, 1)
    assert config == BASE and strategy == Strategy.parse("BATCH+revoke") and drawn == {}


def test_a_clients_twelve_ci_examples_reach_every_value_of_every_dimension() -> None:
    seen: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    for number in range(1, 12):
        _config, _strategy, drawn = apply(BASE, Strategy.parse("BATCH"), {}, number,
                                          capabilities=WORKER)
        for d, name in drawn.items():
            seen[d].add(name)
    for d, values in DIMENSIONS.items():
        assert seen[d] == {v.name for v in values if v.name != "spec"}, d


def test_a_drawn_value_sets_config_and_strategy() -> None:
    names = [v.name for v in DIMENSIONS["commit"]]
    choice = {"commit": names.index("RECORD+async"), "batch": 1, "fetch": 1, "eof": 1}
    config, strategy, drawn = apply(BASE, Strategy.parse("BATCH+revoke"), choice, 1)
    assert strategy.name == "RECORD" and strategy.asynchronous
    assert not strategy.commit_on_revoke
    assert config["max_poll_records"] == 1 and config["partition_eof"] is True
    assert config["max_partition_fetch_bytes"] == 1
    assert drawn == {"commit": "RECORD+async", "batch": "max.poll.records=1",
                     "fetch": "tiny fetches", "eof": "partition EOF events"}


def test_auto_commit_configurations_draw_auto_commit_intervals_only() -> None:
    for number in range(1, 6):
        _config, strategy, drawn = apply(BASE, Strategy.parse("auto"), {}, number)
        assert strategy.auto_commit
        assert drawn.get("commit", "auto").startswith("auto")
    assert dimensions.values("commit", Strategy.parse("auto")) is dimensions.AUTO


def test_a_value_the_client_refuses_is_left_out() -> None:
    """A release without read_committed or an assignor keeps the configuration's own value."""
    asked: list[dict] = []

    def supported(config: dict) -> bool:
        asked.append(config)
        return config.get("assignment_strategy") != "cooperative-sticky"

    choice = {"isolation": 1, "assignor": 2}
    config, _strategy, drawn = apply(BASE, Strategy.parse("BATCH"), choice, 1, supported)
    assert drawn == {"isolation": "read_committed"}
    assert config["isolation_level"] == "read_committed" and "assignment_strategy" not in config
    assert {"assignment_strategy": "cooperative-sticky", **BASE} in asked


def test_client_side_assignors_are_not_drawn_under_the_consumer_protocol() -> None:
    base = {**BASE, "group_protocol": "consumer"}
    for number in range(1, 10):
        _config, _strategy, drawn = apply(base, Strategy.parse("BATCH"), {}, number)
        assert "assignor" not in drawn


def test_a_value_equal_to_the_configuration_is_not_drawn() -> None:
    base = {**BASE, "assignment_strategy": "roundrobin"}
    _config, _strategy, drawn = apply(base, Strategy.parse("BATCH"), {"assignor": 1}, 1)
    assert "assignor" not in drawn


def test_a_manual_configuration_can_draw_auto_commit() -> None:
    names = [v.name for v in DIMENSIONS["commit"]]
    config, strategy, drawn = apply(BASE, Strategy.parse("BATCH+revoke"),
                                    {"commit": names.index("auto@200ms")}, 1)
    assert strategy.auto_commit and not strategy.commit_on_revoke
    assert config["auto_commit_interval_ms"] == 200 and drawn["commit"] == "auto@200ms"


def test_commit_without_offsets_is_drawn_only_for_workers_that_have_it() -> None:
    """A native worker without ``commit_without_offsets`` keeps explicit offsets; the draw
    keeps the configuration's commit strategy (it only adds the form of the commit)."""
    revoke = Strategy.parse("BATCH+revoke")
    _config, strategy, drawn = apply(BASE, revoke, {"offsets": 1}, 1)
    assert "offsets" not in drawn and strategy.explicit
    _config, strategy, drawn = apply(BASE, revoke, {"offsets": 1}, 1, capabilities=WORKER)
    assert drawn == {"offsets": "commit()"}
    assert not strategy.explicit and strategy.commit_on_revoke and strategy.name == "BATCH"
    assert "explicit" in strategy.to_json() and "explicit" not in revoke.to_json()


def test_commit_without_offsets_is_not_drawn_under_auto_commit_or_a_pool() -> None:
    names = [v.name for v in DIMENSIONS["commit"]]
    auto = {"commit": names.index("auto@200ms"), "offsets": 1}
    assert "offsets" not in apply(BASE, Strategy.parse("BATCH"), auto, 1,
                                  capabilities=WORKER)[2]
    assert "offsets" not in apply(BASE, Strategy.parse("BATCH+pool"), {"offsets": 1}, 1,
                                  capabilities=WORKER)[2]
