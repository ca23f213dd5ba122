"""`kafka-conformance run`: the matrix (:mod:`conformance.matrix`) executed on one broker, a
job per configuration, ``--jobs`` at a time, into a run folder and its reports; and a replay."""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape

from conformance import __version__
from conformance.broker.base import Broker
from conformance.broker.providers import make_broker
from conformance.checkers import CHECKS
from conformance.clients import Client, ClientSpec, resolve
from conformance.console import console, print_summary
from conformance.errors import ConformanceError, UsageError
from conformance.jobs import Board, run_all
from conformance.machines.runner import PROFILES, run_machine
from conformance.machines.scenario import ScenarioSpec
from conformance.matrix import fault_families, selection, specs_for
from conformance.merge import canonical_order, in_shard
from conformance.options import RunOptions
from conformance.processes import stop_children
from conformance.protocols import EARLY_ACCESS, early_access
from conformance.styles import styled
from conformance.verdicts import INTERNAL_ERROR, CheckResult, ClientResult, RunResult, Verdict

#: set once a run is interrupted: the tasks still running print no more verdicts (theirs
#: are not reported)
_STOPPING = threading.Event()


def _task_print(text: str) -> None:
    """A line of a configuration's task, unless the run was interrupted meanwhile."""
    if not _STOPPING.is_set():
        console.print(text)


def unsupported_results(reason: str) -> list[CheckResult]:
    return [CheckResult(check, section, Verdict.UNSUPPORTED, note=reason)
            for check, (section, _fn) in CHECKS.items()]


def unknown_results(checks: dict[str, str], cause: str) -> list[CheckResult]:
    """Every check of a configuration undecided, with the one-line cause."""
    return [CheckResult(check, section, Verdict.UNKNOWN, note=cause)
            for check, section in checks.items()]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(exc, ConformanceError) else f"{type(exc).__name__}: {first}"


