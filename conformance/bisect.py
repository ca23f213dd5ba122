"""`kafka-conformance bisect`: the first release of a client, between a good and a bad one, at
which one check's verdict changes.

Pure parts (no broker, no registry) and the command:

    search         the binary search: releases in version order and a function release ->
                   verdict in, the boundary and the releases tried (in the order run) out
    select_range   the releases to search from a listing (:func:`conformance.clients.releases.
                   releases`): ``--good`` and ``--bad`` exactly, the usable final releases
                   between them; bad input is a one-line UsageError
    run_only       the ``--only`` every release runs with, checked against ``--check``
    check_verdict  a check's verdict for one release in a results.json dict
    run_bisect     the command: each release tried is one ``run`` (``execute``, its own report
                   folder) or, with ``--replay``, one replay of a saved program on one broker
                   shared by every release; ``bisect.json`` in the bisect's folder

The rule. V1 (``--good``, the older) and V2 (``--bad``) run first. The same verdict on both:
nothing to bisect (``agree``, exit 2). Otherwise a release whose verdict equals V1's lies on
V1's side, any other verdict on V2's side, and the search halves the releases between until
two adjacent ones are left: the last with V1's verdict and the first without it (``found``,
exit 0), after ``2 + ceil(log2(n - 1))`` runs at most for ``n`` releases. A verdict that
decides nothing (``unknown``, or the check not run) stops the search where it is met
(``undecided``, exit 3): the boundary lies between the two releases named then. The search
assumes the verdict changes once between V1 and V2. When it changes more than once, the pair
reported is still adjacent, its older release has V1's verdict and its newer one does not, but
it need not be the first change; ``kafka-conformance history --releases V1..V2`` runs them all.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.clients.releases import Release
from conformance.errors import ConformanceError, UsageError
from conformance.options import RunOptions
from conformance.protocols import GroupProtocol

if TYPE_CHECKING:
    from conformance.broker.base import Broker
    from conformance.verdicts import CheckResult, Verdict

SCHEMA = "kafka-conformance/bisect/1"
JSON_FILE = "bisect.json"
#: a check's verdict for a release whose results do not hold it
NOT_RUN = "not run"
#: verdicts that decide nothing: the search stops where it meets one
UNDECIDED = frozenset({"unknown", NOT_RUN})
FOUND, AGREE, STOPPED = "found", "agree", "undecided"
EXIT_CODES = {FOUND: 0, AGREE: 2, STOPPED: 3}


# -- the search --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bisection:
    """The outcome of :func:`search`: ``old`` the last release known to have V1's verdict and
    ``new`` the first after it known not to (adjacent when ``status`` is ``found``);
    ``tried`` every release run, in order, with its verdict; ``stopped_at`` the release
    whose verdict decided nothing (status ``undecided``)."""

    releases: tuple[str, ...]
    tried: tuple[tuple[str, str], ...]
    status: str
    old: str
    new: str
    stopped_at: str | None = None

    def verdict(self, release: str) -> str | None:
        """The verdict of ``release`` if it was run."""
        return dict(self.tried).get(release)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def max_runs(count: int) -> int:
    """How many releases :func:`search` runs at most for ``count`` releases."""
    return min(count, 2 + math.ceil(math.log2(count - 1))) if count > 2 else count


def search(releases: Sequence[str], verdict_of: Callable[[str], str],
           undecided: frozenset[str] = UNDECIDED) -> Bisection:
    """Binary search over ``releases`` (oldest first, two at least) for the first release
    whose verdict differs from the oldest one's; each release is run at most once (see the
    module docstring for the rule)."""
    ordered = tuple(releases)
    if len(ordered) < 2 or len(set(ordered)) != len(ordered):
        raise ValueError("search needs two or more distinct releases")
    tried: list[tuple[str, str]] = []

    def run(index: int) -> str:
        verdict = verdict_of(ordered[index])
        tried.append((ordered[index], verdict))
        return verdict

    def done(status: str, lo: int, hi: int, stop: int | None = None) -> Bisection:
        return Bisection(ordered, tuple(tried), status, ordered[lo], ordered[hi],
                         ordered[stop] if stop is not None else None)

    lo, hi = 0, len(ordered) - 1
    first = run(lo)
    if first in undecided:
        return done(STOPPED, lo, hi, lo)
    last = run(hi)
    if last in undecided:
        return done(STOPPED, lo, hi, hi)
    if first == last:
        return done(AGREE, lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        verdict = run(mid)
        if verdict in undecided:
            return done(STOPPED, lo, hi, mid)
        if verdict == first:
            lo = mid
        else:
            hi = mid
    return done(FOUND, lo, hi)


# -- the range ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """The releases to search, oldest first (``--good`` first, ``--bad`` last), and the ones
    between passed over, with why."""

    releases: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()


def _find(ordered: Sequence[Release], version: str) -> Release | None:
    """The listed release ``version`` (``v1.2.3`` and ``1.2.3`` match each other)."""
    return next((r for r in ordered if r.version == version), None) or next(
        (r for r in ordered if r.version.removeprefix("v") == version.removeprefix("v")), None)


def select_range(listing: Sequence[Release], good: str, bad: str, client: str,
                 key: Callable[[str], Any], partial: bool = False) -> Range:
    """``good``, the usable final releases of ``listing`` strictly between, and ``bad``, in
    version order (``key``). ``good`` and ``bad`` are taken as written (pre-releases
    included); one the listing omits is taken as it is when the listing can be ``partial``
    (its build then says whether it exists). UsageError (one line) for a release the
    listing lacks, one that cannot run here, ``good`` not older than ``bad``, or no usable
    release between them."""
    ordered = sorted(listing, key=lambda r: key(r.version))
    ends = []
    for option, version in (("--good", good), ("--bad", bad)):
        found = _find(ordered, version.strip())
        if found is None and partial and version.strip():
            found = Release(version.strip())
        if found is None:
            newest = next((r.version for r in reversed(ordered) if not r.pre), None)
            raise UsageError(f"{option}: {client} has no release {version!r}"
                             + (f" (newest: {newest}; 'kafka-conformance releases {client}' "
                                f"lists them)" if newest else ""))
        if found.unusable:
            raise UsageError(f"{option}: {client}=={found.version} cannot run here: "
                             f"{found.unusable}")
        ends.append(found)
    first, last = ends
    if key(first.version) == key(last.version):
        raise UsageError(f"--good and --bad both name {client} {first.version}: give two "
                         f"releases, the older as --good")
    if key(first.version) > key(last.version):
        raise UsageError(f"--good {first.version} is newer than --bad {last.version}: give the "
                         f"older release as --good")
    between = [r for r in ordered if not r.pre
               and key(first.version) < key(r.version) < key(last.version)]
    usable = [r.version for r in between if not r.unusable]
    skipped = tuple((r.version, r.unusable or "") for r in between if r.unusable)
    if not usable:
        why = f" ({len(skipped)} cannot run here)" if skipped else ""
        raise UsageError(f"no release of {client} lies between {first.version} and "
                         f"{last.version}{why}: nothing to bisect ('kafka-conformance history "
                         f"--client {client} --releases {first.version},{last.version}' "
                         f"runs the two)")
    return Range((first.version, *usable, last.version), skipped)


# -- the check and --only ----------------------------------------------------------------------
def _fixed_ids() -> list[str]:
    from conformance.scenarios import SEMANTICS_CHECKS

    return list(SEMANTICS_CHECKS)


def _names(only: str, fixed: Sequence[str]) -> bool:
    """Whether an ``--only`` value names the fixed scenario id ``fixed`` (or, for a list, any)."""
    return any(c == only or c.startswith(f"{only}-") for c in fixed)


def run_only(check: str, only: Sequence[str], protocols: Sequence[str]) -> tuple[str, ...]:
    """The ``--only`` of every release's run: as given (it must run ``check``), else the
    least that runs it (``generated`` for a check of the generated scenarios, the fixed
    scenario itself). UsageError for an unknown check, an ``--only`` value that names
    nothing, a selection without ``check``, or protocols ``check`` does not run under."""
    from conformance.checkers import CHECKS
    from conformance.scenarios import SEMANTICS_CHECKS

    fixed = _fixed_ids()
    if check not in CHECKS and check not in SEMANTICS_CHECKS:
        raise UsageError(f"--check {check!r} names no check: one of the generated scenarios' "
                         f"({', '.join(CHECKS)}) or a fixed scenario id such as {fixed[0]}")
    unknown = [o for o in only if o not in ("generated", "semantics") and not _names(o, fixed)]
    if unknown:
        raise UsageError(f"--only {unknown[0]!r} names no check: use 'generated', 'semantics', "
                         f"a section (S1..S9) or a fixed scenario id such as {fixed[0]}")
    if check in CHECKS:
        if only and "generated" not in only:
            raise UsageError(f"--only {' '.join(only)} does not run {check}, a check of the "
                             f"generated scenarios: add --only generated")
        return tuple(only) or ("generated",)
    if only and "semantics" not in only and not any(_names(o, [check]) for o in only):
        raise UsageError(f"--only {' '.join(only)} does not run the fixed scenario {check}")
    runs_under = SEMANTICS_CHECKS[check].protocols
    if not set(protocols) & set(runs_under):
        raise UsageError(f"{check} runs under the {' and '.join(runs_under)} protocol only, "
                         f"not under --protocol {' '.join(protocols)}")
    return tuple(only) or (check,)


def check_verdict(results: dict[str, Any], spec: str, check: str,
                  protocols: Sequence[str] = ()) -> str:
    """``check``'s verdict for the client column ``spec`` (``NAME==VERSION``) of a results.json
    dict: its configurations (and ``protocols``, all when empty) combined, worst wins;
    :data:`NOT_RUN` when none holds it."""
    from conformance.verdicts import Verdict, combine

    found = [Verdict(c["verdict"]) for entry in results.get("clients") or []
             if str(entry.get("spec") or entry.get("name")) == spec
             and (not protocols or not entry.get("protocol") or entry["protocol"] in protocols)
             for c in entry.get("checks") or [] if c.get("check") == check]
    return str(combine(found)) if found else NOT_RUN


# -- the report --------------------------------------------------------------------------------
_VERB = {"pass": "passes", "fail": "fails", "hazard": "is a hazard", "expected": "is expected",
         "unsupported": "is unsupported", "unknown": "is undecided", NOT_RUN: "does not run"}


def boundary_line(check: str, outcome: Bisection) -> str:
    """``order fails on 2.3.0, passes from 2.4.0``; what agreed or stopped the search."""
    first, last = outcome.verdict(outcome.old), outcome.verdict(outcome.new)
    if outcome.status == FOUND:
        return (f"{check} {_VERB.get(first or '', first)} on {outcome.old}, "
                f"{_VERB.get(last or '', last)} from {outcome.new}")
    if outcome.status == AGREE:
        return (f"{check} {_VERB.get(first or '', first)} on both {outcome.old} and "
                f"{outcome.new}: nothing to bisect")
    at = outcome.stopped_at
    return (f"{check} {_VERB.get(outcome.verdict(at or '') or '', 'is undecided')} on {at}: "
            f"bisect stopped; the change lies between {outcome.old} and {outcome.new}")


@dataclass
class Tried:
    """One release run: its verdict of the check, its report and results, the run's exit."""

    release: str
    verdict: str
    report: str = ""
    results: str = ""
    exit_code: int | None = None
    note: str = ""


