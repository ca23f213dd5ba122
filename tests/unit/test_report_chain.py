"""The chain of events behind a violation (``report.chain``) and the configuration an example
ran with (``report.as_run``), on hand-made histories (no broker)."""

from __future__ import annotations

from test_report_fixtures import T, failing_history

from conformance.history import HARNESS, History
from conformance.report.as_run import as_run, as_run_text
from conformance.report.chain import event_chain
from conformance.verdicts import Violation


def _lines(history: History, violation: Violation, limit: int = 20) -> list[tuple]:
    chain = event_chain(history, violation, limit=limit)
    return [(lk.label, lk.member, lk.verb, lk.partitions, lk.offsets, lk.cited)
            for lk in chain.links]


def test_a_duplicate_is_told_from_the_assignment_to_the_reread() -> None:
    history, dup = failing_history()
    v = Violation("duplicates-bounded", "duplicated", "S5", "3, 4 processed twice", [dup],
                  {"topic": T, "partition": 0, "offsets": [3, 4], "member": "m2"})
    assert _lines(history, v) == [
        ("#1", "m1", "started", "", "", False),
        ("#2", "m1", "listener heard: assigned", "p0*, p1", "", False),
        ("#4\u2013#8", "m1", "processed", "p0", "0\u20134", False),
        ("#9", "m1", "commit acknowledged (sync)", "p0", "\u2192 3", False),
        ("#10", "m1", "killed (SIGKILL)", "", "", False),
        ("#11", "m2", "listener heard: assigned", "p0*, p1", "", False),
        (f"#{dup}", "m2", "processed", "p0", "3\u20139", True),
    ], "in order, each with member, partition and offsets; p1's records left out"


def _loop(records: int) -> History:
    """m1 reads p0 one record at a time, asking for a commit and getting it after each; the
    step that kills it; m2 takes p0 over and re-reads from the last commit."""
    h = History()
    ts = iter(x / 100 for x in range(100_000))
    h.append("scenario", HARNESS, next(ts), topic="t", partitions=1, config={}, strategy={})
    h.append("member_started", HARNESS, next(ts), member="m1", adapter="c:batch")
    h.append("assigned", "m1", next(ts), partitions=[["t", 0]])
    h.append("produced", HARNESS, next(ts), records=[["t", 0, o, "k", "x"] for o in range(records)])
    for o in range(records):
        h.append("processed", "m1", next(ts), records=[["t", 0, o, "k"]])
        h.append("commit_requested", "m1", next(ts), mode="sync", offsets=[["t", 0, o + 1]])
        h.append("committed", "m1", next(ts), mode="sync", ok=True, offsets=[["t", 0, o + 1]])
    h.append("step", HARNESS, next(ts), name="kill_member", args={"member": "m1"},
             label="SIGKILL m1", family="core")
    h.append("member_killed", HARNESS, next(ts), member="m1")
    h.append("member_started", HARNESS, next(ts), member="m2", adapter="c")
    h.append("assigned", "m2", next(ts), partitions=[["t", 0]])
    h.append("processed", "m2", next(ts), records=[["t", 0, records - 3, "k"]])
    return h


def test_a_read_and_commit_loop_collapses_to_its_reads_and_last_commits() -> None:
    h = _loop(50)
    reread = len(h) - 1
    v = Violation("start-position", "start-before-committed", "S1", "m2 started at 47",
                  [reread], {"topic": "t", "partition": 0, "member": "m2"})
    lines = _lines(h, v)
    assert [line[2] for line in lines] == [
        "started (path c:batch)", "listener heard: assigned", "processed", "asks to commit (sync)",
        "commit acknowledged (sync)", "step: SIGKILL m1", "killed (SIGKILL)", "started (path c)",
        "listener heard: assigned", "processed"]
    assert lines[2][:1] == ("#4\u2013#151",) and lines[2][4] == "0\u201349", "150 events, one line"
    assert lines[3][4] == lines[4][4] == "\u2192 50", "only the last request and commit"
    assert lines[5][1] == "m1", "the step names the member it acts on"
    assert lines[-1][5] and all(not line[5] for line in lines[:-1])


