"""What the harness's parts need of the harness, as two small interfaces.

The drain (``drain.py``), the faults (``faults.py``) and the transactional producer
(``transactions.py``) act on one example's harness. They depend on these protocols, and
:class:`~conformance.harness.core.Harness` (which builds them) satisfies the protocols without
naming them, so the imports run one way: ``core`` -> parts -> ``session``.

    Recorder    the topic, the group, the broker, payload numbers and ``record``
    Session     a Recorder with members, ownership, waits and the history

A default written ``...`` is the Harness's own (``tests/unit/test_harness_interfaces.py``
holds the Harness against both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from conformance.broker.base import Broker
from conformance.harness.ownership import TP, Ownership
from conformance.harness.workers import WorkerHandle
from conformance.history import History
from conformance.strategies import Strategy


class Recorder(Protocol):
    """One example's topic, group and broker, and its history's writer."""

    broker: Broker
    topic: str
    group: str

    def record(self, type_: str, **data: Any) -> None:
        """Append a harness event (``conformance.history.EVENTS``) to the history."""
        ...

    def next_payload_id(self) -> int:
        """A payload number unique in this example."""
        ...


class Session(Recorder, Protocol):
    """A :class:`Recorder` whose members can be started, stopped, frozen and asked."""

    config: dict[str, Any]
    partitions: int
    history: History
    own: Ownership

    def wait_for(self, predicate: Callable[[], bool], timeout: float,
                 poll: float = ...) -> bool:
        """Wait until ``predicate()`` (called under the history lock) holds."""
        ...

    def live(self) -> list[str]:
        """Members that run and take commands."""
        ...

    def frozen(self) -> list[str]:
        """Members that are alive but frozen (SIGSTOP)."""
        ...

    def owned(self, member: str) -> set[TP]:
        """What ``member`` owns now (a copy)."""
        ...

    def settled(self) -> bool:
        """Whether the group is settled (called under the history lock)."""
        ...

    def request(self, member: str, cmd: dict[str, Any],
                timeout: float | None = ...) -> dict[str, Any]:
        """Send ``cmd`` to ``member``'s worker and return its reply."""
        ...

    def start_member(self, member: str | None = ..., *, subscribe: bool = ...,
                     run: bool = ..., config: dict[str, Any] | None = ...,
                     strategy: Strategy | None = ...,
                     adapter: str | None = ...) -> WorkerHandle:
        """Start a worker of the example's client."""
        ...

    def stop_member(self, member: str, timeout: float | None = ...) -> None:
        """Close a member gracefully."""
        ...

    def stop_members(self, members: list[str], timeout: float | None = ...) -> None:
        """Close several members at once."""
        ...

    def freeze_member(self, member: str, mid_batch: bool = ..., timeout: float = ...,
                      trigger: Callable[[], object] | None = ...) -> bool:
        """SIGSTOP ``member``; whether the freeze landed halfway through a batch."""
        ...

    def thaw_member(self, member: str) -> None:
        """SIGCONT a frozen member."""
        ...