@dataclass
class BisectLog:
    """What bisect.json holds, written again after every release run."""

    client: str
    check: str
    good: str
    bad: str
    mode: str
    folder: Path
    settings: dict[str, Any] = field(default_factory=dict)
    span: Range = field(default_factory=lambda: Range(()))
    tried: list[Tried] = field(default_factory=list)
    outcome: Bisection | None = None

    def to_json(self) -> dict[str, Any]:
        out = self.outcome
        by = {t.release: t for t in self.tried}

        def side(release: str) -> dict[str, Any]:
            t = by.get(release)
            return {"release": release, "verdict": t.verdict if t else None,
                    "report": t.report if t else ""}

        return {
            "schema": SCHEMA, "client": self.client, "check": self.check,
            "good": self.good, "bad": self.bad, "mode": self.mode, **self.settings,
            "releases": list(self.span.releases),
            "skipped": [{"release": v, "reason": why} for v, why in self.span.skipped],
            "max_runs": max_runs(len(self.span.releases)) if self.span.releases else 0,
            "tried": [vars(t) for t in self.tried],
            "status": out.status if out else "running",
            "boundary": {"old": side(out.old), "new": side(out.new)} if out else None,
            "stopped_at": out.stopped_at if out else None,
            "line": boundary_line(self.check, out) if out else "",
            "exit_code": out.exit_code if out else None,
        }

    def write(self) -> Path:
        path = self.folder / JSON_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+_-]+", "-", text).strip("-")[:120]