def test_a_long_story_keeps_what_is_cited_and_counts_what_it_left_out() -> None:
    h = _loop(5)
    for n in range(30):  # a member flapping: 60 listener events on p0
        h.append("revoked", "m2", 10 + n, partitions=[["t", 0]])
        h.append("assigned", "m2", 10.5 + n, partitions=[["t", 0]])
    last = h.append("processed", "m2", 100.0, records=[["t", 0, 2, "k"]])
    v = Violation("duplicates-bounded", "duplicated", "S5", "2 read again", [3, last.index],
                  {"topic": "t", "partition": 0})
    chain = event_chain(h, v, limit=12)
    cited = [lk for lk in chain.links if lk.cited]
    assert [lk.indices[0] for lk in cited] == [3, last.index], "cited events are never left out"
    assert len(chain.links) == 12 and chain.left_out == chain.told - 12 > 0
    firsts = [lk.indices[0] for lk in chain.links]
    assert firsts == sorted(firsts), "still in history order"
    assert chain.links[-2].verb == "listener heard: assigned", "the latest context is kept"


def test_a_record_never_read_is_told_until_the_last_event_on_its_partition() -> None:
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=2)
    produced = h.append("produced", HARNESS, 0.1, records=[["t", 1, 0, "k", "x"]])
    h.append("assigned", "m1", 0.2, partitions=[["t", 0]])
    h.append("partitions_added", HARNESS, 0.3, topic="other", count=4)
    h.append("assigned", "m2", 0.4, partitions=[["t", 1]])
    h.append("committed", "m2", 0.5, mode="sync", ok=True, offsets=[["t", 1, 1]])
    h.append("note", HARNESS, 0.6, text="after")
    v = Violation("no-loss", "lost", "S1", "t-1 offset 0 never processed", [produced.index],
                  {"topic": "t", "partition": 1, "offsets": [0]})
    assert _lines(h, v) == [
        ("#1", "producer", "produced", "p1", "0", True),
        ("#4", "m2", "listener heard: assigned", "p1*", "", False),
        ("#5", "m2", "commit acknowledged (sync)", "p1", "\u2192 1", False),
    ], "past the evidence up to the commit that skipped it; other partitions and topics out"


def test_the_configuration_as_run_marks_what_the_example_drew() -> None:
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=3, config={
        "group_protocol": "classic", "assignment_strategy": "cooperative-sticky",
        "max_poll_records": 1, "fetch_max_bytes": 1, "max_partition_fetch_bytes": 1,
        "partition_eof": True, "isolation_level": "read_committed",
        "auto_offset_reset": "earliest"},
        strategy={"name": "BATCH", "explicit": False, "label": "BATCH/revoke-commit/no-offsets"})
    h.append("note", HARNESS, 0.1, text="drawn: batch=max.poll.records=1, fetch=tiny fetches, "
                                        "offsets=commit(), assignor=cooperative-sticky")
    h.append("member_started", HARNESS, 0.2, member="m1", adapter="confluent-kafka:batch")
    h.append("member_started", HARNESS, 0.3, member="m2", adapter="confluent-kafka")
    h.append("member_started", HARNESS, 0.4, member="drain", adapter="confluent-kafka")
    items = as_run(h)
    assert [(it.key, it.value, it.drawn) for it in items] == [
        ("commit", "BATCH/revoke-commit/no-offsets", False), ("offsets", "commit()", True),
        ("assignor", "cooperative-sticky", True), ("batch", "max.poll.records=1", True),
        ("fetch", "tiny fetches", True), ("eof", "partition EOF events", False),
        ("isolation", "read_committed", False), ("reset", "earliest", False),
        ("path", "confluent-kafka:batch, confluent-kafka", False)]
    assert as_run_text(items).startswith(
        "commit BATCH/revoke-commit/no-offsets \u00b7 offsets commit() (drawn) \u00b7 ")
    # a replayed history has no note: the values still read from its config, none drawn
    replay = History([e for e in h if e.type != "note"])
    assert [it.key for it in as_run(replay)] == [it.key for it in items]
    assert not any(it.drawn for it in as_run(replay))
    # the consumer protocol has no client-side assignor
    consumer = History()
    consumer.append("scenario", HARNESS, 0.0, config={"group_protocol": "consumer",
                                                     "assignment_strategy": "range"})
    assert "assignor" not in [it.key for it in as_run(consumer)]
    assert as_run(History()) == []
