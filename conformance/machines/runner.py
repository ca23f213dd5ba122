"""Run the group machine for one spec under a settings profile and aggregate verdicts."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from conformance.broker.base import Broker
from conformance.checkers import CHECKS
from conformance.history import History
from conformance.machines.group import (
    Collector,
    Example,
    ExampleFailed,
    GroupMachine,
    canonical,
    machine_for,
)
from conformance.machines.hypothesis_shim import run_machine_with_min_steps, shrink_budget
from conformance.machines.minimize import (
    Steps,
    evidence_core,
    evidence_prefix,
    members_named,
    minimize,
    rebalance_core,
    single_member_core,
)
from conformance.machines.scenario import ScenarioSpec, program, save_replay
from conformance.verdicts import CheckResult, Verdict, combine


@dataclass(frozen=True)
class Profile:
    """How hard to search: examples per configuration, steps per example, and the time
    budgets that bound a configuration: generating (until a first failure) and shrinking."""

    name: str
    max_examples: int
    step_count: int
    min_steps: int
    shrink: bool
    shrink_seconds: int
    generate_seconds: int = 150


PROFILES = {
    "smoke": Profile("smoke", max_examples=2, step_count=6, min_steps=3, shrink=False,
                     shrink_seconds=0, generate_seconds=60),
    "ci": Profile("ci", max_examples=6, step_count=10, min_steps=5, shrink=True,
                  shrink_seconds=90, generate_seconds=150),
    "dev": Profile("dev", max_examples=10, step_count=12, min_steps=4, shrink=True,
                   shrink_seconds=300, generate_seconds=600),
    "thorough": Profile("thorough", max_examples=40, step_count=25, min_steps=6, shrink=True,
                        shrink_seconds=1200, generate_seconds=3600),
}


def hypothesis_settings(profile: Profile, shrink: bool | None = None) -> settings:
    phases = [Phase.explicit, Phase.generate]
    if profile.shrink if shrink is None else shrink:
        phases.append(Phase.shrink)
    return settings(max_examples=profile.max_examples, stateful_step_count=profile.step_count,
                    deadline=None, database=None, phases=phases, print_blob=False,
                    report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck))


for _profile in PROFILES.values():  # also usable as HYPOTHESIS_PROFILE=ci|dev|thorough
    settings.register_profile(_profile.name, hypothesis_settings(_profile))


class _Skip(Exception):
    """No generated examples for this configuration."""


@dataclass
class MachineOutcome:
    spec: ScenarioSpec
    results: list[CheckResult]
    examples: list[Example]
    infra_errors: list[str]
    seconds: float
    error: str = ""

    def timings(self) -> dict[str, float]:
        """Examples, the median example's seconds, and seconds per phase over all examples
        (steps by name, setup, teardown), the largest first."""
        phases: dict[str, float] = {}
        for ex in self.examples:
            for name, secs in ex.phases.items():
                phases[name] = phases.get(name, 0.0) + secs
        ordered = dict(sorted(phases.items(), key=lambda kv: -kv[1]))
        median = statistics.median([ex.seconds for ex in self.examples]) if self.examples else 0
        return {"examples": len(self.examples), "median_example": round(median, 2),
                **{f"phase:{k}": round(v, 2) for k, v in ordered.items()}}


def run_machine(broker: Broker, spec: ScenarioSpec, profile: Profile, workdir: Path,
                seed: int | None = None, shrink: bool | None = None,
                generate: bool = True) -> MachineOutcome:
    """Run the generated scenarios of one spec and return one CheckResult per check;
    ``generate=False``: the canonical example only."""
    collector = Collector(spec, workdir, seed)
    machine = machine_for(broker, spec, collector)
    if seed is not None:
        machine = hypothesis_seed(seed)(machine)
    started = time.monotonic()
    error = ""
    run_canonical(machine)
    collector.deadline = started + profile.generate_seconds  # the canonical example always runs
    first = collector.examples[0] if collector.examples else None
    if first is not None and first.infra_errors:
        # the canonical example could not run (a worker that cannot start, the broker): the
        # verdicts are unknown already, and generated examples would meet the same error
        error = f"generation skipped: the canonical example met: {first.infra_errors[0]}"
    shrinking = bool(profile.shrink if shrink is None else shrink)
    # a sixth of the shrink budget for Hypothesis's shrinker (it also simplifies arguments),
    # the rest for deleting steps by replay (minimize), which gets further per second here:
    # its evidence cores often reduce at the first replay, then each replay deletes steps
    hypothesis_budget = max(1, profile.shrink_seconds // 6)
    with shrink_budget(hypothesis_budget):
        try:
            if error or not generate:
                raise _Skip

            run_machine_with_min_steps(machine, hypothesis_settings(profile, shrink),
                                       profile.min_steps)
        except Flaky as exc:
            error = f"flaky: the failure did not reproduce on replay ({type(exc).__name__}); " \
                    f"reported with the original evidence"
        except AssertionError:
            pass  # the failing examples are in the collector
        except _Skip:
            pass
    budget = hypothesis_budget if shrinking and not error else None
    if shrinking and not error.startswith("generation skipped"):
        minimize_failure(broker, collector, profile.shrink_seconds - hypothesis_budget)
    if collector.skipped:
        error = (error + "; " if error else "") + (
            f"generation stopped after {profile.generate_seconds} s ({collector.skipped} "
            f"examples not run)")
    outcome = MachineOutcome(spec, aggregate(collector, budget, time.monotonic()),
                             collector.examples,
                             [e for ex in collector.examples for e in ex.infra_errors],
                             time.monotonic() - started, error)
    return outcome


def minimize_failure(broker: Broker, collector: Collector, seconds: float) -> None:
    """Delete steps of the smallest example failing a check while it still fails; the result
    joins the collector as an example of its own (fewest steps: reported). The failing checks
    are taken narrowest first (the fewest members their evidence names, then registry order:
    a member that never rejoins also leaves the group unsettled, and its own story is the
    shorter program), each within what is left of ``seconds``; a check that a reduction
    already made fails too is not taken again."""
    deadline = time.monotonic() + seconds
    failing = [(check, ex) for check in CHECKS for ex in collector.examples
               if any(r.check == check and r.verdict == Verdict.FAIL for r in ex.results)]
    if not failing or seconds <= 0:
        return
    smallest = shrink_order(failing, _breadth)
    reduced: list[Example] = []
    for check, example in smallest:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if any(r.check == check and r.verdict == Verdict.FAIL for ex in reduced
               for r in ex.results):
            continue
        shrunk = _minimize_one(broker, collector, example, check, left)
        if shrunk is not None:
            reduced.append(shrunk)


def shrink_order(failing: list[tuple[str, Example]],
                 breadth: Callable[[Example, str], int]) -> list[tuple[str, Example]]:
    """Each failing check once with its smallest failing example (fewest steps, then the
    latest), narrowest first: by ``breadth`` (members its evidence names), then by the order
    of ``failing`` (the checker registry's)."""
    checks = list(dict.fromkeys(check for check, _ex in failing))
    smallest = {check: min((ex for c, ex in failing if c == check),
                           key=lambda ex: (len(ex.steps), -ex.number)) for check in checks}
    ranked = sorted(enumerate(checks),
                    key=lambda kc: (breadth(smallest[kc[1]], kc[1]), kc[0]))
    return [(check, smallest[check]) for _k, check in ranked]


def _breadth(example: Example, check: str) -> int:
    """How many members the evidence of ``example``'s failure of ``check`` names (a large
    number without a history)."""
    if example.history_file is None or not example.history_file.exists():
        return 1 << 20
    history = History.from_jsonl(example.history_file)
    evidence = [i for r in example.results if r.check == check for v in r.violations
                for i in v.evidence]
    return len(members_named(history, evidence))


def _minimize_one(broker: Broker, collector: Collector, smallest: Example, check: str,
                  seconds: float) -> Example | None:
    """Reduce ``smallest``'s failure of ``check`` within ``seconds``; the reduced example
    (added to the collector), or None when nothing could go."""
    folder = collector.workdir / f"minimize-{smallest.number}-{check}"
    spec = smallest.spec or collector.spec
    found = minimize(broker, spec, smallest.steps, check, seconds, folder,
                     cores=_cores(smallest, check))
    run = found.last_failure
    if run is None or len(found.steps) >= len(smallest.steps):
        return None
    before, after = len(smallest.steps), len(found.steps)
    note = (f"shrunk ({before} -> {after} steps" if found.finished else
            f"partly shrunk ({before - after} of {before} steps removed")
    note += f", {found.replays} replays)"
    number = next(collector.counter)
    where = run.harness.workdir  # the replay that failed: its history, and a replay file
    example = Example(number, found.steps, run.results, run.harness.infra_errors, run.seconds,
                      where / "history.jsonl", run.harness.history.phase_seconds(),
                      finished=time.monotonic(), shrink_note=note, spec=spec,
                      drawn=dict(smallest.drawn))
    example.replay_file = save_replay(where / "replay.json", spec, found.steps,
                                      collector.seed)
    collector.examples.append(example)
    return example


def _cores(example: Example, check: str) -> list[Steps | None]:
    """The first candidates of a reduction of ``example``'s failure of ``check``: the member
    the evidence names with the change that gave it the assignment the evidence cites (a
    second member's start, a kill), the steps that hold its evidence aimed at the first
    member alone (then those of every failing check's evidence, which may name the broken
    call), the same steps with the members they name and the settle that preceded them, the
    same without it, then the steps up to the last of them (none without a history)."""
    if example.history_file is None or not example.history_file.exists():
        return []
    history = History.from_jsonl(example.history_file)
    evidence = [i for r in example.results if r.check == check for v in r.violations
                for i in v.evidence]
    every = [i for r in example.results if r.verdict == Verdict.FAIL for v in r.violations
             for i in v.evidence]  # a broken call may show in another check's evidence
    cores = [rebalance_core(example.steps, history, evidence),
             single_member_core(example.steps, history, evidence),
             single_member_core(example.steps, history, every),
             evidence_core(example.steps, history, evidence, settled=True),
             evidence_core(example.steps, history, evidence),
             evidence_prefix(example.steps, history, evidence)]
    # a candidate met again is not replayed again (one failing check: both first are equal)
    return [c for k, c in enumerate(cores) if c is None or c not in cores[:k]]


def run_canonical(machine: type[GroupMachine]) -> None:
    """Run the fixed canonical example; its verdicts land in the collector like any other."""
    state = machine()
    try:
        canonical(state)
    except Exception as exc:  # a step error is recorded by the guard; anything else is ours
        state.harness.infra_errors.append(f"canonical scenario: {type(exc).__name__}: {exc}")
    with contextlib.suppress(ExampleFailed):
        state.teardown()


def shrink_status(examples: list[Example], chosen: Example, budget: int | None,
                  ended: float) -> str:
    """How far the reported failing example was reduced. ``examples`` fail the check, in the
    order they ran (the first is the canonical example, which is never shrunk); shrinking
    finished unless it was still going when the budget ran out."""
    if chosen.shrink_note:
        return chosen.shrink_note
    generated = [ex for ex in examples if ex.number > 1]
    if budget is None:
        return "not shrunk (shrinking is off in this profile)"
    if not generated:
        return "not shrunk (the canonical example; no generated example failed)"
    first, size = len(generated[0].steps), len(chosen.steps)
    cut = ended - generated[0].finished >= 0.95 * budget
    if cut and size < first:
        return f"partly shrunk ({first - size} of {first} steps removed)"
    if cut:
        return f"not shrunk (the {budget} s shrink budget ran out)"
    return f"shrunk ({first} -> {size} steps)"


def aggregate(collector: Collector, shrink_budget: int | None = None,
              ended: float = 0.0) -> list[CheckResult]:
    """One result per check over every example; failures keep the smallest failing example
    (Hypothesis replays the shrunk example last, so the last failure is the shrunk one)."""
    results = []
    for check, (section, _fn) in CHECKS.items():
        per = [(ex, r) for ex in collector.examples for r in ex.results if r.check == check]
        verdicts = [r.verdict for _ex, r in per]
        verdict = combine(verdicts) if verdicts else Verdict.UNKNOWN
        agg = CheckResult(check, section, verdict, examples=len(per),
                          seconds=sum(ex.seconds for ex, _ in per) / max(1, len(CHECKS)))
        figures: dict[str, object] = {}
        for _ex, r in per:
            for k, v in r.figures.items():
                if isinstance(v, int | float) and isinstance(figures.get(k, 0), int | float):
                    figures[k] = max(figures.get(k, v), v)  # type: ignore[type-var]
        agg.figures = figures
        notes = sorted({r.note for _ex, r in per if r.note and r.verdict == verdict})
        agg.note = "; ".join(notes)[:1000]
        worst = [(ex, r) for ex, r in per if r.verdict == verdict and r.violations]
        if worst and verdict in (Verdict.FAIL, Verdict.HAZARD):
            ex, r = min(worst, key=lambda er: (len(er[0].steps), -er[0].number))
            agg.violations = r.violations
            agg.steps = program(ex.spec or collector.spec, ex.steps,
                                drawn=ex.drawn).splitlines()
            agg.history_file = str(ex.history_file) if ex.history_file else None
            agg.shrink = shrink_status([e for e, _r in worst], ex, shrink_budget, ended)
        results.append(agg)
    return results
