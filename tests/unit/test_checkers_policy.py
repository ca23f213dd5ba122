"""policy.judge: detection vs policy, per scenario configuration, measured per violation."""

import pytest
from histories import H

from conformance.checkers import run_checks
from conformance.checkers.policy import HAZARDS, classify, judge
from conformance.checkers.spans import Settings
from conformance.verdicts import Verdict, Violation


def v(anomaly: str) -> Violation:
    return Violation("some-check", anomaly, "S1", "message")


def scenario(reset: str = "earliest", auto: bool = False, processing: str = "in-loop") -> dict:
    return {"config": {"auto_offset_reset": reset, "enable_auto_commit": auto},
            "strategy": {"name": "BATCH", "processing": processing}}


def verdict(h: H, check: str) -> tuple[Verdict, str]:
    [result] = run_checks(h.build(), only=[check])
    return result.verdict, result.note


def test_no_violations_pass() -> None:
    assert judge("no-loss", [], scenario()) == (Verdict.PASS, "")


def test_key_order_across_growth_is_always_allowed_and_named() -> None:
    verdict_, note = judge("order", [v("key-order-across-growth")] * 2, scenario())
    assert verdict_ == Verdict.PASS
    assert "allowed: key-order-across-growth x2" in note and "S9" in note


def test_loss_before_first_assignment_is_a_hazard_only_under_latest() -> None:
    assert judge("no-loss", [v("lost-before-first-assignment")], scenario("latest"))[0] \
        == Verdict.HAZARD
    assert judge("no-loss", [v("lost-before-first-assignment")], scenario("earliest"))[0] \
        == Verdict.FAIL


def test_a_hazard_that_must_be_measured_fails_without_the_history() -> None:
    verdict_, note = judge("commit-validity", [v("commit-beyond-processed")],
                           scenario(auto=True))
    assert verdict_ == Verdict.FAIL and "not measured" in note


def test_any_failing_violation_fails_and_the_note_lists_every_kind() -> None:
    violations = [v("lost-before-first-assignment"), v("lost"), v("key-order-across-growth")]
    verdict_, note = judge("no-loss", violations, scenario("latest"))
    assert verdict_ == Verdict.FAIL
    assert note.startswith("failed: lost x1")
    assert "hazard: lost-before-first-assignment x1" in note and "allowed:" in note


def test_missing_configuration_gets_kafka_defaults() -> None:
    s = Settings.from_scenario({})
    assert (s.auto_offset_reset, s.enable_auto_commit, s.strategy, s.bound, s.processing) == (
        "latest", True, "auto", None, "in-loop")
    assert Settings.from_scenario({"config": {"enable_auto_commit": False}}).strategy == "BATCH"
    defaults = Settings.from_scenario(None)
    assert any(r.applies(defaults) for r in HAZARDS if "commit-beyond-processed" in r.anomalies)
    assert classify(v("duplicate-without-cause"), defaults)[0] == "fail"


def test_odd_configuration_values_fall_back_to_defaults() -> None:
    s = Settings.from_scenario({"config": "nonsense", "strategy": {"bound": True},
                                "partitions": "3"})
    assert s.auto_offset_reset == "latest" and s.bound is None and s.partitions is None
    assert Settings.from_scenario({"config": {"auto_offset_reset": "LATEST"}}) \
        .auto_offset_reset == "latest"


def test_a_named_manual_strategy_implies_manual_commit_when_the_config_is_silent() -> None:
    assert Settings.from_scenario({"strategy": {"name": "RECORD"}}).enable_auto_commit is False


# -- S4: auto commit, measured ------------------------------------------------------------------
def auto_crash(auto_commit: bool = True, mode: str = "auto", commit: int = 10) -> H:
    """m1 polls 0..9, processes 0..4, an auto commit covers the poll, m1 is SIGKILLed; m2
    resumes at the committed offset: 5..9 are lost."""
    return (H().scenario(auto_commit=auto_commit, strategy="auto").produce(0, range(12))
            .started("m1").assigned("m1", 0).polled("m1", 0, range(10))
            .processed("m1", 0, range(5)).committed("m1", {0: commit}, mode=mode)
            .killed("m1").started("m2").assigned("m2", 0).consumed("m2", 0, range(commit, 12)))


def test_auto_commit_loss_of_polled_records_of_a_killed_member_is_a_hazard() -> None:
    verdict_, note = verdict(auto_crash(), "no-loss")
    assert verdict_ == Verdict.HAZARD and "S4" in note


def test_the_same_loss_fails_without_auto_commit() -> None:
    assert verdict(auto_crash(auto_commit=False, mode="batch"), "no-loss")[0] == Verdict.FAIL


