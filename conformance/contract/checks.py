"""The generated-scenario checks as one pytest test per adapter (the pytest plugin's
``--kafka-conformance-checks``): the group state machine of a profile (default ``ci``) runs for
each group protocol the adapter supports, on the session's broker; the test fails with every
failing or undecided check, its violations, and the seed that reproduces the run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from conformance.broker.base import Broker
from conformance.clients import ClientSpec, resolve
from conformance.errors import ConformanceError
from conformance.machines.runner import PROFILES, run_machine
from conformance.protocols import ALL
from conformance.verdicts import CheckResult, Verdict

#: The plugin's options (conformance/pytest_plugin.py).
ADAPTER_OPTION = "kafka_conformance_adapters"
PROFILE_OPTION = "kafka_conformance_profile"
SEED_OPTION = "kafka_conformance_seed"

pytestmark = pytest.mark.broker


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "adapter_ref" in metafunc.fixturenames:
        refs = list(dict.fromkeys(metafunc.config.getoption(ADAPTER_OPTION) or []))
        metafunc.parametrize("adapter_ref", refs, ids=refs)


def describe(label: str, result: CheckResult, limit: int = 5) -> str:
    """One failing (or undecided) check as a few lines: verdict, note, first violations."""
    lines = [f"{label}: {result.check} ({result.section}) {result.verdict}"
             + (f": {result.note}" if result.note else "")]
    lines += [f"    {v.anomaly}: {v.message}" for v in result.violations[:limit]]
    if len(result.violations) > limit:
        lines.append(f"    ... {len(result.violations) - limit} more")
    if result.history_file:
        lines.append(f"    history: {result.history_file}")
    return "\n".join(lines)


def test_generated_scenarios_pass(kafka_broker: Broker, adapter_ref: str, tmp_path: Path,
                                  pytestconfig: pytest.Config) -> None:
    from conformance.matrix import fault_families, specs_for

    profile = pytestconfig.getoption(PROFILE_OPTION) or "ci"
    try:
        client = resolve(ClientSpec.parse(adapter_ref))
    except ConformanceError as exc:
        pytest.fail(f"{adapter_ref}: {exc}", pytrace=False)
    seed = pytestconfig.getoption(SEED_OPTION)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    judged, bad = 0, []
    specs = specs_for(client, ALL, profile, fault_families(kafka_broker))
    for number, spec in enumerate(specs):
        if client.unsupported(spec.config):
            continue
        outcome = run_machine(kafka_broker, spec, PROFILES[profile], tmp_path / str(number),
                              seed)
        judged += 1
        bad += [describe(spec.label, r) for r in outcome.results
                if r.verdict in (Verdict.FAIL, Verdict.UNKNOWN)]
    if not judged:
        pytest.skip(f"{adapter_ref}: every configuration is unsupported")
    assert not bad, (f"{len(bad)} check(s) failed or undecided for {adapter_ref} (profile "
                     f"{profile}, --kafka-conformance-seed {seed} repeats it):\n" + "\n".join(bad))
