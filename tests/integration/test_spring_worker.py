"""The spring-kafka client (a real ConcurrentMessageListenerContainer): its build, its worker
over the line protocol, the AckMode and concurrency fixed scenarios and a generated run, all
against the embedded broker."""

from __future__ import annotations

import functools
import json
import subprocess
import time
from dataclasses import replace

import pytest

from conformance.clients import ClientSpec, resolve
from conformance.clients import spring as spring_builder
from conformance.errors import UsageError, WorkerError
from conformance.harness import Harness
from conformance.machines.runner import PROFILES, run_machine
from conformance.matrix import specs_for
from conformance.scenarios import SEMANTICS_CHECKS
from conformance.scenarios.runner import run_semantics
from conformance.strategies import Strategy
from conformance.verdicts import Verdict

pytestmark = [pytest.mark.broker, pytest.mark.full, pytest.mark.xdist_group("spring-kafka")]


@pytest.fixture(scope="module")
def spring():
    return resolve(ClientSpec.parse("spring-kafka"))


@pytest.fixture
def harness(make_harness, spring):
    return functools.partial(make_harness, spring)


def worker_lines(client, *commands: str, timeout: float = 60) -> list[dict]:
    proc = subprocess.run([*client.command, "--id", "w"],
                          input="".join(c + "\n" for c in commands),
                          capture_output=True, text=True, timeout=timeout)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def committed_ok(h: Harness, mode: str | None = None) -> list[list]:
    return [e.data["offsets"] for e in h.history.of_type("committed")
            if e.data.get("ok") and (mode is None or e.data.get("mode") == mode)]


# -- the build ---------------------------------------------------------------------------------
def test_build_is_cached_and_pins_the_brokers_kafka_clients(spring):
    folder = spring_builder.build_dir(spring_builder.DEFAULT_RELEASE)
    ready = folder / "ready.json"
    info = json.loads(ready.read_text())
    assert (folder / "lib" / f"spring-kafka-{spring_builder.DEFAULT_RELEASE}.jar").is_file()
    assert (folder / "lib" / f"kafka-clients-{info['kafka_clients']}.jar").is_file()
    before = ready.stat().st_mtime_ns
    started = time.monotonic()
    again = spring_builder.build(None)
    assert time.monotonic() - started < 5
    assert ready.stat().st_mtime_ns == before
    assert again.command == spring.command and again.version == spring_builder.DEFAULT_RELEASE
    assert spring.command[-1] == spring_builder.MAIN_CLASS
    assert str(folder) in " ".join(spring.command)


def test_another_release_builds_with_its_own_kafka_clients():
    client = resolve(ClientSpec.parse("spring-kafka==4.0.8"))
    assert client.client == "spring-kafka" and client.client_version == "4.0.8"
    info = json.loads((spring_builder.build_dir("4.0.8") / "ready.json").read_text())
    assert info["kafka_clients"] and info["kafka_clients"] in client.info["runtime"]


@pytest.mark.parametrize("release,match", [
    ("2.9.0", "needs spring-kafka 3.0.0 or newer"),
    ("4.x", "not a spring-kafka release"),
    ("4.99.1", "spring-kafka 4.99.1 is not published in the Maven repository"),
])
def test_a_bad_release_is_one_line(release, match):
    with pytest.raises(UsageError, match=match) as info:
        resolve(ClientSpec.parse(f"spring-kafka=={release}"))
    assert "\n" not in str(info.value)


# -- the protocol ------------------------------------------------------------------------------
def test_describe_reports_the_release_capabilities_and_refusals(spring):
    assert spring.client == "spring-kafka"
    assert spring.client_version == spring_builder.DEFAULT_RELEASE
    assert spring.info["runtime"].startswith("java ") and "kafka-clients" in spring.info["runtime"]
    assert spring.variants == []
    assert spring.capabilities == {"consumer_protocol": True, "cooperative": True,
                                   "manual_assignment": False, "pause_resume": True,
                                   "async_commit": True, "offset_reset_none": False,
                                   "on_lost": True, "poll_interval": True,
                                   "unsubscribe": False, "seek_to_end": False,
                                   "reports_calls": True}
    assert spring.unsupported({"group_protocol": "consumer"}) is None
    assert "NoOffsetForPartition" in spring.unsupported({"auto_offset_reset": "none"})