def test_loss_under_auto_commit_not_covered_by_an_auto_commit_fails() -> None:
    h = auto_crash(mode="sync")
    verdict_, note = verdict(h, "no-loss")
    assert verdict_ == Verdict.FAIL and "no auto commit of the killed member covered" in note


def test_auto_commit_loss_with_the_auto_commit_unreported_before_the_kill_is_a_hazard() -> None:
    """The kill may land between the background auto commit and its report: the same S4
    loss, with no acknowledgement in the history."""
    h = (H().scenario(auto_commit=True, strategy="auto").produce(0, range(12))
         .started("m1").assigned("m1", 0).polled("m1", 0, range(10))
         .processed("m1", 0, range(5)).killed("m1").started("m2").assigned("m2", 0)
         .consumed("m2", 0, range(10, 12)))
    verdict_, note = verdict(h, "no-loss")
    assert verdict_ == Verdict.HAZARD and "S4" in note


def test_auto_commit_loss_of_records_never_polled_fails() -> None:
    """A client that drops records: they were never handed to the application."""
    h = (H().scenario(auto_commit=True, strategy="auto").produce(0, range(10))
         .started("m1").assigned("m1", 0).consumed("m1", 0, [o for o in range(10) if o % 7])
         .committed("m1", {0: 10}, mode="auto").stopped("m1"))
    verdict_, note = verdict(h, "no-loss")
    assert verdict_ == Verdict.FAIL
    assert "beyond the documented hazard" in note and "never polled by any member" in note


def test_auto_commit_loss_of_a_member_that_was_not_killed_fails() -> None:
    h = (H().scenario(auto_commit=True, strategy="auto").produce(0, range(10))
         .started("m1").assigned("m1", 0).polled("m1", 0, range(10))
         .processed("m1", 0, range(5)).committed("m1", {0: 10}, mode="auto").stopped("m1"))
    verdict_, note = verdict(h, "no-loss")
    assert verdict_ == Verdict.FAIL and "not killed" in note


def test_one_record_beyond_the_hazard_fails_the_whole_partition() -> None:
    h = auto_crash().produce(0, 12)  # 12 is never delivered to anyone
    verdict_, note = verdict(h, "no-loss")
    assert verdict_ == Verdict.FAIL and "1 of 6 record(s) beyond it" in note


def test_auto_commit_beyond_the_polled_position_fails() -> None:
    h = (H().scenario(auto_commit=True, strategy="auto").produce(0, range(10))
         .assigned("m1", 0).polled("m1", 0, range(5)).processed("m1", 0, range(3))
         .committed("m1", {0: 5}, mode="auto"))
    assert verdict(h, "commit-validity")[0] == Verdict.HAZARD
    h.committed("m1", {0: 9}, mode="auto")
    verdict_, note = verdict(h, "commit-validity")
    assert verdict_ == Verdict.FAIL and "polled position 5" in note


def test_observed_offset_beyond_every_poll_fails_under_auto_commit() -> None:
    h = (H().scenario(auto_commit=True).produce(0, range(10))
         .assigned("m1", 0).polled("m1", 0, range(6)).processed("m1", 0, range(4))
         .add("group_offsets", offsets=[["t", 0, 6]]))
    assert verdict(h, "commit-validity")[0] == Verdict.HAZARD
    h.add("group_offsets", offsets=[["t", 0, 10]])
    assert verdict(h, "commit-validity")[0] == Verdict.FAIL



def stores_processed(h: H, member: str = "m1") -> H:
    """``member``'s client commits only offsets stored after processing (its ready event)."""
    return h.add("ready", source=member, adapter="x:stored",
                 capabilities={"stores_processed": True})


def test_a_client_that_commits_stored_offsets_only_gets_no_auto_commit_hazard() -> None:
    """S4's hazard is a client that stores on poll; one that stores processed offsets only
    (librdkafka with enable.auto.offset.store=false) and still commits polled ones fails."""
    h = (H().scenario(auto_commit=True, strategy="auto").produce(0, range(10)))
    stores_processed(h).assigned("m1", 0).polled("m1", 0, range(5)).processed(
        "m1", 0, range(3)).committed("m1", {0: 5}, mode="auto")
    verdict_, note = verdict(h, "commit-validity")
    assert verdict_ == Verdict.FAIL and "stores_processed" in note
    lost = stores_processed(auto_crash(), "m1")
    verdict_, note = verdict(lost, "no-loss")
    assert verdict_ == Verdict.FAIL and "stores_processed" in note


