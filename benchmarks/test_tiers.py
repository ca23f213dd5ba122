"""The project's two test tiers: wall time and cores used against the xdist worker count.

    python benchmarks/test_tiers.py [--tier quick|full] [--workers 3,6] [-- extra pytest args]

Each figure is one `python -m pytest` of the tier (quick: `-m "not full"`, as the README's
first test command; full: everything, as `.ci/run`) with `-n N`, in a process of its own. Prints
one row per N: wall seconds, the ratio to the tier's target on 2 cores (quick 300 s, full
720 s), the speed-up against the first figure, the cores used (user+system CPU of the children
over wall) and pytest's closing line. A figure on a shared machine is noisy: compare medians of
several runs, and run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"quick": 300.0, "full": 720.0}
CLOSING = re.compile(r"^=*\s*(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s")


def one_run(tier: str, workers: int, extra: list[str]) -> tuple[float, float, str, int]:
    """(wall seconds, cores used, pytest's closing line, exit code) of one run of ``tier``."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers)]
    if tier == "quick":
        cmd += ["-m", "not full"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run([*cmd, *extra], cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    closing = next((m.group(1) for line in reversed(proc.stdout.splitlines())
                    if (m := CLOSING.match(line.strip()))), "no closing line")
    return wall, cpu / wall if wall else 0.0, closing, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", choices=sorted(TARGETS), default="quick")
    parser.add_argument("--workers", default="6", help="xdist worker counts, e.g. 3,6")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    target = TARGETS[args.tier]
    first: float | None = None
    print(f"{args.tier} tier (target {target:.0f} s on 2 cores)")
    print(f"{'-n':>4} {'wall s':>8} {'/target':>8} {'speed-up':>9} {'cores':>6}  pytest")
    for workers in (int(w) for w in args.workers.split(",")):
        wall, cores, closing, code = one_run(args.tier, workers, extra)
        first = first or wall
        print(f"{workers:>4} {wall:>8.0f} {wall / target:>8.2f} {first / wall:>9.2f} "
              f"{cores:>6.2f}  {closing} (exit {code})", flush=True)


if __name__ == "__main__":
    main()
