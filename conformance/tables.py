"""Checking one table of a TOML file the user or the suite writes (a baseline's
``[[deviation]]``, the contract suite's ``[[contract]]``): one line naming the first problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_table(entry: Any, where: str, required: Sequence[str], optional: Sequence[str],
                error: type[Exception] = ValueError,
                strings: Sequence[str] = ()) -> dict[str, Any]:
    """``entry`` when it is a table with no key beyond ``required`` and ``optional`` whose
    ``required`` keys (and ``strings``, where present) are non-empty strings; else ``error``
    with ``where`` and the problem."""
    if not isinstance(entry, dict):
        raise error(f"{where}: expected a table with keys {', '.join(required)}")
    unknown = sorted(set(entry) - set(required) - set(optional))
    if unknown:
        raise error(f"{where}: unknown key {unknown[0]!r} "
                    f"(allowed: {', '.join((*required, *optional))})")
    for key in (*required, *strings):
        value = entry.get(key)
        if (key in required or value is not None) and (not isinstance(value, str)
                                                        or not value.strip()):
            raise error(f"{where}: {key!r} must be a non-empty string")
    return entry
