"""``kafka-conformance``: run the suite, run a broker, list clients, replay a failure, compare
two runs (the upgrade gate).

Exit codes: 0 every check passes, 1 a violation, 2 usage error, 3 infrastructure error
(broker, Java/Maven, a worker dying unplanned) or an internal error, 130 interrupted.
A `run` interrupted (Ctrl-C, SIGTERM) or stopped by an internal error still writes its reports:
those of the configurations that finished, marked incomplete.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click

from conformance import __version__
from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.errors import ConformanceError
from conformance.protocols import ALL, GroupProtocol, parse


def _fail(exc: ConformanceError) -> NoReturn:
    first, _, rest = str(exc).partition("\n")
    click.echo(f"error: {first}", err=True)
    if rest.strip():
        click.echo("  " + rest.strip().replace("\n", "\n  "), err=True)
    sys.exit(exc.exit_code)


def _sigterm_as_exit(*_: Any) -> None:
    raise SystemExit(143)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kafka-conformance")
def cli() -> None:
    """Property-based conformance suite for Apache Kafka consumer clients."""


# -- broker -----------------------------------------------------------------------------------
@cli.group()
def broker() -> None:
    """Run a real Apache Kafka broker (embedded KRaft from Maven jars)."""


@broker.command("run")
@click.option("--nodes", type=click.Choice(["1", "3"]), default="1", show_default=True)
@click.option("--kafka-version", default=DEFAULT_KAFKA_VERSION, show_default=True)
@click.option("--port", type=int, default=None,
              help="first port to use (2 per node); default: free ports")
def broker_run(nodes: str, kafka_version: str, port: int | None) -> None:
    """Start the embedded broker in the foreground until Ctrl-C / SIGTERM."""
    from conformance.broker.embedded import EmbeddedKafka

    embedded = EmbeddedKafka(nodes=int(nodes), kafka_version=kafka_version, port=port)
    with embedded:
        click.echo(f"bootstrap.servers={embedded.bootstrap_servers}", nl=True)
        sys.stdout.flush()
        click.echo(f"Kafka {kafka_version}, {nodes} node(s), logs in {embedded.run_dir}; "
                   f"Ctrl-C stops it", err=True)
        stop = threading.Event()
        while not stop.wait(1.0):
            dead = [p for p in embedded.node_processes() if p.poll() is not None]
            if dead:
                raise ConformanceError(f"a broker node exited (code {dead[0].returncode})")


# -- clients ----------------------------------------------------------------------------------
@cli.command("clients")
def clients() -> None:
    """List the adapters with their client library versions and capabilities."""
    from rich.console import Console
    from rich.table import Table

    from adapters.registry import available, load

    table = Table(title="kafka-conformance adapters")
    table.add_column("name")
    table.add_column("client")
    table.add_column("version")
    table.add_column("capabilities")
    for name in sorted(available()):
        try:
            cls = load(name)
        except ConformanceError as exc:
            table.add_row(name, "-", "-", f"[red]not loadable: {exc}[/red]")
            continue
        caps = ", ".join(k for k, v in cls.capabilities.to_json().items() if v)
        table.add_row(name, cls.client, cls.client_version() or "not installed", caps)
    Console().print(table)
    from conformance.clients.envs import cached_envs

    cached = Table(title="cached client environments (--client NAME==VERSION)")
    for column in ("release", "python", "installer", "built in", "path"):
        cached.add_column(column)
    for env in cached_envs():
        cached.add_row(str(env.get("requirement")), str(env.get("python")),
                       str(env.get("installer")), f"{env.get('seconds')} s", str(env["path"]))
    Console().print(cached)


@cli.command("releases")
@click.argument("name")
@click.option("--pre", is_flag=True, help="also list pre-releases (alpha, beta, rc, milestones)")
@click.option("--refresh", is_flag=True, help="ask the registry again (listings are cached "
                                              "for an hour)")
@click.option("--json", "as_json", is_flag=True, help="print the listing as JSON")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="only the N newest releases")
def releases_(name: str, pre: bool, refresh: bool, as_json: bool, limit: int | None) -> None:
    """List the releases of client NAME the suite can run (NAME==VERSION), newest first, with
    the ones known not to build or load marked and why."""
    import json

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from conformance.clients.releases import releases

    listing = releases(name, pre=pre, refresh=refresh)[:limit]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in listing], indent=2))
        return
    table = Table()
    table.add_column("release")
    table.add_column("status", overflow="fold")
    for r in listing:
        table.add_row(r.version, Text(r.unusable, style="yellow") if r.unusable
                      else Text("runs", style="green"))
    console = Console()
    console.print(f"releases of {name}, newest first")
    console.print(table)
    if name.split(":", 1)[0] == "franz-go":
        click.echo("The module proxy's list can be partial; franz-go==VERSION asks for any "
                   "release directly.", err=True)


# -- run --------------------------------------------------------------------------------------
_CLIENT_HELP = ("client spec (repeatable): NAME (installed beside the suite), NAME==VERSION (that "
                "release in its own cached environment) or NAME@/path/to/python; "
                "default: java (the reference) and the Python clients beside the suite")


def _protocols(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
               ) -> tuple[GroupProtocol, ...]:
    """``--protocol`` values, parsed (a bad one: one line, exit 2)."""
    return tuple(parse(v, "--protocol") for v in values)


_EARLY_ACCESS_HELP = ("run the consumer protocol on releases that ship it as early access "
                      "(kafka-clients 3.7-3.9, librdkafka 2.4.0-2.11.x) instead of refusing "
                      "it; such configurations are labelled early-access")


def _broker_and_protocol_options(fn: Any) -> Any:
    """The options ``run``, ``history`` and ``bisect`` share: which broker, client
    properties, protocols, early access."""
    for option in reversed([
        click.option("--bootstrap-servers", default=None, help="use this existing cluster"),
        click.option("--client-property", "client_props", multiple=True,
                     help="KEY=VALUE passed to every client (e.g. SASL/SSL), repeatable"),
        click.option("--nodes", type=click.Choice(["1", "3"]), default="1", show_default=True),
        click.option("--kafka-version", default=DEFAULT_KAFKA_VERSION, show_default=True),
        click.option("--protocol", "protocols", multiple=True, callback=_protocols,
                     metavar=f"[{'|'.join(ALL)}]", help="group protocol(s); default: both"),
        click.option("--early-access", is_flag=True, help=_EARLY_ACCESS_HELP),
    ]):
        fn = option(fn)
    return fn


@cli.command("run")
@click.option("--client", "clients_", multiple=True, metavar="SPEC", help=_CLIENT_HELP)
@click.option("--adapter", "adapter_refs", multiple=True,
              help="an adapter in your own code: module:Class or path/to/file.py:Class")
@_broker_and_protocol_options
@click.option("--profile", type=click.Choice(["smoke", "ci", "dev", "thorough"]), default="ci",
              show_default=True,
              help="search effort: smoke (a quick look, no shrinking), ci (bounded), dev, "
                   "thorough")
@click.option("--seed", type=int, default=None, help="Hypothesis seed, for reproduction")
@click.option("--out", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--baseline", type=click.Path(dir_okay=False), default=None,
              help="TOML file of known deviations (reported as expected)")
@click.option("--only", "only", multiple=True,
              help="run only: 'generated', 'semantics', a section (S1..S9) or a check id; "
                   "repeatable")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="configurations run at once on the one broker (each with its own topics "
                   "and groups); default: three per core, as the memory allows, 2 to 8")
@click.option("--shard", default=None, metavar="K/N",
              help="run only shard K of N of the matrix (merge the shards' results.json "
                   "with 'kafka-conformance merge')")
@click.option("--previous", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="the results.json of an earlier run: the report's header says what changed "
                   "since (new failures, fixed, new hazards, as 'compare' finds them)")
def run(clients_: tuple[str, ...], adapter_refs: tuple[str, ...],
        bootstrap_servers: str | None, client_props: tuple[str, ...], nodes: str,
        kafka_version: str, protocols: tuple[GroupProtocol, ...], early_access: bool,
        profile: str, seed: int | None, out: str, baseline: str | None,
        only: tuple[str, ...], jobs: int | None, shard: str | None,
        previous: str | None) -> None:
    """Run the conformance suite and write reports/<run-id>/{index.html,results.json,junit.xml}."""
    from pathlib import Path

    from conformance.errors import UsageError
    from conformance.jobs import default_jobs
    from conformance.merge import parse_shard
    from conformance.options import RunOptions, client_properties, client_specs
    from conformance.report.since import load_previous
    from conformance.run import execute

    if previous:  # read before anything runs: a bad file is a usage error (exit 2)
        try:
            load_previous(previous)
        except UsageError as exc:
            raise UsageError(f"--previous {exc}") from None

    opts = RunOptions(clients=client_specs(clients_, adapter_refs),
                      bootstrap_servers=bootstrap_servers,
                      client_properties=client_properties(client_props), nodes=int(nodes),
                      kafka_version=kafka_version, protocols=protocols or ALL,
                      profile=profile, seed=seed, out=Path(out),
                      baseline=Path(baseline) if baseline else None, only=only,
                      jobs=jobs or default_jobs(), shard=parse_shard(shard) if shard else None,
                      previous=Path(previous) if previous else None, early_access=early_access)
    sys.exit(execute(opts))


def _releases_run_options(seed: str, only: str) -> Callable[[Any], Any]:
    """The run options ``history`` and ``bisect`` share (each release runs as ``run`` would):
    profile, seed (``seed``: what it means across releases), out, only (``only``: what is
    added to its help), jobs."""
    def decorate(fn: Any) -> Any:
        for option in reversed([
            click.option("--profile", type=click.Choice(["smoke", "ci", "dev", "thorough"]),
                         default="ci", show_default=True, help="search effort, as for run"),
            click.option("--seed", type=int, default=None, help=f"Hypothesis seed ({seed})"),
            click.option("--out", type=click.Path(file_okay=False), default="reports",
                         show_default=True),
            click.option("--only", "only", multiple=True,
                         help="run only: 'generated', 'semantics', a section (S1..S9) or a "
                              f"check id; repeatable{only}"),
            click.option("--jobs", type=click.IntRange(min=1), default=None,
                         help="configurations run at once on the one broker, as for run"),
        ]):
            fn = option(fn)
        return fn
    return decorate


@cli.command("history")
@click.option("--client", "client", required=True, metavar="NAME",
              help="a built-in client (kafka-python, confluent-kafka, java, franz-go, ...)")
@click.option("--releases", "releases_spec", required=True, metavar="SPEC",
              help="A..B (inclusive, in version order; A.. or ..B open), every-minor (the "
                   "newest patch of each minor), last:N, or a list V1,V2,...")
@_broker_and_protocol_options
@_releases_run_options(seed="the same for every release", only="")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None,
              help="TOML file of known deviations (reported as expected)")
def history(client: str, releases_spec: str, bootstrap_servers: str | None,
            client_props: tuple[str, ...], nodes: str, kafka_version: str,
            protocols: tuple[GroupProtocol, ...], early_access: bool, profile: str,
            seed: int | None, out: str, baseline: str | None, only: tuple[str, ...],
            jobs: int | None) -> None:
    """One run over chosen releases of one client (one broker; each release its own
    environment or build), then a release-history report in the run's folder: history.html
    (releases by checks, changes marked), history.json and a console table. Exits as run."""
    from pathlib import Path

    from conformance.clients.releases import releases
    from conformance.errors import UsageError
    from conformance.jobs import default_jobs
    from conformance.options import RunOptions, client_properties
    from conformance.release_history import run_history, select_releases

    if "==" in client or "@" in client:
        raise UsageError(f"--client {client!r}: give the client's name only; --releases "
                         f"chooses its releases")
    selection = select_releases(releases(client, pre=True), releases_spec, client)
    opts = RunOptions(bootstrap_servers=bootstrap_servers,
                      client_properties=client_properties(client_props), nodes=int(nodes),
                      kafka_version=kafka_version, protocols=protocols or ALL,
                      profile=profile, seed=seed, out=Path(out),
                      baseline=Path(baseline) if baseline else None, only=only,
                      jobs=jobs or default_jobs(), early_access=early_access)
    sys.exit(run_history(opts, client, selection))


@cli.command("bisect")
@click.option("--client", "client", required=True, metavar="NAME",
              help="a built-in client (kafka-python, confluent-kafka, java, franz-go, ...)")
@click.option("--good", required=True, metavar="V1",
              help="the older release: the search looks for where its verdict of CHECK ends")
@click.option("--bad", required=True, metavar="V2",
              help="the newer release, on which CHECK's verdict differs from V1's")
@click.option("--check", "check", required=True, metavar="CHECK",
              help="a check of the generated scenarios (no-loss, order, ...) or a fixed "
                   "scenario id (S5-BATCH-crash-bound, ...)")
@click.option("--replay", "replay_file", type=click.Path(dir_okay=False), default=None,
              metavar="PATH", help="replay this saved program (a failing example's "
                                   "replay.json) on each release instead of a generated search")
@_broker_and_protocol_options
@_releases_run_options(seed="the same for every release; default: one drawn for all",
                       only="; default: the least that runs CHECK")
def bisect(client: str, good: str, bad: str, check: str, replay_file: str | None,
           bootstrap_servers: str | None, client_props: tuple[str, ...], nodes: str,
           kafka_version: str, protocols: tuple[GroupProtocol, ...], early_access: bool,
           profile: str, seed: int | None, out: str, only: tuple[str, ...],
           jobs: int | None) -> None:
    """Find the first release between V1 and V2 (in version order, as 'releases NAME' lists
    them) at which CHECK's verdict changes: V1 and V2 run first, then a binary search, each
    release with the same seed and --only (or the same --replay program). Prints the boundary
    with both reports and writes bisect.json. Exit 0 found, 2 bad input or V1 and V2 agree,
    3 a release left CHECK undecided (or an infrastructure error)."""
    from pathlib import Path

    from conformance.bisect import check_replay, run_bisect, run_only, select_range
    from conformance.clients.releases import listing_partial, releases
    from conformance.errors import UsageError
    from conformance.jobs import default_jobs
    from conformance.options import RunOptions, client_properties
    from conformance.release_history import version_key

    if "==" in client or "@" in client:
        raise UsageError(f"--client {client!r}: give the client's name only; --good and --bad "
                         f"choose its releases")
    if replay_file and only:
        raise UsageError("--only does not apply with --replay: the saved program runs as it is")
    picked = run_only(check, only, protocols or ALL)
    span = select_range(releases(client, pre=True), good, bad, client, version_key(client),
                        listing_partial(client))
    if replay_file:
        check_replay(Path(replay_file), client, check, protocols)
    opts = RunOptions(bootstrap_servers=bootstrap_servers,
                      client_properties=client_properties(client_props), nodes=int(nodes),
                      kafka_version=kafka_version, protocols=protocols or ALL,
                      profile=profile, seed=seed, out=Path(out),
                      only=() if replay_file else picked, jobs=jobs or default_jobs(),
                      early_access=early_access)
    sys.exit(run_bisect(opts, client, check, span, Path(replay_file) if replay_file else None))


@cli.command("replay")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--client", "client", default=None, metavar="SPEC",
              help="run with this client spec instead of the recorded one")
@click.option("--bootstrap-servers", default=None)
@click.option("--kafka-version", default=DEFAULT_KAFKA_VERSION, show_default=True)
def replay(file: str, client: str | None, bootstrap_servers: str | None,
           kafka_version: str) -> None:
    """Re-run a saved failing step sequence (replay.json) against a fresh broker."""
    from conformance.clients import ClientSpec
    from conformance.run import replay_file

    spec = ClientSpec.parse(client) if client else None
    sys.exit(replay_file(file, bootstrap_servers=bootstrap_servers, kafka_version=kafka_version,
                         client=spec))


@cli.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="folder for the merged reports; default: reports/merged-<time>")
def merge(files: tuple[str, ...], out: str | None) -> None:
    """Merge the results.json of shards (run --shard K/N) into one report (HTML, JSON,
    JUnit); exits with the merged run's exit code."""
    from pathlib import Path

    from conformance.console import print_summary
    from conformance.merge import merge_results
    from conformance.report import write_reports

    folder = Path(out) if out else Path("reports") / f"merged-{time.strftime('%Y%m%d-%H%M%S')}"
    result = merge_results([Path(f) for f in files], folder)
    paths = write_reports(result, folder)
    print_summary(result)
    click.echo(f"reports: {', '.join(str(p) for p in paths.values())}", err=True)
    sys.exit(result.exit_code)


