"""Pairing two columns of results (the comparison ``compare`` prints and ``run --previous``
puts in the report): what changed between the OLD and NEW cells of one client spec each (the
kinds: :mod:`conformance.report.cells`), and whether that gates an upgrade."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from conformance.errors import UsageError
from conformance.report.cells import KINDS, Change, cells, change
from conformance.report.columns import spec_of
from conformance.verdicts import ClientResult, RunResult, Verdict

SCHEMA = "kafka-conformance/compare/1"


@dataclass(frozen=True)
class Column:
    """Where one side of the comparison comes from."""

    file: str
    run_id: str
    spec: str
    client: str
    client_version: str
    entries: int
    unknown: int
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """Every change from OLD to NEW, and the cells that stayed the same."""

    old: Column
    new: Column
    changes: list[Change]
    unchanged: int

    @property
    def exit_code(self) -> int:
        """1 when NEW fails a check OLD passed (see the module docstring), else 0."""
        return 1 if any(c.gates for c in self.changes) else 0

    def to_json(self) -> dict[str, Any]:
        counts = {k: sum(c.kind == k for c in self.changes) for k in KINDS}
        return {
            "schema": SCHEMA, "old": asdict(self.old), "new": asdict(self.new),
            "exit_code": self.exit_code,
            "summary": {**counts, "gating": sum(c.gates for c in self.changes),
                        "unchanged": self.unchanged},
            "changes": [asdict(c) for c in self.changes],
        }


def compare(old: RunResult, new: RunResult, old_spec: str | None = None,
            new_spec: str | None = None, old_file: str = "OLD", new_file: str = "NEW"
            ) -> Comparison:
    """The changes from the ``old_spec`` column of ``old`` to the ``new_spec`` column of
    ``new`` (``None``: the only spec of that run; ``UsageError`` when it has several or the spec
    is not there). ``*_file`` name the runs in errors and in the result."""
    ospec, nspec = (select_spec(old, old_spec, old_file, "--old-client"),
                    select_spec(new, new_spec, new_file, "--new-client"))
    ocells, ncells = cells(old, ospec), cells(new, nspec)
    changes, unchanged = [], 0
    for key in dict.fromkeys([*ocells, *ncells]):
        o, n = ocells.get(key), ncells.get(key)
        found = change(key, o, n)
        if found is None:
            unchanged += 1
        else:
            changes.append(found)
    order = {k: i for i, k in enumerate(KINDS)}
    changes.sort(key=lambda c: (not c.gates, order[c.kind]))
    return Comparison(_column(old, ospec, old_file), _column(new, nspec, new_file), changes,
                      unchanged)


def compare_runs(old: RunResult, new: RunResult) -> list[Comparison]:
    """One comparison per client spec both runs hold (a run of several specs against the
    same run later), in NEW's order."""
    both = set(specs_in(old))
    return [compare(old, new, spec, spec) for spec in specs_in(new) if spec in both]


def specs_in(result: RunResult) -> list[str]:
    """The distinct client specs of a run, in order of appearance."""
    return list(dict.fromkeys(spec_of(c) for c in result.clients))


def select_spec(result: RunResult, spec: str | None, file: str, option: str) -> str:
    """The spec to compare from ``result``; UsageError naming the specs present otherwise."""
    specs = specs_in(result)
    if not specs:
        raise UsageError(f"{file}: no client results to compare")
    if spec is None:
        if len(specs) == 1:
            return specs[0]
        raise UsageError(f"{file} holds several client specs ({', '.join(specs)}); "
                         f"choose one with {option}")
    if spec not in specs:
        raise UsageError(f"{file}: no results for client spec {spec!r} "
                         f"(specs present: {', '.join(specs)})")
    return spec


def _column(result: RunResult, spec: str, file: str) -> Column:
    entries = [c for c in result.clients if spec_of(c) == spec]
    first: ClientResult = entries[0]
    unknown = sum(c.verdict == Verdict.UNKNOWN for cl in entries for c in cl.checks)
    return Column(file, result.run_id, spec, first.client, first.client_version, len(entries),
                  unknown, list(result.errors))
