"""The worker's commit forms (Strategy.explicit): commit() without offsets only where the
client's own offsets are the processed ones. No broker: an in-memory adapter records calls."""

from __future__ import annotations

import io
from dataclasses import replace

from adapters.base import Adapter, Capabilities, ConsumerConfig, Record, TopicPartition
from conformance.strategies import Strategy
from conformance.worker import Worker

TP = TopicPartition("t", 0)


class Recording(Adapter):
    """Hands out one batch of three records of ``TP`` and records every commit."""

    name = "recording"
    client = "none"

    def __init__(self, config: ConsumerConfig) -> None:
        super().__init__(config)
        self.commits: list[dict[TopicPartition, int] | None] = []
        self.batch = [Record("t", 0, o, None, b"") for o in range(3)]

    def poll(self, timeout: float, max_records: int = 500) -> list[Record]:
        out, self.batch = self.batch, []
        return out

    def commit(self, offsets=None, asynchronous=False, callback=None):
        self.commits.append(None if offsets is None else dict(offsets))
        return {TP: 3} if offsets is None else dict(offsets)

    def assignment(self) -> list[TopicPartition]:
        return [TP]

    def position(self, tp: TopicPartition) -> int:
        return 0

    def committed(self, tps):
        return {}

    def subscribe(self, topics, listener) -> None: ...
    def assign(self, partitions) -> None: ...
    def seek(self, tp: TopicPartition, offset: int) -> None: ...
    def pause(self, tps) -> None: ...
    def resume(self, tps) -> None: ...
    def close(self) -> None: ...


class Storing(Recording):
    capabilities = replace(Capabilities(), stores_processed=True)


def _commits(cls: type[Recording], strategy: str) -> list:
    worker = Worker("m1", io.StringIO())
    worker.adapter = cls(ConsumerConfig(bootstrap_servers="-", group_id="g"))
    worker.strategy = replace(Strategy.parse(strategy), explicit=False, process_ms=0.5)
    worker.clock.strategy = worker.strategy
    worker.owned = {TP}
    worker.poll_once(0.1, 10)
    return worker.adapter.commits


def test_mid_batch_commits_name_offsets_unless_the_client_stores_processed_ones() -> None:
    """RECORD commits after each record: positions are ahead of processing inside a batch,
    so a client without stored offsets gets explicit offsets there and none at the end."""
    assert _commits(Recording, "RECORD") == [{TP: 1}, {TP: 2}, None]
    assert _commits(Storing, "RECORD") == [None, None, None]


def test_a_batch_end_commit_goes_without_offsets() -> None:
    assert _commits(Recording, "BATCH") == [None]