@cli.command("compare")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--old-client", default=None, metavar="SPEC",
              help="the column of OLD to compare, when it holds several client specs")
@click.option("--new-client", default=None, metavar="SPEC",
              help="the column of NEW to compare, when it holds several client specs")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False),
              help="also write the changes as JSON to this file")
@click.option("--strict", is_flag=True,
              help="exit 3 when nothing gates but NEW has undecided checks or run errors")
def compare(old: str, new: str, old_client: str | None, new_client: str | None,
            json_out: str | None, strict: bool) -> None:
    """The upgrade gate: checks whose verdict changed from OLD to NEW (results.json files);
    exit 1 when NEW fails a check that OLD passed."""
    from conformance.compare import compare_files

    sys.exit(compare_files(old, new, old_client, new_client, json_out, strict=strict))


@cli.command("worker-check", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--adapter", required=True,
              help="the adapter name sent with describe and init (e.g. kafka-python, java)")
@click.option("--bootstrap-servers", default=None, help="use this existing cluster")
@click.option("--kafka-version", default=DEFAULT_KAFKA_VERSION, show_default=True)
@click.option("--check", "only", multiple=True, metavar="NAME",
              help="run only this check (repeatable); default: all")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="checks run at once (each with its own topic, group and workers)")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False),
              help="also write the outcomes as JSON to this file")