# -- the command -------------------------------------------------------------------------------
def run_bisect(opts: RunOptions, client: str, check: str, span: Range,
               replay_file: Path | None = None) -> int:
    """Bisect ``span`` (``opts``: the RunOptions without clients, ``--only`` already
    :func:`run_only`'s): each release tried is one run of ``execute`` into its own folder, or
    one replay of ``replay_file`` on a broker shared by all; writes bisect.json into a new
    ``bisect-<time>`` folder under ``opts.out``, prints the boundary; returns the exit code
    (0 found, 2 V1 and V2 agree, 3 undecided)."""
    from rich.markup import escape

    from conformance.console import console

    if opts.seed is None and replay_file is None:  # one seed for every release's search
        opts = replace(opts, seed=random.SystemRandom().randrange(2**31))
    folder = opts.out / f"bisect-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    folder.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"replay": str(replay_file.resolve()) if replay_file else None,
                                "seed": opts.seed, "profile": opts.profile,
                                "only": list(opts.only), "protocols": list(opts.protocols)}
    if replay_file is not None:  # the program decides: no search, its own protocol
        settings.update(seed=None, profile=None, only=None, protocols=None)
    log = BisectLog(client, check, span.releases[0], span.releases[-1],
                    "replay" if replay_file else "run", folder, settings, span)
    log.write()
    for version, why in span.skipped:
        console.print(escape(f"skipping {client}=={version}: {why}"), soft_wrap=True)
    console.print(escape(f"bisect {check} over {len(span.releases)} releases of {client} "
                         f"({span.releases[0]} .. {span.releases[-1]}): at most "
                         f"{max_runs(len(span.releases))} runs, "
                         + (f"replaying {replay_file}" if replay_file else
                            f"seed {opts.seed}, --only {' '.join(opts.only)}")), soft_wrap=True)

    def record(tried: Tried) -> str:
        log.tried.append(tried)
        log.write()
        console.print(escape(f"bisect: {client}=={tried.release}: {check} {tried.verdict} "
                             f"({len(log.tried)} of at most {max_runs(len(span.releases))}"
                             f"){f'; {tried.note}' if tried.note else ''}; report: "
                             f"{tried.report}"), soft_wrap=True)
        return tried.verdict

    if replay_file is None:
        outcome = search(span.releases, lambda v: record(_run_release(opts, client, check, v,
                                                                      folder)))
    else:
        with _Replayer(opts, client, replay_file, folder) as replayer:
            outcome = search(span.releases, lambda v: record(replayer.run(check, v)))
    log.outcome = outcome
    path = log.write()
    by = {t.release: t for t in log.tried}
    print(boundary_line(check, outcome))
    for release in dict.fromkeys(r for r in (outcome.old, outcome.stopped_at, outcome.new) if r):
        if release in by:
            print(f"  {client}=={release}: {by[release].verdict}, report {by[release].report}")
    print(f"bisect: {path} ({len(log.tried)} releases run of {len(span.releases)})")
    return outcome.exit_code


