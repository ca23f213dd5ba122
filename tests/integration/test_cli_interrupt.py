"""`kafka-conformance run` interrupted with Ctrl-C leaves a readable partial report and no
process behind; a run with ``--adapter path/file.py:Class`` writes nothing outside ``--out`` and
labels the column by the class's declared name."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.broker, pytest.mark.full]  # long CLI runs: the full tier

BROKEN = Path(__file__).resolve().parent.parent / "broken_adapters.py"
#: a fixed scenario's verdict line: "  confluent-kafka [classic] S1-topic-recreated: pass (9 s)"
FINISHED = re.compile(r"\[(classic|consumer)\] (S\d[\w-]*): (pass|fail|hazard|unsupported|"
                      r"unknown|expected) \(")


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "400"}  # console lines unwrapped


def _interruptible() -> None:
    """In the child before exec: SIGINT back to its default, so that Python turns it into
    KeyboardInterrupt. A test session started in the background of a non-interactive shell
    (``cmd &``) ignores SIGINT, and an ignored signal stays ignored across exec: the run
    then never sees the Ctrl-C (seen: it ran on to exit 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def _descendants(pid: int) -> dict[psutil.Process, str]:
    """The processes ``pid`` started (and theirs), with their command lines."""
    found = {}
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return {}
    for child in children:
        try:
            found[child] = " ".join(child.cmdline())
        except psutil.Error:
            continue
    return found


def test_ctrl_c_writes_a_partial_report_and_leaves_no_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "run", "--profile", "smoke",
         "--client", "confluent-kafka", "--protocol", "classic", "--only", "semantics",
         "--jobs", "1", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
        preexec_fn=_interruptible)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    started: dict[psutil.Process, str] = {}  # every process of the run, as long as it ran
    finished = None
    deadline = time.monotonic() + 600
    try:
        while finished is None:
            assert time.monotonic() < deadline, "no configuration finished:\n" + "".join(seen)
            started |= _descendants(proc.pid)
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                continue
            assert line is not None, "the run ended before it was interrupted:\n" + "".join(seen)
            seen.append(line)
            finished = FINISHED.search(line)
        assert any("kafka.Kafka" in cmd or "java" in cmd for cmd in started.values()), \
            "the broker should be running"
        # the next configuration starts its workers: wait for one, then interrupt it
        waited = time.monotonic()
        wait_workers = waited + 120
        while time.monotonic() < wait_workers and proc.poll() is None:
            now = _descendants(proc.pid)
            started |= now
            if any("conformance.worker" in cmd for cmd in now.values()):
                break
            time.sleep(0.2)
        started |= _descendants(proc.pid)
        assert proc.poll() is None, (
            f"the run ended {time.monotonic() - waited:.1f} s after its first verdict, before "
            f"it was interrupted; processes seen: {sorted(c[:120] for c in started.values())}")
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic() - waited
        code = proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    while (line := lines.get(timeout=30)) is not None:
        seen.append(line)
    text = "".join(seen)
    assert code == 130, f"SIGINT sent {sent:.1f} s after the first verdict\n" + text[-3000:]
    assert "Traceback" not in text
    assert "partial report:" in text and "incomplete run (interrupted)" in text

    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    assert str(run_dir / "index.html") in text
    results = json.loads((run_dir / "results.json").read_text())
    assert results["incomplete"] is True and results["exit_code"] == 130
    checks = {c["check"]: c["verdict"] for cl in results["clients"] for c in cl["checks"]}
    assert checks.get(finished.group(2)) == finished.group(3)
    assert len(checks) < 10  # the run did not get through every fixed scenario
    assert (run_dir / "index.html").read_text().strip()
    junit = ET.parse(run_dir / "junit.xml").getroot()
    props = {p.get("value") for p in junit.iter("property") if p.get("name") == "incomplete"}
    assert props == {"true"}
    assert junit.find("testsuite[@name='run']/testcase[@name='incomplete']/error") is not None

    assert any("conformance.worker" in cmd for cmd in started.values()), "no worker seen"
    _gone, alive = psutil.wait_procs(list(started), timeout=30)
    assert not alive, f"left running: {[started[p][:200] for p in alive]}"


def _files(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


def test_an_adapter_file_run_writes_only_under_out_and_is_labelled_by_its_name(
        kafka_broker, tmp_path: Path) -> None:
    adapters, cwd, out = tmp_path / "adapters", tmp_path / "cwd", tmp_path / "out"
    adapters.mkdir()
    cwd.mkdir()
    shutil.copy(BROKEN, adapters / "broken_adapters.py")
    ref = f"{adapters / 'broken_adapters.py'}:SkipsRecords"
    before = _files(tmp_path, out)
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--adapter", ref, "--profile", "smoke",
         "--protocol", "classic", "--only", "generated", "--only", "S1",
         "--bootstrap-servers", kafka_broker.bootstrap_servers, "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=cwd, env=_env())
    assert proc.returncode == 1, proc.stderr[-3000:]  # it skips records: a check fails
    assert _files(tmp_path, out) == before  # nothing beside the adapter, nothing in cwd

    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "results.json").read_text())
    labels = [cl["label"] for cl in results["clients"]]
    assert len(labels) == 2 and "classic fixed scenarios" in labels  # and the generated one
    for entry in results["clients"]:
        assert entry["spec"] == entry["name"] == "broken:skip-record"
        assert entry["adapter"] == ref  # the reference stays in the JSON
        for check in entry["checks"]:  # every history inside the run folder
            if check.get("history_file"):
                history = (run_dir / check["history_file"]).resolve()
                assert run_dir.resolve() in history.parents and history.is_file()
    suites = ET.parse(run_dir / "junit.xml").getroot().findall("testsuite")
    assert suites and all(s.get("name").startswith("broken:skip-record [") for s in suites)
    tables = proc.stdout  # print_summary's tables (the console's other lines: stderr)
    assert "generated scenarios (run" in tables and "fixed scenarios per" in tables
    assert "broken:skip-record" in tables and str(adapters) not in tables
