"""The first candidate of a reduction: the steps that hold a failure's evidence."""

from __future__ import annotations

from conformance.history import Event, History
from conformance.machines.minimize import (
    evidence_core,
    evidence_prefix,
    rebalance_core,
    single_member_core,
)


def story(steps, events_in_step):
    """A history with one ``step`` event per step, then the events each step recorded."""
    h = History()
    for k, (name, args) in enumerate(steps):
        h.events.append(Event("step", float(len(h.events)), "harness",
                              {"name": name, "args": args}, len(h.events)))
        for etype, source, data in events_in_step.get(k, []):
            h.events.append(Event(etype, float(len(h.events)), source, data, len(h.events)))
    return h


STEPS = [("start_member", {}), ("produce", {"count": 5}), ("start_member", {}),
         ("settle", {}), ("consume", {}), ("start_member", {}),
         ("freeze_member", {"member": "m2"}), ("settle", {})]
EVENTS = {0: [("member_started", "harness", {"member": "m1"})],
          2: [("member_started", "harness", {"member": "m2"})],
          5: [("member_started", "harness", {"member": "m3"})],
          6: [("lost", "m2", {"partitions": [["t", 0]]})],
          7: [("settled", "harness", {"timeout": True})]}


def index_of(history, etype):
    return next(e.index for e in history.events if e.type == etype)


def test_the_core_is_the_evidence_steps_and_the_starts_of_the_members_they_name():
    h = story(STEPS, EVENTS)
    core = evidence_core(STEPS, h, [index_of(h, "lost"), index_of(h, "settled")])
    # m2 is named: its start (and m1's, before it) stay, m3's start does not
    assert core == [STEPS[0], STEPS[2], STEPS[6], STEPS[7]]


def test_evidence_after_the_last_step_belongs_to_it_and_a_whole_program_is_no_core():
    h = story(STEPS, EVENTS)
    h.events.append(Event("teardown", 99.0, "harness", {}, len(h.events)))
    assert evidence_core(STEPS, h, [len(h.events) - 1]) == [STEPS[0], STEPS[7]]
    everything = [e.index for e in h.events if e.type == "step"]
    assert evidence_core(STEPS, h, everything) is None


def test_a_history_of_other_steps_gives_no_core():
    h = story(STEPS, EVENTS)
    assert evidence_core(STEPS[:-1], h, [index_of(h, "lost")]) is None


def test_the_steps_that_wrote_the_cited_records_and_what_was_written_in_between_stay():
    steps = [("start_member", {}), ("produce", {"count": 1}), ("consume", {}), ("settle", {}),
             ("pause_twice", {"member": "m1", "partition": 0}), ("produce", {"count": 1}),
             ("consume", {})]
    events = {0: [("member_started", "harness", {"member": "m1"})],
              1: [("produced", "harness", {"records": [["t", 0, 0, "k", "v"]]})],
              4: [("paused", "m1", {"partitions": [["t", 0]]})],
              5: [("produced", "harness", {"records": [["t", 0, 1, "k", "v"]]})],
              6: [("polled", "m1", {"records": [["t", 0, 0, "k"], ["t", 0, 1, "k"]]})]}
    h = story(steps, events)
    core = evidence_core(steps, h, [index_of(h, "paused"), index_of(h, "polled")])
    # record 0 was written by step 1, record 1 by step 5 (also between the pause and the poll);
    # the consume and the settle before the pause go
    assert core == [steps[0], steps[1], steps[4], steps[5], steps[6]]


def test_the_prefix_ends_with_the_last_step_that_holds_evidence():
    h = story(STEPS, EVENTS)
    assert evidence_prefix(STEPS, h, [index_of(h, "lost")]) == STEPS[:7]
    assert evidence_prefix(STEPS, h, [index_of(h, "settled")]) is None  # the last step
    assert evidence_prefix(STEPS, h, []) is None


