"""Children never outlive us: started from any thread, they die with the process (Linux)."""

from __future__ import annotations

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
