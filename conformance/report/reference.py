"""The reference column: where a client's verdict or measured figures differ from the Java
client's (``java``, Kafka's own consumer) in the same run.

Cells are paired by (configuration label, check), as ``compare`` pairs two releases. A
difference is a verdict change between two decided cells (pass, fail, hazard, expected) or a
figure that measures behaviour and moved (records lost, duplicated or reordered, a bound;
records read and time windows vary from run to run and are left out); cells either side could
not decide (unsupported, unknown, not run) are counted, not listed. ``kind`` reads from the
reference to the client: ``new-failure`` = the client fails where Java does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from conformance.report.cells import Change, cells, change
from conformance.report.columns import spec_of
from conformance.verdicts import RunResult, Verdict

#: The adapter name of the reference client.
REFERENCE = "java"
DECIDED = frozenset({Verdict.PASS, Verdict.FAIL, Verdict.HAZARD, Verdict.EXPECTED})
#: Figures that measure behaviour (records lost, duplicated, reordered; a strategy's bound);
#: the others (records read, time windows, commits seen) differ from run to run.
BEHAVIOUR = ("lost", "duplicates", "duplicates_per_handover", "handovers_with_duplicates",
             "reordered", "inversions", "violations", "beyond_processed", "bound")


def behavioural(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures of a difference that measure behaviour (see :data:`BEHAVIOUR`)."""
    return {k: v for k, v in figures.items() if k.endswith(BEHAVIOUR)}


@dataclass(frozen=True)
class Against:
    """One client spec against the reference: its differing cells and what was not compared."""

    spec: str
    differences: list[Change]
    same: int
    undecided: int

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "same": self.same, "undecided": self.undecided,
                "differences": [asdict(c) for c in self.differences]}


def reference_spec(result: RunResult) -> str | None:
    """The first spec of the reference client in the run, if it ran."""
    return next((spec_of(c) for c in result.clients if c.name == REFERENCE), None)


def against_reference(result: RunResult) -> list[Against]:
    """Every other spec of the run against the reference (empty when Java did not run)."""
    reference = reference_spec(result)
    if reference is None:
        return []
    ref = cells(result, reference)
    out = []
    for spec in dict.fromkeys(spec_of(c) for c in result.clients):
        if spec == reference:
            continue
        mine, diffs, same, undecided = cells(result, spec), [], 0, 0
        for key in dict.fromkeys([*ref, *mine]):
            o, n = ref.get(key), mine.get(key)
            if o is None or n is None or o.verdict not in DECIDED or n.verdict not in DECIDED:
                undecided += 1
                continue
            found = change(key, o, n)
            if found is not None:
                found = replace(found, figures=behavioural(found.figures))
            if found is None or (found.kind == "figures" and not found.figures):
                same += 1
            else:
                diffs.append(found)
        out.append(Against(spec, diffs, same, undecided))
    return out


def reference_json(result: RunResult) -> dict[str, Any] | None:
    """The ``reference`` member of results.json (None when Java did not run)."""
    reference = reference_spec(result)
    if reference is None:
        return None
    return {"spec": reference, "clients": [a.to_json() for a in against_reference(result)]}