def execute(opts: RunOptions) -> int:
    """Run the suite; returns the exit code."""
    from conformance.report import write_reports
    from conformance.report.baseline import Baseline
    from conformance.report.environment import command_line, run_environment

    base = Baseline.load(opts.baseline) if opts.baseline else None
    if opts.seed is None:  # always a real seed, so that any run can be reproduced
        opts = replace(opts, seed=random.SystemRandom().randrange(2**31))
    generated, semantics = selection(opts.only)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    run_dir = opts.out / run_id
    result = RunResult(run_id, _now(), tool_version=__version__, profile=opts.profile,
                       seed=opts.seed)
    clients = resolve_clients(opts.clients, result)  # unknown client / release: exit 2
    result.command_line = command_line()
    result.environment = run_environment(p.client for p in clients)
    runtimes = result.environment.get("clients", {})
    for prep in clients:  # keyed by column: an adapter given by reference, by its name
        if prep.reference and prep.spec.label in runtimes:
            runtimes[prep.label] = runtimes.pop(prep.spec.label)
    broker = make_broker(bootstrap_servers=opts.bootstrap_servers, nodes=opts.nodes,
                         kafka_version=opts.kafka_version, client_config=opts.client_properties)
    try:
        with console.status("starting the broker"):
            broker.start()
    except BaseException:  # an interrupted or failed start: stop what it started, then say so
        with contextlib.suppress(Exception):
            broker.stop()
        raise
    run_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]kafka-conformance {__version__}[/bold] run {run_id}, profile "
                  f"{opts.profile}, seed {opts.seed} (--seed {opts.seed} reproduces it), "
                  f"clients: {escape(', '.join(s.label for s in opts.clients))}")
    _STOPPING.clear()
    jobs: list[Job] = []
    finished: dict[int, ClientResult] = {}
    stopped: BaseException | None = None
    try:
        result.broker = {**broker.describe(), "nodes": broker.nodes}
        console.print(f"broker: {broker.provider} Kafka {broker.version} at "
                      f"{broker.bootstrap_servers}; {opts.jobs} configuration(s) at a time")
        describe_clients(clients)
        jobs = plan(broker, clients, opts, generated, semantics, run_dir)
        board = progress_board(jobs, opts)
        shown = [0]  # configurations done when progress was last printed

        with console.status(escape(board.line())) as status:
            def tick() -> None:
                watch_examples(board, jobs)
                status.update(escape(board.line()))
                if board.done != shown[0] and not console.is_terminal:
                    shown[0] = board.done  # no status line in a log: one line per finish
                    console.print(escape(f"progress: {board.progress()}"))

            entries = run_all([j.run for j in jobs], opts.jobs, board, tick=tick,
                              finished=finished)
        result.clients.extend(canonical_order(entries))
    except ConformanceError as exc:
        result.errors.append(_one_line(exc))
        console.print(f"[red]error:[/red] {exc}")
    except BaseException as exc:  # Ctrl-C, SIGTERM or a bug: report what had finished
        _STOPPING.set()
        stopped = exc
        result.incomplete = True
        result.clients.extend(canonical_order([finished[i] for i in sorted(finished)]))
        if not isinstance(exc, KeyboardInterrupt | SystemExit):
            result.errors.append(f"{INTERNAL_ERROR}{_one_line(exc)}")
    finally:
        with console.status("stopping the broker"):
            if stopped is not None:
                stop_children(keep=_broker_pids(broker))  # the workers of unfinished tasks
            broker.stop()
            if stopped is not None:
                stop_children()  # whatever a task still running started meanwhile
    result.finished_at = _now()
    if base is not None:
        result = base.apply(result)
    paths = write_reports(result, run_dir, previous=opts.previous)
    print_summary(result)
    console.print(f"reports: {', '.join(str(p) for p in paths.values())}")
    if stopped is not None:
        console.print(f"[yellow]incomplete run[/yellow] ({_cause(stopped)}): {len(finished)} of "
                      f"{len(jobs)} configurations finished; partial report: {paths['html']} "
                      f"(results: {paths['json']})")
        raise stopped
    return result.exit_code


def _cause(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, SystemExit):
        return f"stopped (exit {exc.code})"
    return f"internal error: {_one_line(exc)}"


def _broker_pids(broker: Broker) -> set[int]:
    """The processes of an embedded broker's nodes (none for an external cluster)."""
    nodes = getattr(broker, "node_processes", None)
    if nodes is None:
        return set()
    with contextlib.suppress(Exception):
        return {p.pid for p in nodes()}
    return set()


@dataclass(frozen=True)
class Prepared:
    """A client spec bound to its environment, or why that failed (its cells: unknown).
    ``label`` names its column: the spec as written, but an adapter given by reference
    (``path/to/file.py:Class``, ``module:Class``) by its declared ``name``."""

    spec: ClientSpec
    client: Client | None
    cause: str = ""
    label: str = ""

    @property
    def reference(self) -> str:
        """The adapter reference, when the column is labelled by the declared name."""
        return self.spec.adapter if self.label != self.spec.label else ""


def resolve_clients(specs: tuple[ClientSpec, ...], result: RunResult) -> list[Prepared]:
    """Each spec bound to its environment (built once, cached). A spec that names no client
    or no release is a usage error (nothing has started yet); one whose environment cannot be
    built or whose worker cannot start there keeps the cause: its cells become unknown."""
    out: list[Prepared] = []
    for spec in specs:
        try:
            with console.status(escape(f"preparing {spec.label}")) as status:
                client = resolve(spec, progress=lambda text, s=status: s.update(escape(text)))
        except UsageError:
            raise
        except ConformanceError as exc:
            result.errors.append(_one_line(exc))
            out.append(Prepared(spec, None, _one_line(exc), spec.label))
            continue
        out.append(Prepared(spec, client, label=spec.label))
    return declared_labels(out)


