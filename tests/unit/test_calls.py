"""Client calls that never return: the bounds, the worker's watch, the harness's verdict on a
timed-out command, and the ``calls-return`` check."""

from __future__ import annotations

import threading
import time
from typing import Any

from histories import H

from conformance.calls import (
    API_TIMEOUT,
    CLOSE_TIMEOUT,
    MARGIN,
    CallWatch,
    Watched,
    bound,
    reply_timeout,
)
from conformance.checkers import run_checks
from conformance.checkers.calls import check_calls_return
from conformance.verdicts import Verdict


def test_bounds_come_from_the_clients_documented_timeouts() -> None:
    assert bound("poll", 2.0) == 2.0 + API_TIMEOUT + MARGIN
    assert bound("close") == CLOSE_TIMEOUT + MARGIN
    assert bound("commit") == bound("position") == API_TIMEOUT + MARGIN
    # the harness outwaits the bound, so that the evidence is there when it gives up
    assert reply_timeout({"type": "close"}) > bound("close")
    assert reply_timeout({"type": "poll", "timeout": 5}) > bound("poll", 5)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.got = threading.Event()

    def __call__(self, type_: str, **data: Any) -> None:
        self.events.append((type_, data))
        self.got.set()


def test_a_call_past_its_bound_is_reported_once_and_its_late_return_too() -> None:
    out = Recorder()
    watch = CallWatch(out, tick=0.01)
    with watch.call("close", limit=0.05):
        assert out.got.wait(5.0), "no call_outstanding within 5 s"
        time.sleep(0.05)  # more ticks: still one report
    [(kind, data), (back, returned)] = out.events
    assert kind == "call_outstanding" and data["call"] == "close" and data["bound"] == 0.05
    assert data["seconds"] >= 0.05 and isinstance(data["since"], float)
    assert back == "call_returned" and returned["id"] == data["id"]


def test_a_call_within_its_bound_reports_nothing() -> None:
    out = Recorder()
    watch = CallWatch(out, tick=0.01)
    with watch.call("poll", timeout=0.01):
        pass
    time.sleep(0.05)
    assert out.events == []


def test_watched_adapters_time_every_method_with_the_poll_timeout() -> None:
    class Fake:
        name = "fake"

        def poll(self, timeout: float, max_records: int = 500) -> list[int]:
            return [1]

    seen: list[tuple[str, float | None]] = []

    class Spy(CallWatch):
        def call(self, name: str, timeout: float | None = None, limit: float | None = None):
            seen.append((name, timeout))
            return super().call(name, timeout, limit)

    adapter = Watched(Fake(), Spy(lambda *a, **k: None))
    assert adapter.poll(0.5) == [1] and adapter.poll(timeout=0.25) == [1]
    assert adapter.name == "fake" and isinstance(adapter.wrapped, Fake)
    assert seen == [("poll", 0.5), ("poll", 0.25)]


def hung_close() -> H:
    """m1's close() never returns; the harness kills it after the bound."""
    return (H().scenario().produce(0, range(3)).started("m1").assigned("m1", 0)
            .consumed("m1", 0, range(3)).add("step", name="stop_member", args={"member": "m1"},
                                              label="stop m1", family="core").as_("step")
            .waited(36.0).add("call_outstanding", "m1", call="close", id=7, since=100.01,
                              seconds=35.2, bound=35.0).as_("report")
            .add("member_killed", member="m1", on_event=False, hung="close").as_("killed"))


def test_a_call_that_never_returned_fails_with_its_evidence() -> None:
    h = hung_close()
    [v] = check_calls_return(h.build())
    assert (v.check, v.anomaly, v.section) == ("calls-return", "call-never-returned", "S8")
    assert v.evidence == [h.at["step"], h.at["report"], h.at["killed"]]
    assert v.details == {"member": "m1", "call": "close", "since": 100.01, "seconds": 35.2,
                         "bound": 35.0}
    assert "m1's close() made during step 'stop m1' never returned" in v.message
    [result] = run_checks(h.build(), only=["calls-return"])
    assert result.verdict == Verdict.FAIL


def test_a_call_that_returned_late_and_a_history_without_reports_pass() -> None:
    late = hung_close().add("call_returned", "m1", call="close", id=7, seconds=40.0)
    assert check_calls_return(late.build()) == []
    assert check_calls_return(H().scenario().produce(0, 1).build()) == []


def test_a_worker_that_does_not_report_its_calls_leaves_the_check_unsupported() -> None:
    """A worker without the capability cannot show a hang: not a silent pass."""
    def with_ready(capabilities: dict[str, bool]) -> H:
        return (H().scenario().started("m1")
                .add("ready", "m1", adapter="java", capabilities=capabilities)
                .assigned("m1", 0))

    [silent] = run_checks(with_ready({"pause_resume": True}).build(), only=["calls-return"])
    assert silent.verdict == Verdict.UNSUPPORTED and "java" in silent.note
    assert "reports_calls" in silent.note
    [watched] = run_checks(with_ready({"reports_calls": True}).build(), only=["calls-return"])
    assert watched.verdict == Verdict.PASS
