"""The consumer group protocol, the one home of its names: ``classic`` or ``consumer`` (KIP-848).

A :class:`GroupProtocol` is a ``str`` equal to its name, so JSON and configuration dicts keep
the plain names. :func:`parse` checks a value from outside (a configuration, a command line, a
file): a name, or a :class:`~conformance.errors.UsageError`. :func:`early_access` says whether
a configuration runs the consumer protocol as early access (``--early-access``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from conformance.errors import UsageError


class GroupProtocol(StrEnum):
    """A consumer group protocol (``group.protocol``)."""

    CLASSIC = "classic"
    CONSUMER = "consumer"  # KIP-848


#: Every group protocol, in report order.
ALL: tuple[GroupProtocol, ...] = tuple(GroupProtocol)


def parse(value: object, where: str) -> GroupProtocol:
    """``value`` as a GroupProtocol; UsageError naming ``where`` and the value otherwise."""
    if isinstance(value, str) and value in ALL:
        return GroupProtocol(value)
    raise UsageError(f"{where}: {value!r:.60} is not a group protocol "
                     f"(one of {', '.join(ALL)})")


#: The label part of a configuration that runs the consumer protocol as early access.
EARLY_ACCESS = "early-access"


def early_access(protocol: object, allowed: object, capabilities: Mapping[str, object]) -> bool:
    """Whether a configuration runs the consumer protocol as early access: ``--early-access``
    allowed it (``allowed``) and the client does not report it generally available (its
    ``consumer_protocol`` capability, which follows the GA release)."""
    return (bool(allowed) and protocol == GroupProtocol.CONSUMER
            and not capabilities.get("consumer_protocol", False))
