"""Hand-built run results and histories shared by the report tests (no broker)."""

from __future__ import annotations

from pathlib import Path

from conformance.history import HARNESS, History
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict, Violation

HOSTILE = "<script>alert('x')</script>"
HISTORY_FILE = "histories/confluent-no-duplicates.jsonl"
T = "ktest-topic"


def failing_history() -> tuple[History, int]:
    """m1 processes t-0 0..4 one by one, is killed before committing; m2 re-processes 3..9.

    Returns the history and the index of m2's ``processed`` event (the duplicates' evidence).
    """
    h = History()
    ts = iter(x / 10 for x in range(1000))
    h.append("scenario", HARNESS, next(ts), topic=T, group="g", partitions=2,
             client="confluent-kafka", config={}, strategy={"name": "BATCH", "bound": 5})
    h.append("member_started", HARNESS, next(ts), member="m1")
    h.append("assigned", "m1", next(ts), partitions=[[T, 0], [T, 1]])
    h.append("produced", HARNESS, next(ts),
             records=[[T, 0, o, f"k{o}", f"p{o}"] for o in range(10)]
             + [[T, 1, o, f"j{o}", f"q{o}"] for o in range(3)])
    for o in range(5):
        h.append("processed", "m1", next(ts), records=[[T, 0, o, f"k{o}"]])
    h.append("committed", "m1", next(ts), mode="sync", ok=True, offsets=[[T, 0, 3]])
    h.append("member_killed", HARNESS, next(ts), member="m1")
    h.append("assigned", "m2", next(ts), partitions=[[T, 0], [T, 1]])
    dup = h.append("processed", "m2", next(ts), records=[[T, 0, o, f"k{o}"] for o in range(3, 10)])
    h.append("processed", "m2", next(ts), records=[[T, 1, o, f"j{o}"] for o in range(3)])
    h.append("committed", "m2", next(ts), mode="sync", ok=True, offsets=[[T, 0, 10], [T, 1, 3]])
    h.append("note", HARNESS, next(ts), text=HOSTILE)
    return h, dup.index


def sample_run(run_dir: Path | None = None) -> RunResult:
    """Two clients covering every verdict; writes the failing history under ``run_dir``."""
    dup_event = 12
    if run_dir is not None:
        history, dup_event = failing_history()
        history.to_jsonl(run_dir / HISTORY_FILE)
    fail = CheckResult(
        check="no-duplicates", section="S5", verdict=Verdict.FAIL, examples=37, seconds=12.5,
        violations=[Violation(
            check="no-duplicates", anomaly="duplicate-beyond-bound", section="S5",
            message=f"2 record(s) of {T}-0 processed twice, bound 0 {HOSTILE}",
            evidence=[dup_event], details={"topic": T, "partition": 0, "offsets": [3, 4]})],
        figures={"duplicates": 2, "bound": 0},
        note="shrunk after 37 examples",
        steps=["state = CrashMachine()", "state.produce(n=10)", "state.crash(member='m1')",
               "state.teardown()"],
        history_file=HISTORY_FILE,
    )
    a = ClientResult(
        name="confluent-kafka[BATCH]", client="confluent-kafka", client_version="2.12.0",
        label="BATCH, classic", capabilities={"seek": True, "cooperative": False},
        checks=[
            CheckResult("no-loss", "S1", Verdict.PASS, examples=40, seconds=10.0),
            fail,
            CheckResult("latest-hazard", "S3", Verdict.HAZARD, examples=5, seconds=3.0,
                        figures={"lost": 12}, note="12 records lost with latest, 0 with earliest"),
            CheckResult("manual-assign", "S7", Verdict.UNSUPPORTED,
                        note="adapter lacks the 'assign' capability"),
            CheckResult("order", "S9", Verdict.UNKNOWN, examples=3, seconds=1.0,
                        note="checker raised KeyError: 'records'"),
            CheckResult("commit-validity", "S5", Verdict.EXPECTED, examples=9, seconds=2.0,
                        note="baseline: librdkafka stores offsets before processing"),
        ],
    )
    b = ClientResult(
        name=f"evil{HOSTILE}", client="kafka-python", client_version="2.2.0",
        checks=[CheckResult("no-loss", "S1", Verdict.PASS, examples=40, seconds=11.0),
                CheckResult("no-duplicates", "S5", Verdict.PASS, examples=40, seconds=9.0)],
    )
    return RunResult(
        run_id="20260101-120000-abcd", started_at="2026-01-01T12:00:00+00:00",
        finished_at="2026-01-01T12:05:30+00:00", tool_version="0.1.0", profile="ci", seed=1234,
        broker={"provider": "embedded", "version": "4.1.0", "nodes": 1}, clients=[a, b],
    )


def failing_only(client: str = "confluent-kafka[BATCH]", check: str = "commit-validity",
                 anomaly: str = "commit-ahead") -> ClientResult:
    """One client with one failing check."""
    return ClientResult(name=client, client=client.split("[")[0], checks=[CheckResult(
        check, "S5", Verdict.FAIL, examples=3,
        violations=[Violation(check, anomaly, "S5", "committed past processed", [1])])])


def test_failing_history_is_valid_jsonl(tmp_path: Path) -> None:
    history, dup = failing_history()
    again = History.from_jsonl(history.to_jsonl(tmp_path / "h.jsonl"))
    assert len(again) == len(history)
    assert again[dup].type == "processed" and again[dup].source == "m2"
