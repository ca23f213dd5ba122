"""The options of ``kafka-conformance run``, parsed once in the CLI layer into typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.clients import ClientSpec
from conformance.errors import UsageError
from conformance.protocols import ALL, GroupProtocol

#: The Python clients installed beside the suite (the pytest plugin's default).
DEFAULT_CLIENTS = ("confluent-kafka", "kafka-python")
#: What `kafka-conformance run` judges without --client: the Java reference client (its column
#: is what the others are compared with) and the Python clients beside the suite.
RUN_CLIENTS = ("java", *DEFAULT_CLIENTS)


@dataclass(frozen=True)
class RunOptions:
    """What one run covers and where it writes."""

    clients: tuple[ClientSpec, ...] = tuple(ClientSpec(c) for c in RUN_CLIENTS)
    bootstrap_servers: str | None = None
    client_properties: dict[str, str] = field(default_factory=dict)
    nodes: int = 1
    kafka_version: str = DEFAULT_KAFKA_VERSION
    protocols: tuple[GroupProtocol, ...] = ALL
    profile: str = "ci"
    seed: int | None = None
    out: Path = Path("reports")
    baseline: Path | None = None
    only: tuple[str, ...] = ()
    jobs: int = 1  # configurations at a time on the one broker
    shard: tuple[int, int] | None = None  # (K, N): run only shard K of N of the matrix
    previous: Path | None = None  # a results.json the report says what changed since
    #: --early-access: every configuration's consumer config allows the consumer protocol on
    #: releases that ship it as early access (ConsumerConfig.early_access)
    early_access: bool = False


def client_specs(clients: tuple[str, ...], adapter_refs: tuple[str, ...] = ()
                 ) -> tuple[ClientSpec, ...]:
    """``--client`` specs and ``--adapter`` references, in order; the defaults when none;
    a spec given twice is run once."""
    specs = [ClientSpec.parse(c) for c in clients]
    specs += [ClientSpec.parse(ref) for ref in adapter_refs]
    return tuple(dict.fromkeys(specs)) or tuple(ClientSpec(c) for c in RUN_CLIENTS)


def client_properties(values: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` pairs of ``--client-property``."""
    props = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--client-property must be KEY=VALUE, got {item!r}")
        props[key.strip()] = value
    return props
