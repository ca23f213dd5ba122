"""Undocumented failures seen on current client releases (issue "Trust"), judged again on
their very histories (``tests/unit/triage/``, copied from the runs that showed them).

Each test states the decision: a bug of the suite (the history now passes, and a hand-made
variant shows the check still catches the real thing) or a documented behaviour / client
finding (the verdict the policy or the baseline gives it).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conformance.checkers import run_checks
from conformance.checkers.group_offsets import GroupOffsets
from conformance.checkers.outages import isolations
from conformance.history import History
from conformance.report.baseline import Baseline
from conformance.scenarios.commits import judge_removal
from conformance.scenarios.offsets import reset_violation
from conformance.verdicts import CheckResult, ClientResult, Verdict, Violation

HERE = Path(__file__).parent / "triage"
ROOT = Path(__file__).parents[2]


def judged(name: str) -> dict[str, CheckResult]:
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    return {r.check: r for r in run_checks(history)}


def covered(cell: CheckResult, client: str, version: str, protocol: str) -> bool:
    """Whether the project's baseline names ``cell`` for that client, release and protocol."""
    baseline = Baseline.load(ROOT / "baselines" / "known-deviations.toml")
    entry = ClientResult(client, client, version, checks=[cell], protocol=protocol)
    return baseline.match(entry, cell) is not None


def verdicts(name: str) -> dict[str, Verdict]:
    return {check: r.verdict for check, r in judged(name).items()}


def test_seed8_a_commit_requested_before_sigstop_took_hold_is_a_late_answer() -> None:
    """java, consumer protocol, seed 8: the JVM ran on 16 ms after the harness sent SIGSTOP
    and requested its commit then; the broker applied it before the session timed out and
    the thawed member read the answer. The freeze ends when SIGCONT is sent, not when SIGSTOP
    was (a suite bug: the request was taken for one made after the thaw)."""
    history = History.from_jsonl(HERE / "java-consumer-zombie-commit-seed8.jsonl")
    [iso] = isolations(history)
    request = history.events[311]
    assert request.type == "commit_requested" and request.ts > iso.began.ts
    assert not iso.after(request) and iso.before_end(request)
    results = judged("java-consumer-zombie-commit-seed8")
    zombie = results["zombie-fencing"]
    assert "zombie-commit-accepted" not in {v.anomaly for v in zombie.violations}
    assert zombie.verdict == Verdict.HAZARD
    assert all(v != Verdict.FAIL for v in verdicts("java-consumer-zombie-commit-seed8").values())


def test_seed12_reads_before_the_first_heartbeat_after_the_thaw_is_answered_are_a_hazard() -> None:
    """java, consumer protocol, seed 12: two polls returned partition 0 after the thaw (what
    was buffered, then what a prefetch sent after the thaw returned), 0.03 s and 0.21 s after
    it; onPartitionsLost ran 0.36 s after it. kafka-clients fences a member only on its
    heartbeat's answer and keeps fetching its partitions until the callback completes
    (AbstractHeartbeatRequestManager, FetchRequestManager): documented S8 behaviour within two
    heartbeat intervals (2 x 500 ms here)."""
    results = judged("java-consumer-zombie-read-seed12")
    zombie = results["zombie-fencing"]
    reads = [v for v in zombie.violations if v.anomaly == "zombie-read"]
    assert max(v.details["polls"] for v in reads) == 2
    assert all(v.details["last_seconds_after_end"] < 1.0 for v in reads)
    assert zombie.verdict == Verdict.HAZARD, zombie.note
    assert all(v != Verdict.FAIL for v in verdicts("java-consumer-zombie-read-seed12").values())


def test_seed14_an_auto_commit_of_pre_fence_positions_after_the_rejoin_is_still_caught() -> None:
    """java, consumer protocol, auto commit, seed 14: the member heard it was fenced (lost),
    then an auto commit of its pre-fence positions (0 at 13; after the rejoin, with no commit,
    its position would be 0) was acknowledged before the application was assigned the
    partitions again. A client finding (docs/findings.md 15), not a suite bug: the check keeps
    failing it, and the baseline names it for the Java client."""
    results = judged("java-consumer-auto-commit-unowned-seed14")
    commits = results["commit-validity"]
    assert commits.verdict == Verdict.FAIL
    assert {v.anomaly for v in commits.violations} == {"commit-unowned-partition"}
    [zero] = [v for v in commits.violations if v.details["partition"] == 0]
    assert zero.details["committed"] == 13 and zero.details["mode"] == "auto"


