"""The pure parts of worker-check: judging stdout lines and commit order, selecting checks,
exit codes; and the broken worker's corruptions (tests/broken_worker.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conformance.worker_check import (
    CHECKS,
    Line,
    Outcome,
    commit_before_processed,
    exit_code,
    framing_problem,
    select,
    summary_json,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from broken_worker import TARGETS, Corrupter


def line(obj: object, arrived: float = 10.0, raw: bytes | None = None) -> Line:
    text = raw if raw is not None else json.dumps(obj).encode() + b"\n"
    return Line(0, "out", arrived, text, obj if isinstance(obj, dict) else None)


GOOD = {"type": "ready", "ts": 9.5, "source": "m1"}


@pytest.mark.parametrize(("obj", "raw", "problem"), [
    (GOOD, None, None),
    (None, b"hello\n", "not a JSON object"),
    (None, b"\xff\xfe\n", "not UTF-8"),
    ({"ts": 9.5, "source": "m1"}, None, "no string 'type'"),
    ({"type": "ready", "source": "m1"}, None, "no numeric 'ts'"),
    ({"type": "ready", "ts": True, "source": "m1"}, None, "no numeric 'ts'"),
    ({"type": "ready", "ts": 1.7e9, "source": "m1"}, None, "not on the host's monotonic"),
    ({"type": "ready", "ts": 9.5, "source": "m2"}, None, "source 'm2'"),
    ({"type": "ready", "ts": 9.5}, None, "source None"),
])
def test_framing_problem(obj, raw, problem):
    found = framing_problem(line(obj, raw=raw), "m1", started=9.0)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def ev(type_: str, **data: object) -> Line:
    return line({"type": type_, "ts": 1.0, "source": "m1", **data})


RECS = [["t", 0, 0, "a"], ["t", 0, 1, "b"], ["t", 0, 2, "c"]]


def test_commit_after_processing_is_fine():
    events = [ev("polled", records=RECS), ev("processed", records=RECS[:2]),
              ev("commit_requested", offsets=[["t", 0, 2]]), ev("processed", records=RECS[2:]),
              ev("commit_requested", offsets=None)]
    assert commit_before_processed(events) == (2, None)


def test_commit_beyond_an_unprocessed_record_is_found():
    events = [ev("polled", records=RECS), ev("processed", records=RECS[:1]),
              ev("commit_requested", offsets=[["t", 0, 2]])]
    commits, why = commit_before_processed(events)
    assert commits == 1 and why is not None and "('t', 0, 1)" in why


def test_commit_of_everything_consumed_needs_everything_processed():
    events = [ev("polled", records=RECS), ev("commit_requested", offsets=None)]
    assert commit_before_processed(events)[1] is not None


def test_select_and_exit_codes():
    assert [c.name for c in select(())] == [c.name for c in CHECKS]
    assert [c.name for c in select(["seek", "framing", "seek"])] == ["seek", "framing"]
    with pytest.raises(ValueError, match="unknown check 'nope'"):
        select(["nope"])

    def out(verdict: str) -> Outcome:
        return Outcome("x", "rule", verdict, "why")

    assert exit_code([out("pass")]) == 0
    assert exit_code([out("pass"), out("fail")]) == 1
    assert exit_code([out("fail"), out("error")]) == 3
    summary = summary_json(("w",), "a", [out("fail")])
    assert summary["exit_code"] == 1 and summary["checks"][0]["verdict"] == "fail"


def test_check_names_are_unique_and_every_broken_mode_targets_one():
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))
    assert set(TARGETS.values()) == set(names)


def test_corrupter_modes():
    ok = json.dumps({"type": "poll_ok", "in_reply_to": 3, "ts": 1.0, "source": "m1",
                     "records": RECS}) + "\n"
    assert Corrupter("double-reply").output(ok) == [ok, ok]
    [short] = Corrupter("short-poll-reply").output(ok)
    assert json.loads(short)["records"] == RECS[:2]
    [no_ts] = Corrupter("no-ts").output(ok)
    assert "ts" not in json.loads(no_ts)
    late = Corrupter("late-processed")
    processed = json.dumps({"type": "processed", "records": RECS}) + "\n"
    requested = json.dumps({"type": "commit_requested", "offsets": None}) + "\n"
    assert late.output(processed) == []
    assert late.output(requested) == [requested, processed]
    seek = Corrupter("seek-off-by-one").command(json.dumps({"type": "seek", "offset": 2}))
    assert json.loads(seek)["offset"] == 3
    drop = Corrupter("drop-in-reply-to")
    drop.command(json.dumps({"type": "frobnicate", "msg_id": 7}))
    [err] = drop.output(json.dumps({"type": "error", "in_reply_to": 7, "code": "x"}) + "\n")
    assert "in_reply_to" not in json.loads(err)
