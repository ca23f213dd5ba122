"""Children never outlive us: started from any thread, they die with the process (Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psutil
import pytest

from conformance import processes

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@linux
def test_a_child_outlives_the_short_thread_that_asked_for_it() -> None:
    started: list[subprocess.Popen] = []
    t = threading.Thread(target=lambda: started.append(
        processes.popen([sys.executable, "-c", "import time; time.sleep(60)"])))
    t.start()
    t.join()
    [proc] = started
    try:
        assert not _gone(proc.pid, 1.0)  # the asking thread ended; the child did not
    finally:
        processes.terminate(proc, grace=5)


@linux
def test_a_child_started_from_any_thread_dies_with_a_killed_parent() -> None:
    code = ("import sys, threading, time\n"
            "from conformance import processes\n"
            "out = []\n"
            "t = threading.Thread(target=lambda: out.append(processes.popen(\n"
            "    [sys.executable, '-c', 'import time; time.sleep(60)'])))\n"
            "t.start(); t.join()\n"
            "print(out[0].pid, flush=True)\n"
            "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child, 0.5)
        parent.kill()
        parent.wait(10)
        assert _gone(child, 10.0), "the child outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.wait(10)
        parent.stdout.close()


def test_a_young_run_folder_is_never_reaped_even_with_a_half_written_owner_file(tmp_path):
    """Another process starting a broker may be writing its owner file right now: a reaper
    that took an unreadable file for a dead owner deleted a starting broker's folder."""
    young = tmp_path / "young"
    young.mkdir()
    (young / "owner.json").write_text("")  # half written
    old = tmp_path / "old"
    old.mkdir()
    (old / "owner.json").write_text('{"pid": 999999999, "create_time": 0}')  # a dead owner
    stamp = time.time() - 60
    os.utime(old, (stamp, stamp))
    assert processes.reap_orphans(tmp_path) == 1
    assert young.is_dir() and not old.exists()


def test_the_owner_file_is_written_whole(tmp_path):
    processes.write_owner(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["owner.json"]
    assert processes._owner_alive(tmp_path)
