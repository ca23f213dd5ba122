"""A member that only sets the group's offset retries a commit a rebalance refused."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.errors import WorkerError
from conformance.scenarios.base import set_committed


class Handle:
    """A step-mode worker that refuses the first ``refusals`` commits as kafka-python does
    while a rebalance is in progress, then accepts; polls return nothing."""

    def __init__(self, refusals: int, code: str = "commit-failed") -> None:
        self.refusals, self.code = refusals, code
        self.sent: list[str] = []

    def request(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(cmd["type"])
        if cmd["type"] == "commit" and self.refusals:
            self.refusals -= 1
            exc = WorkerError("worker setter: commit-failed: commit failed: "
                              "RebalanceInProgressError: [Error 27]")
            exc.code = self.code  # as WorkerHandle sets it from the worker's error reply
            raise exc
        return {"records": []}


class Harness:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def owned(self, member: str) -> set:
        return {("t", 0)}  # back at its partition at once

    def record(self, type_: str, **data: Any) -> None:
        self.notes.append(data["text"])


def test_a_refused_commit_is_retried_after_the_member_polled() -> None:
    h, handle = Harness(), Handle(refusals=2)
    set_committed(h, "setter", handle, [["t", 0, 3]])
    # it polls before each retry although the harness still counts it as the owner: the
    # rebalance that refused the commit completes inside poll() (CI, kafka-python 3.0.12)
    assert handle.sent == ["commit", "poll", "commit", "poll", "commit"]
    assert len(h.notes) == 2 and "RebalanceInProgressError" in h.notes[0]


def test_other_errors_and_a_lasting_refusal_are_raised() -> None:
    with pytest.raises(WorkerError):
        set_committed(Harness(), "setter", Handle(refusals=1, code="unknown-topic"),
                      [["t", 0, 3]])
    with pytest.raises(WorkerError):
        set_committed(Harness(), "setter", Handle(refusals=9), [["t", 0, 3]], attempts=3)