def worker_check(command: tuple[str, ...], adapter: str, bootstrap_servers: str | None,
                 kafka_version: str, only: tuple[str, ...], jobs: int,
                 json_out: str | None) -> None:
    """Check that the worker started by COMMAND (``--id MEMBER`` is appended) speaks the worker
    protocol: kafka-conformance worker-check --adapter NAME -- CMD ARGS...  Exit 0 every check
    passes, 1 a check failed (a protocol violation), 2 usage, 3 infrastructure."""
    import contextlib
    import json
    import shutil
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from conformance.broker.providers import make_broker
    from conformance.errors import UsageError
    from conformance.worker_check import exit_code, run_checks, select, summary_json

    try:
        checks = select(only)
    except ValueError as exc:
        raise UsageError(f"--check: {exc}") from None
    if shutil.which(command[0]) is None:
        raise UsageError(f"worker command {command[0]!r} not found")
    broker = make_broker(bootstrap_servers=bootstrap_servers, kafka_version=kafka_version,
                         proxied=False)

    def progress(outcome: Any) -> None:
        click.echo(f"{outcome.name}: {outcome.verdict} ({outcome.seconds:.1f} s)"
                   + ("" if outcome.verdict == "pass" else f": {outcome.reason}"), err=True)

    try:
        broker.start()
    except BaseException:
        if broker.owned:  # what it started; an external cluster that never answered: nothing
            with contextlib.suppress(Exception):
                broker.stop()
        raise
    try:
        outcomes = run_checks(broker, command, adapter, checks, progress, jobs)
    finally:
        broker.stop()
    table = Table(title=f"worker-check: {' '.join(command)}")
    for column in ("check", "verdict", "reason", "rule"):
        table.add_column(column, overflow="fold")
    colors = {"pass": "green", "fail": "red", "error": "yellow"}
    for o in outcomes:
        table.add_row(o.name, Text(o.verdict, style=colors[o.verdict]), Text(o.reason),
                      Text(o.rule))
    Console(width=200).print(table)
    if json_out:
        Path(json_out).write_text(json.dumps(summary_json(command, adapter, outcomes), indent=2)
                                  + "\n")
    sys.exit(exit_code(outcomes))


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _sigterm_as_exit)
    guarded: Callable[..., Any] = cli.main
    try:
        guarded(args=argv, prog_name="kafka-conformance", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except ConformanceError as exc:
        _fail(exc)
    except Exception as exc:  # a bug of ours: one line and exit 3, never 1 (a violation)
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}".splitlines()[0],
                   err=True)
        sys.exit(3)
    sys.exit(0)


if __name__ == "__main__":
    main()
