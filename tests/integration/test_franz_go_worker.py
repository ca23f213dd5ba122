"""The franz-go worker (adapters/go) against the embedded broker: its build and cache, the
worker protocol end to end through the harness, the semantics scenarios and a generated run."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from conformance.clients import ClientSpec, resolve
from conformance.clients.go import build, pinned_version
from conformance.errors import UsageError
from conformance.harness import SCENARIO_CONFIG, Harness
from conformance.machines.runner import PROFILES, run_machine
from conformance.matrix import fault_families, specs_for
from conformance.scenarios import SEMANTICS_CHECKS
from conformance.scenarios.runner import run_semantics
from conformance.strategies import Strategy
from conformance.verdicts import Verdict

pytestmark = [pytest.mark.broker, pytest.mark.full, pytest.mark.xdist_group("franz-go")]

#: Another release than the pinned one: franz-go before kgo.ServerSideBalancer (KIP-848).
OTHER = "1.21.7"


@pytest.fixture(scope="module")
def franz():
    """The worker of the pinned release, built (or found in the cache) and described."""
    return resolve(ClientSpec.parse("franz-go"))


def test_call_watch_unit_tests(franz):
    """The worker's CallWatch under ``go test`` (adapters/go/callwatch_test.go), with the
    modules the build fetched."""
    go = shutil.which("go")
    assert go is not None
    source = Path(__file__).resolve().parents[2] / "adapters" / "go"
    proc = subprocess.run([go, "test", "-count=1", "-v", "."],
                          cwd=source, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "--- PASS" in proc.stdout and "--- FAIL" not in proc.stdout


def test_build_is_cached(franz):
    built: list[str] = []
    first = build(None, built.append)
    again = build(None, built.append)
    assert built == []  # the fixture built it: both calls are cache hits
    assert first == again and first.version == pinned_version()
    ready = json.loads(Path(first.command[0]).with_name("ready.json").read_text())
    assert ready["version"] == pinned_version() and ready["server_side_balancer"] is True
    assert franz.client == "franz-go" and franz.client_version == pinned_version()
    assert franz.capabilities["consumer_protocol"] is True
    assert franz.capabilities["reports_calls"] is True


def test_describe_and_malformed_commands(franz):
    lines = [json.dumps({"type": "describe", "msg_id": 1, "adapter": "franz-go",
                         "configs": [{"bootstrap_servers": "-"},
                                     {"bootstrap_servers": "-", "group_protocol": "eager"}]}),
             "not json", json.dumps({"type": "bogus", "msg_id": 2}),
             json.dumps({"type": "poll", "msg_id": 3}),
             json.dumps({"type": "init", "msg_id": 4, "adapter": "nope"})]
    proc = subprocess.run(franz.worker_command("w"), input="".join(ln + "\n" for ln in lines),
                          capture_output=True, text=True, timeout=60)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(out) == 5, proc.stderr
    ok, *errors = out
    assert ok["type"] == "describe_ok" and ok["unsupported"][0] is None
    assert "group protocol" in ok["unsupported"][1]
    assert [e["code"] for e in errors] == ["malformed-command"] * 3 + ["unknown-adapter"]
    assert errors[3]["fatal"] is True
    assert all(o["source"] == "w" and isinstance(o["ts"], float) for o in out)


def test_protocol_end_to_end(franz, kafka_broker, tmp_path):
    h = Harness(kafka_broker, franz, SCENARIO_CONFIG, Strategy.parse("BATCH"), partitions=2,
                workdir=tmp_path)
    try:
        h.setup()
        h.produce(6, partition=0)
        h.produce(4, partition=1)
        w = h.start_member("m1", run=False)
        assert w.info["client"] == "franz-go" and w.info["client_version"] == pinned_version()
        got: list[list] = []
        while len(got) < 10:
            got += w.request({"type": "poll", "timeout": 0.5})["records"]
        assert sorted((r[1], r[2]) for r in got) == [(0, i) for i in range(6)] + \
            [(1, i) for i in range(4)]
        committed = w.request({"type": "committed", "partitions": [[h.topic, 0],
                                                                    [h.topic, 1]]})["offsets"]
        assert committed == [[h.topic, 0, 6], [h.topic, 1, 4]]
        assert w.request({"type": "position", "topic": h.topic, "partition": 0})["offset"] == 6
        assert w.request({"type": "assignment"})["partitions"] == [[h.topic, 0], [h.topic, 1]]
        w.request({"type": "seek", "topic": h.topic, "partition": 0, "offset": 2})
        again: list[list] = []
        while len(again) < 4:
            again += w.request({"type": "poll", "timeout": 0.5})["records"]
        assert [r[2] for r in again] == [2, 3, 4, 5]
        reply = w.request({"type": "commit", "offsets": [[h.topic, 0, 3]]})
        assert reply["offsets"] == [[h.topic, 0, 3]]
        w.request({"type": "commit", "asynchronous": True, "processed": True})
        assert h.wait_for(lambda: any(e.data.get("mode") == "async" and e.data["ok"]
                                      for e in h.history.of_type("committed")), 15)
        w.request({"type": "pause", "partitions": [[h.topic, 1]]})
        h.produce(2, partition=1)
        assert w.request({"type": "poll", "timeout": 1.0})["records"] == []
        w.request({"type": "resume", "partitions": [[h.topic, 1]]})
        resumed: list[list] = []
        while len(resumed) < 2:
            resumed += w.request({"type": "poll", "timeout": 0.5})["records"]
        assert [(r[1], r[2]) for r in resumed] == [(1, 4), (1, 5)]
        h.stop_member("m1")
    finally:
        h.close()
    types = [e.type for e in h.history.by_source("m1")]
    assert types[:2] == ["ready", "assigned"]
    # its client calls are watched (callwatch.go): call_outstanding past a call's bound
    assert h.history.by_source("m1")[0].data["capabilities"]["reports_calls"] is True
    assert not {"call_outstanding", "call_returned"} & set(types)
    assert {"polled", "processed", "commit_requested", "committed", "seeked", "paused",
            "resumed", "revoked", "closed"} <= set(types)
    assert types.index("processed") < types.index("commit_requested")
    assert not h.infra_errors
    assert kafka_broker.admin.committed(h.group, h.topic) == {(h.topic, 0): 6, (h.topic, 1): 6}


def test_errors_map_to_protocol_codes(franz, kafka_broker, tmp_path):
    h = Harness(kafka_broker, franz, {**SCENARIO_CONFIG, "auto_offset_reset": "none"},
                Strategy.parse("BATCH"), partitions=1, workdir=tmp_path)
    try:
        h.setup()
        h.produce(2)
        w = h.start_member("m1", run=False)
        with pytest.raises(Exception, match="illegal-state"):
            w.request({"type": "seek", "topic": h.topic, "partition": 5, "offset": 0})
        codes = set()
        for _ in range(40):
            try:
                w.request({"type": "poll", "timeout": 0.5})
            except Exception as exc:  # WorkerError
                codes.add(getattr(exc, "code", None))
                break
        assert codes == {"no-offset-for-partition"}
    finally:
        h.close()


#: Fixed scenarios (test_semantics.py) whose outcome depends on the client: offsets and
#: resets, auto commit, commit failures after removal, async commits, the pool hazard, manual
#: assignment, revoke commits with eager and cooperative rebalancing. Every classic check
#: passes with franz-go (docs/franz-go-worker.md); these keep the module short.
CLASSIC = ["S1-resume-after-empty-group", "S2-reset-matrix", "S4-auto-commit-crash",
           "S5-BATCH-async-crash-bound", "S5-commit-after-removal", "S6-worker-pool",
           "S7-assign-seek", "S8-revoke-commit-no-duplicates"]
CONSUMER = ["S1-resume-after-empty-group", "S8-revoke-commit-no-duplicates"]
HAZARDS = {"S3-latest-growth-hazard", "S6-worker-pool"}
MEASURED = {"S4-auto-commit-crash"}


def allowed(check: str) -> set[Verdict]:
    if check in HAZARDS:
        return {Verdict.HAZARD}
    if check in MEASURED:
        return {Verdict.PASS, Verdict.HAZARD}
    return {Verdict.PASS}


@pytest.mark.parametrize("protocol,checks", [("classic", CLASSIC), ("consumer", CONSUMER)])
def test_semantics_scenarios(franz, kafka_broker, tmp_path, protocol, checks):
    results = run_semantics(kafka_broker, franz, protocol, tmp_path, only=checks)
    assert [r.check for r in results] == sorted(checks,
                                                key=lambda c: SEMANTICS_CHECKS[c].section)
    wrong = {r.check: (r.verdict, r.note, r.figures) for r in results
             if r.verdict not in allowed(r.check)}
    assert wrong == {}


def test_generated_run_holds_every_invariant(franz, kafka_broker, tmp_path):
    [spec] = specs_for(franz, ("classic",), "ci", fault_families(kafka_broker))
    profile = replace(PROFILES["ci"], max_examples=2)  # the canonical example and one more
    outcome = run_machine(kafka_broker, spec, profile, tmp_path, seed=1234)
    assert outcome.infra_errors == []
    # the franz-go worker watches its client calls (reports_calls): calls-return is judged
    assert [r.verdict for r in outcome.results if r.check == "calls-return"] == [Verdict.PASS]
    failing = {r.check: [v.message for v in r.violations[:3]] for r in outcome.results
               if r.verdict not in (Verdict.PASS, Verdict.HAZARD)}
    assert failing == {}  # a hazard is what the policy allows
    assert len(outcome.examples) >= 2


def test_other_release_builds_and_describes(kafka_broker):
    other = resolve(ClientSpec.parse(f"franz-go=={OTHER}"))
    # the builder takes the Go spelling too (ClientSpec.parse wants a digit first)
    assert build(f"v{OTHER}").command == other.command
    assert other.client_version == OTHER and other.command != build(None).command
    assert other.capabilities["consumer_protocol"] is False
    reason = other.unsupported({**SCENARIO_CONFIG, "group_protocol": "consumer"})
    assert reason and "ServerSideBalancer" in reason
    assert other.unsupported(dict(SCENARIO_CONFIG)) is None


def test_a_release_the_listing_omits_is_asked_for_directly(tmp_path):
    """An exact release is resolved by asking the module proxy for it, not by finding it in
    ``go list -m -versions`` (partial behind many mirrors): 1.12.1 is accepted (an old
    release, asked for; it resolves here), a release that does not exist is refused."""
    from conformance.clients import go

    src = tmp_path / "src"
    src.mkdir()
    for path in go._source_files():
        shutil.copy2(path, src / path.name)
    go._check_release(go._go(), "1.12.1", src, "franz-go==1.12.1")
    with pytest.raises(UsageError, match="no such release"):
        go._check_release(go._go(), "1.99.1", src, "franz-go==1.99.1")


def test_unknown_release_is_one_line():
    with pytest.raises(UsageError) as info:
        resolve(ClientSpec.parse("franz-go==1.99.0"))
    assert "no such release" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UsageError, match="not a release"):
        build("latest")
