"""The java client (kafka-clients, the reference): its build, its worker over the line
protocol, the fixed scenarios and a generated run, all against the embedded broker."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time
from dataclasses import replace

import pytest

from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.clients import ClientSpec, resolve
from conformance.clients import java as java_builder
from conformance.errors import UsageError, WorkerError
from conformance.harness import Harness
from conformance.machines.runner import PROFILES, run_machine
from conformance.matrix import specs_for
from conformance.scenarios import SEMANTICS_CHECKS
from conformance.scenarios.runner import run_semantics
from conformance.verdicts import Verdict

pytestmark = [pytest.mark.broker, pytest.mark.full, pytest.mark.xdist_group("java")]

#: Another kafka-clients release than the broker's.
OTHER_RELEASE = "4.1.0"


@pytest.fixture(scope="module")
def java():
    return resolve(ClientSpec.parse("java"))


@pytest.fixture
def harness(make_harness, java):
    return functools.partial(make_harness, java)


def worker_lines(java, *commands: str, timeout: float = 60) -> list[dict]:
    proc = subprocess.run([*java.command, "--id", "w"], input="".join(c + "\n" for c in commands),
                          capture_output=True, text=True, timeout=timeout)
    return [json.loads(line) for line in proc.stdout.splitlines()]


# -- the build ---------------------------------------------------------------------------------
def test_build_is_cached_and_a_second_build_is_a_cache_hit(java):
    folder = java_builder.build_dir(DEFAULT_KAFKA_VERSION)
    ready = folder / "ready.json"
    assert ready.is_file() and (folder / "lib" / f"kafka-clients-{DEFAULT_KAFKA_VERSION}.jar"
                                ).is_file()
    before = ready.stat().st_mtime_ns
    started = time.monotonic()
    again = java_builder.build(None)
    assert time.monotonic() - started < 5
    assert ready.stat().st_mtime_ns == before
    assert again.command == java.command and again.version == DEFAULT_KAFKA_VERSION
    assert again.runtime.startswith("java ")
    assert java.command[-1] == java_builder.MAIN_CLASS
    assert str(folder) in " ".join(java.command)


def test_another_release_builds_and_describes_itself():
    client = resolve(ClientSpec.parse(f"java=={OTHER_RELEASE}"))
    assert client.client == "kafka-clients" and client.client_version == OTHER_RELEASE
    assert client.capabilities["consumer_protocol"] is True
    assert java_builder.build_dir(OTHER_RELEASE).is_dir()


@pytest.mark.parametrize("release,match", [
    ("0.0.1", "needs kafka-clients 2.4.0 or newer"),
    ("4.x", "not a kafka-clients release"),
    ("3.99.1", "kafka-clients 3.99.1 is not published in the Maven repository"),
])
def test_a_bad_release_is_one_line(release, match):
    with pytest.raises(UsageError, match=match) as info:
        resolve(ClientSpec.parse(f"java=={release}"))
    assert "\n" not in str(info.value)


# -- the protocol ------------------------------------------------------------------------------
def test_describe_reports_the_release_and_refused_configs(java):
    assert java.client == "kafka-clients" and java.client_version == DEFAULT_KAFKA_VERSION
    assert java.capabilities == {"consumer_protocol": True, "cooperative": True,
                                 "manual_assignment": True, "pause_resume": True,
                                 "async_commit": True, "offset_reset_none": True,
                                 "on_lost": True, "poll_interval": True,
                                 "unsubscribe": True, "seek_to_end": True,
                                 "reports_calls": True}
    assert java.unsupported({"group_protocol": "consumer"}) is None
    assert "assignor" in java.unsupported({"assignment_strategy": "sticky-ish"})


def test_malformed_commands_get_error_replies_and_the_worker_goes_on(java):
    out = worker_lines(java, "this is not json", '{"no_type": 1}',
                       '{"type": "bogus", "msg_id": 7}', '{"type": "poll", "msg_id": 8}',
                       '{"type": "init", "msg_id": 9, "adapter": "no-such-adapter"}',
                       '{"type": "init", "msg_id": 10, "adapter": "java", "config": {}}')
    errors = [o for o in out if o["type"] == "error"]
    assert [e["code"] for e in errors] == ["malformed-command"] * 4 + ["unknown-adapter",
                                                                       "malformed-command"]
    assert errors[2]["in_reply_to"] == 7 and "bogus" in errors[2]["message"]
    assert "first command must be 'init'" in errors[3]["message"]
    assert errors[4]["fatal"] is True and "unknown client" in errors[4]["message"]
    assert "bootstrap_servers" in errors[5]["message"]
    assert all(o["source"] == "w" and isinstance(o["ts"], float) for o in out)


def test_step_mode_events_replies_and_close(harness):
    h = harness(partitions=2)
    h.produce(6, partition=0)
    w = h.start_member("m1", run=False)
    assert w.info["client"] == "kafka-clients" and w.info["pid"] == w.proc.pid
    got: list[list] = []
    deadline = time.monotonic() + 30
    while len(got) < 6 and time.monotonic() < deadline:
        got += w.request({"type": "poll", "timeout": 0.5})["records"]
    assert [r[2] for r in got] == [0, 1, 2, 3, 4, 5] and got[0][3].startswith("k")
    types = [e.type for e in h.history.by_source("m1")]
    assert types[:2] == ["ready", "assigned"]
    # its client calls are watched (CallWatch): call_outstanding past a call's bound
    assert h.history.by_source("m1")[0].data["capabilities"]["reports_calls"] is True
    assert {"polled", "processed", "commit_requested", "committed"} <= set(types)
    assert types.index("processed") < types.index("commit_requested")
    assert w.request({"type": "committed", "partitions": [[h.topic, 0], [h.topic, 1]]}
                     )["offsets"] == [[h.topic, 0, 6], [h.topic, 1, None]]
    assert w.request({"type": "assignment"})["partitions"] == [[h.topic, 0], [h.topic, 1]]
    # seek back, re-read, commit asynchronously what was processed
    w.request({"type": "seek", "topic": h.topic, "partition": 0, "offset": 2})
    assert w.request({"type": "position", "topic": h.topic, "partition": 0})["offset"] == 2
    w.request({"type": "pause", "partitions": [[h.topic, 0]]})
    assert w.request({"type": "poll", "timeout": 0.3, "process": False})["records"] == []
    w.request({"type": "resume", "partitions": [[h.topic, 0]]})
    again = []
    while len(again) < 4 and time.monotonic() < deadline:
        again += w.request({"type": "poll", "timeout": 0.5, "process": False})["records"]
    assert [r[2] for r in again] == [2, 3, 4, 5]
    assert w.request({"type": "commit", "processed": True})["offsets"] == []  # after a seek
    reply = w.request({"type": "commit", "offsets": [[h.topic, 0, 4]], "asynchronous": True})
    assert reply["offsets"] is None
    w.request({"type": "poll", "timeout": 0.2})  # serves the async commit's callback
    assert h.wait_for(lambda: any(e.data.get("mode") == "async" and e.data["ok"]
                                  for e in h.history.of_type("committed")), 10)
    with pytest.raises(WorkerError, match="illegal-state"):
        w.request({"type": "seek", "topic": h.topic, "partition": 9, "offset": 0})
    h.stop_member("m1")
    types = [e.type for e in h.history.by_source("m1")]
    assert {"seeked", "paused", "resumed", "revoked", "closed"} <= set(types)
    assert types[-1] == "closed" and not w.alive and w.proc.returncode == 0
    assert kafka_broker_committed(h) == {(h.topic, 0): 4}


def kafka_broker_committed(h: Harness) -> dict:
    return h.broker.admin.committed(h.group, h.topic)


def test_run_mode_commits_per_strategy_and_end_of_input_exits(harness):
    h = harness("COUNT:4+async", partitions=1)
    w = h.start_member("m1")
    h.produce(10)
    assert h.wait_for(lambda: len(h.processed_offsets().get((h.topic, 0), ())) == 10, 30)
    assert h.wait_for(lambda: [e.data["offsets"] for e in h.history.of_type("committed")
                               if e.data.get("ok")][-2:] == [[[h.topic, 0, 4]],
                                                             [[h.topic, 0, 8]]], 10)
    modes = {e.data["mode"] for e in h.history.of_type("commit_requested")}
    assert modes == {"count"}
    w.request({"type": "halt"})
    w.proc.stdin.close()  # end of input: exit at once, no close
    assert w.proc.wait(10) == 0
    assert not h.history.of_type("closed")


def test_auto_commits_are_reported(harness):
    h = harness("auto", auto_commit_interval_ms=200)
    h.start_member("m1")
    h.produce(5)
    assert h.wait_for(lambda: any(e.data.get("mode") == "auto" and e.data["ok"]
                                  and e.data["offsets"] == [[h.topic, 0, 5]]
                                  for e in h.history.of_type("committed")), 20)


def test_no_offset_for_partition(harness):
    h = harness(auto_offset_reset="none")
    w = h.start_member("m1", run=False)
    with pytest.raises(WorkerError, match="no-offset-for-partition"):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            w.request({"type": "poll", "timeout": 0.5})


# -- the fixed scenarios -------------------------------------------------------------------------
HAZARDS = {"S3-latest-growth-hazard", "S6-worker-pool"}
MEASURED = {"S4-auto-commit-crash"}
#: ``KAFKA_CONFORMANCE_JAVA_SEMANTICS=all``: every check on both protocols (about 5 minutes).
EVERY = os.environ.get("KAFKA_CONFORMANCE_JAVA_SEMANTICS") == "all"
#: The checks whose outcome depends on the worker's own code (error mapping, async commits,
#: the pool model, manual assignment, the listener's revoke commit), within the time budget.
CHECKS = {
    "classic": sorted(SEMANTICS_CHECKS) if EVERY else [
        "S1-resume-after-empty-group", "S5-BATCH-async-crash-bound", "S5-commit-after-removal",
        "S6-worker-pool", "S7-assign-seek"],
    "consumer": sorted(SEMANTICS_CHECKS) if EVERY else [
        "S5-commit-after-removal", "S8-revoke-commit-no-duplicates"],
}


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_semantics(kafka_broker, tmp_path, java, protocol):
    checks = [c for c in CHECKS[protocol] if protocol in SEMANTICS_CHECKS[c].protocols]
    results = run_semantics(kafka_broker, java, protocol, tmp_path, only=checks)
    assert {r.check for r in results} == set(checks)
    wrong = {}
    for res in results:
        allowed = {Verdict.PASS} | ({Verdict.HAZARD} if res.check in HAZARDS | MEASURED
                                    else set())
        if res.verdict not in allowed:
            wrong[res.check] = (res.verdict, res.note, res.figures)
    assert wrong == {}


# -- a generated run -----------------------------------------------------------------------------
def test_generated_run_holds_every_invariant(kafka_broker, tmp_path, java):
    [spec] = specs_for(java, ("classic",), "ci")
    profile = replace(PROFILES["ci"], max_examples=2)
    outcome = run_machine(kafka_broker, spec, profile, tmp_path, seed=1234)
    assert outcome.infra_errors == []
    failing = {r.check: (r.verdict, [v.message for v in r.violations[:3]], r.note)
               for r in outcome.results if r.verdict not in (Verdict.PASS, Verdict.HAZARD)}
    assert failing == {}  # a hazard is what the policy allows (a zombie's read within it)
    assert len(outcome.examples) >= 2 and all(ex.steps for ex in outcome.examples)
