"""The kafkajs worker (adapters/node) against the embedded broker: its build and cache, the
line protocol through the harness, the fixed semantics scenarios and a generated run."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from dataclasses import replace

import pytest

from conformance.clients import ClientSpec, resolve
from conformance.clients.node import SOURCE, build, build_dir, pinned_version
from conformance.errors import UsageError, WorkerError
from conformance.harness import SCENARIO_CONFIG
from conformance.machines.runner import PROFILES, run_machine
from conformance.machines.scenario import ScenarioSpec
from conformance.matrix import fault_families, specs_for
from conformance.scenarios import SEMANTICS_CHECKS
from conformance.scenarios.runner import run_semantics
from conformance.verdicts import Verdict

pytestmark = [pytest.mark.broker, pytest.mark.full, pytest.mark.xdist_group("kafkajs")]

#: Another release than the lockfile's.
OTHER = "2.1.0"


@pytest.fixture(scope="module")
def kafkajs():
    return resolve(ClientSpec.parse("kafkajs"))


@pytest.fixture
def harness(make_harness, kafkajs):
    return functools.partial(make_harness, kafkajs)


def test_build_is_cached(kafkajs):
    again = build(None)
    assert again.command == kafkajs.command and again.version == pinned_version()
    assert again.command[1].startswith(str(build_dir(pinned_version())))
    assert kafkajs.client == "kafkajs" and kafkajs.client_version == pinned_version()
    caps = kafkajs.capabilities
    assert caps["pause_resume"] and caps["async_commit"] and caps["reports_calls"]
    assert not (caps["manual_assignment"] or caps["cooperative"] or caps["consumer_protocol"]
                or caps["on_lost"] or caps["offset_reset_none"])


def test_call_watch_unit_tests():
    """The worker's CallWatch under node --test (adapters/node/callwatch.test.js), run by the
    node that runs the worker."""
    node = build(None)
    if int(node.runtime.removeprefix("node v").split(".")[0]) < 18:
        pytest.skip(f"node --test needs Node.js 18 or newer, not {node.runtime}")
    proc = subprocess.run([node.command[0], "--test", str(SOURCE / "callwatch.test.js")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout and "# pass 0" not in proc.stdout


def test_describe_refuses_what_kafkajs_lacks(kafkajs):
    assert kafkajs.unsupported({**SCENARIO_CONFIG}) is None
    for config, word in (({"group_protocol": "consumer"}, "KIP-848"),
                         ({"assignment_strategy": "cooperative-sticky"}, "cooperative"),
                         ({"auto_offset_reset": "none"}, "auto.offset.reset=none")):
        assert word in kafkajs.unsupported({**SCENARIO_CONFIG, **config})


def test_malformed_commands_and_stdout_hold_protocol_lines_only(kafkajs):
    lines = ["not json", '{"type": "poll", "msg_id": 2}', '{"type": "bogus", "msg_id": 3}',
             json.dumps({"type": "init", "msg_id": 4, "adapter": "kafka-python",
                         "config": {"bootstrap_servers": "-"}})]
    proc = subprocess.run(kafkajs.worker_command("w"), input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=60)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["code"] for o in out] == ["malformed-command"] * 3 + ["unknown-adapter"]
    assert out[3]["fatal"] is True and proc.returncode == 0
    assert all(o["source"] == "w" and isinstance(o["ts"], float) for o in out)


def test_protocol_end_to_end(harness):
    h = harness(partitions=2)
    h.produce(4, ["k0", "k1"], partition=0)
    h.produce(6, ["k2"], partition=1)
    w = h.start_member("m1", run=False)
    assert w.info["client"] == "kafkajs" and w.info["client_version"] == pinned_version()
    got: list[list] = []
    deadline = 30
    while len(got) < 10 and deadline > 0:
        got += w.request({"type": "poll", "timeout": 0.5})["records"]
        deadline -= 0.5
    assert sorted((r[1], r[2]) for r in got) == sorted(
        (r.partition, r.offset) for r in h.history.produced())
    assert [r[3] for r in got if r[1] == 0] == ["k0", "k1", "k0", "k1"]
    types = [e.type for e in h.history.by_source("m1")]
    assert types[:2] == ["ready", "assigned"]
    # its client calls are watched (CallWatch): call_outstanding past a call's bound
    assert h.history.by_source("m1")[0].data["capabilities"]["reports_calls"] is True
    assert not {"call_outstanding", "call_returned"} & set(types)
    assert {"polled", "processed", "commit_requested", "committed"} <= set(types)
    assert types.index("processed") < types.index("commit_requested")
    assert all(e.data["ok"] for e in h.history.of_type("committed"))
    ends = {p: hi for p, (_lo, hi) in h.broker.admin.watermarks(h.topic).items()}
    committed = w.request({"type": "committed", "partitions": [[h.topic, 0], [h.topic, 1]]})
    assert committed["offsets"] == [[h.topic, p, ends[p] or None] for p in (0, 1)]
    assert w.request({"type": "assignment"})["partitions"] == [[h.topic, 0], [h.topic, 1]]
    # seek back, position, pause/resume, explicit and async commits
    w.request({"type": "seek", "topic": h.topic, "partition": 0, "offset": 0})
    assert w.request({"type": "position", "topic": h.topic, "partition": 0})["offset"] == 0
    again: list[list] = []
    for _ in range(40):
        again += w.request({"type": "poll", "timeout": 0.25})["records"]
        if sum(1 for r in again if r[1] == 0) >= ends[0]:
            break
    assert [r[2] for r in again if r[1] == 0][:1] == [0]
    w.request({"type": "pause", "partitions": [[h.topic, 1]]})
    h.produce(3, partition=1)
    assert not [r for r in w.request({"type": "poll", "timeout": 1.0})["records"] if r[1] == 1]
    w.request({"type": "resume", "partitions": [[h.topic, 1]]})
    late: list[list] = []
    for _ in range(40):
        late += w.request({"type": "poll", "timeout": 0.25})["records"]
        if any(r[1] == 1 for r in late):
            break
    assert [r[2] for r in late if r[1] == 1][:1] == [ends[1]]
    reply = w.request({"type": "commit", "offsets": [[h.topic, 0, 1]], "asynchronous": True})
    assert reply["offsets"] is None
    assert h.wait_for(lambda: any(e.data.get("mode") == "async" and e.data["ok"]
                                  for e in h.history.of_type("committed")), 10)
    with pytest.raises(WorkerError, match="unsupported"):
        w.request({"type": "assign", "partitions": [[h.topic, 0]]})
    with pytest.raises(WorkerError, match="illegal-state"):
        w.request({"type": "seek", "topic": h.topic, "partition": 7, "offset": 0})
    h.stop_member("m1")
    assert [e.type for e in h.history.by_source("m1")][-1] == "closed"
    assert h.broker.admin.committed(h.group, h.topic)[(h.topic, 0)] == 1


def test_run_mode_with_auto_commit_reports_the_clients_commits(harness):
    h = harness("auto", partitions=2, auto_commit_interval_ms=200)
    h.start_member("m1")
    h.produce(20, ["k0", "k1"])
    assert h.wait_for(lambda: sum(len(v) for v in h.processed_offsets().values()) >= 20, 30)
    assert h.wait_for(lambda: any(e.data.get("mode") == "auto" and e.data["ok"]
                                  for e in h.history.of_type("committed")), 15)
    h.stop_member("m1")
    assert not [e for e in h.history.of_type("commit_requested")]  # kafkajs committed alone


#: Fixed scenarios kafkajs cannot run, with a word of the reason (kafkajs has no
#: max.poll.interval.ms: a member that stops polling stays in the group).
UNSUPPORTED = {"S7-assign-seek": "manual assignment", "S5-commit-after-removal": "poll_interval"}


def test_semantics_scenarios(kafka_broker, kafkajs, tmp_path):
    wanted = set(SEMANTICS_CHECKS)
    results = {r.check: r for r in run_semantics(kafka_broker, kafkajs, "classic", tmp_path,
                                                 only=wanted)}
    assert set(results) == wanted
    bad = {}
    for check, res in results.items():
        if check in UNSUPPORTED:
            ok = res.verdict == Verdict.UNSUPPORTED and UNSUPPORTED[check] in res.note
        elif check in ("S3-latest-growth-hazard", "S6-worker-pool", "S4-auto-commit-crash"):
            ok = res.verdict in (Verdict.PASS, Verdict.HAZARD)
        else:
            ok = res.verdict == Verdict.PASS
        if not ok:
            bad[check] = (str(res.verdict), res.note, res.figures)
    assert bad == {}
    consumer = run_semantics(kafka_broker, kafkajs, "consumer", tmp_path / "kip848",
                             only=["S1-resume-after-empty-group"])
    assert [(r.verdict, "KIP-848" in r.note) for r in consumer] == [(Verdict.UNSUPPORTED, True)]


def test_generated_run_holds_every_invariant(kafka_broker, kafkajs, tmp_path):
    [spec] = specs_for(kafkajs, ("classic",), "ci", fault_families(kafka_broker))
    spec = ScenarioSpec(kafkajs, spec.config, spec.strategy, faults=spec.faults)
    profile = replace(PROFILES["ci"], max_examples=2)
    outcome = run_machine(kafka_broker, spec, profile, tmp_path, seed=1234)
    assert outcome.infra_errors == []
    # the kafkajs worker watches its client calls (capability reports_calls): judged
    assert [r.verdict for r in outcome.results if r.check == "calls-return"] == [Verdict.PASS]
    failing = {r.check: [v.message for v in r.violations[:3]] or r.note
               for r in outcome.results if r.verdict not in (Verdict.PASS, Verdict.HAZARD)}
    assert failing == {}  # a hazard is what the policy allows
    assert len(outcome.examples) >= 2


def test_another_release_builds_and_describes_itself(kafka_broker):
    other = resolve(ClientSpec.parse(f"kafkajs=={OTHER}"))
    assert other.client_version == OTHER and other.command != build(None).command


def test_unknown_release_is_one_line():
    with pytest.raises(UsageError, match=r"^kafkajs==0\.0\.1: no such release") as exc:
        build("0.0.1")
    assert "\n" not in str(exc.value)
    proc = subprocess.run([sys.executable, "-m", "conformance.cli", "run", "--client",
                           "kafkajs==0.0.1"], capture_output=True, text=True, timeout=120)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2 and [ln.lower() for ln in lines] == [
        "error: kafkajs==0.0.1: no such release on the npm registry"]