@pytest.mark.parametrize("case", ["java-consumer-auto-commit-unowned-seed14",
                                  "java-consumer-auto-commit-unowned-seed8-soak"])
def test_finding15_the_baseline_names_it_for_the_java_client_under_the_consumer_protocol(
        case: str) -> None:
    """Seed 14, and seed 8 of a later run (auto commit every 200 ms): the same pattern."""
    commits = judged(case)["commit-validity"]
    assert {v.anomaly for v in commits.violations} == {"commit-unowned-partition"}
    [zero] = [v for v in commits.violations if v.details["partition"] == 0]
    assert zero.details["committed"] == 13 and zero.details["mode"] == "auto"
    assert covered(commits, "java", "4.3.1", "consumer")
    assert not covered(commits, "java", "4.3.1", "classic")



def test_seed11_an_auto_commit_written_but_not_reported_before_a_kill_is_a_possible_start() -> None:
    """confluent-kafka, classic, auto commit every 200 ms, seed 11: m1 polled 0..12 of
    partition 0 and 0..6 of partition 1 and was SIGKILLed before librdkafka served the
    commit's callback; the drain started at 13 and 7, m1's positions. A suite bug: those
    positions are possible committed offsets."""
    assert all(v != Verdict.FAIL
               for v in verdicts("confluent-kafka-start-after-committed-seed11").values())


@pytest.mark.parametrize("case", ["java-consumer-zombie-commit-seed8",
                                  "java-consumer-zombie-read-seed12",
                                  "confluent-kafka-start-after-committed-seed11"])
def test_no_check_is_undecided_on_the_triaged_histories(case: str) -> None:
    assert Verdict.UNKNOWN not in verdicts(case).values()


def test_seed11_s5_the_async_commit_is_judged_by_its_outcome_not_by_its_request() -> None:
    """kafka-python, S5-commit-after-removal, seed 11 with --jobs 6: the sync commit failed
    with CommitFailed; the async commit's callback error came only when m1 was closed, after
    the scenario's one 0.5 s poll, which had read the accepted request as the outcome (a suite
    bug). Judged from the history, the async commit failed: pass."""
    history = History.from_jsonl(HERE / "kafka-python-S5-commit-after-removal-seed11.jsonl")
    requests = {"sync": "error commit-failed", "async": "requested"}
    verdict = judge_removal(history, requests)
    assert verdict.verdict == Verdict.PASS, verdict.note
    assert verdict.figures["async"].startswith("callback error commit-failed")


def test_s5_an_async_outcome_that_never_arrives_is_unknown_and_an_accepted_one_fails() -> None:
    history = History.from_jsonl(HERE / "kafka-python-S5-commit-after-removal-seed11.jsonl")
    without = History([e for e in history.events
                       if not (e.type == "committed" and e.data.get("mode") == "async")])
    requests = {"sync": "error commit-failed", "async": "requested"}
    undecided = judge_removal(without, requests)
    assert undecided.verdict == Verdict.UNKNOWN and "never arrived" in undecided.note
    accepted = History([*without.events])
    accepted.append("committed", "m1", accepted.events[-1].ts + 0.1, mode="async", ok=True,
                    offsets=[[history.scenario()["topic"], 0, 5]], error=None)
    failed = judge_removal(accepted, requests)
    assert failed.verdict == Verdict.FAIL and "async ok" in failed.note
    assert [v.anomaly for v in failed.violations] == ["commit-after-removal"]
    sync_accepted = judge_removal(without, {"sync": "accepted", "async": "requested"})
    assert sync_accepted.verdict == Verdict.FAIL and "sync accepted" in sync_accepted.note