def test_the_settled_core_adds_the_last_settle_before_the_first_step_it_keeps():
    steps = [("start_member", {}), ("settle", {}), ("consume", {}), ("settle", {}),
             ("pause_twice", {"member": "m1", "partition": 0}), ("produce", {"count": 1}),
             ("consume", {})]
    events = {0: [("member_started", "harness", {"member": "m1"})],
              4: [("paused", "m1", {"partitions": [["t", 0]]})],
              5: [("produced", "harness", {"records": [["t", 0, 0, "k", "v"]]})],
              6: [("polled", "m1", {"records": [["t", 0, 0, "k"]]})]}
    h = story(steps, events)
    evidence = [index_of(h, "paused"), index_of(h, "polled")]
    assert evidence_core(steps, h, evidence) == [steps[0], steps[4], steps[5], steps[6]]
    assert evidence_core(steps, h, evidence, settled=True) == \
        [steps[0], steps[3], steps[4], steps[5], steps[6]]
    # no settle before the first step kept: no settled core
    h2 = story(steps[:1] + steps[4:], {0: events[0], 1: events[4], 2: events[5], 3: events[6]})
    assert evidence_core(steps[:1] + steps[4:], h2, [index_of(h2, "paused")],
                         settled=True) is None


def test_partitions_added_before_a_kept_write_stay():
    """Which partition a keyed record lands on depends on the partition count then."""
    steps = [("start_member", {}), ("add_partitions", {"count": 2}), ("consume", {}),
             ("pause_twice", {"member": "m1", "partition": 2}),
             ("produce_transaction", {"commit": False}), ("add_partitions", {"count": 1}),
             ("consume", {})]
    events = {0: [("member_started", "harness", {"member": "m1"})],
              3: [("paused", "m1", {"partitions": [["t", 2]]})],
              4: [("produced", "harness", {"records": [["t", 2, 0, "k", "v"]]})],
              6: [("polled", "m1", {"records": [["t", 2, 0, "k"]]})]}
    h = story(steps, events)
    core = evidence_core(steps, h, [index_of(h, "paused"), index_of(h, "polled")])
    assert core == [steps[0], steps[1], steps[3], steps[4], steps[6]]


def test_a_member_that_recorded_evidence_keeps_its_start():
    """Evidence recorded by m3 (its assignment) keeps m3's start and the starts before it."""
    steps = [("start_member", {}), ("start_member", {}), ("stop_member", {"member": "m1"}),
             ("start_member", {}), ("add_partitions", {"count": 1}), ("produce", {}),
             ("settle", {})]
    events = {0: [("member_started", "harness", {"member": "m1"})],
              1: [("member_started", "harness", {"member": "m2"})],
              3: [("member_started", "harness", {"member": "m3"})],
              5: [("produced", "harness", {"records": [["t", 0, 0, "k", "v"]]})],
              6: [("assigned", "m3", {"partitions": [["t", 0]]})]}
    h = story(steps, events)
    core = evidence_core(steps, h, [index_of(h, "produced"), index_of(h, "assigned")])
    assert core == [steps[0], steps[1], steps[3], steps[4], steps[5], steps[6]]


#: a canonical-like example: m2 (started second) is the member whose pause is broken
CANON = [("start_member", {}), ("produce", {"count": 20}), ("consume", {}),
         ("start_member", {}), ("settle", {}), ("produce", {"count": 6}),
         ("kill_member", {"member": "m1"}), ("settle", {}), ("produce", {"count": 3}),
         ("pause_twice", {"member": "m2", "partition": 0}), ("produce", {"count": 12}),
         ("consume", {}), ("freeze_member", {"member": "m2"})]