def test_an_observed_group_offset_is_measured_on_members_that_store_on_poll() -> None:
    h = (H().scenario(auto_commit=True).produce(0, range(10)))
    stores_processed(h).assigned("m1", 0).polled("m1", 0, range(6)).processed("m1", 0, range(4))
    h.add("group_offsets", offsets=[["t", 0, 6]])
    verdict_, note = verdict(h, "commit-validity")
    assert verdict_ == Verdict.FAIL and "stores offsets on poll" in note
    h = (H().scenario(auto_commit=True).produce(0, range(10)))
    stores_processed(h, "m2").assigned("m1", 0).polled("m1", 0, range(6)).processed(
        "m1", 0, range(4)).add("group_offsets", offsets=[["t", 0, 6]])
    assert verdict(h, "commit-validity")[0] == Verdict.HAZARD

# -- S6: a worker pool, measured ----------------------------------------------------------------
def pool_crash(processing: str = "pool") -> H:
    """m1 polls 0..5 and commits the poll before its workers finish; killed with 2 and 4 not
    finished; m2 resumes at 6."""
    return (H().scenario(processing=processing).produce(0, range(8))
            .started("m1").assigned("m1", 0).polled("m1", 0, range(6))
            .committed("m1", {0: 6}, mode="batch").processed("m1", 0, 0, 1, 3, 5)
            .killed("m1").started("m2").assigned("m2", 0).consumed("m2", 0, 6, 7))


@pytest.mark.parametrize("check", ["no-loss", "order"])
def test_pool_loss_and_reordering_within_the_explanation_are_hazards(check: str) -> None:
    verdict_, note = verdict(pool_crash(), check)
    assert verdict_ == Verdict.HAZARD and "S6" in note


def test_pool_loss_covered_by_a_commit_request_without_outcome_is_a_hazard() -> None:
    h = (H().scenario(processing="pool").produce(0, range(4))
         .started("m1").assigned("m1", 0).polled("m1", 0, range(4))
         .commit_requested("m1", {0: 4}, "batch").processed("m1", 0, 0, 1).killed("m1"))
    assert verdict(h, "no-loss")[0] == Verdict.HAZARD


def test_pool_does_not_excuse_loss_of_records_nobody_polled() -> None:
    h = pool_crash().produce(0, 8)
    assert verdict(h, "no-loss")[0] == Verdict.FAIL


def test_pool_does_not_excuse_a_skip_over_records_never_polled() -> None:
    h = (H().scenario(processing="pool").produce(0, range(6))
         .assigned("m1", 0).polled("m1", 0, 0, 1, 4, 5).processed("m1", 0, 0, 1, 4, 5))
    verdict_, note = verdict(h, "order")
    assert verdict_ == Verdict.FAIL and "never polled by the member" in note


def test_pool_processing_does_not_excuse_other_anomalies() -> None:
    assert judge("x", [v("duplicate-without-cause")], scenario(processing="pool"))[0] \
        == Verdict.FAIL
    assert verdict(pool_crash("per-partition"), "no-loss")[0] == Verdict.FAIL


# -- the S4 fixed scenario's verdict on hand-made histories -------------------------------------
def s4_run(drop_every_7th: bool = False) -> H:
    """m1 polls 0..9 (auto commit on), processes 0..4, an auto commit covers 0..9, m1 is
    SIGKILLed; m2 and the drain read on. With ``drop_every_7th`` the client hands over only
    six of every seven records (broken_adapters.LosesUnderAutoCommit)."""
    handed = [o for o in range(10) if not drop_every_7th or (o + 1) % 7]
    later = [o for o in range(10, 20) if not drop_every_7th or (o + 1) % 7]
    return (H().scenario(auto_commit=True, strategy="auto").produce(0, range(20))
            .started("m1").assigned("m1", 0).polled("m1", 0, handed)
            .processed("m1", 0, handed[:5]).committed("m1", {0: 10}, mode="auto").killed("m1")
            .started("m2").assigned("m2", 0).consumed("m2", 0, later)
            .committed("m2", {0: 20}, mode="auto").stopped("m2")
            .drain_finished("drain", complete=True, joined=True))


def test_s4_reports_the_documented_loss_as_a_measured_hazard() -> None:
    from conformance.scenarios.commits import judge_auto_commit_crash

    verdict_, note, figures = judge_auto_commit_crash(s4_run().build(), landed=True)
    assert verdict_ == Verdict.HAZARD and figures["lost"] == 5
    assert figures["no_loss"] == "hazard" and "S4" in note


def test_s4_fails_a_client_that_silently_drops_records() -> None:
    from conformance.scenarios.commits import judge_auto_commit_crash

    verdict_, note, figures = judge_auto_commit_crash(s4_run(drop_every_7th=True).build(),
                                                     landed=True)
    assert verdict_ == Verdict.FAIL and figures["no_loss"] == "fail"
    assert "beyond what S4 explains" in note and "never polled by any member" in note