def test_soak_seed3_an_observation_asked_before_an_acknowledgement_may_not_show_it() -> None:
    """java, consumer protocol, soak seed 3: the harness's group_offsets answer (recorded 4 ms
    after m1's acknowledgement of 1 at 3) held 2. The question takes a metadata request, a
    coordinator lookup and an OffsetFetch, tens of milliseconds: it was sent before the
    acknowledgement arrived. The harness now records when it asked (``asked``); acks after
    that are not held against the answer (a suite bug)."""
    history = History.from_jsonl(HERE / "java-consumer-offset-regressed-soak-seed3.jsonl")
    observed = history.events[74]
    assert observed.type == "group_offsets" and observed.ts - history.events[72].ts < 0.005
    assert judged("java-consumer-offset-regressed-soak-seed3")["commit-validity"].verdict \
        == Verdict.FAIL  # as recorded then, without 'asked'
    asked = History([*history.events[:74],
                     replace(observed, data={**observed.data, "asked": observed.ts - 0.02}),
                     *history.events[75:]])
    commits = {r.check: r for r in run_checks(asked)}["commit-validity"]
    assert commits.verdict == Verdict.PASS, commits.note


def test_soak_seed7_a_new_owner_waiting_while_another_member_is_cut_off_is_no_stall() -> None:
    """confluent-kafka, classic, cooperative-sticky, soak seed 7 (run at a commit before
    379e604): m2 was given partition 0 at 4.78 s and read nothing of it for 5.09 s, while m1's
    connections were cut (4.86 s to 9.87 s) and the group rebalanced around it (m1's partitions
    lost at 6.79 s). The group waits on an isolated member: any member's isolation is time no
    member is expected to progress in (a suite bug: only the isolated member's own counted)."""
    history = History.from_jsonl(HERE / "confluent-kafka-progress-soak-seed7.jsonl")
    assert any(e.type == "network_fault" and e.data["member"] == "m1" for e in history.events)
    assert judged("confluent-kafka-progress-soak-seed7")["progress"].verdict == Verdict.PASS


def test_soak_seed8_kafka_pythons_rejoin_stall_in_the_reset_matrix_is_finding_2() -> None:
    """kafka-python 3.0.12, S2-reset-matrix, soak seed 8: in earliest/no-commit m1 polled 0.3 s
    at a time for 30 s and was never assigned the partition (finding 2, the rejoin stall):
    a client finding the baseline names, for kafka-python 3.0.x only."""
    never = Violation("S2-reset-matrix", "never-assigned", "S2",
                      "earliest/no-commit: never assigned (expected assigned)", [2, 4])
    cell = CheckResult("S2-reset-matrix", "S2", Verdict.FAIL, violations=[never])
    assert covered(cell, "kafka-python", "3.0.12", "classic")
    assert not covered(cell, "confluent-kafka", "2.16.2", "classic")


def test_soak_seed60_the_reset_matrixs_setter_stalled_as_finding_2() -> None:
    """kafka-python 3.0.12, S2-reset-matrix, soak seed 60 at 4831edb (beside a test run): in
    earliest/committed the setter (the member that commits offset 3 before m1 starts) was never
    assigned in 30 s (no assigned event: finding 2, the rejoin stall), then its commits were
    refused with RebalanceInProgressError five times and the cell ended unknown as an
    infrastructure error. The setter is the client's own member: its stall is the cell's
    outcome, "never assigned", which the baseline names for kafka-python 3.0.x (a suite bug:
    the setter's wait was not checked)."""
    history = History.from_jsonl(HERE / "kafka-python-S2-setter-never-assigned-soak-seed60.jsonl")
    assert not history.of_type("assigned")
    cut = next(e.index for e in history.events if e.type == "commit_requested")
    until = History([*history.events[:cut],
                     replace(history.events[cut], type="note",
                             data={"text": "setter was never assigned the partition"})])
    never = reset_violation(until, "earliest/committed", "never assigned", "assigned")
    assert never is not None and never.anomaly == "never-assigned"
    assert never.details["member"] == "setter" and cut in never.evidence
    cell = CheckResult("S2-reset-matrix", "S2", Verdict.FAIL, violations=[never])
    assert covered(cell, "kafka-python", "3.0.12", "classic")


