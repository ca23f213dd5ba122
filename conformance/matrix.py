"""The matrix of a run: which configurations each client runs per group protocol and profile,
the fault families they draw, and what ``--only`` selects."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.broker.base import Broker
from conformance.clients import Client
from conformance.errors import UsageError
from conformance.harness import SCENARIO_CONFIG
from conformance.machines.runner import PROFILES
from conformance.machines.scenario import ScenarioSpec
from conformance.protocols import GroupProtocol
from conformance.strategies import Strategy

#: Simulated work per record: a batch takes long enough for a crash to land inside it.
PROCESS_MS = 2.0


@dataclass(frozen=True)
class MatrixEntry:
    protocol: GroupProtocol
    assignment: str
    strategy: str


#: What `run` covers per client and protocol (the ci profile runs the first entry of each).
MATRIX: dict[GroupProtocol, list[MatrixEntry]] = {
    GroupProtocol.CLASSIC: [
        MatrixEntry(GroupProtocol.CLASSIC, "range", "BATCH+revoke"),
        MatrixEntry(GroupProtocol.CLASSIC, "cooperative-sticky", "RECORD+async"),
        MatrixEntry(GroupProtocol.CLASSIC, "range", "auto")],
    GroupProtocol.CONSUMER: [
        MatrixEntry(GroupProtocol.CONSUMER, "range", "BATCH+revoke"),
        MatrixEntry(GroupProtocol.CONSUMER, "range", "auto")],
}


#: Fault families a profile does not draw although the broker allows them: not soaked yet, so
#: the suite's default run (ci) and the smoke run keep their verdicts. A program or a replay
#: that names the family (``Program(..., faults=("protocol",))``) draws it under any profile.
HELD_BACK: dict[str, tuple[str, ...]] = {"smoke": ("protocol",), "ci": ("protocol",)}


def fault_families(broker: Broker | None) -> tuple[str, ...]:
    """The fault families a broker allows beyond ``core`` (:meth:`Broker.fault_families`);
    without a broker, frozen members only."""
    return ("zombie",) if broker is None else broker.fault_families()


def specs_for(client: Client | str, protocols: tuple[GroupProtocol, ...], profile: str,
              faults: tuple[str, ...] = ("zombie",), early_access: bool = False
              ) -> list[ScenarioSpec]:
    """The generated-scenario configurations of one client (an adapter name: the client
    installed beside the suite), drawing the ``faults`` families beside the core steps (less
    those the profile holds back, :data:`HELD_BACK`); ``early_access`` (``--early-access``)
    goes into every consumer config."""
    faults = tuple(f for f in faults if f not in HELD_BACK.get(profile, ()))
    specs = []
    per_spec = PROFILES[profile].max_examples if profile in PROFILES else 0
    for protocol in protocols:
        entries = MATRIX[protocol] if profile not in ("smoke", "ci") else MATRIX[protocol][:1]
        for e in entries:
            # the plain name: a config is JSON-like (a failure's program repr()s it)
            config = {**SCENARIO_CONFIG, "group_protocol": str(e.protocol),
                      "assignment_strategy": e.assignment,
                      **({"early_access": True} if early_access else {})}
            strategy = Strategy.parse(e.strategy)
            strategy.process_ms = PROCESS_MS
            # each configuration's examples continue where the previous one's stopped
            specs.append(ScenarioSpec(client, config, strategy, faults=faults,
                                      spread=len(specs) * max(0, per_spec - 1)))
    return specs


def selection(only: tuple[str, ...]) -> tuple[bool, list[str]]:
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
