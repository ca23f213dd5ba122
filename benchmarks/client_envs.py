"""Client environments: seconds to build one (cold, per installer) and to find it cached, and
the worker start time (process start to its ``describe`` reply) from a client environment
against a worker of the client installed beside the suite (today's way).

    python benchmarks/client_envs.py [--runs 5] [--release kafka-python==3.0.11]

Cold builds go to a temporary cache folder (nothing of the user's cache is touched); medians
and ratios are printed, no target is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from conformance.clients import Client, ClientSpec, resolve
from conformance.clients.envs import INSTALLER_ENV, find_uv


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def cold_build(spec: ClientSpec, installer: str) -> float:
    old = {k: os.environ.get(k) for k in ("KAFKA_CONFORMANCE_CACHE", INSTALLER_ENV)}
    with tempfile.TemporaryDirectory(prefix="kc-bench-") as cache:
        os.environ["KAFKA_CONFORMANCE_CACHE"] = cache
        os.environ[INSTALLER_ENV] = installer
        try:
            started = time.perf_counter()
            resolve(spec)
            return time.perf_counter() - started
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def line(name: str, values: list[float]) -> str:
    return (f"{name:44} median {statistics.median(values):7.2f} s  min {min(values):7.2f}  "
            f"max {max(values):7.2f}  runs={len(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=2)
    parser.add_argument("--release", default="kafka-python==3.0.11")
    args = parser.parse_args()
    spec = ClientSpec.parse(args.release)
    installers = (["uv"] if find_uv() else []) + ["pip"]
    for installer in installers:
        cold = [cold_build(spec, installer) for _ in range(args.cold_runs)]
        print(line(f"build {spec.label} cold ({installer})", cold))
    resolve(spec)  # into the real cache
    cached = timed(lambda: resolve(spec), args.runs)
    print(line(f"resolve {spec.label} cached (incl. describe)", cached))
    release = resolve(spec)
    beside = Client.beside(spec.adapter)
    env_start = timed(release.describe, args.runs)
    beside_start = timed(beside.describe, args.runs)
    print(line(f"worker start, {spec.label} environment", env_start))
    print(line(f"worker start, {spec.adapter} beside the suite", beside_start))
    ratio = statistics.median(env_start) / statistics.median(beside_start)
    print(f"worker start ratio (environment / beside): {ratio:.2f}")


if __name__ == "__main__":
    main()