def test_async_record_commits_cut_short_by_a_kill_are_not_over_the_bound() -> None:
    """confluent-kafka 2.16.2, consumer protocol, RECORD with async commits (fresh-clone CI,
    test_real_adapters_hold_every_invariant, seed 1234, reproduced): m1 processed 13..15 and
    asked to commit 14 and 15; SIGKILL came before either answer, the group stayed at 13 and
    the drain re-read 13..15, over RECORD's bound of 1. The bound counts processed records
    since the last commit *requested*: an async commit cut short by a kill may not have
    landed (a suite bug: the check counted from the last commit answered)."""
    cells = judged("confluent-kafka-consumer-record-async-kill-ci")
    assert cells["duplicates-bounded"].verdict == Verdict.PASS
    assert {c.verdict for c in cells.values()} <= {Verdict.PASS, Verdict.HAZARD}


def test_soak_seed20_a_report_asked_while_a_commit_was_on_its_way_predates_it() -> None:
    """java, classic, soak seed 20: m1 requested a commit of 13 for partition 1 (event 150),
    the harness asked the broker for the group's offsets (event 151: 12, the commit not
    applied yet), then the commit's ok came (event 154) and m1 was killed. The drain started
    at 14 (offset 13 is a transaction marker): right. The report was taken for the later
    fact because it was asked after the request was sent (a suite bug): a report asked before
    the acknowledgement that shows another offset predates the commit."""
    name = "java-classic-start-after-committed-soak-seed20"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    tp = (history.events[150].data["offsets"][1][0], 1)
    assert history.events[151].type == "group_offsets" and history.events[154].type == "committed"
    drain = next(e.index for e in history.of_type("drain_started"))
    assert GroupOffsets(history).at(tp, drain) == (154, 13)
    assert all(v != Verdict.FAIL for v in verdicts(name).values())
    # the same report asked after the acknowledgement is the later fact: the drain's 14
    # would skip record 12 again, and start-position says so
    late = History(replace(e, data={**e.data, "asked": history.events[154].ts + 0.001})
                   if e.index == 151 else e for e in history.events)
    assert GroupOffsets(late).at(tp, drain) == (151, 12)
    assert {r.check: r.verdict for r in run_checks(late)}["start-position"] == Verdict.FAIL


def test_soak_seed40_a_pause_librdkafka_kept_across_a_new_assignment_is_no_stall() -> None:
    """confluent-kafka 2.16.2, consumer protocol, soak seed 40 (four examples alike): m1 paused
    partition 0 twice, a 3 s cut made it lose and get back all its partitions, and librdkafka
    kept partition 0 paused (librdkafka issue 1849: a pause outlives a re-assignment) while
    records from offset 10 waited 5.1 s (bound 5 s) until the teardown. The check ended the
    pause at the new assignment (the Java client's rule; a suite bug): only ``resumed`` does."""
    history = History.from_jsonl(HERE / "confluent-kafka-consumer-pause-kept-soak-seed40.jsonl")
    m1 = [e.type for e in history.by_source("m1")]
    assert "paused" in m1 and "resumed" not in m1
    assert m1.index("lost") > m1.index("paused") and "assigned" in m1[m1.index("lost"):]
    cells = judged("confluent-kafka-consumer-pause-kept-soak-seed40")
    assert cells["progress"].verdict == Verdict.PASS
    assert all(c.verdict != Verdict.FAIL for c in cells.values())


def test_soak_seed30_commits_cut_short_by_a_kill_just_after_the_loss_are_not_over_the_bound(
        ) -> None:
    """confluent-kafka 2.16.2, consumer protocol, RECORD with async commits, soak seed 30: a
    5 s black hole fenced m1 while it asked to commit 26..35 of partition 1 (only 26 landed);
    it reported the loss 10 ms before the SIGKILL, and the drain re-read 26..34. A request cut
    short by a kill may not have landed: the check counted that only for a kill inside the
    member's span, and the span had just ended at the loss (a suite bug)."""
    history = History.from_jsonl(
        HERE / "confluent-kafka-consumer-record-lost-before-kill-soak-seed30.jsonl")
    lost = next(e for e in history.by_source("m1") if e.type == "lost" and e.index > 370)
    kill = next(e for e in history.of_type("member_killed") if e.data["member"] == "m1")
    assert lost.index < kill.index and kill.ts - lost.ts < 0.1
    cells = judged("confluent-kafka-consumer-record-lost-before-kill-soak-seed30")
    assert cells["duplicates-bounded"].verdict == Verdict.PASS
    assert all(c.verdict != Verdict.FAIL for c in cells.values())


