"""The worker process and its line protocol, driven by the harness against the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.errors import WorkerError
from conformance.harness import Harness

pytestmark = pytest.mark.broker

BROKEN = Path(__file__).resolve().parent.parent / "broken_adapters.py"


@pytest.fixture
def harness(make_harness):
    def make(adapter: str = "confluent-kafka", strategy: str = "BATCH", **config) -> Harness:
        return make_harness(adapter, strategy, **config)
    return make


def worker_lines(*commands: str, timeout: float = 60) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "conformance.worker", "--id", "w"],
                          input="".join(c + "\n" for c in commands), capture_output=True,
                          text=True, timeout=timeout)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_malformed_commands_get_error_replies_and_the_worker_goes_on():
    out = worker_lines("this is not json", '{"no_type": 1}', '{"type": "bogus", "msg_id": 7}',
                       '{"type": "poll", "msg_id": 8}',
                       '{"type": "init", "msg_id": 9, "adapter": "no-such-adapter"}')
    errors = [o for o in out if o["type"] == "error"]
    assert [e["code"] for e in errors] == ["malformed-command"] * 4 + ["unknown-adapter"]
    assert errors[2]["in_reply_to"] == 7 and "bogus" in errors[2]["message"]
    assert "first command must be 'init'" in errors[3]["message"]
    assert errors[4]["fatal"] is True and "unknown client" in errors[4]["message"]
    assert all(o["source"] == "w" and isinstance(o["ts"], float) for o in out)


def test_describe_reports_the_client_and_refused_configs_without_a_consumer():
    out = worker_lines(json.dumps({"type": "describe", "msg_id": 1, "adapter": "kafka-python",
                                   "configs": [{"bootstrap_servers": "-"},
                                               {"bootstrap_servers": "-",
                                                "group_protocol": "consumer"}]}),
                       json.dumps({"type": "describe", "msg_id": 2, "adapter": "nope"}))
    ok, err = out
    assert ok["type"] == "describe_ok" and ok["client"] == "kafka-python"
    assert ok["client_version"] and ok["capabilities"]["consumer_protocol"] is False
    assert ok["unsupported"][0] is None and "KIP-848" in ok["unsupported"][1]
    assert ok["python"] == sys.version.split()[0]
    assert err["type"] == "error" and err["code"] == "unknown-adapter"


def test_step_mode_events_and_replies(harness):
    h = harness()
    h.produce(5)
    w = h.start_member("m1", run=False)
    assert w.info["client"] == "confluent-kafka" and w.info["client_version"]
    got = []
    while len(got) < 5:
        got += w.request({"type": "poll", "timeout": 0.5})["records"]
    assert [r[2] for r in got] == [0, 1, 2, 3, 4]
    types = [e.type for e in h.history.by_source("m1")]
    assert types[:2] == ["ready", "assigned"]
    assert {"polled", "processed", "commit_requested", "committed"} <= set(types)
    assert types.index("processed") < types.index("commit_requested")
    committed = w.request({"type": "committed", "partitions": [[h.topic, 0]]})["offsets"]
    assert committed == [[h.topic, 0, 5]]


def test_adapter_that_raises_is_reported_and_the_worker_survives(harness):
    h = harness(f"{BROKEN}:RaisesInPoll")
    w = h.start_member("m1", run=False)
    with pytest.raises(WorkerError, match="adapter-error: RuntimeError: boom"):
        w.request({"type": "poll", "timeout": 0.2})
    assert w.alive
    assert w.request({"type": "assignment"})["type"] == "assignment_ok"
    assert "boom from the adapter" in w.stderr_path.read_text()


def test_worker_that_dies_is_noticed(harness):
    h = harness(f"{BROKEN}:DiesInPoll")
    w = h.start_member("m1", run=False)
    with pytest.raises(WorkerError, match=r"exited \(code 3\)"):
        w.request({"type": "poll", "timeout": 0.2})
    h.check_workers()
    assert [e.data for e in h.history.of_type("member_died")] == [{"member": "m1",
                                                                   "returncode": 3}]
    assert h.infra_errors and "died unplanned" in h.infra_errors[0]


def test_stray_stdout_of_a_client_library_does_not_corrupt_the_protocol(harness):
    h = harness(f"{BROKEN}:PrintsToStdout")
    h.produce(3)
    w = h.start_member("m1", run=False)
    got = []
    while len(got) < 3:
        got += w.request({"type": "poll", "timeout": 0.5})["records"]
    assert w.protocol_errors == []
    assert "a stray line" in w.stderr_path.read_text()


def test_sigkill_leaves_no_commit_behind(harness, kafka_broker):
    h = harness(strategy="TIME:600000")  # would commit only after ten minutes
    h.produce(20)
    h.start_member("m1")
    assert h.wait_for(lambda: sum(len(e.data["records"]) for e in h.history.of_type(
        "processed")) >= 20, 30)
    h.kill_member("m1")
    assert h.history.of_type("member_killed")
    assert not [e for e in h.history.of_type("committed") if e.data.get("ok")]
    assert kafka_broker.admin.committed(h.group, h.topic) == {}


def test_clients_command_lists_adapters_with_versions():
    proc = subprocess.run([sys.executable, "-m", "conformance.cli", "clients"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in ("confluent-kafka", "confluent-kafka:batch", "kafka-python"):
        assert name in proc.stdout
    assert "consumer_protocol" in proc.stdout
