"""Soak: the README's run over many seeds, counting the failures no finding explains.

    python benchmarks/soak.py [--seeds 20] [--first-seed 1] [--jobs N]
                              [--baseline baselines/known-deviations.toml] [--out DIR]
                              [-- extra arguments for `kafka-conformance run`]

Each seed is one `kafka-conformance run --seed S --jobs N --baseline FILE` (a process of its
own, its own embedded broker, exactly as a user runs it). A cell is one check of one client
configuration; it is *undocumented failing* when its verdict is still ``fail`` after the
baseline. The run folders of seeds with an undocumented failure or an undecided cell are
kept (histories, replay files, report); the others are removed unless ``--keep``.

Prints one row per seed (seed, exit code, wall seconds, cells judged, undocumented failing
cells, undecided cells, what failed), then the totals, and writes ``soak.json`` in the output
folder. Exit code: 0 when no seed had an undocumented failing or undecided cell, 1 otherwise.
docs/ci.md shows how to soak a new client release before trusting the gate.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: verdicts that decide a cell (unsupported and unknown do not)
JUDGED = {"pass", "fail", "hazard", "expected"}


@dataclass
class Seed:
    """One seed's run, as the soak table shows it."""

    seed: int
    exit_code: int
    seconds: float
    judged: int = 0
    failing: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    folder: str = ""


def cells(results: dict[str, Any]) -> tuple[int, list[str], list[str]]:
    """(cells judged, undocumented failing cells, undecided cells) of one results.json."""
    judged, failing, undecided = 0, [], []
    for client in results.get("clients", []):
        where = f"{client.get('spec') or client.get('name')} [{client.get('label', '')}]"
        for check in client.get("checks", []):
            verdict = check.get("verdict")
            judged += verdict in JUDGED
            anomalies = sorted({v.get("anomaly", "?") for v in check.get("violations", [])})
            name = f"{where} {check.get('check')}" + (f" ({', '.join(anomalies)})"
                                                       if anomalies else "")
            if verdict == "fail":
                failing.append(name)
            elif verdict == "unknown":
                undecided.append(f"{name}: {str(check.get('note', ''))[:120]}")
    return judged, failing, undecided


def run_seed(seed: int, jobs: int | None, baseline: Path, out: Path, extra: list[str]
             ) -> Seed:
    """One README run at ``seed``; its report lands under ``out/seed-<seed>``."""
    folder = out / f"seed-{seed}"
    cmd = [sys.executable, "-m", "conformance", "run", "--seed", str(seed),
           "--baseline", str(baseline), "--out", str(folder), *extra]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    started = time.monotonic()
    with (out / f"seed-{seed}.log").open("w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    row = Seed(seed, code, round(time.monotonic() - started, 1), folder=str(folder))
    found = sorted(folder.glob("*/results.json"))
    if not found:
        row.undecided.append(f"no results.json (exit {code}; see seed-{seed}.log)")
        return row
    row.judged, row.failing, row.undecided = cells(json.loads(found[-1].read_text()))
    return row


def table(rows: list[Seed], jobs: int | None) -> str:
    lines = [f"soak: {len(rows)} seeds, --jobs {jobs or 'default'}",
             f"{'seed':>5} {'exit':>4} {'wall s':>7} {'judged':>6} {'undoc. fail':>11} "
             f"{'undecided':>9}  what"]
    for r in rows:
        what = "; ".join(r.failing + r.undecided)
        lines.append(f"{r.seed:>5} {r.exit_code:>4} {r.seconds:>7.0f} {r.judged:>6} "
                     f"{len(r.failing):>11} {len(r.undecided):>9}  {what[:160]}")
    walls = sorted(r.seconds for r in rows)
    median = walls[len(walls) // 2] if walls else 0.0
    lines.append(f"total: {sum(len(r.failing) for r in rows)} undocumented failing cells and "
                 f"{sum(len(r.undecided) for r in rows)} undecided in "
                 f"{sum(r.judged for r in rows)} judged; seeds with one: "
                 f"{sum(bool(r.failing or r.undecided) for r in rows)}/{len(rows)}; "
                 f"median wall {median:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=None,
                        help="run --jobs (default: the run's own default)")
    parser.add_argument("--baseline", type=Path,
                        default=ROOT / "baselines" / "known-deviations.toml")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default reports/soak-<time>)")
    parser.add_argument("--keep", action="store_true", help="keep every seed's run folder")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if not args.baseline.is_file():
        parser.error(f"--baseline {args.baseline}: file not found")
    out = args.out or ROOT / "reports" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[Seed] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        row = run_seed(seed, args.jobs, args.baseline, out, extra)
        rows.append(row)
        print(f"seed {seed}: exit {row.exit_code}, {row.seconds:.0f} s, {row.judged} judged, "
              f"{len(row.failing)} undocumented failing, {len(row.undecided)} undecided",
              flush=True)
        if not (row.failing or row.undecided or args.keep):
            shutil.rmtree(row.folder, ignore_errors=True)
        (out / "soak.json").write_text(json.dumps(
            {"jobs": args.jobs, "extra": extra, "seeds": [asdict(r) for r in rows]},
            indent=1))
    print(table(rows, args.jobs))
    return 1 if any(r.failing or r.undecided for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