def test_malformed_and_unsupported_commands_get_error_replies(spring):
    init = json.dumps({"type": "init", "msg_id": 3, "adapter": "spring-kafka",
                       "config": {"bootstrap_servers": "127.0.0.1:1", "group_id": "g"},
                       "strategy": {"name": "RECORD"}})
    out = worker_lines(spring, "not json", '{"type": "poll", "msg_id": 1}',
                       '{"type": "init", "msg_id": 2, "adapter": "java"}', init,
                       '{"type": "assign", "msg_id": 4, "partitions": [["t", 0]]}',
                       '{"type": "poll", "msg_id": 5, "timeout": 0.1}',
                       '{"type": "unsubscribe", "msg_id": 6}',
                       '{"type": "seek_to_end", "msg_id": 7, "topic": "t", "partition": 0}')
    errors = {o.get("in_reply_to"): o for o in out if o["type"] == "error"}
    assert errors[None]["code"] == "malformed-command"
    assert errors[1]["code"] == "malformed-command"
    assert errors[2]["code"] == "unknown-adapter" and errors[2]["fatal"] is True
    assert errors[4]["code"] == "unsupported" and "container" in errors[4]["message"]
    assert errors[5]["code"] == "illegal-state" and "subscribe" in errors[5]["message"]
    # commands of the protocol its capabilities lack: unsupported, not malformed
    assert errors[6]["code"] == "unsupported" and "unsubscribe" in errors[6]["message"]
    assert errors[7]["code"] == "unsupported" and "seek_to_end" in errors[7]["message"]
    assert [o["type"] for o in out if o.get("in_reply_to") == 3] == ["init_ok"]


def test_run_mode_events_pause_and_close(harness):
    h = harness("BATCH", partitions=2)
    w = h.start_member("m1")
    assert w.info["client"] == "spring-kafka" and w.info["pid"] == w.proc.pid
    h.produce(6, partition=0)
    assert h.wait_for(lambda: len(h.processed_offsets().get((h.topic, 0), ())) == 6, 30)
    assert h.wait_for(lambda: [[h.topic, 0, 6]] in committed_ok(h, "batch"), 10)
    types = [e.type for e in h.history.by_source("m1")]
    assert types[:2] == ["ready", "assigned"]
    # its calls into Spring and the consumer are watched (CallWatch): call_outstanding past a
    # call's bound
    assert h.history.by_source("m1")[0].data["capabilities"]["reports_calls"] is True
    first_commit = types.index("commit_requested", types.index("polled"))
    assert types.index("processed") < first_commit < types.index("committed", first_commit)
    assert w.request({"type": "assignment"})["partitions"] == [[h.topic, 0], [h.topic, 1]]
    assert w.request({"type": "committed", "partitions": [[h.topic, 0]]}
                     )["offsets"] == [[h.topic, 0, 6]]
    # pause through the container: nothing of partition 0 is processed until resumed
    w.request({"type": "pause", "partitions": [[h.topic, 0]]})
    h.produce(3, partition=0)
    h.produce(2, partition=1)
    assert h.wait_for(lambda: len(h.processed_offsets().get((h.topic, 1), ())) == 2, 20)
    assert len(h.processed_offsets()[(h.topic, 0)]) == 6
    w.request({"type": "resume", "partitions": [[h.topic, 0]]})
    assert h.wait_for(lambda: len(h.processed_offsets()[(h.topic, 0)]) == 9, 20)
    h.stop_member("m1")
    types = [e.type for e in h.history.by_source("m1")]
    assert {"paused", "resumed", "revoked", "closed"} <= set(types)
    assert types[-1] == "closed" and not w.alive and w.proc.returncode == 0
    assert "call_outstanding" not in types  # every watched call returned within its bound
    assert h.broker.admin.committed(h.group, h.topic) == {(h.topic, 0): 9, (h.topic, 1): 2}


def test_step_mode_poll_seek_and_explicit_commits(harness):
    h = harness("MANUAL")
    h.produce(6)
    w = h.start_member("m1", run=False)
    got: list[list] = []
    deadline = time.monotonic() + 30
    while len(got) < 6 and time.monotonic() < deadline:
        got += w.request({"type": "poll", "timeout": 0.5})["records"]
    assert [r[2] for r in got] == [0, 1, 2, 3, 4, 5]
    # MANUAL: the listener acknowledged each record; Spring committed them with the batch
    assert h.wait_for(lambda: [[h.topic, 0, 6]] in committed_ok(h, "manual"), 10)
    w.request({"type": "seek", "topic": h.topic, "partition": 0, "offset": 2})
    assert w.request({"type": "position", "topic": h.topic, "partition": 0})["offset"] == 2
    again = w.request({"type": "poll", "timeout": 1.0, "process": False})["records"]
    assert [r[2] for r in again] == [2, 3, 4, 5]
    assert w.request({"type": "commit", "processed": True})["offsets"] == []  # after a seek
    assert w.request({"type": "commit", "offsets": [[h.topic, 0, 4]]}
                     )["offsets"] == [[h.topic, 0, 4]]
    assert w.request({"type": "commit", "offsets": [[h.topic, 0, 5]], "asynchronous": True}
                     )["offsets"] is None
    w.request({"type": "poll", "timeout": 0.3, "process": False})  # serves the async callback
    assert h.wait_for(lambda: [[h.topic, 0, 5]] in committed_ok(h, "async"), 10)
    with pytest.raises(WorkerError, match="illegal-state"):
        w.request({"type": "seek", "topic": h.topic, "partition": 9, "offset": 0})
    h.stop_member("m1")
    assert h.broker.admin.committed(h.group, h.topic) == {(h.topic, 0): 5}


@pytest.mark.parametrize("spec,mode", [("RECORD", "record"), ("COUNT:4+async", "count"),
                                       ("MANUAL_IMMEDIATE", "manual_immediate")])
