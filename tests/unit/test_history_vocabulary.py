"""The history's event vocabulary is one table (``conformance.history.EVENTS``): every type the
harness records or a worker writes has a row, every row is recorded somewhere,
docs/history.md and docs/worker-protocol.md agree with it, reading a history refuses a type it
lacks (one line, exit 2 at the CLI), and every history saved before still loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance import cli, compare
from conformance.errors import UsageError
from conformance.history import (
    EVENTS,
    HARNESS,
    HARNESS_EVENTS,
    WORKER,
    WORKER_EVENTS,
    History,
    HistoryFormatError,
    UnknownEventType,
    events_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
SAVED = sorted((ROOT / "tests").rglob("*.jsonl"))
#: ``h.record("type", ...)`` in the suite's code, over line breaks too
RECORDED = re.compile(r"\brecord\(\s*\"([a-z_]+)\"")
#: ``emit("type"``, ``out.event("type"`` and ``out.event(cond ? "a" : "b")`` in any worker
EMITTED = re.compile(r"\b(?:emit|event)\(\s*(?:\w+\s*\?\s*)?[\"']([a-z_]+)[\"']"
                     r"(?:\s*:\s*[\"']([a-z_]+)[\"'])?")


def _found(pattern: re.Pattern[str], paths: list[Path]) -> set[str]:
    return {name for path in paths for match in pattern.finditer(path.read_text())
            for name in match.groups() if name}


def _workers() -> list[Path]:
    native = [p for ext in ("java", "go", "js") for p in (ROOT / "adapters").rglob(f"*.{ext}")
              if "node_modules" not in p.parts and "target" not in p.parts]
    return [ROOT / "conformance" / "worker.py", ROOT / "conformance" / "calls.py", *native]


def test_every_type_the_harness_records_has_one_row_and_every_row_is_recorded() -> None:
    recorded = _found(RECORDED, sorted((ROOT / "conformance").rglob("*.py")))
    assert recorded - HARNESS_EVENTS == set(), "recorded without a row in EVENTS"
    assert HARNESS_EVENTS - recorded == set(), "a row in EVENTS that nothing records"
    assert {"aborted", "topic_recreated", "protocol_touched"} <= HARNESS_EVENTS


def test_every_type_a_worker_writes_has_one_row_and_the_reference_worker_writes_each() -> None:
    written = _found(EMITTED, _workers())
    assert written - WORKER_EVENTS == set(), "written by a worker without a row in EVENTS"
    reference = _found(EMITTED, _workers()[:2])
    assert WORKER_EVENTS - reference == set(), "a row the Python worker never writes"
    assert "unsubscribed" in WORKER_EVENTS
    assert set(EVENTS) == HARNESS_EVENTS | WORKER_EVENTS
    assert not HARNESS_EVENTS & WORKER_EVENTS


def test_the_rows_are_complete() -> None:
    for name, e in EVENTS.items():
        assert e.name == name and e.recorder in (HARNESS, WORKER) and e.meaning, name
        assert e.recorder == WORKER or e.by, name
        assert all(re.fullmatch(r"[a-z_]+\??", f) for f in e.fields), name


def test_docs_history_md_holds_the_table_made_from_events() -> None:
    text = (ROOT / "docs" / "history.md").read_text()
    block = re.search(r"<!-- generated from conformance\.history\.EVENTS[^\n]*-->\n(.*?)"
                      r"<!-- end of the generated table -->", text, re.S)
    assert block is not None, "docs/history.md lost its generated table's markers"
    assert block.group(1) == events_markdown(), (
        "docs/history.md's table differs from conformance.history.EVENTS: replace it with "
        "the output of `python -m conformance.history`")


def test_the_worker_protocol_lists_exactly_the_worker_events() -> None:
    text = (ROOT / "docs" / "worker-protocol.md").read_text()
    section = text[text.index("## Events"):text.index("## Example")]
    names = {n.strip().strip("`") for row in re.findall(r"^\| (`[^|]+) \|", section, re.M)
             for n in row.split(" / ")}
    assert names == WORKER_EVENTS


@pytest.mark.parametrize("path", SAVED, ids=[p.name for p in SAVED])
def test_every_saved_history_still_loads(path: Path) -> None:
    history = History.from_jsonl(path)
    assert len(history) > 0 and history.scenario()


def test_saved_histories_are_there() -> None:
    assert len([p for p in SAVED if p.parent.name == "triage"]) >= 10


def test_one_event_of_every_type_reads_back(tmp_path: Path) -> None:
    history = History()
    for ts, e in enumerate(EVENTS.values()):
        history.append(e.name, HARNESS if e.recorder == HARNESS else "m1", float(ts))
    again = History.from_jsonl(history.to_jsonl(tmp_path / "h.jsonl"))
    assert [(e.type, e.source) for e in again] == [(e.type, e.source) for e in history]


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


SCENARIO = '{"type":"scenario","ts":1.0,"source":"harness","topic":"t"}'


def test_an_unknown_type_is_refused_in_one_line_naming_file_line_type_and_source(
        tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", SCENARIO,
                  '{"type":"bogus","ts":2.0,"source":"m1"}')
    with pytest.raises(UnknownEventType) as info:
        History.from_jsonl(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line 2: unknown event type 'bogus' from 'm1'")
    assert "docs/history.md" in message
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2
    assert isinstance(info.value, HistoryFormatError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("line, side", [
    ('{"type":"polled","ts":2.0,"source":"harness","records":[]}', "a worker"),
    ('{"type":"note","ts":2.0,"source":"m1","text":"x"}', "the harness"),
])
def test_an_event_from_the_wrong_side_is_refused(tmp_path: Path, line: str, side: str) -> None:
    with pytest.raises(HistoryFormatError, match=f"line 2: .* is recorded by {side}, not by"):
        History.from_jsonl(_write(tmp_path / "h.jsonl", SCENARIO, line))


def test_missing_fields_are_not_refused(tmp_path: Path) -> None:
    """Histories of earlier versions lack fields added since: they load."""
    history = History.from_jsonl(_write(tmp_path / "h.jsonl", SCENARIO,
                                        '{"type":"group_offsets","ts":2.0,"source":"harness"}'))
    assert [e.type for e in history] == ["scenario", "group_offsets"]


def test_the_cli_turns_it_into_one_line_and_exit_2(monkeypatch, capsys, tmp_path) -> None:
    path = _write(tmp_path / "h.jsonl", SCENARIO, '{"type":"bogus","ts":2.0,"source":"m1"}')

    def read_history(*args, **kwargs):
        History.from_jsonl(path)

    monkeypatch.setattr(compare, "compare_files", read_history)
    results = tmp_path / "results.json"
    results.write_text("{}")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["compare", str(results), str(results)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "unknown event type 'bogus'" in err
    assert len(err.splitlines()) == 1