def test_soak_seed37_late_answers_to_commits_asked_before_the_freeze_are_no_zombie() -> None:
    """confluent-kafka 2.16.2, classic, the stored-offsets path (commits without offsets),
    soak seed 37 (the shrunk replay: start m1, start m2, freeze m2 past the poll interval):
    m2 asked to commit 4-8 ms before SIGSTOP, the broker applied it (m1 started the partition
    at 2), and librdkafka reported the answers after the thaw. The check paired answers with
    requests only by explicit offsets and took a request made after the thaw (a suite bug);
    every commit m2 asked for after the thaw was refused with UNKNOWN_MEMBER_ID."""
    history = History.from_jsonl(HERE / "confluent-kafka-classic-zombie-commit-soak-seed37.jsonl")
    frozen = next(e for e in history.of_type("member_frozen") if e.data["member"] == "m2")
    asked = [e for e in history.by_source("m2") if e.type == "commit_requested"]
    assert asked and asked[0].ts < frozen.ts and all(e.data["offsets"] is None for e in asked)
    cells = judged("confluent-kafka-classic-zombie-commit-soak-seed37")
    assert cells["zombie-fencing"].verdict != Verdict.FAIL
    assert all(c.verdict != Verdict.FAIL for c in cells.values())


@pytest.mark.parametrize(
    ("name", "member", "partition", "requested", "report", "failed", "start"), [
        ("java-classic-resumed-own-position-soak-seed29", "m1", 0, 22, 23, 31, 3),
        ("java-consumer-start-after-committed-soak-seed29", "drain", 1, 69, 73, 81, 7),
    ])
def test_soak_seed29_a_commit_unanswered_when_the_report_was_asked_landed_after_it(
        name: str, member: str, partition: int, requested: int, report: int, failed: int,
        start: int) -> None:
    """java 4.3.1, classic (range) and consumer protocol, soak seed 29: m1 asked to commit
    ``start`` (event ``requested``), the harness's report (``report``) still showed the offset
    before it, and a black hole began a few ms later; after the heal the client's retry was
    refused (UNKNOWN_MEMBER_ID: CommitFailedException, event ``failed``), yet the first
    attempt had landed: on the classic protocol the Java client clears its positions when it
    loses its partitions and m1 resumed at 3 after getting them back (in the shrink's
    replays, where the request came after the black hole began, it resumed at the older
    committed offset); under KIP-848 the fresh drain started at 7. The report was taken as
    the last word on the group (a suite bug): it shows one moment, and a commit still
    unanswered when it was asked may be applied later."""
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    asked_for, shown, outcome = (history.events[i] for i in (requested, report, failed))
    tp = (asked_for.data["offsets"][0][0], partition)
    assert asked_for.type == "commit_requested" and asked_for.offsets()[tp] == start
    assert shown.type == "group_offsets" and shown.offsets()[tp] == start - 1
    assert outcome.type == "committed" and outcome.data["ok"] is False
    assert asked_for.ts < next(e.ts for e in history.of_type("network_fault"))
    assigned = next(e.index for e in history.by_source(member)
                    if e.type == "assigned" and e.index > requested)
    assert (requested, start) in GroupOffsets(history).possible(tp, assigned)
    assert all(v != Verdict.FAIL for v in verdicts(name).values())
    # the failure reported before the report was asked: the report's offset is the group's
    # (the commit did not land), and the start after it fails again
    early = [e for e in history.events if e.index != failed]
    early.insert(report, replace(outcome, ts=shown.data["asked"] - 0.001))
    late = History(replace(e, index=n) for n, e in enumerate(early))
    assert {r.check: r.verdict for r in run_checks(late)}["start-position"] == Verdict.FAIL


