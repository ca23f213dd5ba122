"""Issue 23: a report folder copied elsewhere (a CI artifact unpacked anywhere) reproduces its
failure with the replay command its failures box prints, run in that folder."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.full]  # a run and a replay: minutes

BROKEN = Path(__file__).resolve().parent.parent / "broken_adapters.py"
CHECK = "no-loss"


def cli(*args: str, cwd: Path | None = None, timeout: float = 900
        ) -> subprocess.CompletedProcess[str]:
    """``kafka-conformance ARGS`` (the installed command, as a user types it) in ``cwd``."""
    script = Path(sys.executable).with_name("kafka-conformance")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "conformance.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def printed_replay(html: str, check: str) -> str:
    """The replay command the failures box prints for ``check``'s failing cell."""
    box = html.split('<section id="failures"', 1)[1].split("</section>", 1)[0]
    [line] = [li for li in re.findall(r"<li>.*?</li>", box, re.S)
              if f'<b class="mono">{check}</b>' in li]
    [command] = re.findall(r"<code>(kafka-conformance replay [^<]+)</code>", line)
    return unescape(command)


def test_the_failures_box_replay_reproduces_from_a_copied_report(kafka_broker, tmp_path):
    broker = ("--bootstrap-servers", kafka_broker.bootstrap_servers)
    proc = cli("run", "--adapter", f"{BROKEN}:SkipsRecords", "--protocol", "classic",
               "--only", "generated", *broker, "--out", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    copy = tmp_path / "downloaded" / "artifact"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(tmp_path / "out")  # nothing left where the run wrote it
    command = printed_replay((copy / "index.html").read_text(encoding="utf-8"), CHECK)
    argv = shlex.split(command)
    assert argv[:2] == ["kafka-conformance", "replay"] and not Path(argv[2]).is_absolute()
    again = cli(*argv[1:], *broker, cwd=copy)  # the printed command names no broker
    out = again.stdout + again.stderr
    assert again.returncode == 1, out[-3000:]
    assert re.search(rf"^{CHECK}\s+S\d\s+fail$", out, re.M), out[-3000:]
    assert list((copy / argv[2]).parent.glob("replay-*/history.jsonl")), \
        "the replay's history is written beside its replay.json, in the copy"