CANON_EVENTS = {0: [("member_started", "harness", {"member": "m1"})],
                1: [("produced", "harness", {"records": [["t", 0, 0, "k", "v"],
                                                          ["t", 1, 0, "k", "v"]]})],
                3: [("member_started", "harness", {"member": "m2"})],
                5: [("produced", "harness", {"records": [["t", 0, 1, "k", "v"]]})],
                8: [("produced", "harness", {"records": [["t", 1, 1, "k", "v"]]})],
                9: [("paused", "m2", {"partitions": [["t", 0]]})],
                10: [("produced", "harness", {"records": [["t", 0, 2, "k", "v"]]})],
                11: [("polled", "m2", {"records": [["t", 0, 2, "k", "v"]]})]}


def test_a_later_members_failure_is_tried_on_the_first_member_alone():
    h = story(CANON, CANON_EVENTS)
    evidence = [index_of(h, "paused"), index_of(h, "polled")]
    core = single_member_core(CANON, h, evidence)
    # the first member, a settle, the last write that reached partition 0 before the pause
    # (not the one to partition 1 only), the pause aimed at m1, the write it cites, the polls
    assert core == [CANON[0], ("settle", {}), CANON[5],
                    ("pause_twice", {"member": "m1", "partition": 0}), CANON[10], CANON[11]]
    assert CANON[9] == ("pause_twice", {"member": "m2", "partition": 0})  # not changed


def test_no_single_member_core_for_the_first_member_two_members_or_other_steps():
    h = story(CANON, CANON_EVENTS)
    killed = [e.index for e in h.events if e.type == "step"][6]  # kill m1: the first member
    assert single_member_core(CANON, h, [killed]) is None
    both = [killed, index_of(h, "paused")]  # m1 and m2
    assert single_member_core(CANON, h, both) is None
    assert single_member_core(CANON[:-1], h, [index_of(h, "paused")]) is None


def test_a_later_members_freeze_is_carried_over_to_the_first_member_but_not_a_kill():
    """A removal (a freeze past the session timeout) of m3 is tried on m1 alone; m3's kill
    is not (the first member killed leaves nobody to show the failure)."""
    steps = [("start_member", {}), ("start_member", {}), ("start_member", {}),
             ("produce", {"count": 6}), ("settle", {}),
             ("freeze_member", {"member": "m3", "past_poll_interval": False}), ("settle", {})]
    events = {0: [("member_started", "harness", {"member": "m1"})],
              1: [("member_started", "harness", {"member": "m2"})],
              2: [("member_started", "harness", {"member": "m3"})],
              3: [("produced", "harness", {"records": [["t", 0, 0, "k", "v"]]})],
              5: [("lost", "m3", {"partitions": [["t", 0]]})],
              6: [("polled", "m3", {"records": []})]}
    h = story(steps, events)
    evidence = [index_of(h, "lost"), index_of(h, "polled")]
    assert single_member_core(steps, h, evidence) == [
        steps[0], ("settle", {}), steps[3],
        ("freeze_member", {"member": "m1", "past_poll_interval": False}), steps[6]]
    killed = [*steps[:5], ("kill_member", {"member": "m3"}), steps[6]]
    assert single_member_core(killed, story(killed, events), evidence) is None


#: m3 keeps partitions 0 and 1 when m4's start (after a partition was added) rebalances the
#: group, and stalls on them: the evidence is m3's assignment, a write and its freeze
RETAINED = [("start_member", {}), ("produce", {"count": 20}), ("start_member", {}),
            ("kill_member", {"member": "m1"}), ("start_member", {}), ("consume", {}),
            ("add_partitions", {"count": 1}), ("start_member", {}),
            ("produce", {"count": 30, "keys": 4}), ("settle", {}),
            ("freeze_member", {"member": "m3", "past_poll_interval": False})]