def test_seed57_a_broker_report_recorded_before_the_events_it_reflects_is_not_a_gap() -> None:
    """confluent-kafka, classic, RECORD commits, seed 57 (soak under a CI run's load): the
    harness recorded a broker report (offset 12 of partition 0) before it had read m1's events
    written before the answer came (processed 11 at +4.064 s, its commit of 12 requested then,
    the report at +4.067 s): the history's order is the harness's reading order. A record
    written as processed before the report's answer counts as processed at the report (a suite
    bug); one processed only after the answer still fails the check."""
    name = "confluent-kafka-classic-report-before-events-soak-seed57"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    report = history.events[64]
    processed = history.events[66]
    assert report.type == "group_offsets" and processed.type == "processed"
    assert [(r.partition, r.offset) for r in processed.records()] == [(0, 11)]
    assert processed.ts < report.ts and processed.index > report.index
    assert all(v != Verdict.FAIL for v in verdicts(name).values())

    later = History()  # the same history, with record 11 processed after the report's answer
    for e in history.events:
        later.events.append(replace(e, ts=report.ts + 0.5) if e.index == 66 else e)
    [commits] = [r for r in run_checks(later) if r.check == "commit-validity"]
    assert commits.verdict == Verdict.FAIL
    assert [v.details["unprocessed"] for v in commits.violations
            if v.anomaly == "group-offset-beyond-processed"] == [[11]]


def test_soak_seed71_an_auto_commit_held_back_by_a_freeze_is_a_possible_start() -> None:
    """confluent-kafka, consumer protocol, auto commit every 200 ms, stored-message path, soak
    seed 71 (beside two history runs): m1 processed 0..4 of partition 0 (stored 5) and was
    frozen; m2 was given the partition and started at 5, with no commit in the history yet;
    m1 reported its auto commit of 5 after the thaw, 6.6 s later. The commit was sent before
    the freeze and applied: a suite bug. Without the freeze the same start still fails."""
    name = "confluent-kafka-consumer-auto-commit-frozen-soak-seed71"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    frozen = history.events[23]
    late = history.events[51]
    assert frozen.type == "member_frozen" and frozen.data["member"] == "m1"
    assert (late.type, late.source, late.data["mode"]) == ("committed", "m1", "auto")
    assert late.offsets() == {(history.events[0].data["topic"], 0): 5}
    assert all(v != Verdict.FAIL for v in verdicts(name).values())

    unfrozen = History()  # the freeze's event as a note: every index stays
    unfrozen.events.extend(replace(e, type="note", data={"text": "no freeze"})
                           if e.index == 23 else e for e in history.events)
    [start] = [r for r in run_checks(unfrozen) if r.check == "start-position"]
    assert start.verdict == Verdict.FAIL
    assert {v.anomaly for v in start.violations} == {"start-after-committed"}


def test_soak_seed71_a_position_beyond_the_last_reported_auto_commit_is_a_possible_start(
        ) -> None:
    """java, consumer protocol, auto commit every 200 ms, soak seed 71: m2 polled 39..51 of
    partition 0, reported an auto commit of 39 (the position before that poll), and was
    SIGKILLed 140 ms later; the drain started at 52. An auto commit of 52 may have reached
    the broker unreported: the commit of 39 settles 39, not the position beyond it (a suite
    bug). Started beyond 52, the drain would still fail."""
    name = "java-consumer-auto-commit-before-kill-soak-seed71"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    polled, acked, killed = history.events[210], history.events[224], history.events[242]
    assert polled.type == "polled" and polled.source == "m2"
    assert max(r.offset for r in polled.records() if r.partition == 0) == 51
    assert acked.type == "committed" and acked.data["mode"] == "auto"
    assert next(o for o in acked.data["offsets"] if o[1] == 0)[2] == 39
    assert killed.type == "member_killed" and killed.data["member"] == "m2"
    assert all(v != Verdict.FAIL for v in verdicts(name).values())

    further = History()  # the drain's first poll of partition 0 begins one record later
    for e in history.events:
        if e.index == 248:
            records = [r for r in e.data["records"] if not (r[1] == 0 and r[2] == 52)]
            e = replace(e, data={**e.data, "records": records})
        further.events.append(e)
    [start] = [r for r in run_checks(further) if r.check == "start-position"]
    assert start.verdict == Verdict.FAIL


