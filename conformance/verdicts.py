"""Verdicts, violations and check results: what checkers return and reports render.

Checkers return values and never raise (a checker that throws is turned into ``unknown``).
Verdicts:

    pass         every example held the invariant
    fail         the client broke the contract (violations carry the evidence)
    hazard       documented Kafka behaviour reproduced and measured (e.g. S3), not a client bug
    unsupported  the client/adapter cannot run this combination (capability missing)
    unknown      the check could not decide (a checker error, an infrastructure problem)
    expected     a failure listed in the baseline file as a known deviation
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    HAZARD = "hazard"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"
    EXPECTED = "expected"


@dataclass
class Violation:
    """One anomaly found in a history, with the event indices that prove it."""

    check: str
    anomaly: str
    section: str
    message: str
    evidence: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckResult:
    """The verdict of one check for one client configuration, over all examples run."""

    check: str
    section: str
    verdict: Verdict
    examples: int = 0
    seconds: float = 0.0
    violations: list[Violation] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    steps: list[str] = field(default_factory=list)
    history_file: str | None = None
    #: how the steps were reduced: "shrunk (M -> m steps)", "partly shrunk (N of M steps
    #: removed)" when the shrink budget ran out, "not shrunk ..." (generated scenarios only)
    shrink: str = ""

    def to_json(self, max_violations: int = 20) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = str(self.verdict)
        d["violations_total"] = len(self.violations)
        d["violations"] = [v.to_json() for v in self.violations[:max_violations]]
        return d


def combine(verdicts: list[Verdict]) -> Verdict:
    """The verdict of a cell from the verdicts of its parts (worst wins)."""
    order = [Verdict.FAIL, Verdict.UNKNOWN, Verdict.HAZARD, Verdict.EXPECTED, Verdict.PASS,
             Verdict.UNSUPPORTED]
    for v in order:
        if v in verdicts:
            return v
    return Verdict.UNSUPPORTED


@dataclass
class ClientResult:
    """Every check's result for one client configuration: the adapter's name, the client spec
    it ran as (``kafka-python==2.0.2``; one report column per spec), the configuration label."""

    name: str
    client: str = ""
    client_version: str = ""
    label: str = ""
    capabilities: dict[str, bool] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    spec: str = ""
    #: generated scenarios: examples, median_example and the seconds spent per step kind
    timings: dict[str, float] = field(default_factory=dict)
    #: the adapter reference as given (``path/to/file.py:Class``, ``module:Class``) when the
    #: entry is labelled by the adapter's declared ``name`` instead
    adapter: str = ""
    #: the group protocol the configuration ran with (``classic`` or ``consumer``; "" when
    #: not known, as in results written before it was recorded)
    protocol: str = ""
    #: the consumer protocol ran as early access (``--early-access`` on a release without it
    #: generally available); its label says so too, but is never read back
    early_access: bool = False
    #: the entry holds the fixed scenarios of one protocol, not a generated configuration
    fixed: bool = False
    #: the configuration as asked for: the consumer config's JSON (group protocol, assignor,
    #: offset reset, auto commit, ...) and, for a generated configuration, its ``strategy``
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "client": self.client,
            "client_version": self.client_version,
            "label": self.label,
            "spec": self.spec or self.name,
            "capabilities": self.capabilities,
            "checks": [c.to_json() for c in self.checks],
            "timings": self.timings,
            "fixed": self.fixed,
            "config": self.config,
            **({"adapter": self.adapter} if self.adapter else {}),
            **({"protocol": self.protocol} if self.protocol else {}),
            **({"early_access": True} if self.early_access else {}),
        }


#: the ``schema`` of results.json (docs/results-schema.md)
RESULTS_SCHEMA = "kafka-conformance/results/2"

#: how ``run`` records the error that stopped it (``RunResult.errors``)
INTERNAL_ERROR = "internal error: "


@dataclass
class RunResult:
    """One `kafka-conformance run`: the broker it used and every client's results."""

    run_id: str
    started_at: str
    finished_at: str = ""
    tool_version: str = ""
    profile: str = "ci"
    seed: int | None = None
    broker: dict[str, Any] = field(default_factory=dict)
    clients: list[ClientResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: the command that started the run, shell-quoted (reports show it)
    command_line: str = ""
    #: {"python": the suite's, "clients": {spec: {"runtime", "librdkafka"}}} (report header)
    environment: dict[str, Any] = field(default_factory=dict)
    #: the run stopped early (Ctrl-C, a crash): the results are those of what had finished
    incomplete: bool = False

    @property
    def exit_code(self) -> int:
        """0 every check passes (hazard/unsupported/expected included), 1 any failure,
        3 an infrastructure error, an undecided check, or no check judged at all (every cell
        unsupported). An incomplete run: 3 when it stopped on an internal error (an
        ``errors`` entry starting with :data:`INTERNAL_ERROR`), else 130 (interrupted, even
        after a configuration's own error), as the process exits."""
        if self.incomplete:
            return 3 if any(e.startswith(INTERNAL_ERROR) for e in self.errors) else 130
        verdicts = [c.verdict for cl in self.clients for c in cl.checks]
        if Verdict.FAIL in verdicts:
            return 1
        if self.errors or Verdict.UNKNOWN in verdicts:
            return 3
        if verdicts and all(v == Verdict.UNSUPPORTED for v in verdicts):
            return 3  # nothing was judged: never a pass
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RESULTS_SCHEMA,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "tool_version": self.tool_version,
            "profile": self.profile,
            "seed": self.seed,
            "broker": self.broker,
            "clients": [c.to_json() for c in self.clients],
            "errors": self.errors,
            "incomplete": self.incomplete,
            "command_line": self.command_line,
            "environment": self.environment,
            "exit_code": self.exit_code,
        }
