"""The kafkajs worker (``adapters/node``): installed once per kafkajs release into the cache.

``kafkajs`` means the release pinned in ``adapters/node/package-lock.json``, installed with
``npm ci --omit=dev``; ``kafkajs==X.Y.Z`` installs that release with ``npm install``. Each build
lives in ``<cache>/workers/kafkajs/<version>-<hash>/`` (the hash covers the worker's sources),
is made in a temporary folder under a file lock and renamed into place when finished, so that
concurrent runs build it once. npm runs with the machine's own settings. See
docs/kafkajs-worker.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from conformance.cache import cache_root, file_lock, finished_build
from conformance.clients.envs import ClientEnvError
from conformance.clients.native import NativeBuild
from conformance.errors import UsageError

SOURCE = Path(__file__).resolve().parents[2] / "adapters" / "node"
FILES = ("package.json", "package-lock.json", "worker.js")
BUILD_FORMAT = 1
BUILD_TIMEOUT = 600.0
_RELEASE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
_NO_RELEASE = re.compile(r"ETARGET|No matching version|E404|is not in this registry",
                         re.IGNORECASE)


def pinned_version() -> str:
    """The kafkajs release of the committed lockfile."""
    lock = json.loads((SOURCE / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/kafkajs"]["version"])


def sources_hash() -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode() + b"\0" + (SOURCE / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_dir(version: str) -> Path:
    return cache_root() / "workers" / "kafkajs" / f"{version}-{sources_hash()}"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ClientEnvError(f"kafkajs: {name} not found on PATH (Node.js 14 or newer and npm "
                             f"are needed to build the kafkajs worker)")
    return found


def _run(cmd: list[str], cwd: Path, label: str) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ClientEnvError(f"{label}: {Path(cmd[0]).name} did not finish within "
                             f"{BUILD_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise ClientEnvError(f"{label}: cannot run {cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        if any(_NO_RELEASE.search(ln) for ln in lines):
            raise UsageError(f"{label}: no such release on the npm registry")
        tail = next((ln for ln in lines if "ERR!" in ln and "code" not in ln.split()[:3]),
                    lines[-1] if lines else "no output")
        raise ClientEnvError(f"building the worker for {label} failed: {tail}")
    return proc.stdout.strip()


def _result(node: str, folder: Path, info: dict[str, object]) -> NativeBuild:
    return NativeBuild((node, str(folder / "worker.js")), str(info["version"]),
                       str(info.get("runtime", "")))


def build(version: str | None, progress: Callable[[str], None] | None = None) -> NativeBuild:
    """The kafkajs worker of ``version`` (None: the lockfile's release), built if needed.

    UsageError: no such kafkajs release. ClientEnvError: no node/npm, or npm failed."""
    pinned = pinned_version()
    wanted = version or pinned
    label = f"kafkajs=={wanted}"
    if not _RELEASE.match(wanted):
        raise UsageError(f"{label}: expected a kafkajs release like {pinned}")
    node = _tool("node")
    folder = build_dir(wanted)
    info = finished_build(folder, BUILD_FORMAT)
    if info is not None:
        return _result(node, folder, info)
    npm = _tool("npm")
    with file_lock(folder.with_name(folder.name + ".lock")):
        info = finished_build(folder, BUILD_FORMAT)
        if info is not None:  # built by a concurrent run meanwhile
            return _result(node, folder, info)
        if progress:
            progress(f"building the kafkajs worker for {label}")
        started = time.monotonic()
        tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished build
        tmp.mkdir(parents=True)
        try:
            for name in FILES:
                shutil.copy2(SOURCE / name, tmp / name)
            quiet = ["--no-audit", "--no-fund", "--loglevel=error"]
            if wanted == pinned:
                _run([npm, "ci", "--omit=dev", *quiet], tmp, label)
            else:
                _run([npm, "install", f"kafkajs@{wanted}", "--save-exact", "--omit=dev",
                      *quiet], tmp, label)
            installed = json.loads((tmp / "node_modules" / "kafkajs" / "package.json")
                                   .read_text())["version"]
            runtime = "node " + _run([node, "--version"], tmp, label)
            info = {"format": BUILD_FORMAT, "version": installed, "runtime": runtime,
                    "seconds": round(time.monotonic() - started, 1)}
            (tmp / "ready.json").write_text(json.dumps(info))
            tmp.rename(folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return _result(node, folder, info)
