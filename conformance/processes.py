"""Child processes that never outlive the run: start, terminate, and reap orphans.

Every broker node and worker is started with:
- its own session (Ctrl-C in a terminal reaches only us; we stop children in order), and
- on Linux, ``PR_SET_PDEATHSIG = SIGKILL``: if this Python process is killed, the kernel kills the
  child too. The signal follows the *thread* that started the child, so a child asked for from
  any other thread than the main one or a job thread of :mod:`conformance.jobs` (which lives
  until the run ends) is started by one launcher thread that lives as long as the process (a
  test session's brokers, started from an xdist worker's thread, die with a SIGTERM'd pytest).
A run folder records its owner's pid; a later start reaps the folders of dead owners and any process
still running from them (see :func:`reap_orphans`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1


#: the child's first program: ask the kernel for SIGKILL when the parent goes (and stop if it
#: has gone already), then become the command. No Python runs in the child between fork and
#: exec: a ``preexec_fn`` can deadlock there when another thread held an interpreter lock at
#: the fork (soak seed 84: a child stuck in ``PyOS_AfterFork_Child`` for good, and its
#: ``Popen`` with it)
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    f"ctypes.CDLL('libc.so.6').prctl({_PR_SET_PDEATHSIG}, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n")


class _Launcher:
    """One daemon thread that starts children for threads that may end before them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], subprocess.Popen], Future]] | None = None

    def run(self, start: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        with self._lock:
            if self._jobs is None:
                self._jobs = queue.SimpleQueue()
                threading.Thread(target=self._loop, args=(self._jobs,), name="kc-launcher",
                                 daemon=True).start()
            jobs = self._jobs
        done: Future = Future()
        jobs.put((start, done))
        return done.result()

    @staticmethod
    def _loop(jobs: queue.SimpleQueue) -> None:
        while True:
            start, done = jobs.get()
            try:
                done.set_result(start())
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)


_LAUNCHER = _Launcher()


def popen(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` in a new session, killed with us where the OS allows it."""
    if not sys.platform.startswith("linux"):
        return subprocess.Popen(cmd, start_new_session=True, **kwargs)

    env = kwargs.get("env")
    program = shutil.which(cmd[0], path=(env if env is not None else os.environ).get("PATH"))
    if program is None:  # as Popen itself would say
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cmd[0])

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-S", "-c", _DIE_WITH_PARENT,
                                 str(os.getpid()), program, *cmd[1:]],
                                start_new_session=True, **kwargs)

    thread = threading.current_thread()
    if thread is threading.main_thread() or thread.name.startswith(("kc-job", "kc-launcher")):
        return start()
    return _LAUNCHER.run(start)


def terminate(proc: subprocess.Popen, grace: float = 15.0) -> int | None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            kill(proc)
    return proc.returncode


def terminate_all(procs: list[subprocess.Popen], grace: float = 15.0) -> None:
    """SIGTERM every process at once, then SIGKILL what is left after ``grace`` seconds."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill(proc)


def kill_now(proc: subprocess.Popen) -> None:
    """SIGKILL without waiting (the caller reaps it later)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def kill(proc: subprocess.Popen, timeout: float = 30.0) -> int | None:
    """SIGKILL and reap."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    return proc.returncode


def write_owner(run_dir: Path) -> None:
    """Mark ``run_dir`` as owned by this process (pid + start time)."""
    me = psutil.Process()
    partial = run_dir / f".owner.json.{me.pid}"
    partial.write_text(json.dumps({"pid": me.pid, "create_time": me.create_time()}))
    os.replace(partial, run_dir / "owner.json")  # atomic: a reaper never reads half a file


def _owner_alive(run_dir: Path) -> bool:
    try:
        owner = json.loads((run_dir / "owner.json").read_text())
        proc = psutil.Process(int(owner["pid"]))
        return abs(proc.create_time() - float(owner["create_time"])) < 1.0
    except (OSError, ValueError, KeyError, psutil.Error):
        return False


def processes_using(path: Path) -> list[psutil.Process]:
    """Processes of this user whose command line mentions ``path``."""
    needle = str(path)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "uids"]):
        try:
            if proc.pid == os.getpid():
                continue
            if any(needle in arg for arg in proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def kill_processes(procs: list[psutil.Process], timeout: float = 10.0) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=timeout)


def descendants(pid: int) -> list[psutil.Process]:
    """Every process ``pid`` started (and theirs); none if it is gone."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop_children(keep: Collection[int] = (), grace: float = 5.0) -> None:
    """Terminate every process this one started (and theirs), but ``keep`` (and theirs):
    SIGTERM, SIGKILL after ``grace`` seconds."""
    kept = {pid for k in keep for pid in [k, *(c.pid for c in descendants(k))]}
    procs = [p for p in descendants(os.getpid()) if p.pid not in kept]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, alive = psutil.wait_procs(procs, timeout=grace)
    kill_processes(alive, timeout=grace)


def reap_orphans(runs_root: Path, min_age: float = 2.0) -> int:
    """Kill processes of run folders whose owner died, and delete those folders.

    Returns the number of folders reaped. Folders younger than ``min_age`` seconds are left
    alone, owner file or not: their owner may be writing it right now (a reaper that read a
    half-written owner file took a starting broker's folder, seen with several test workers
    starting brokers at once); a dead owner's folder is reaped by a later start.
    """
    if not runs_root.is_dir():
        return 0
    reaped = 0
    for run_dir in runs_root.iterdir():
        if not run_dir.is_dir() or _owner_alive(run_dir):
            continue
        try:
            young = time.time() - run_dir.stat().st_mtime < min_age
        except OSError:  # reaped meanwhile by another process
            continue
        if young:
            continue
        kill_processes(processes_using(run_dir))
        shutil.rmtree(run_dir, ignore_errors=True)
        reaped += 1
    return reaped