RETAINED_EVENTS = {0: [("member_started", "harness", {"member": "m1"})],
                   2: [("member_started", "harness", {"member": "m2"})],
                   4: [("member_started", "harness", {"member": "m3"})],
                   7: [("member_started", "harness", {"member": "m4"})],
                   8: [("produced", "harness", {"records": [["t", 0, 9, "k", "v"]]})],
                   9: [("assigned", "m3", {"partitions": [["t", 0], ["t", 1]]}),
                       ("produced", "harness", {"records": [["t", 0, 10, "k", "v"]]})],
                   10: [("member_frozen", "harness", {"member": "m3"})]}


def test_a_failure_after_a_rebalance_is_tried_with_the_member_that_caused_it():
    h = story(RETAINED, RETAINED_EVENTS)
    evidence = [e.index for e in h.events if e.type in ("assigned", "member_frozen")]
    evidence.append([e.index for e in h.events if e.type == "produced"][1])
    # m3 becomes the first member; m4's start (the cause) the second; the partitions added
    # before the writes kept, the write after the cause, the settle and the freeze (as m1)
    assert rebalance_core(RETAINED, h, evidence) == [
        RETAINED[0], ("settle", {}), RETAINED[6], RETAINED[7], RETAINED[8], RETAINED[9],
        ("freeze_member", {"member": "m1", "past_poll_interval": False})]


def test_a_kill_that_caused_the_rebalance_gets_a_second_member_to_kill():
    steps = [("start_member", {}), ("start_member", {}), ("produce", {"count": 5}),
             ("kill_member", {"member": "m1"}), ("settle", {})]
    events = {0: [("member_started", "harness", {"member": "m1"})],
              1: [("member_started", "harness", {"member": "m2"})],
              4: [("assigned", "m2", {"partitions": [["t", 0]]})]}
    h = story(steps, events)
    assert rebalance_core(steps, h, [index_of(h, "assigned")]) == [
        steps[0], ("settle", {}), ("start_member", {}), ("settle", {}),
        ("kill_member", {"member": "m2"}), steps[4]]


def test_no_rebalance_core_without_an_assignment_a_cause_or_with_two_members():
    h = story(RETAINED, RETAINED_EVENTS)
    frozen = index_of(h, "member_frozen")
    assert rebalance_core(RETAINED, h, [frozen]) is None  # no assignment in the evidence
    first = story(RETAINED[:2], {0: [("member_started", "harness", {"member": "m1"})],
                                 1: [("assigned", "m1", {"partitions": [["t", 0]]})]})
    assert rebalance_core(RETAINED[:2], first, [index_of(first, "assigned")]) is None
    both = [index_of(h, "assigned"),
            next(e.index for e in h.events if e.data.get("member") == "m4")]
    assert rebalance_core(RETAINED, h, both) is None


def test_the_member_named_most_is_taken_and_its_own_start_is_the_heads():
    """A removal's evidence names the removed member (its start, polls, freeze) and the one
    that got its partitions: the removed member's story is tried on the first member."""
    steps = [("start_member", {}), ("produce", {"count": 6}), ("start_member", {}),
             ("start_member", {}), ("settle", {}),
             ("freeze_member", {"member": "m2", "past_poll_interval": False}), ("settle", {})]
    events = {0: [("member_started", "harness", {"member": "m1"})],
              1: [("produced", "harness", {"records": [["t", 0, 0, "k", "v"]]})],
              2: [("member_started", "harness", {"member": "m2"})],
              3: [("member_started", "harness", {"member": "m3"})],
              5: [("member_frozen", "harness", {"member": "m2"}),
                  ("assigned", "m3", {"partitions": [["t", 0]]})],
              6: [("lost", "m2", {"partitions": [["t", 0]]}), ("polled", "m2", {})]}
    h = story(steps, events)
    evidence = [e.index for e in h.events if e.type != "step" and e.type != "produced"]
    evidence = [i for i in evidence if h.events[i].data.get("member") != "m1"]
    assert single_member_core(steps, h, evidence) == [
        steps[0], ("settle", {}), steps[1],
        ("freeze_member", {"member": "m1", "past_poll_interval": False}), steps[6]]
