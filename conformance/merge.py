"""Shards of a run's matrix (``run --shard K/N``) and their merge into one report
(``kafka-conformance merge A/results.json B/results.json ... --out DIR``).

A run's matrix is a list of tasks (one per generated-scenario configuration and one per fixed
scenario and protocol); shard K of N runs the tasks whose index is K-1 modulo N, so the shards
of one command line cover the matrix exactly once, on as many machines as there are shards.
Merging puts the entries of one client spec and configuration back together and orders them
canonically, as an unsharded run does, so the merged matrix equals the unsharded one.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace
from pathlib import Path

from conformance.checkers import CHECKS
from conformance.errors import UsageError
from conformance.protocols import ALL
from conformance.report.json_report import load_results, run_result_from_json
from conformance.verdicts import ClientResult, RunResult

_SHARD_RE = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` with 1 <= K <= N; UsageError otherwise."""
    match = _SHARD_RE.match(text.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(match[1]), int(match[2])


def in_shard(index: int, shard: tuple[int, int] | None) -> bool:
    return shard is None or index % shard[1] == shard[0] - 1


def canonical_order(entries: list[ClientResult]) -> list[ClientResult]:
    """Entries of one spec and label merged, in a fixed order: specs as they first appear,
    generated configurations before fixed scenarios, checks in registry / section order."""
    from conformance.scenarios import SEMANTICS_CHECKS

    merged: dict[tuple[str, str], ClientResult] = {}
    specs: list[str] = []
    for entry in entries:
        key = (entry.spec or entry.name, entry.label)
        if key[0] not in specs:
            specs.append(key[0])
        if key in merged:
            merged[key].checks.extend(entry.checks)
            merged[key].timings = merged[key].timings or entry.timings
        else:
            merged[key] = replace(entry, checks=list(entry.checks))
    generated_rank = {c: i for i, c in enumerate(CHECKS)}
    fixed = sorted(SEMANTICS_CHECKS, key=lambda c: SEMANTICS_CHECKS[c].section)
    fixed_rank = {c: i for i, c in enumerate(fixed)}

    def protocol_rank(entry: ClientResult) -> int:
        # a /1 file's protocol comes from its label (json_report.upgraded)
        return ALL.index(entry.protocol) if entry.protocol in ALL else len(ALL)

    def entry_key(entry: ClientResult) -> tuple[int, bool, int, str]:
        return (specs.index(entry.spec or entry.name), entry.fixed, protocol_rank(entry),
                entry.label)

    out = sorted(merged.values(), key=entry_key)
    for entry in out:
        rank = fixed_rank if entry.fixed else generated_rank
        entry.checks.sort(key=lambda c: rank.get(c.check, len(rank)))
    return out


def merge_results(files: list[Path], out_dir: Path) -> RunResult:
    """One RunResult from the results.json of shards (history paths made relative to
    ``out_dir``); UsageError for unreadable files or shards of different runs' settings."""
    if not files:
        raise UsageError("merge needs at least one results.json")
    runs = [(Path(f).parent, run_result_from_json(load_results(f))) for f in files]
    first = runs[0][1]
    for path, run in runs[1:]:
        if (run.profile, run.tool_version) != (first.profile, first.tool_version):
            raise UsageError(f"{path}: profile/tool version {run.profile}/{run.tool_version} "
                             f"differ from {first.profile}/{first.tool_version}")
    entries: list[ClientResult] = []
    for folder, run in runs:
        for entry in run.clients:
            for check in entry.checks:
                if check.history_file:
                    check.history_file = os.path.relpath(folder / check.history_file,
                                                         out_dir)
            entries.append(entry)
    return RunResult(
        run_id=f"merged-{time.strftime('%Y%m%d-%H%M%S')}",
        started_at=min(r.started_at for _f, r in runs),
        finished_at=max(r.finished_at for _f, r in runs),
        tool_version=first.tool_version, profile=first.profile, seed=first.seed,
        broker=first.broker, clients=canonical_order(entries),
        errors=[e for _f, r in runs for e in r.errors],
        incomplete=any(r.incomplete for _f, r in runs))  # an interrupted shard
