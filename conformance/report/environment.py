"""What a run ran on, for the report header: the suite's Python and git commit and, per client
spec, the runtime its workers run (``python 3.12.3``, ``java 17.0.9``, ``go1.22.4``) and, for
confluent-kafka, the librdkafka release underneath.

Stored in ``RunResult.environment`` as ``{"python": "3.12.3", "commit": "431d738-dirty",
"clients": {spec: {"runtime": ..., "librdkafka": ...}}}`` (``commit`` only when the suite runs
from a git checkout of its own; ``baseline``, the file applied, is added by ``Baseline.apply``);
the command line in ``RunResult.command_line``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

#: the folder of the ``conformance`` package (its parent is the checkout's root, if any)
PACKAGE_DIR = Path(__file__).resolve().parent.parent
LIBRDKAFKA_PROBE = ("import confluent_kafka as c; v = c.libversion(); "
                    "print(v[0] if isinstance(v, tuple) else v)")


class DescribedClient(Protocol):
    """The parts of :class:`conformance.clients.client.Client` read here."""

    label: str
    python: str
    info: dict[str, Any]

    @property
    def client(self) -> str: ...

    def process_env(self) -> dict[str, str] | None: ...


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (``kafka-conformance run ...``), shell-quoted."""
    argv = list(sys.argv if argv is None else argv)
    if argv and argv[0].endswith(("kafka-conformance", "__main__.py")):
        argv[0] = "kafka-conformance"
    return shlex.join(argv)


def run_environment(clients: Iterable[DescribedClient | None]) -> dict[str, Any]:
    """The suite's Python and each started client's runtime (clients that failed: None)."""
    out: dict[str, dict[str, str]] = {}
    for client in clients:
        if client is None:
            continue
        info = client.info or {}
        entry = {}
        if info.get("python"):
            entry["runtime"] = f"python {info['python']}"
        elif info.get("runtime"):
            entry["runtime"] = str(info["runtime"])
        if client.client == "confluent-kafka" and client.python:
            lib = librdkafka_version(client.python, client.process_env())
            if lib:
                entry["librdkafka"] = lib
        out[client.label] = entry
    env: dict[str, Any] = {"python": sys.version.split()[0], "clients": out}
    commit = suite_commit()
    if commit:
        env["commit"] = commit
    return env


def _git(args: list[str], cwd: Path) -> str | None:
    """``git ARGS`` run in ``cwd``: its output, or None when git is missing or fails."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def suite_commit(package_dir: Path = PACKAGE_DIR) -> str:
    """The suite's own git commit (``431d738``, ``431d738-dirty`` when ``git status`` lists
    changes); '' when the package is not the top of a git checkout (installed in
    site-packages, even inside someone else's repository) or git is missing."""
    top = _git(["rev-parse", "--show-toplevel"], package_dir)
    if not top or Path(top).resolve() != package_dir.parent.resolve():
        return ""
    commit = _git(["rev-parse", "--short", "HEAD"], package_dir)
    if not commit:
        return ""
    status = _git(["status", "--porcelain"], package_dir)
    return commit + ("-dirty" if status else "")


def librdkafka_version(python: str, env: dict[str, str] | None = None) -> str:
    """The librdkafka release confluent-kafka loads in interpreter ``python`` ('' if unknown)."""
    try:
        proc = subprocess.run([python, "-c", LIBRDKAFKA_PROBE], capture_output=True, text=True,
                              timeout=30, env=env)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""
