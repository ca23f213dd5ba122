"""What reading Kafka frames in the fault proxies costs an example without faults.

    python benchmarks/protocol_overhead.py [--runs 5] [--records 2000] [--client confluent-kafka]

The embedded broker's fault proxies read every connection as Kafka frames (the protocol layer
that protocol faults need, :mod:`conformance.faults.protocol`). This runs one fixed example
without faults (two members, records produced and consumed, a member stopped, the drain and
every check) alternately with the layer on and off (``FaultProxy.protocol``, read when a
connection is accepted) on the same broker, and prints the median seconds of each and their
ratio, plus the median time to consume ``--records`` records through the proxy.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from conformance.broker.embedded import EmbeddedKafka
from conformance.clients.client import resolve
from conformance.clients.spec import ClientSpec
from conformance.harness import SCENARIO_CONFIG
from conformance.machines.minimize import replay
from conformance.machines.scenario import ScenarioSpec
from conformance.strategies import Strategy


def steps(records: int) -> list[tuple[str, dict]]:
    return [("start_member", {}), ("start_member", {}), ("settle", {}),
            ("produce", {"count": records, "keys": 8}), ("consume", {}),
            ("stop_member", {"member": "m2"}), ("produce", {"count": 50, "keys": 8}),
            ("consume", {})]


def set_reading(broker: EmbeddedKafka, on: bool) -> None:
    """Whether the proxies read the frames of connections accepted from now on."""
    assert broker.faults is not None
    for proxy in broker.faults.proxies:
        proxy.protocol = on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--client", default="confluent-kafka")
    args = parser.parse_args()
    client = resolve(ClientSpec.parse(args.client))
    spec = ScenarioSpec(client, {**SCENARIO_CONFIG, "group_protocol": "classic"},
                        Strategy.from_json({"name": "BATCH"}), 3, False, ())
    times: dict[bool, list[float]] = {True: [], False: []}
    consume: dict[bool, list[float]] = {True: [], False: []}
    with EmbeddedKafka(proxied=True) as broker, \
            tempfile.TemporaryDirectory(prefix="kc-overhead-") as tmp:
        for run in range(args.runs):
            for on in (True, False) if run % 2 == 0 else (False, True):
                set_reading(broker, on)
                started = time.monotonic()
                done = replay(broker, spec, steps(args.records),
                              Path(tmp) / f"{run}-{'on' if on else 'off'}")
                times[on].append(time.monotonic() - started)
                assert not done.harness.infra_errors, done.harness.infra_errors
                phases = done.harness.history.phase_seconds()
                consume[on].append(float(phases.get("consume", 0.0)))
                print(f"run {run + 1} layer {'on ' if on else 'off'}: "
                      f"{times[on][-1]:.2f} s", flush=True)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"example median: layer on {on:.2f} s, off {off:.2f} s, ratio {on / off:.3f} "
          f"(min on {min(times[True]):.2f}, off {min(times[False]):.2f}; {args.runs} runs)")
    if any(consume[True]) and any(consume[False]):
        con, coff = statistics.median(consume[True]), statistics.median(consume[False])
        print(f"consume steps median: on {con:.2f} s, off {coff:.2f} s, "
              f"ratio {con / max(coff, 1e-9):.3f}")


if __name__ == "__main__":
    main()
