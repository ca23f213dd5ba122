"""The final drain reads to the last record the group can read, not to the high watermark: a
transaction's control marker may end a partition, and no consumer position passes it."""

from __future__ import annotations

import pytest

from conformance.contract.helpers import wait_for
from conformance.program import Program

pytestmark = pytest.mark.broker


@pytest.mark.parametrize("isolation", ["read_uncommitted", "read_committed"])
def test_the_drain_completes_when_an_aborted_transaction_ends_the_partition(
        kafka_broker, tmp_path, isolation):
    with Program("confluent-kafka", broker=kafka_broker, strategy={"name": "BATCH"},
                 config={"isolation_level": isolation}, partitions=1, workdir=tmp_path,
                 exit_on_failure=False) as s:
        s.start_member()
        s.settle()
        s.produce(count=5, keys=1)
        s.consume()
        s.stop_member(member="m1")  # the drain member reads the transaction
        s.produce_transaction(count=4, keys=1, commit=False)  # offsets 5-8, the marker 9
        # the coordinator writes the marker after the abort returns: wait for it
        wait_for(lambda: kafka_broker.admin.watermarks(s.harness.topic)[0][1] == 10, 30,
                 "the abort marker written")
    [done] = s.harness.history.of_type("drain_finished")
    assert done.data["complete"] is True, [e.data for e in s.harness.history.of_type("note")]
    failing = {r.check: [v.message for v in r.violations[:2]] for r in s.results
               if r.verdict.value not in ("pass", "hazard")}
    assert failing == {}
