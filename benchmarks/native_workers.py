"""Workers in other languages: seconds to build one (cold: an empty cache folder; the build
tools' own caches, ~/.m2, the Go module cache and npm's, stay warm), to find it cached, and the
worker start time (process start to its ``describe`` reply) per language, beside the Python
reference worker.

    python benchmarks/native_workers.py [--runs 5] [--cold-runs 1] [--client java ...]

Medians are printed; no target is asserted. A client whose toolchain is missing is reported
and skipped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from conformance.clients import Client, ClientSpec, resolve
from conformance.clients.native import BUILDERS, build
from conformance.errors import ConformanceError


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def cold_build(client: str) -> float:
    """One build of ``client``'s default release into an empty cache folder."""
    old = os.environ.get("KAFKA_CONFORMANCE_CACHE")
    with tempfile.TemporaryDirectory(prefix="kc-bench-") as cache:
        os.environ["KAFKA_CONFORMANCE_CACHE"] = cache
        try:
            started = time.perf_counter()
            build(client, None)
            return time.perf_counter() - started
        finally:
            if old is None:
                os.environ.pop("KAFKA_CONFORMANCE_CACHE", None)
            else:
                os.environ["KAFKA_CONFORMANCE_CACHE"] = old


def line(name: str, values: list[float]) -> str:
    return (f"{name:40} median {statistics.median(values):7.2f} s  min {min(values):7.2f}  "
            f"max {max(values):7.2f}  runs={len(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=1)
    parser.add_argument("--client", action="append", choices=sorted(BUILDERS))
    args = parser.parse_args()
    python = Client.beside("confluent-kafka")
    reference = statistics.median(timed(python.describe, args.runs))
    print(line("worker start, python (confluent-kafka)", [reference]))
    for name in args.client or sorted(BUILDERS):
        try:
            cold = [cold_build(name) for _ in range(args.cold_runs)]
            client = resolve(ClientSpec.parse(name))  # into the real cache
        except ConformanceError as exc:
            print(f"{name:40} skipped: {exc}")
            continue
        print(line(f"build {name} cold", cold))
        print(line(f"build {name} cached", timed(lambda n=name: build(n, None), args.runs)))
        start = timed(client.describe, args.runs)
        print(line(f"worker start, {name}", start)
              + f"  ratio to python {statistics.median(start) / reference:.2f}")


if __name__ == "__main__":
    main()
