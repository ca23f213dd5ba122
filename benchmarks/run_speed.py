"""Run speed: verdicts per minute against ``run --jobs``, as ratios against the serial run.

    python benchmarks/run_speed.py [--jobs 1,2,4,6] [--seed 7] [--out DIR]
                                   [-- extra arguments for `kafka-conformance run`]

Each figure is one `kafka-conformance run --seed S --jobs N` (a process of its own with its own
embedded broker, as a user runs it; by default the README's run). Prints one row per --jobs:
wall seconds, cells judged, judged cells per minute, the speed-up against the first figure
(the serial run when --jobs starts with 1), the CPU the run used (user+system over wall, in
cores) and whether the verdicts equal the first run's (they must: serial and parallel runs
judge alike). Writes ``run_speed.json`` in the output folder. Verdicts of a run that
differs are listed; timings on a shared machine are noisy: compare medians of several runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JUDGED = {"pass", "fail", "hazard", "expected"}


def verdicts(results: dict[str, Any]) -> dict[str, str]:
    """Cell -> verdict of one results.json (a cell: one check of one client configuration)."""
    return {f"{c.get('spec')} [{c.get('label', '')}] {k.get('check')}": k.get("verdict", "?")
            for c in results.get("clients", []) for k in c.get("checks", [])}


def one_run(jobs: int, seed: int, out: Path, extra: list[str]) -> dict[str, Any]:
    """One run at ``jobs``: wall seconds, CPU cores used, its verdicts and exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "--seed", str(seed),
                           "--jobs", str(jobs), "--out", str(out), *extra],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = sorted(out.glob("*/results.json"))
    if not found:
        sys.exit(f"run_speed: the run at --jobs {jobs} wrote no results.json (exit "
                 f"{proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    cells = verdicts(json.loads(found[-1].read_text()))
    return {"jobs": jobs, "seconds": round(wall, 1), "cores": round(cpu / wall, 2),
            "exit_code": proc.returncode, "verdicts": cells,
            "judged": sum(v in JUDGED for v in cells.values())}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    extra = args[args.index("--") + 1:] if "--" in args else []
    args = args[:args.index("--")] if "--" in args else args
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="1,2,4,6", help="comma-separated --jobs values")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    opts = parser.parse_args(args)
    out = opts.out or Path(tempfile.mkdtemp(prefix="run-speed-"))
    rows = []
    print(f"{'jobs':>4} {'seconds':>8} {'judged':>6} {'per min':>8} {'speed-up':>8} "
          f"{'cores':>5}  same verdicts")
    for jobs in [int(j) for j in opts.jobs.split(",")]:
        row = one_run(jobs, opts.seed, out / f"jobs-{jobs}", extra)
        first = rows[0] if rows else row
        row["per_minute"] = round(row["judged"] / row["seconds"] * 60, 1)
        row["speedup"] = round(first["seconds"] / row["seconds"], 2)
        differ = sorted(k for k in set(first["verdicts"]) | set(row["verdicts"])
                        if first["verdicts"].get(k) != row["verdicts"].get(k))
        row["differ"] = differ
        rows.append(row)
        print(f"{jobs:>4} {row['seconds']:>8} {row['judged']:>6} {row['per_minute']:>8} "
              f"{row['speedup']:>8} {row['cores']:>5}  "
              + ("yes" if not differ else f"no: {', '.join(differ)}"), flush=True)
    (out / "run_speed.json").write_text(json.dumps(rows, indent=2))
    print(f"figures: {out / 'run_speed.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
