"""`kafka-conformance run`: the matrix of clients x configurations, verdicts and reports."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adapters.base import ConsumerConfig, Unsupported
from adapters.registry import DEFAULT_CLIENTS, load
from conformance import __version__
from conformance.broker.base import Broker
from conformance.broker.providers import make_broker
from conformance.checkers import CHECKS
from conformance.errors import ConformanceError, UsageError
from conformance.harness import SCENARIO_CONFIG
from conformance.machines.runner import PROFILES, run_machine
from conformance.machines.scenario import Scenario, ScenarioSpec
from conformance.strategies import Strategy
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

console = Console(stderr=True)

#: Simulated work per record: a batch takes long enough for a crash to land inside it.
PROCESS_MS = 2.0


@dataclass(frozen=True)
class MatrixEntry:
    protocol: str
    assignment: str
    strategy: str


#: What `run` covers per client and protocol (the ci profile runs the first entry of each).
MATRIX: dict[str, list[MatrixEntry]] = {
    "classic": [MatrixEntry("classic", "range", "BATCH+revoke"),
                MatrixEntry("classic", "cooperative-sticky", "RECORD+async"),
                MatrixEntry("classic", "range", "auto")],
    "consumer": [MatrixEntry("consumer", "range", "BATCH+revoke"),
                 MatrixEntry("consumer", "range", "auto")],
}


def specs_for(adapter: str, protocols: tuple[str, ...], profile: str) -> list[ScenarioSpec]:
    specs = []
    for protocol in protocols:
        entries = MATRIX[protocol] if profile != "ci" else MATRIX[protocol][:1]
        for e in entries:
            config = {**SCENARIO_CONFIG, "group_protocol": e.protocol,
                      "assignment_strategy": e.assignment}
            strategy = Strategy.parse(e.strategy)
            strategy.process_ms = PROCESS_MS
            specs.append(ScenarioSpec(adapter, config, strategy))
    return specs


def unsupported_results(reason: str) -> list[CheckResult]:
    return [CheckResult(check, section, Verdict.UNSUPPORTED, note=reason)
            for check, (section, _fn) in CHECKS.items()]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def execute(clients_: tuple[str, ...] = (), adapter_refs: tuple[str, ...] = (),
            bootstrap_servers: str | None = None, client_props: tuple[str, ...] = (),
            nodes: str = "1", kafka_version: str = "4.3.1", protocols: tuple[str, ...] = (),
            profile: str = "ci", seed: int | None = None, out: str = "reports",
            baseline: str | None = None, only: tuple[str, ...] = ()) -> int:
    """Run the suite; returns the exit code."""
    from conformance.cli import _client_properties
    from conformance.report import write_reports
    from conformance.report.baseline import Baseline

    names = list(clients_) + list(adapter_refs) or list(DEFAULT_CLIENTS)
    adapters = {name: load(name) for name in names}  # unknown client: UsageError, exit 2
    base = Baseline.load(Path(baseline)) if baseline else None
    protocols = protocols or ("classic", "consumer")
    props = _client_properties(client_props)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    run_dir = Path(out) / run_id
    generated, semantics = _selection(only)
    result = RunResult(run_id, _now(), tool_version=__version__, profile=profile, seed=seed)
    broker = make_broker(bootstrap_servers=bootstrap_servers, nodes=int(nodes),
                         kafka_version=kafka_version, client_config=props)
    with console.status("starting the broker"):
        broker.start()
    run_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]kafka-conformance {__version__}[/bold] run {run_id}, profile "
                  f"{profile}, clients: {escape(', '.join(names))}")
    try:
        result.broker = {**broker.describe(), "nodes": broker.nodes}
        console.print(f"broker: {broker.provider} Kafka {broker.version} at "
                      f"{broker.bootstrap_servers}")
        for name, cls in adapters.items():
            if generated:
                for spec in specs_for(name, protocols, profile):
                    result.clients.append(_run_spec(broker, cls, spec, profile, seed, run_dir))
            for protocol in protocols:
                if semantics:
                    result.clients.append(_run_semantics(broker, name, cls, protocol,
                                                         semantics, run_dir))
    except ConformanceError as exc:
        result.errors.append(str(exc).splitlines()[0])
        console.print(f"[red]error:[/red] {exc}")
    finally:
        with console.status("stopping the broker"):
            broker.stop()
    result.finished_at = _now()
    if base is not None:
        result = base.apply(result)
    paths = write_reports(result, run_dir)
    print_summary(result)
    console.print(f"reports: {', '.join(str(p) for p in paths.values())}")
    return result.exit_code


def _run_spec(broker: Broker, cls: type, spec: ScenarioSpec, profile: str, seed: int | None,
              run_dir: Path) -> ClientResult:
    client = ClientResult(spec.adapter, cls.client, cls.client_version(), spec.label,
                          cls.capabilities.to_json())
    try:
        cls.check_config(ConsumerConfig.from_json({"bootstrap_servers": "-", **spec.config}))
    except Unsupported as exc:
        client.checks = unsupported_results(str(exc))
        console.print(escape(f"  {spec.adapter} [{spec.label}]: unsupported ({exc})"))
        return client
    slug = f"{spec.adapter}-{spec.label}".replace(" ", "_").replace("/", "-").replace(":", "-")
    with console.status(escape(f"{spec.adapter} [{spec.label}]: generating scenarios")):
        outcome = run_machine(broker, spec, PROFILES[profile], run_dir / slug, seed)
    for check in outcome.results:
        if check.history_file:
            check.history_file = os.path.relpath(check.history_file, run_dir)
        if outcome.error and check.verdict == Verdict.FAIL:
            check.note = (check.note + "; " if check.note else "") + outcome.error
    client.checks = outcome.results
    bad = [c.check for c in outcome.results if c.verdict == Verdict.FAIL]
    console.print(escape(f"  {spec.adapter} [{spec.label}]: {len(outcome.examples)} examples "
                         f"in {outcome.seconds:.0f} s")
                  + (f", [red]failing: {escape(', '.join(bad))}[/red]" if bad else ""))
    return client


def _selection(only: tuple[str, ...]) -> tuple[bool, list[str]]:
    """(run the generated scenarios?, the semantics checks to run) for ``--only``."""
    from conformance.scenarios import SEMANTICS_CHECKS

    every = list(SEMANTICS_CHECKS)
    if not only:
        return True, every
    picked = [c for c in every if "semantics" in only
              or any(c == o or c.startswith(f"{o}-") for o in only)]
    unknown = [o for o in only if o not in ("generated", "semantics")
               and not any(c == o or c.startswith(f"{o}-") for c in every)]
    if unknown:
        raise UsageError(f"--only {unknown[0]!r} names no check: use 'generated', 'semantics', "
                         f"a section (S1..S9) or a check id such as {every[0]}")
    return "generated" in only, picked


def _run_semantics(broker: Broker, name: str, cls: type, protocol: str, checks: list[str],
                   run_dir: Path) -> ClientResult:
    from conformance.scenarios.runner import run_semantics

    client = ClientResult(name, cls.client, cls.client_version(),
                          f"{protocol} fixed scenarios", cls.capabilities.to_json())
    with console.status(escape(f"{name} [{protocol}]: fixed scenarios")) as status:
        client.checks = run_semantics(
            broker, name, cls, protocol, run_dir / f"{name}-{protocol}-semantics".replace(
                ":", "-"), only=checks,
            progress=lambda c: status.update(escape(f"{name} [{protocol}]: {c}")))
    for check in client.checks:
        if check.history_file:
            check.history_file = os.path.relpath(check.history_file, run_dir)
    counts = Counter(str(c.verdict) for c in client.checks)
    console.print(escape(f"  {name} [{protocol} fixed scenarios]: ")
                  + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    return client


_STYLE = {"pass": "green", "fail": "bold red", "hazard": "yellow", "unsupported": "dim",
          "unknown": "magenta", "expected": "cyan"}


def print_summary(result: RunResult) -> None:
    """The client x check tables: generated invariants, then the fixed scenarios (transposed:
    one row per check, one column per client and protocol)."""
    out = Console(width=max(Console().width, 140))
    generated = [cl for cl in result.clients if not cl.label.endswith("fixed scenarios")]
    fixed = [cl for cl in result.clients if cl.label.endswith("fixed scenarios")]

    def cell(c: CheckResult | None) -> str:
        return "-" if c is None else f"[{_STYLE.get(str(c.verdict), '')}]{c.verdict}[/]"

    if generated:
        table = Table(title=f"generated scenarios (run {result.run_id})")
        table.add_column("client")
        table.add_column("configuration")
        for check, (section, _fn) in CHECKS.items():
            table.add_column(f"{check}\n{section}")
        for cl in generated:
            by = {c.check: c for c in cl.checks}
            table.add_row(escape(cl.name), escape(cl.label),
                          *[cell(by.get(check)) for check in CHECKS])
        out.print(table)
    if fixed:
        table = Table(title="fixed scenarios per SEMANTICS.md section")
        table.add_column("check")
        for cl in fixed:
            table.add_column(escape(f"{cl.name}\n{cl.label.split()[0]}"))
        ids = list(dict.fromkeys(c.check for cl in fixed for c in cl.checks))
        for check in ids:
            table.add_row(check, *[cell(next((c for c in cl.checks if c.check == check), None))
                                   for cl in fixed])
        out.print(table)
    code = result.exit_code
    console.print(f"exit code {code}: " + {0: "every check passed", 1: "a check failed",
                                           3: "infrastructure error or undecided check"}[code])
    for err in result.errors:
        console.print(f"[red]error:[/red] {err}")


def replay_file(file: str, bootstrap_servers: str | None = None,
                kafka_version: str = "4.3.1") -> int:
    """Re-run a saved step sequence on a fresh broker; exit 0 if every check passes."""
    from conformance.checkers import run_checks
    from conformance.harness import Harness
    from conformance.machines.scenario import load_replay

    spec, steps = load_replay(Path(file))
    load(spec.adapter)
    broker = make_broker(bootstrap_servers=bootstrap_servers, kafka_version=kafka_version)
    workdir = Path(file).parent / f"replay-{time.strftime('%H%M%S')}"
    with broker:
        h = Harness(broker, spec.adapter, spec.config, spec.strategy,
                    partitions=spec.partitions, workdir=workdir)
        try:
            h.setup()
            sc = Scenario(h)
            sc.start_member()
            for name, args in steps[1:] if steps and steps[0][0] == "start_member" else steps:
                console.print(f"step {name} {args}")
                sc.run_step(name, args)
            h.drain()
            h.observe_group()
            h.check_workers()
        finally:
            h.close()
    path = h.history.to_jsonl(workdir / "history.jsonl")
    results = run_checks(h.history)
    failed = False
    for r in results:
        console.print(f"{r.check:22} {r.section:4} {r.verdict}")
        for v in r.violations[:5]:
            console.print(f"    {v.anomaly}: {v.message}")
        failed |= r.verdict == Verdict.FAIL
    console.print(f"history: {path}")
    if h.infra_errors:
        raise ConformanceError("; ".join(h.infra_errors))
    return 1 if failed else 0


__all__ = ["execute", "print_summary", "replay_file", "specs_for"]
