"""Generated scenarios: examples per minute, median seconds per example per client (ci
profile) and where an example's time goes (seconds per step kind, setup, teardown), then per
broken adapter the median time until it is first detected and the size of the reported
reproduction after shrinking.

    python benchmarks/machine_speed.py [--runs 3] [--adapters A,B] [--no-clients]

Targets on 2 cores: median example <= 2 s; each broken adapter detected within 10 s and
reproduced in <= 5 steps; the README's main command <= 4 min (`time kafka-conformance run`).
"""

from __future__ import annotations

import argparse
import runpy
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from conformance.broker.embedded import EmbeddedKafka
from conformance.machines.runner import PROFILES, run_machine
from conformance.machines.scenario import ScenarioSpec
from conformance.matrix import fault_families, specs_for
from conformance.strategies import Strategy

BROKEN = Path(__file__).resolve().parent.parent / "tests" / "broken_adapters.py"
BROKEN_ADAPTERS = ("CommitsBeforeProcessing", "SkipsRecords", "RedeliversAfterCommit",
                   "IgnoresSeeks", "ZombieKeepsProcessing", "IgnoresAssignment",
                   "ResumeRewinds", "RepeatedCommitSkipsOne", "LosesWithSingleRecordPolls",
                   "IgnoresIsolationLevel", "BatchPathDropsLast", "IteratorPathDropsLast",
                   "GetonePathDropsLast", "DoublePauseSkipsOne", "SeekToPositionSkipsOne",
                   "SeekToEndRewindsOne",
                   "ZeroTimeoutPollRepeats", "EofRepeatsLast", "TinyFetchDropsOversized",
                   "NonRangeStartsOnePast", "ResubscribeSkipsOne", "StoredStoresOnPoll",
                   "StoredMessageStoresNext", "CloseRecommitsStale", "AutoCommitOnePast",
                   # what a client promises while it runs (issue 20): CloseBlocksForever too,
                   # by name (each of its examples waits out close()'s bound)
                   "IgnoresPause", "StopsFetchingRetained", "NeverRejoins")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--adapters", default=",".join(BROKEN_ADAPTERS),
                        help="broken adapters to time (comma-separated; default: the list above)")
    parser.add_argument("--no-clients", action="store_true",
                        help="skip the real clients' examples per minute")
    args = parser.parse_args()
    profile = PROFILES["ci"]
    with EmbeddedKafka(proxied=True) as broker, tempfile.TemporaryDirectory() as tmp:
        faults = fault_families(broker)
        print(f"fault families: core, {', '.join(faults)}")
        for client in () if args.no_clients else ("confluent-kafka", "kafka-python"):
            [spec] = specs_for(client, ("classic",), "ci", faults)
            seconds, per_minute = [], []
            phases: dict[str, float] = {}
            for i in range(args.runs):
                out = run_machine(broker, spec, profile, Path(tmp) / f"{client}-{i}", seed=i,
                                  shrink=False)
                seconds += [ex.seconds for ex in out.examples]
                per_minute.append(60 * len(out.examples) / out.seconds)
                for ex in out.examples:
                    for name, secs in ex.phases.items():
                        phases[name] = phases.get(name, 0.0) + secs
            median = statistics.median(seconds)
            print(f"{client}: median example {median:.1f} s (target <= 2 s, ratio "
                  f"{median / 2:.2f}), {statistics.median(per_minute):.1f} examples/min; "
                  f"examples={len(seconds)} runs={args.runs}")
            total = sum(phases.values()) or 1.0
            print("  time per example by phase: " + ", ".join(
                f"{k} {v / len(seconds):.2f} s ({100 * v / total:.0f}%)"
                for k, v in sorted(phases.items(), key=lambda kv: -kv[1])))
        [base] = specs_for("confluent-kafka", ("classic",), "ci", faults)
        setups = runpy.run_path(str(BROKEN))["SETUP"]  # what exposes a fault in few examples
        for name in filter(None, args.adapters.split(",")):
            setup = setups.get(name, {})
            strategy = base.strategy if "strategy" not in setup else replace(
                Strategy.parse(setup["strategy"]), process_ms=base.strategy.process_ms)
            spec = ScenarioSpec(f"{BROKEN}:{name}", base.config, strategy, faults=faults,
                                spread=setup.get("spread", 0))
            found, sizes, shrinks = [], [], []
            for i in range(args.runs):
                out = run_machine(broker, spec, profile, Path(tmp) / f"{name}-{i}", seed=i)
                elapsed = 0.0
                for ex in out.examples:
                    elapsed += ex.seconds
                    if ex.failed:
                        found.append(elapsed)
                        break
                else:
                    found.append(float("inf"))
                failing = [r for r in out.results if r.verdict == "fail" and r.steps]
                if failing:
                    sizes.append(min(sum(line.lstrip().startswith("scenario.")
                                         for line in r.steps) for r in failing))
                    shrinks.append(failing[0].shrink)
            print(f"{name}: median time to first detection {statistics.median(found):.1f} s "
                  f"(target <= 10 s); detected in {sum(f != float('inf') for f in found)}/"
                  f"{args.runs} runs; reproduction steps {sizes} (target <= 5): {shrinks}")


if __name__ == "__main__":
    main()