def _run_release(opts: RunOptions, client: str, check: str, version: str, folder: Path) -> Tried:
    """One ``execute`` of ``client==version`` into its own folder; the check's verdict."""
    from conformance.clients import ClientSpec
    from conformance.report.json_report import RESULTS_FILE, load_results
    from conformance.run import execute

    spec = ClientSpec(client, version=version)
    out = folder / _slug(spec.label)
    code = execute(replace(opts, clients=(spec,), out=out))
    runs = sorted(p for p in out.iterdir() if (p / RESULTS_FILE).is_file()) \
        if out.is_dir() else []
    if not runs:
        raise ConformanceError(f"bisect: the run of {spec.label} left no results under {out}")
    results = load_results(runs[-1] / RESULTS_FILE)
    return Tried(version, check_verdict(results, spec.label, check, opts.protocols),
                 str(runs[-1] / "index.html"), str(runs[-1] / RESULTS_FILE), code)


class _Replayer:
    """One broker for every release; :meth:`run` replays the saved program on one release and
    writes a report (index.html, results.json) for it."""

    def __init__(self, opts: RunOptions, client: str, replay_file: Path, folder: Path
                 ) -> None:
        from conformance.broker.providers import make_broker
        from conformance.machines.scenario import load_replay

        self.client, self.folder = client, folder
        self.spec, self.steps = load_replay(replay_file)
        if opts.early_access:  # the program's config allows what --early-access allows
            self.spec.config["early_access"] = True
        self.broker: Broker = make_broker(
            bootstrap_servers=opts.bootstrap_servers, nodes=opts.nodes,
            kafka_version=opts.kafka_version, client_config=opts.client_properties)

    def __enter__(self) -> _Replayer:
        import contextlib

        from conformance.console import console

        try:
            with console.status("starting the broker"):
                self.broker.start()
        except BaseException:  # an interrupted or failed start: stop what it started
            with contextlib.suppress(Exception):
                self.broker.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.broker.stop()

    def run(self, check: str, version: str) -> Tried:
        """Replay the program on ``client==version`` and write its report; the verdict of
        ``check`` (unknown when its environment, its worker or the replay failed)."""
        from conformance import __version__
        from conformance.clients import ClientSpec, resolve
        from conformance.machines.minimize import replay
        from conformance.machines.scenario import program, save_replay
        from conformance.report import write_reports
        from conformance.report.environment import command_line, run_environment
        from conformance.verdicts import ClientResult, RunResult, Verdict

        spec = ClientSpec(self.adapter, version=version)
        run_dir = self.folder / _slug(spec.label)
        result = RunResult(f"bisect-replay-{_slug(spec.label)}", _now(),
                           tool_version=__version__, profile="replay",
                           broker={**self.broker.describe(), "nodes": self.broker.nodes},
                           command_line=command_line())
        protocol = str(self.spec.config.get("group_protocol", GroupProtocol.CLASSIC))
        try:
            resolved = resolve(spec)
        except UsageError:
            raise
        except ConformanceError as exc:  # its environment or worker: undecided, as in run
            note = f"{spec.label}: {str(exc).strip().splitlines()[0]}"
            result.errors.append(note)
            entry = ClientResult(spec.adapter, label=self.spec.label, spec=spec.label,
                                 protocol=protocol, config=self.spec.config_json(),
                                 checks=_every_check(Verdict.UNKNOWN, note))
        else:
            scenario = replace(self.spec, client=resolved)
            entry = ClientResult(resolved.name, resolved.client, resolved.client_version,
                                 scenario.label, resolved.capabilities, spec=spec.label,
                                 protocol=protocol, early_access=scenario.early_access,
                                 config=scenario.config_json())
            result.environment = run_environment([resolved])
            note = resolved.unsupported(scenario.config) or ""
            if note:
                entry.checks = _every_check(Verdict.UNSUPPORTED, note)
            else:
                workdir = run_dir / "replay"
                save_replay(workdir / "replay.json", scenario, self.steps)
                done = replay(self.broker, scenario, self.steps, workdir)
                entry.checks = done.results
                if done.harness.infra_errors:  # as a generated example: every check unknown
                    note = "; ".join(done.harness.infra_errors)[:500]
                    result.errors.append(note)
                    entry.checks = _every_check(Verdict.UNKNOWN, note)
                steps = program(scenario, self.steps, self.broker.nodes).splitlines()
                for c in entry.checks:
                    c.examples = max(c.examples, 1)
                    c.history_file = (workdir / "history.jsonl").relative_to(run_dir).as_posix()
                    c.steps = steps
        result.clients.append(entry)
        result.finished_at = _now()
        paths = write_reports(result, run_dir)
        return Tried(version, check_verdict(result.to_json(), spec.label, check),
                     str(paths["html"]), str(paths["json"]), result.exit_code, note)

    @property
    def adapter(self) -> str:
        """The adapter to replay with: ``--client`` when it names a consume path
        (``confluent-kafka:batch``), else the one the program was recorded with."""
        return self.client if ":" in self.client else self.spec.adapter