def test_ack_modes_commit_with_springs_own_logic(harness, spec, mode):
    h = harness(spec)
    h.start_member("m1")
    h.produce(8)
    assert h.wait_for(lambda: len(h.processed_offsets().get((h.topic, 0), ())) == 8, 30)
    assert h.wait_for(lambda: [[h.topic, 0, 8]] in committed_ok(h, mode), 10)
    modes = {e.data["mode"] for e in h.history.of_type("commit_requested")}
    assert modes == {mode}
    if mode == "record":
        assert committed_ok(h, mode) == [[[h.topic, 0, i]] for i in range(1, 9)]


@pytest.mark.parametrize("spec,mode", [("BATCH", "batch"), ("MANUAL", "manual")])
def test_the_batch_listener_variant(harness, spec, mode):
    h = harness(spec)
    h.start_member("m1", adapter="spring-kafka:batch")
    h.produce(8)
    assert h.wait_for(lambda: [[h.topic, 0, 8]] in committed_ok(h, mode), 30)
    assert sorted(h.processed_offsets()[(h.topic, 0)]) == list(range(8))


def test_the_batch_listener_refuses_record_acks(harness):
    h = harness("RECORD")
    with pytest.raises(WorkerError, match=r"unsupported.*batch listener"):
        h.start_member("m1", adapter="spring-kafka:batch")


def test_auto_commits_are_reported(harness):
    h = harness("auto", auto_commit_interval_ms=200)
    h.start_member("m1")
    h.produce(5)
    assert h.wait_for(lambda: [[h.topic, 0, 5]] in committed_ok(h, "auto"), 20)
    assert not h.history.of_type("commit_requested")


def test_per_partition_runs_one_container_consumer_per_partition(harness):
    h = harness(Strategy("BATCH", processing="per-partition"), partitions=3)
    h.start_member("m1")
    h.produce(30, [f"k{i}" for i in range(9)])
    assert h.wait_for(lambda: sum(len(v) for v in h.processed_offsets().values()) == 30, 30)

    def one_each() -> bool:
        """The latest three assignments: one partition each (one per container consumer).
        The first consumer may hold them all until the other two have joined."""
        last = [e.data["partitions"] for e in h.history.of_type("assigned")][-3:]
        return len(last) == 3 and all(len(ps) == 1 for ps in last) and sorted(
            tuple(ps[0]) for ps in last) == [(h.topic, 0), (h.topic, 1), (h.topic, 2)]

    assert h.wait_for(one_each, 30), [e.data for e in h.history.of_type("assigned")]
    h.stop_member("m1")


# -- the fixed scenarios -------------------------------------------------------------------------
#: S5 (Spring's AckModes as commit strategies) and S6 (the pool model; one consumer per
#: partition), classic protocol; plain BATCH is left to BATCH-async and the protocol tests.
CHECKS = sorted(c for c in SEMANTICS_CHECKS
                if c.startswith(("S5", "S6")) and c != "S5-BATCH-crash-bound")
#: Documented hazards the scenario reproduces and measures (S6: a pool commits what it polled).
HAZARDS = {"S6-worker-pool"}


def test_ack_mode_and_concurrency_scenarios(kafka_broker, tmp_path, spring):
    results = run_semantics(kafka_broker, spring, "classic", tmp_path, only=CHECKS)
    assert {r.check for r in results} == set(CHECKS)
    wrong = {}
    for res in results:
        allowed = {Verdict.PASS} | ({Verdict.HAZARD} if res.check in HAZARDS else set())
        if res.verdict not in allowed:
            wrong[res.check] = (res.verdict, res.note, res.figures)
    assert wrong == {}


def test_scenarios_needing_manual_assignment_are_unsupported(kafka_broker, tmp_path, spring):
    [res] = run_semantics(kafka_broker, spring, "classic", tmp_path, only=["S7-assign-seek"])
    assert res.verdict == Verdict.UNSUPPORTED and res.note


# -- a generated run -----------------------------------------------------------------------------
def test_generated_run_holds_every_invariant(kafka_broker, tmp_path, spring):
    [spec] = specs_for(spring, ("classic",), "ci")
    profile = replace(PROFILES["ci"], max_examples=2)
    outcome = run_machine(kafka_broker, spec, profile, tmp_path, seed=1234, shrink=False)
    assert outcome.infra_errors == []
    assert len(outcome.examples) >= 2 and all(ex.steps for ex in outcome.examples)
    # the worker watches its calls (reports_calls): calls-return is judged, not unsupported
    [calls] = [r for r in outcome.results if r.check == "calls-return"]
    assert calls.verdict == Verdict.PASS, calls.note
    # a hazard is what the policy allows (e.g. pause-honored: the container pauses before its
    # next poll, and the poll in flight may still return the partition; documented)
    failing = {r.check: (r.verdict, [v.message for v in r.violations[:3]], r.note)
               for r in outcome.results
               if r.verdict not in (Verdict.PASS, Verdict.UNSUPPORTED, Verdict.HAZARD)}
    # an async commit reported failed (RetriableCommitFailedException) after a freeze may
    # have landed after the last one that succeeded: GroupOffsets.possible accepts it
    assert failing == {}
