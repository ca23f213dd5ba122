"""``--early-access`` against a broker (issue 25 item 6): kafka-clients 3.9.0 ships KIP-848 as
early access. With the flag its worker runs the consumer protocol and the checks judge it;
without it, ``run`` refuses the configuration as unsupported with the early-access reason.
The first test builds the Java worker for 3.9.0 through Maven (minutes on a cold cache)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.clients import ClientSpec
from conformance.options import RunOptions
from conformance.program import Program
from conformance.protocols import GroupProtocol
from conformance.report.json_report import RESULTS_FILE
from conformance.run import execute
from conformance.verdicts import Verdict

pytestmark = [pytest.mark.broker, pytest.mark.full, pytest.mark.xdist_group("java")]

RELEASE = "java==3.9.0"


def test_with_the_flag_the_consumer_protocol_runs_and_is_judged(kafka_broker, tmp_path: Path
                                                                ) -> None:
    with Program(RELEASE, broker=kafka_broker, partitions=2, workdir=tmp_path,
                 config={"group_protocol": "consumer", "early_access": True},
                 strategy={"name": "BATCH"}, exit_on_failure=False) as s:
        s.start_member()  # m1
        s.produce(count=20, keys=4)
        s.consume()
        s.start_member()  # m2: the group rebalances under the consumer protocol
        s.produce(count=20, keys=4)
        s.consume()
        s.settle()
    assert s.spec.client.client_version == "3.9.0"
    assert s.spec.early_access and "consumer early-access" in s.spec.label
    history = s.harness.history
    assert history.scenario()["config"]["early_access"] is True
    assert {e.source for e in history.of_type("assigned")} >= {"m1", "m2"}
    verdicts = {r.check: r.verdict for r in s.results}
    assert verdicts and set(verdicts.values()) == {Verdict.PASS}, [
        (r.check, r.verdict, r.note) for r in s.results if r.verdict != Verdict.PASS]


def test_without_the_flag_run_refuses_it_with_the_early_access_reason(kafka_broker,
                                                                       tmp_path: Path) -> None:
    opts = RunOptions(clients=(ClientSpec.parse(RELEASE),),
                      bootstrap_servers=kafka_broker.bootstrap_servers,
                      protocols=(GroupProtocol.CONSUMER,), profile="smoke", seed=1,
                      out=tmp_path, only=("generated",), jobs=1)
    assert execute(opts) == 3  # nothing judged: every cell unsupported
    [results] = tmp_path.glob(f"*/{RESULTS_FILE}")
    [entry] = json.loads(results.read_text())["clients"]
    assert entry["spec"] == RELEASE and entry["protocol"] == "consumer"
    assert "early_access" not in entry and "early-access" not in entry["label"]
    assert {c["verdict"] for c in entry["checks"]} == {"unsupported"}
    notes = {c["note"] for c in entry["checks"]}
    assert notes == {"kafka-clients 3.9.0 ships KIP-848 group.protocol=consumer as early "
                     "access only (3.7-3.9; generally available from 4.0): --early-access "
                     "runs it"}