def _every_check(verdict: Verdict, note: str) -> list[CheckResult]:
    """Every check of a replay with one verdict and note (a replay that could not judge)."""
    from conformance.checkers import CHECKS
    from conformance.verdicts import CheckResult

    return [CheckResult(check, section, verdict, note=note)
            for check, (section, _fn) in CHECKS.items()]


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def check_replay(replay_file: Path, client: str, check: str,
                 protocols: Sequence[str]) -> None:
    """UsageError unless ``replay_file`` is a replay of ``client`` (any release, any consume
    path) under one of ``protocols`` (any when empty) and ``check`` one that a replay judges
    (a check of the generated scenarios)."""
    from conformance.checkers import CHECKS
    from conformance.machines.scenario import load_replay

    if check not in CHECKS:
        raise UsageError(f"--check {check}: a replay judges the checks of the generated "
                         f"scenarios ({', '.join(CHECKS)}), not a fixed scenario")
    spec, _steps = load_replay(replay_file)
    if spec.adapter.split(":", 1)[0] != client.split(":", 1)[0]:
        raise UsageError(f"--replay {replay_file} was recorded with {spec.client.label}, not "
                         f"with {client}")
    protocol = str(spec.config.get("group_protocol", GroupProtocol.CLASSIC))
    if protocols and protocol not in protocols:
        raise UsageError(f"--replay {replay_file} runs the {protocol} protocol, not "
                         f"--protocol {' '.join(protocols)}")


__all__ = ["Bisection", "Range", "check_replay", "check_verdict", "run_bisect", "run_only",
           "search", "select_range"]