def declared_labels(prepared: list[Prepared]) -> list[Prepared]:
    """Each adapter given by reference labelled by its declared ``name`` (``my-client``,
    ``my-client==1.2``), unless that name is a registered adapter's or another column's."""
    from adapters.registry import available

    known = available()
    labels = []
    for prep in prepared:
        name = prep.client.name if prep.client is not None else ""
        own = (name and prep.spec.adapter not in known and name != prep.spec.adapter
               and name not in known)
        labels.append(replace(prep.spec, adapter=name).label if own else prep.spec.label)
    taken = [prep.spec.label for prep in prepared]
    return [replace(prep, label=label if labels.count(label) == 1 and
                    (label == prep.spec.label or label not in taken) else prep.spec.label)
            for prep, label in zip(prepared, labels, strict=True)]


def describe_clients(clients: list[Prepared]) -> None:
    """One line per client spec: the release its workers run, or why they cannot start."""
    for prep in clients:
        client = prep.client
        if client is None:
            console.print(f"[red]client {escape(prep.spec.label)}: {escape(prep.cause)}[/red]")
        else:
            python = client.info.get("python")
            named = f" ({prep.label})" if prep.reference else ""
            console.print(escape(f"client {prep.spec.label}{named}: {client.client} "
                                 f"{client.client_version}"
                                 + (f" (python {python})" if python else "")))


Task = Callable[[Board, int], ClientResult]


@dataclass(frozen=True)
class Job:
    """One configuration to run: ``generated`` scenarios (written to ``workdir``, one
    ``example-N`` folder per example) or one ``fixed`` scenario."""

    run: Task
    kind: str
    workdir: Path | None = None
    scenarios: int = 0


def plan(broker: Broker, clients: list[Prepared], opts: RunOptions, generated: bool,
         semantics: list[str], run_dir: Path) -> list[Job]:
    """One job per configuration, in report order: each client's generated-scenario
    configurations, then each fixed scenario per group protocol (put back into one entry per
    client and protocol by :func:`~conformance.merge.canonical_order`); with ``--shard K/N``
    only the jobs of that shard."""
    from conformance.scenarios import SEMANTICS_CHECKS

    jobs: list[Job] = []
    for prep in clients:
        if generated:
            for scenario in specs_for(prep.client or prep.spec.adapter, opts.protocols,
                                      opts.profile, fault_families(broker), opts.early_access):
                workdir = run_dir / _slug(f"{prep.label}-{scenario.label}")
                jobs.append(Job(lambda board, i, p=prep, sc=scenario, w=workdir: _guarded_spec(
                    broker, p, sc, opts, w, run_dir, board, i), "generated", workdir))
        for protocol in opts.protocols:
            for check in semantics:
                if protocol in SEMANTICS_CHECKS[check].protocols:
                    jobs.append(Job(lambda board, i, p=prep, proto=protocol, c=check:
                                    _guarded_semantics(broker, p, proto, [c], run_dir,
                                                       lambda text: board.set(i, text),
                                                       opts.early_access),
                                    "fixed", scenarios=1))
    return [job for n, job in enumerate(jobs) if in_shard(n, opts.shard)]


def progress_board(jobs: list[Job], opts: RunOptions) -> Board:
    """The board of a run's jobs: configurations, examples (the canonical one and the
    profile's per generated configuration) and fixed scenarios, by kind for time left."""
    board = Board(len(jobs), jobs=opts.jobs, kinds=[j.kind for j in jobs])
    per_spec = 1 + (PROFILES[opts.profile].max_examples if opts.profile in PROFILES else 0)
    for i, job in enumerate(jobs):
        if job.kind == "generated":
            board.expect("examples", i, per_spec)
        if job.scenarios:
            board.expect("scenarios", i, job.scenarios)
    return board


