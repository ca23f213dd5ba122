"""policy.judge: detection vs policy, per scenario configuration."""

import pytest

from conformance.checkers.policy import classify, judge
from conformance.checkers.spans import Settings
from conformance.verdicts import Verdict, Violation


def v(anomaly: str) -> Violation:
    return Violation("some-check", anomaly, "S1", "message")


def scenario(reset: str = "earliest", auto: bool = False, processing: str = "in-loop") -> dict:
    return {"config": {"auto_offset_reset": reset, "enable_auto_commit": auto},
            "strategy": {"name": "BATCH", "processing": processing}}


def test_no_violations_pass() -> None:
    assert judge("no-loss", [], scenario()) == (Verdict.PASS, "")


def test_key_order_across_growth_is_always_allowed_and_named() -> None:
    verdict, note = judge("order", [v("key-order-across-growth")] * 2, scenario())
    assert verdict == Verdict.PASS
    assert "allowed: key-order-across-growth x2" in note and "S9" in note


def test_loss_before_first_assignment_is_a_hazard_only_under_latest() -> None:
    assert judge("no-loss", [v("lost-before-first-assignment")], scenario("latest"))[0] \
        == Verdict.HAZARD
    assert judge("no-loss", [v("lost-before-first-assignment")], scenario("earliest"))[0] \
        == Verdict.FAIL


def test_commit_beyond_processed_is_a_hazard_under_auto_commit() -> None:
    verdict, note = judge("commit-validity", [v("commit-beyond-processed")], scenario(auto=True))
    assert verdict == Verdict.HAZARD and "librdkafka" in note and "S4" in note
    assert judge("commit-validity", [v("commit-beyond-processed")], scenario())[0] \
        == Verdict.FAIL


@pytest.mark.parametrize("anomaly", ["lost", "skip", "nonmonotonic", "commit-beyond-processed"])
def test_pool_processing_makes_loss_and_reordering_hazards(anomaly: str) -> None:
    verdict, note = judge("x", [v(anomaly)], scenario(processing="pool"))
    assert verdict == Verdict.HAZARD and "S6" in note
    assert judge("x", [v(anomaly)], scenario(processing="per-partition"))[0] == Verdict.FAIL


def test_pool_processing_does_not_excuse_other_anomalies() -> None:
    assert judge("x", [v("duplicate-without-cause")], scenario(processing="pool"))[0] \
        == Verdict.FAIL


def test_any_failing_violation_fails_and_the_note_lists_every_kind() -> None:
    violations = [v("lost-before-first-assignment"), v("lost"), v("key-order-across-growth")]
    verdict, note = judge("no-loss", violations, scenario("latest"))
    assert verdict == Verdict.FAIL
    assert note.startswith("failed: lost x1")
    assert "hazard: lost-before-first-assignment x1" in note and "allowed:" in note


def test_missing_configuration_gets_kafka_defaults() -> None:
    s = Settings.from_scenario({})
    assert (s.auto_offset_reset, s.enable_auto_commit, s.strategy, s.bound, s.processing) == (
        "latest", True, "auto", None, "in-loop")
    assert Settings.from_scenario({"config": {"enable_auto_commit": False}}).strategy == "BATCH"
    assert classify("commit-beyond-processed", Settings.from_scenario(None))[0] == "hazard"


def test_odd_configuration_values_fall_back_to_defaults() -> None:
    s = Settings.from_scenario({"config": "nonsense", "strategy": {"bound": True},
                                "partitions": "3"})
    assert s.auto_offset_reset == "latest" and s.bound is None and s.partitions is None
    assert Settings.from_scenario({"config": {"auto_offset_reset": "LATEST"}}) \
        .auto_offset_reset == "latest"


def test_a_named_manual_strategy_implies_manual_commit_when_the_config_is_silent() -> None:
    assert Settings.from_scenario({"strategy": {"name": "RECORD"}}).enable_auto_commit is False
    assert Settings.from_scenario({"strategy": {"name": "auto"}}).enable_auto_commit is True
