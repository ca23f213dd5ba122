"""Configuration dimensions drawn per generated example (where they change behaviour).

A configuration of ``run`` fixes the client, the group protocol and the assignment strategy;
every example then draws one value per dimension below, each a short name (shown in the
printed program and the report) standing for consumer config and commit-strategy overrides.
Hypothesis shrinks a dimension towards its first value, the configuration's own.

How the ci profile covers them: example N (the canonical example is 1) takes value
``(choice + N - 1) % len(values)`` of each dimension unless Hypothesis drew another one; a
client's configurations continue the count (``ScenarioSpec.spread``), so its 2 x 6 ci examples
reach every value of every dimension; dev and thorough draw freely over more examples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from conformance.protocols import GroupProtocol
from conformance.strategies import Strategy


@dataclass(frozen=True)
class Value:
    """One value of a dimension: its short name, consumer config and strategy overrides."""

    name: str
    config: dict[str, Any]
    strategy: dict[str, Any]
    checked: bool = False  # some releases cannot run it: ask the client before drawing it
    needs: str = ""  # a capability the client's workers must report (describe)


def _v(label: str, config: dict[str, Any] | None = None, checked: bool = False,
       needs: str = "", **strategy: Any) -> Value:
    return Value(label, config or {}, strategy, checked, needs)


#: manual-commit strategies (a configuration with auto commit draws AUTO instead)
MANUAL = [_v("spec"), _v("RECORD", name="RECORD"), _v("RECORD+async", name="RECORD",
                                                       asynchronous=True),
          _v("BATCH+revoke", name="BATCH", commit_on_revoke=True),
          _v("COUNT:5", name="COUNT", count=5), _v("TIME:300", name="TIME", interval_ms=300),
          _v("COUNT_TIME:5/300", name="COUNT_TIME", count=5, interval_ms=300),
          _v("MANUAL", name="MANUAL"), _v("MANUAL_IMMEDIATE", name="MANUAL_IMMEDIATE"),
          # the client commits by itself (S4): a manual configuration's examples reach it too
          _v("auto@200ms", {"auto_commit_interval_ms": 200}, name="auto"),
          _v("auto@2000ms", {"auto_commit_interval_ms": 2000}, name="auto")]
AUTO = [_v("spec"), _v("auto@200ms", {"auto_commit_interval_ms": 200}),
        _v("auto@2000ms", {"auto_commit_interval_ms": 2000})]

DIMENSIONS: dict[str, list[Value]] = {
    "commit": MANUAL,  # replaced by AUTO for an auto-commit configuration
    "batch": [_v("spec"), _v("max.poll.records=1", {"max_poll_records": 1}),
              _v("max.poll.records=7", {"max_poll_records": 7})],
    "fetch": [_v("spec"), _v("tiny fetches", {"fetch_max_bytes": 1,
                                              "max_partition_fetch_bytes": 1})],
    "eof": [_v("spec"), _v("partition EOF events", {"partition_eof": True})],
    # the other level than the configuration's (read_uncommitted unless it says otherwise)
    "isolation": [_v("spec"), _v("read_committed", {"isolation_level": "read_committed"},
                                 checked=True)],
    # commit() without offsets: the client commits what it tracks (its stored offsets, else its
    # positions); not under auto commit or a worker pool (see ``applies``)
    "offsets": [_v("spec"), _v("commit()", needs="commit_without_offsets", explicit=False)],
    # client-side assignors: the classic protocol only (KIP-848's assignor is the broker's)
    "assignor": [_v("spec"), _v("roundrobin", {"assignment_strategy": "roundrobin"},
                                checked=True),
                 _v("cooperative-sticky", {"assignment_strategy": "cooperative-sticky"},
                    checked=True)],
}

#: Dimensions that mean nothing under a group protocol.
NOT_UNDER = {"assignor": GroupProtocol.CONSUMER}


def applies(dimension: str, strategy: Strategy) -> bool:
    """Whether ``dimension`` means anything under ``strategy``: the worker's strategy makes
    no commits under auto commit, and a pool commits polled offsets by design."""
    return dimension != "offsets" or (not strategy.auto_commit and strategy.processing
                                       == "in-loop")


def values(dimension: str, strategy: Strategy) -> list[Value]:
    if dimension == "commit" and strategy.auto_commit:
        return AUTO
    return DIMENSIONS[dimension]


def drawn() -> st.SearchStrategy[dict[str, int]]:
    """Hypothesis draws an index per dimension (0: the configuration's own value)."""
    return st.fixed_dictionaries({d: st.integers(0, 20) for d in DIMENSIONS})


def apply(config: dict[str, Any], strategy: Strategy, choice: dict[str, int], number: int,
          supported: Callable[[dict[str, Any]], bool] | None = None,
          capabilities: Mapping[str, Any] | None = None
          ) -> tuple[dict[str, Any], Strategy, dict[str, str]]:
    """The example's config and strategy, and the short names it drew (not ``spec``): each
    dimension takes value ``(choice + number - 1) % len``, spreading examples over values.
    A ``checked`` value that ``supported`` (the configuration plus that value) refuses, or a
    value that ``needs`` a capability missing from ``capabilities``, is left out: the example
    keeps the configuration's own."""
    names: dict[str, str] = {}
    base, config = dict(config), dict(config)
    for dimension in DIMENSIONS:
        if NOT_UNDER.get(dimension) == base.get("group_protocol"):
            continue
        if not applies(dimension, strategy):
            continue
        options = values(dimension, strategy)
        value = options[(choice.get(dimension, 0) + number - 1) % len(options)]
        if value.name == "spec" or (value.config and not value.strategy and all(
                base.get(k) == v for k, v in value.config.items())):
            continue  # the configuration's own value
        if value.checked and supported is not None and not supported({**base, **value.config}):
            continue
        if value.needs and not (capabilities or {}).get(value.needs):
            continue
        names[dimension] = value.name
        config.update(value.config)
        if value.strategy:
            # a commit strategy replaces the configuration's; other dimensions add to it
            reset = {"commit_on_revoke": False, "asynchronous": False} \
                if dimension == "commit" else {}
            strategy = replace(strategy, **{**reset, **value.strategy})
    return config, strategy, names
