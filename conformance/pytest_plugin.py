"""pytest fixtures for users' own suites (and ours): a real Kafka broker per test session.

Options (also ini settings ``kafka_bootstrap_servers``, ``kafka_nodes``, ``kafka_version``,
``kafka_clients``): ``--kafka-bootstrap-servers`` uses an existing cluster instead of the embedded
one; ``--kafka-client SPEC`` (repeatable: ``NAME``, ``NAME==VERSION``, ``NAME@/path/to/python``)
chooses the clients a test that asks for the ``kafka_client`` fixture runs with, once per spec.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from conformance.broker.base import Broker
from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.broker.providers import make_broker
from conformance.clients import Client, ClientSpec, resolve
from conformance.errors import ConformanceError
from conformance.options import DEFAULT_CLIENTS

_RESOLVED = pytest.StashKey[dict[str, Client]]()


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
    parser.addini("kafka_clients", "client specs for the kafka_client fixture", type="linelist",
                  default=list(DEFAULT_CLIENTS))
    parser.addini("kafka_bootstrap_servers", "existing cluster to use", default="")
    parser.addini("kafka_nodes", "embedded broker nodes (1|3)", default="1")
    parser.addini("kafka_version", "embedded broker Kafka version", default=DEFAULT_KAFKA_VERSION)


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
