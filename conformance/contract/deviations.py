"""The contract suite's known client bugs: the ``[[contract]]`` tables of the suite's one list of
known deviations, ``conformance/known-deviations.toml`` (its ``[[deviation]]`` tables are the
run's baseline, :mod:`conformance.report.baseline`).

Each entry makes one contract test a strict xfail for the releases of one client from ``since``
up to, not including, ``until`` (open when absent): ``test``, ``client`` (an adapter name; its
variants such as ``kafka-python:records`` too unless ``exact = true``), ``since``, ``until``,
``protocol`` (only that group protocol) and ``reason``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from conformance.contract.helpers import Deviation
from conformance.protocols import parse
from conformance.tables import check_table

FILE = "known-deviations.toml"
REQUIRED = ("test", "client", "since", "reason")
OPTIONAL = ("until", "protocol", "exact")


def known(text: str | None = None) -> tuple[Deviation, ...]:
    """The ``[[contract]]`` entries of ``text`` (default: the suite's file), in file order;
    a malformed entry raises ``ValueError`` naming it."""
    if text is None:
        text = resources.files("conformance").joinpath(FILE).read_text(encoding="utf-8")
    entries = tomllib.loads(text).get("contract", [])
    if not isinstance(entries, list):
        raise ValueError(f"{FILE}: 'contract' must be an array of tables ([[contract]])")
    return tuple(_entry(e, n) for n, e in enumerate(entries, 1))


def _entry(entry: Any, n: int) -> Deviation:
    where = f"{FILE}: contract entry #{n}"
    entry = check_table(entry, where, REQUIRED, OPTIONAL, strings=("until", "protocol"))
    if not isinstance(entry.get("exact", False), bool):
        raise ValueError(f"{where}: 'exact' must be true or false")
    protocol = entry.get("protocol")
    return Deviation(entry["test"], entry["client"], entry["since"], entry.get("until"),
                     entry["reason"], parse(protocol, where) if protocol else None,
                     entry.get("exact", False))
