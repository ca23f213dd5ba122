"""Generated scenarios: examples per minute and median seconds per example per client (ci
profile), and the median time until each broken adapter is first detected.

    python benchmarks/machine_speed.py [--runs 3]

Targets on 2 cores: median example <= 5 s; each broken adapter detected within 60 s; the whole
ci profile for both clients <= 15 min (`time kafka-conformance run`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from conformance.broker.embedded import EmbeddedKafka
from conformance.machines.runner import PROFILES, run_machine
from conformance.machines.scenario import ScenarioSpec
from conformance.run import specs_for

BROKEN = Path(__file__).resolve().parent.parent / "tests" / "broken_adapters.py"
BROKEN_ADAPTERS = ("CommitsBeforeProcessing", "SkipsRecords", "RedeliversAfterCommit",
                   "IgnoresSeeks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    profile = PROFILES["ci"]
    with EmbeddedKafka() as broker, tempfile.TemporaryDirectory() as tmp:
        for client in ("confluent-kafka", "kafka-python"):
            [spec] = specs_for(client, ("classic",), "ci")
            seconds, per_minute = [], []
            for i in range(args.runs):
                out = run_machine(broker, spec, profile, Path(tmp) / f"{client}-{i}", seed=i)
                seconds += [ex.seconds for ex in out.examples]
                per_minute.append(60 * len(out.examples) / out.seconds)
            print(f"{client}: median example {statistics.median(seconds):.1f} s (target <= 5 s)"
                  f", {statistics.median(per_minute):.1f} examples/min; "
                  f"examples={len(seconds)} runs={args.runs}")
        [base] = specs_for("confluent-kafka", ("classic",), "ci")
        for name in BROKEN_ADAPTERS:
            spec = ScenarioSpec(f"{BROKEN}:{name}", base.config, base.strategy)
            found = []
            for i in range(args.runs):
                out = run_machine(broker, spec, profile, Path(tmp) / f"{name}-{i}", seed=i,
                                  shrink=False)
                elapsed = 0.0
                for ex in out.examples:
                    elapsed += ex.seconds
                    if ex.failed:
                        found.append(elapsed)
                        break
                else:
                    found.append(float("inf"))
            print(f"{name}: median time to first detection {statistics.median(found):.1f} s "
                  f"(target <= 60 s); detected in {sum(f != float('inf') for f in found)}/"
                  f"{args.runs} runs")


if __name__ == "__main__":
    main()
