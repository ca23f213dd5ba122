"""The harness's history lock is reentrant: a wait_for predicate may ask the harness."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

from conformance.harness import SCENARIO_CONFIG, Harness
from conformance.strategies import Strategy


def test_a_wait_for_predicate_may_call_owned(tmp_path: Path) -> None:
    # the constructor only reads the broker's names and settings: nothing is started here
    broker = SimpleNamespace(prefix="kc-unit-", bootstrap_servers="127.0.0.1:9",
                             client_config={})
    h = Harness(broker, "confluent-kafka", SCENARIO_CONFIG, Strategy.parse("BATCH"),
                workdir=tmp_path)
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(h.wait_for(lambda: h.owned("m1") == set(),
                                                              1.0)), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "wait_for deadlocked on owned() (a non-reentrant lock)"
    assert got == [True]