def test_soak_seed70_a_stale_owners_commit_that_moved_the_offset_back_is_its_own_anomaly(
        ) -> None:
    """kafka-python 3.0.12, classic, COUNT/5 commits, soak seed 70 (beside two history runs):
    m1 unsubscribed and subscribed again without hearing its partitions revoked (finding 14),
    the group gave partition 1 to m2, and m1 went on committing 1 at 7 with each of its own
    commits; its last one (#99) came after m2's commit of 17 (#98), so the drain re-read 7..16.
    Those ten re-reads are m1's stale commit's doing: `duplicates-after-stale-commit`, which
    the baseline names for kafka-python, not the strategy's bound."""
    name = "kafka-python-stale-commit-after-unsubscribe-soak-seed70"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    results = {r.check: r for r in run_checks(history)}
    duplicates = results["duplicates-bounded"]
    assert duplicates.verdict == Verdict.FAIL
    [v] = duplicates.violations
    assert v.anomaly == "duplicates-after-stale-commit"
    assert (v.details["by"], v.details["committed"], v.details["own"], v.details["count"]) == \
        ("m1", 7, 17, 10)
    assert 99 in v.evidence
    assert {x.anomaly for x in results["exclusive-ownership"].violations} == {
        "unsubscribe-without-revoke"}

    # the same commit by m2 itself (no third member): the bound counts every re-read again
    own = History()
    own.events.extend(replace(e, source="m2") if e.index == 99 else e for e in history.events)
    [again] = [r for r in run_checks(own) if r.check == "duplicates-bounded"]
    assert {x.anomaly for x in again.violations} == {"duplicates-over-bound"}


def test_soak_seed73_a_zombie_killed_right_after_the_black_hole_read_one_poll() -> None:
    """java, classic, soak seed 73: m1 was black-holed for 3 s, m2 was given its partitions,
    the network came back and m1's next poll (0.16 s later) returned offset 0 of partition 0
    before its heartbeat told it of the loss; 0.2 s after the heal the kill step SIGKILLed it.
    The documented stale-batch hazard (one poll), not a failure: a member killed within two
    heartbeat intervals had no time to hear. The read was also its first of a span begun when
    nothing was committed, so the reset's 0 is an accepted start although m2's commits came in
    meanwhile (two suite rules). Killed 2 s later, or starting at 12, it still fails."""
    name = "java-classic-zombie-killed-after-black-hole-soak-seed73"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    read, killed = history.events[49], history.events[69]
    assert read.type == "polled" and read.source == "m1"
    assert [(r.partition, r.offset) for r in read.records()] == [(0, 0)]
    assert killed.type == "member_killed" and killed.data["member"] == "m1"
    judged = verdicts(name)
    assert judged["zombie-fencing"] == Verdict.HAZARD
    assert all(v != Verdict.FAIL for v in judged.values())

    late = History()  # the kill 2 s later: it could have heard, and did not
    late.events.extend(replace(e, ts=e.ts + 2.0) if e.index == 69 else e
                       for e in history.events)
    [zombies] = [r for r in run_checks(late) if r.check == "zombie-fencing"]
    assert zombies.verdict == Verdict.FAIL

    skipped = History()  # the zombie's first read at 12: past every accepted start
    for e in history.events:
        if e.index == 49:
            e = replace(e, data={**e.data, "records": [[*e.data["records"][0][:2], 12,
                                                        *e.data["records"][0][3:]]]})
        skipped.events.append(e)
    [start] = [r for r in run_checks(skipped) if r.check == "start-position"]
    assert start.verdict == Verdict.FAIL


def test_soak_seed74_a_group_offset_past_a_transaction_marker_is_within_the_polled_position(
        ) -> None:
    """java, consumer protocol, auto commit every 200 ms, soak seed 74 (beside a history
    run): m1 polled 13..25 of partition 0, processed up to 18 and was killed (its auto commit
    of 26 unreported: S4's documented hazard); m2 read the aborted records 26..35 and
    committed 37, past the abort marker at 36. The policy measured 37 against the polled
    position 36 and failed it: an offset no record took lies between (a suite bug). Had m2
    not polled 35, the offset would still be beyond the polled position."""
    name = "java-consumer-auto-commit-past-marker-soak-seed74"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    polled = history.events[224]
    assert polled.type == "polled" and polled.source == "m2"
    assert [r.offset for r in polled.records() if r.partition == 0] == list(range(26, 36))
    judged = verdicts(name)
    assert judged["commit-validity"] == Verdict.HAZARD
    assert all(v != Verdict.FAIL for v in judged.values())

    short = History()  # m2 polled and processed 26..34 only
    for e in history.events:
        if e.index == 224:
            e = replace(e, data={**e.data, "records": [r for r in e.data["records"]
                                                       if not (r[1] == 0 and r[2] == 35)]})
        elif e.index == 234:
            e = replace(e, type="note", data={"text": "not processed"})
        short.events.append(e)
    [commits] = [r for r in run_checks(short) if r.check == "commit-validity"]
    assert commits.verdict == Verdict.FAIL


