"""How a checker module makes itself known: one decorator on its check function.

A check is added by writing its module in this package (with its test and its entry in
docs/checks.md): the module decorates its ``check_x(history)`` with :func:`registers` (its stable
id, its section of docs/semantics.md, its rank among the report's columns and its one-line
description for the report's legend) and, if it has figures, their function with
:func:`figures`. :func:`discover` imports every module of the package and returns what they
registered, ordered by rank. Nothing else lists the checks.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from conformance.history import History
from conformance.verdicts import Violation

Checker = Callable[[History], list[Violation]]
Figures = Callable[[History], dict[str, Any]]


@dataclass(frozen=True)
class Registered:
    """A check as its module declares it."""

    id: str
    section: str
    fn: Checker
    rank: int
    #: what the check verifies, in one line (the report's legend)
    line: str
    #: a capability every member's worker needs, else the check is ``unsupported``
    needs: str | None = None
    figures: Figures | None = None


_REGISTERED: dict[str, Registered] = {}


def registers(check: str, *, section: str, rank: int, line: str,
              needs: str | None = None) -> Callable[[Checker], Checker]:
    """Decorate a checker function: it judges ``check`` (see :class:`Registered`)."""
    def register(fn: Checker) -> Checker:
        known = _REGISTERED.get(check)
        if known is not None and (known.fn.__module__, known.fn.__qualname__) != (
                fn.__module__, fn.__qualname__):  # the same function again: a reload
            raise ValueError(f"check {check!r} registered twice ({known.fn.__module__} and "
                             f"{fn.__module__})")
        _REGISTERED[check] = Registered(check, section, fn, rank, line, needs,
                                        known.figures if known else None)
        return fn
    return register


def figures(check: str) -> Callable[[Figures], Figures]:
    """Decorate a function of a history that gives ``check``'s figures (after the checker)."""
    def register(fn: Figures) -> Figures:
        _REGISTERED[check] = replace(_REGISTERED[check], figures=fn)
        return fn
    return register


def discover(package: str = "conformance.checkers") -> dict[str, Registered]:
    """Import every module of ``package`` and return the checks they registered, by rank."""
    found = importlib.import_module(package)
    for module in pkgutil.iter_modules(found.__path__):
        importlib.import_module(f"{package}.{module.name}")
    mine = [e for e in _REGISTERED.values() if e.fn.__module__.startswith(f"{package}.")]
    ranks: dict[int, str] = {}
    for entry in mine:
        if entry.rank in ranks and ranks[entry.rank] != entry.id:
            raise ValueError(f"checks {ranks[entry.rank]!r} and {entry.id!r} share rank "
                             f"{entry.rank}")
        ranks[entry.rank] = entry.id
    return {e.id: e for e in sorted(mine, key=lambda e: e.rank)}
