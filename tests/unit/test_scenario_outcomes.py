"""A step's command that the client refuses as part of the behaviour under test is recorded,
not raised: a commit refused because the group removed the member (a soak seed left three
configurations undecided on it) goes on; anything else still ends the step."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.errors import WorkerError
from conformance.machines.scenario import Scenario


class Harness:
    """The two harness calls ``owned_request`` makes: a worker that answers ``code``."""

    adapter = "confluent-kafka"

    def __init__(self, code: str) -> None:
        self.code = code
        self.notes: list[str] = []

    def request(self, member: str, cmd: dict[str, Any]) -> dict[str, Any]:
        exc = WorkerError(f"worker {member}: {self.code}: commit failed: UNKNOWN_MEMBER_ID")
        exc.code = self.code  # type: ignore[attr-defined]
        raise exc

    def record(self, type_: str, **data: Any) -> None:
        self.notes.append(data["text"])


@pytest.mark.parametrize("code", ["commit-failed", "fenced-member"])
def test_a_commit_refused_by_the_group_is_an_outcome(code: str) -> None:
    h = Harness(code)
    sc = Scenario(h)  # type: ignore[arg-type]
    assert sc.owned_request("m2", {"type": "commit", "processed": True}) is None
    assert h.notes and h.notes[0].startswith("commit refused:")


def test_other_refusals_still_end_the_step() -> None:
    sc = Scenario(Harness("commit-failed"))  # type: ignore[arg-type]
    with pytest.raises(WorkerError):
        sc.owned_request("m2", {"type": "seek", "topic": "t", "partition": 0, "offset": 1})
    sc = Scenario(Harness("adapter-error"))  # type: ignore[arg-type]
    with pytest.raises(WorkerError):
        sc.owned_request("m2", {"type": "commit", "processed": True})