def test_soak_seed85_an_ack_after_the_thaw_does_not_settle_a_commit_sent_before_the_freeze(
        ) -> None:
    """java, consumer protocol, auto commit every 200 ms, soak seed 85: m3 polled 26..32 of
    partition 0 and was frozen past its poll interval; after the thaw it reported an auto
    commit of 26 (sent before the freeze) and lost the partition; the drain started at 33.
    kafka-clients auto-commits the polled position: a commit of 33 may have left just before
    the SIGSTOP and been applied after the commit of 26. An auto commit reported without a
    request may have been sent any time after the member's previous report, so it does not
    settle a position the freeze made possible (a suite bug). Started beyond 33, the drain
    would still fail."""
    name = "java-consumer-auto-commit-acked-after-thaw-soak-seed85"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    polled, frozen, acked = history.events[109], history.events[113], history.events[120]
    assert polled.type == "polled" and polled.source == "m3"
    assert max(r.offset for r in polled.records() if r.partition == 0) == 32
    assert frozen.type == "member_frozen" and frozen.data["member"] == "m3"
    assert (acked.type, acked.source, acked.data["mode"]) == ("committed", "m3", "auto")
    assert next(o for o in acked.data["offsets"] if o[1] == 0)[2] == 26
    assert all(v != Verdict.FAIL for k, v in verdicts(name).items() if k != "commit-validity")

    further = History()  # the drain's first poll of partition 0 begins one record later
    for e in history.events:
        if e.index in (130, 131):
            records = [r for r in e.data["records"] if not (r[1] == 0 and r[2] == 33)]
            e = replace(e, data={**e.data, "records": records})
        further.events.append(e)
    [start] = [r for r in run_checks(further) if r.check == "start-position"]
    assert start.verdict == Verdict.FAIL


def test_soak_seed88_an_auto_commit_and_an_async_commit_in_either_order_are_possible_starts(
        ) -> None:
    """java, classic, auto commit every 200 ms, soak seed 88: m1 asked for an async commit
    of its positions (18), then reported an auto commit of 17, then the async commit's ok,
    and was killed; the drain started at 18. The auto commit's request is not in the history:
    it may have been sent before the async one (then 18 was applied last) or after it (17):
    the check took the auto commit for the later request and expected 17 (a suite bug).
    Started before both (16), the drain still fails."""
    name = "java-classic-auto-commit-beside-async-soak-seed88"
    history = History.from_jsonl(HERE / f"{name}.jsonl")
    asked, auto, acked = history.events[112], history.events[113], history.events[122]
    assert (asked.type, asked.data["mode"], asked.data["offsets"]) == (
        "commit_requested", "async", None)
    assert (auto.type, auto.data["mode"]) == ("committed", "auto")
    assert next(o for o in auto.data["offsets"] if o[1] == 0)[2] == 17
    assert (acked.type, acked.data["mode"]) == ("committed", "async")
    assert next(o for o in acked.data["offsets"] if o[1] == 0)[2] == 18
    assert all(v != Verdict.FAIL for v in verdicts(name).values())

    earlier = History()  # the drain's first poll of partition 0 begins at 16
    topic = history.events[0].data["topic"]
    for e in history.events:
        if e.index in (138, 139):
            first = e.data["records"][0]
            records = [[topic, 0, offset, *first[3:]] for offset in (16, 17)]
            e = replace(e, data={**e.data, "records": records + e.data["records"]})
        earlier.events.append(e)
    [start] = [r for r in run_checks(earlier) if r.check == "start-position"]
    assert start.verdict == Verdict.FAIL
    assert {v.anomaly for v in start.violations} == {"start-before-committed"}
