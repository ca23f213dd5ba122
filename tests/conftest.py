"""Options and tiers of the project's own test suite.

Two tiers (README, "Tests"): the quick tier is ``pytest -m "not full"``, the full tier adds the
tests marked ``full`` (``pytest``, what ``.ci/run`` runs): the release matrix and the consume-path
variants (the contract tests against ``contract_clients`` and against ``NAME:variant``
adapters, marked here), the other languages' workers, the 3-node cluster, the long machine
runs, the broken adapters caught only by a drawn dimension, the interrupt and plugin runs of
broken adapters, and the browser test (marked in their modules).

``--contract-client SPEC`` (repeatable; ini setting ``contract_clients``, a list): client specs
(``NAME==VERSION``, ``NAME@/path/to/python``) the adapter contract tests run against besides
the built-in adapters in this process, each in its own environment through an adapter host
(tests/integration/test_adapter_contract.py). Given on the command line, the option replaces the
ini list; ``-o contract_clients=`` runs the built-ins only.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kafka-conformance contract tests")
    group.addoption("--contract-client", action="append", default=None, metavar="SPEC",
                    dest="contract_clients",
                    help="also run the adapter contract tests against this client spec, e.g. "
                         "kafka-python==2.0.2 (repeatable; replaces the ini contract_clients)")
    parser.addini("contract_clients", "client specs the adapter contract tests also run "
                  "against, each in its own environment", type="linelist", default=[])


def _full_tier_target(item: pytest.Item) -> bool:
    """A contract test against a ``contract_clients`` spec (a release in its own environment
    or a native worker), or against a consume-path variant of an installed client
    (``confluent-kafka:stored``, ``kafka-python:records``): the quick tier runs the contract on
    each installed client's default adapter, the full tier on the rest."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    targets = [params.get("remote")]
    for name in ("combo", "unsupported"):
        value = params.get(name)
        if isinstance(value, tuple) and value:
            targets.append(value[0])
    return any(getattr(t, "remote", False) or ":" in getattr(t, "label", "") for t in targets)


#: the longest tests (1.5-2.5 min each on 2 cores, `--durations`), started first so that the
#: xdist workers end together instead of one running a long test after the others are done
#: (a group's first test brings its whole group forward)
LONG_FIRST = (
    "test_cli_run.py::test_a_client_call_that_never_returns",
    "test_machine.py::test_a_broken_promise",
    "test_machine.py::test_a_failing_canonical",
    "test_semantics.py::test_every_semantics_check_ran",
    "test_semantics_evidence.py::",
    "test_kafkajs_worker.py::",
    "test_cli_run.py::test_serial_parallel",
    "test_cli_run.py::test_broken_adapter_run",
    "test_spring_worker.py::",
    "test_report_replay_copied.py::",
    "test_machine.py::test_a_simple_fault",
    "test_machine.py::test_real_adapters",
)


def _start_rank(item: pytest.Item) -> int:
    return next((k for k, long in enumerate(LONG_FIRST) if long in item.nodeid),
                len(LONG_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _full_tier_target(item):
            item.add_marker(pytest.mark.full)
    items.sort(key=_start_rank)  # stable: the rest keep their order


@pytest.fixture
def make_harness(kafka_broker, tmp_path):
    """A factory of set-up harnesses on the session broker, each closed at the test's end:
    ``make_harness(client, strategy="BATCH", partitions=1, **config)`` (config on top of
    SCENARIO_CONFIG; a strategy as text or a Strategy)."""
    import contextlib
    import itertools

    from conformance.harness import SCENARIO_CONFIG, Harness
    from conformance.strategies import Strategy

    made = itertools.count()
    with contextlib.ExitStack() as stack:
        def make(client, strategy="BATCH", partitions: int = 1, **config) -> Harness:
            strat = Strategy.parse(strategy) if isinstance(strategy, str) else strategy
            workdir = tmp_path / f"h{next(made)}"
            return stack.enter_context(Harness(kafka_broker, client,
                                               {**SCENARIO_CONFIG, **config}, strat,
                                               partitions=partitions, workdir=workdir))
        yield make