def watch_examples(board: Board, jobs: list[Job]) -> None:
    """The examples each running generated configuration has finished (on disk so far)."""
    for i in list(board.running):
        workdir = jobs[i].workdir
        if workdir is not None and workdir.is_dir():
            board.count("examples", i, len(list(workdir.glob("example-*/history.jsonl"))))


def _client_result(prep: Prepared, label: str, protocol: str, early: bool = False, *,
                   fixed: bool = False, config: dict[str, Any] | None = None) -> ClientResult:
    client = prep.client
    if client is None:
        return ClientResult(prep.spec.adapter, label=label, spec=prep.label or prep.spec.label,
                            protocol=protocol, early_access=early, fixed=fixed,
                            config=dict(config or {}))
    return ClientResult(client.name, client.client, client.client_version, label,
                        client.capabilities, spec=prep.label, adapter=prep.reference,
                        protocol=protocol, early_access=early, fixed=fixed,
                        config=dict(config or {}))


def _guarded(prep: Prepared, label: str, protocol: str, checks: dict[str, str],
             body: Callable[[Client, ClientResult], None], early: bool = False, *,
             fixed: bool = False, config: dict[str, Any] | None = None) -> ClientResult:
    """One configuration's entry filled by ``body``; a client that could not start, or any
    error in ``body``, makes every check of ``checks`` unknown with the one-line cause.
    ``early``: the configuration runs the consumer protocol as early access; ``fixed``: the
    entry holds fixed scenarios; ``config``: the configuration as asked for."""
    entry = _client_result(prep, label, protocol, early, fixed=fixed, config=config)
    if prep.client is None:
        entry.checks = unknown_results(checks, prep.cause)
        return entry
    try:
        body(prep.client, entry)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        cause = _one_line(exc)
        entry.checks = unknown_results(checks, f"error: {cause}")
        _task_print(escape(f"  {prep.label} [{label}]: unknown ({cause})"))
    return entry


def _guarded_spec(broker: Broker, prep: Prepared, scenario: ScenarioSpec, opts: RunOptions,
                  workdir: Path, run_dir: Path, board: Board, index: int) -> ClientResult:
    """One generated-scenario configuration, written to ``workdir`` (inside ``run_dir``)."""
    def body(client: Client, entry: ClientResult) -> None:
        entry.checks, entry.timings = _run_spec(broker, client, prep.label, scenario, opts,
                                                workdir, run_dir,
                                                lambda text: board.set(index, text))
        examples = int(entry.timings.get("examples", 0))
        board.count("examples", index, examples, examples)

    checks = {check: section for check, (section, _fn) in CHECKS.items()}
    return _guarded(prep, scenario.label, str(scenario.config.get("group_protocol", "")),
                    checks, body, scenario.early_access, config=scenario.config_json())


def _run_spec(broker: Broker, client: Client, title: str, spec: ScenarioSpec,
              opts: RunOptions, workdir: Path, run_dir: Path, note: Callable[[str], None]
              ) -> tuple[list[CheckResult], dict[str, float]]:
    reason = client.unsupported(spec.config)
    if reason:
        _task_print(escape(f"  {title} [{spec.label}]: unsupported ({reason})"))
        return unsupported_results(reason), {}
    note(f"{title} [{spec.label}]: generated scenarios")
    outcome = run_machine(broker, spec, PROFILES[opts.profile], workdir, opts.seed)
    for check in outcome.results:
        if check.history_file:
            check.history_file = os.path.relpath(check.history_file, run_dir)
        if outcome.error and check.verdict == Verdict.FAIL:
            check.note = (check.note + "; " if check.note else "") + outcome.error
    bad = [c.check for c in outcome.results if c.verdict == Verdict.FAIL]
    timings = outcome.timings()
    top = [(k.removeprefix("phase:"), v) for k, v in timings.items() if k.startswith("phase:")]
    total = sum(v for _k, v in top) or 1.0
    where = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in top[:3])
    _task_print(escape(f"  {title} [{spec.label}]: {len(outcome.examples)} examples "
                         f"in {outcome.seconds:.0f} s, median example "
                         f"{timings['median_example']:.1f} s ({where})")
                  + (f", [red]failing: {escape(', '.join(bad))}[/red]" if bad else ""))
    return outcome.results, timings


