"""pytest fixtures for users' own suites (and ours): a real Kafka broker per test session.

Options (also ini settings ``kafka_bootstrap_servers``, ``kafka_nodes``, ``kafka_version``,
``kafka_clients``): ``--kafka-bootstrap-servers`` uses an existing cluster instead of the embedded
one; ``--kafka-client SPEC`` (repeatable: ``NAME``, ``NAME==VERSION``, ``NAME@/path/to/python``)
chooses the clients a test that asks for the ``kafka_client`` fixture runs with, once per spec.

``--kafka-conformance-adapter REF`` (repeatable: ``module:Class``, ``path/to/file.py:Class``, an
adapter name or a client spec) adds the adapter contract suite (conformance/contract/suite.py)
to the session, run against those adapters only; ``--kafka-conformance-checks`` adds one test
per adapter that runs the generated-scenario checks (``--kafka-conformance-profile``, default
ci) and fails with the violations (conformance/contract/checks.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.broker.base import Broker
from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.broker.providers import make_broker
from conformance.clients import Client, ClientSpec, resolve
from conformance.errors import ConformanceError
from conformance.options import DEFAULT_CLIENTS

_RESOLVED = pytest.StashKey[dict[str, Client]]()
_PACKAGED = pytest.StashKey[dict[Path, str]]()  # packaged test module -> its node id


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kafka-conformance")
    group.addoption("--kafka-bootstrap-servers", default=None,
                    help="use this existing cluster instead of starting the embedded broker")
    group.addoption("--kafka-nodes", type=int, default=None, help="embedded broker nodes (1|3)")
    group.addoption("--kafka-version", default=None, help="embedded broker Kafka version")
    group.addoption("--kafka-client", action="append", default=None, metavar="SPEC",
                    help="client spec for the kafka_client fixture (repeatable): NAME, "
                         "NAME==VERSION (a cached environment for that release) or "
                         "NAME@/path/to/python")
    group.addoption("--kafka-conformance-adapter", action="append", default=None,
                    metavar="REF", dest="kafka_conformance_adapters",
                    help="run the adapter contract suite against this adapter (repeatable): "
                         "module:Class, path/to/file.py:Class, an adapter name or a client spec")
    group.addoption("--kafka-conformance-checks", action="store_true", default=False,
                    help="also run the generated-scenario checks against each such adapter")
    group.addoption("--kafka-conformance-profile", default="ci", metavar="PROFILE",
                    help="profile of those checks: smoke|ci|dev|thorough (default ci)")
    group.addoption("--kafka-conformance-seed", type=int, default=None, metavar="N",
                    help="seed of those checks (default: random, printed on failure)")
    parser.addini("kafka_clients", "client specs for the kafka_client fixture", type="linelist",
                  default=list(DEFAULT_CLIENTS))
    parser.addini("kafka_bootstrap_servers", "existing cluster to use", default="")
    parser.addini("kafka_nodes", "embedded broker nodes (1|3)", default="1")
    parser.addini("kafka_version", "embedded broker Kafka version", default=DEFAULT_KAFKA_VERSION)


def pytest_configure(config: pytest.Config) -> None:
    """With ``--kafka-conformance-adapter``: its references are checked now (a bad one is a
    usage error) and the packaged contract suite (and checks) join the session's arguments."""
    config.addinivalue_line("markers", "broker: needs a real Kafka broker")
    if not config.getoption("kafka_conformance_adapters"):
        if config.getoption("kafka_conformance_checks"):
            raise pytest.UsageError("--kafka-conformance-checks needs "
                                    "--kafka-conformance-adapter REF")
        return
    from conformance.contract import checks, helpers, suite
    from conformance.machines.runner import PROFILES

    profile = config.getoption("kafka_conformance_profile")
    if profile not in PROFILES:
        raise pytest.UsageError(f"--kafka-conformance-profile {profile!r}: choose one of "
                                f"{', '.join(PROFILES)}")
    helpers.targets(config)
    modules = [suite] + ([checks] if config.getoption("kafka_conformance_checks") else [])
    for module in modules:
        if module.__file__ and module.__file__ not in config.args:
            config.args.append(module.__file__)
            config.stash.setdefault(_PACKAGED, {})[Path(module.__file__)] = \
                module.__name__.replace(".", "/") + ".py"


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path,
                                parent: pytest.Collector) -> pytest.Module | None:
    """A packaged test module keeps its package path as node id (``conformance/contract/
    suite.py::test_...``) wherever the package is installed."""
    nodeid = parent.config.stash.get(_PACKAGED, {}).get(module_path)
    if nodeid is None:
        return None
    return pytest.Module.from_parent(parent, path=module_path, nodeid=nodeid)


def _opt(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"--{name.replace('_', '-')}")
    return value if value is not None else (config.getini(name) or None)


def pytest_report_header(config: pytest.Config) -> str:
    servers = _opt(config, "kafka_bootstrap_servers")
    if servers:
        return f"kafka-conformance: external cluster {servers}"
    return (f"kafka-conformance: embedded Kafka {_opt(config, 'kafka_version')}, "
            f"{_opt(config, 'kafka_nodes')} node(s), started on first use; clients "
            f"{', '.join(s.label for s in client_specs(config))}")


def client_specs(config: pytest.Config) -> list[ClientSpec]:
    """The client specs of ``--kafka-client`` (else the ``kafka_clients`` ini setting)."""
    texts = config.getoption("--kafka-client") or config.getini("kafka_clients")
    return [ClientSpec.parse(t) for t in texts]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kafka_client" in metafunc.fixturenames:
        specs = client_specs(metafunc.config)
        metafunc.parametrize("kafka_client", specs, ids=[s.label for s in specs],
                             indirect=True, scope="session")


@pytest.fixture(scope="session")
def kafka_client(request: pytest.FixtureRequest) -> Client:
    """A resolved client (its release's environment built once and cached); workers started
    with it run that client: ``Harness(kafka_broker, kafka_client, ...)``."""
    spec: ClientSpec = getattr(request, "param", None) or client_specs(request.config)[0]
    cache = request.config.stash.setdefault(_RESOLVED, {})
    if spec.label not in cache:
        try:
            cache[spec.label] = resolve(spec)
        except ConformanceError as exc:
            pytest.fail(f"client {spec.label}: {exc}", pytrace=False)
    return cache[spec.label]


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """A running broker for the whole session (embedded unless a cluster is given)."""
    config = request.config
    broker = make_broker(bootstrap_servers=_opt(config, "kafka_bootstrap_servers"),
                         nodes=int(_opt(config, "kafka_nodes") or 1),
                         kafka_version=_opt(config, "kafka_version") or DEFAULT_KAFKA_VERSION)
    with broker:
        yield broker


@pytest.fixture
def kafka_names(kafka_broker: Broker) -> Iterator[tuple[str, str]]:
    """A fresh (topic, group) pair under the run prefix; the topic is deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"{kafka_broker.prefix}t-{suffix}", f"{kafka_broker.prefix}g-{suffix}"
    yield topic, group
    try:
        if topic in kafka_broker.admin.topics():
            kafka_broker.admin.delete_topic(topic, wait=False)
    except Exception:
        pass