def _slug(text: str) -> str:
    """A folder name for a client spec + configuration label."""
    return re.sub(r"[^A-Za-z0-9.=+_-]+", "-", text).strip("-")[:120]


def _guarded_semantics(broker: Broker, prep: Prepared, protocol: str, checks: list[str],
                       run_dir: Path, note: Callable[[str], None], allow_early: bool = False
                       ) -> ClientResult:
    """Fixed scenarios of one client and protocol (``allow_early``: ``--early-access``)."""
    from conformance.scenarios import SEMANTICS_CHECKS
    from conformance.scenarios.runner import semantics_config

    def body(client: Client, entry: ClientResult) -> None:
        entry.checks = _run_semantics(broker, client, prep.label, protocol, checks, run_dir,
                                      note, allow_early)

    wanted = {c: SEMANTICS_CHECKS[c].section for c in checks
              if protocol in SEMANTICS_CHECKS[c].protocols}
    early = early_access(protocol, allow_early,
                         prep.client.capabilities if prep.client is not None else {})
    label = f"{protocol}{' ' + EARLY_ACCESS if early else ''} fixed scenarios"
    return _guarded(prep, label, protocol, wanted, body, early, fixed=True,
                    config=semantics_config(protocol, allow_early))


def _run_semantics(broker: Broker, client: Client, label: str, protocol: str,
                   checks: list[str], run_dir: Path, note: Callable[[str], None],
                   allow_early: bool = False) -> list[CheckResult]:
    from conformance.scenarios.runner import run_semantics

    title = f"{label} [{protocol}]"
    note(f"{title}: fixed scenarios")
    results = run_semantics(
        broker, client, protocol, run_dir / _slug(f"{label}-{protocol}-semantics"),
        only=checks, progress=lambda c: note(f"{title}: {c}"), early_access=allow_early)
    for check in results:
        if check.history_file:
            check.history_file = os.path.relpath(check.history_file, run_dir)
    for check in results:
        _task_print(escape(f"  {title} {check.check}: ")
                    + f"{styled(str(check.verdict))} ({check.seconds:.0f} s)")
    return results


def replay_file(file: str, bootstrap_servers: str | None = None,
                kafka_version: str = "4.3.1", client: ClientSpec | None = None) -> int:
    """Re-run a saved step sequence on a fresh broker with the client it was recorded with
    (or ``client``); exit 0 if every check passes, 1 if one fails."""
    from conformance.machines.minimize import replay
    from conformance.machines.scenario import load_replay

    spec, steps = load_replay(Path(file))
    spec.client = resolve(client or spec.client.spec)
    console.print(escape(f"client {spec.client.label}: {spec.client.client} "
                         f"{spec.client.client_version}"))
    broker = make_broker(bootstrap_servers=bootstrap_servers, kafka_version=kafka_version)
    workdir = Path(file).parent / f"replay-{time.strftime('%H%M%S')}"
    with broker:
        run = replay(broker, spec, steps, workdir,
                     log=lambda name, args: console.print(escape(f"step {name} {args}")))
    failed = False
    for r in run.results:
        console.print(f"{r.check:22} {r.section:4} {r.verdict}")
        for v in r.violations[:5]:
            console.print(f"    {v.anomaly}: {v.message}")
        failed |= r.verdict == Verdict.FAIL
    console.print(f"history: {workdir / 'history.jsonl'}")
    if run.harness.infra_errors:
        raise ConformanceError("; ".join(run.harness.infra_errors))
    return 1 if failed else 0


__all__ = ["execute", "replay_file"]
