"""Client environments: one cached virtual environment per client release, and the worker root.

A release's environment lives in ``<cache>/clients/py3.11/<dist>-<version>/`` and holds only the
client (and what it depends on). It is built once, with ``uv`` when it is installed (else
``python -m venv`` + pip), through the machine's own package index settings (pip's
configuration is handed to uv), under a file lock so that concurrent runs build it once; a
``ready.json`` marks a finished build, a folder without one is rebuilt.

Workers find the suite's worker side (``conformance.worker``, ``adapters``: standard library
only) through the *worker root*, a folder holding just links to those two packages, put on
``PYTHONPATH``. The suite's own site-packages (Hypothesis, its own client for admin and
producer) never reach a client environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conformance.cache import cache_root, file_lock
from conformance.errors import ConformanceError, UsageError

#: ``KAFKA_CONFORMANCE_INSTALLER=pip`` forces ``python -m venv`` + pip even where uv exists.
INSTALLER_ENV = "KAFKA_CONFORMANCE_INSTALLER"
#: How environments are built; a cached one of another format is rebuilt (2: bytecode compiled).
ENV_FORMAT = 2
BUILD_TIMEOUT = 900.0

_NO_RELEASE = re.compile(r"No matching distribution found|Could not find a version|"
                         r"no version of|not found in the package registry|"
                         r"Because there is no version", re.IGNORECASE)


_MARKS = "\u00d7x "  # uv's error bullet


class ClientEnvError(ConformanceError):
    """A client environment could not be built (network, index, build failure)."""


def envs_root() -> Path:
    return cache_root() / "clients" / f"py{sys.version_info[0]}.{sys.version_info[1]}"


def env_dir(distribution: str, version: str) -> Path:
    return envs_root() / f"{distribution}-{version}"


def env_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_uv() -> str | None:
    """The uv executable: the ``uv`` package's binary, else one on PATH; None if absent or
    disabled with ``KAFKA_CONFORMANCE_INSTALLER=pip``."""
    if os.environ.get(INSTALLER_ENV, "").lower() == "pip":
        return None
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def pip_settings_for_uv() -> dict[str, str]:
    """pip's index settings (config files and PIP_* variables) as uv's variables, so that uv
    uses the same package index, links and certificates as pip on this machine."""
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    found: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.rsplit(".", 1)[-1]] = value.strip().strip("'\"")
    mapping = {"index-url": "UV_DEFAULT_INDEX", "extra-index-url": "UV_INDEX",
               "find-links": "UV_FIND_LINKS", "cert": "SSL_CERT_FILE"}
    return {uv: found[pip] for pip, uv in mapping.items() if found.get(pip)}


def _run(cmd: list[str], requirement: str, env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        raise ClientEnvError(f"{requirement}: {Path(cmd[0]).name} did not finish within "
                             f"{BUILD_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise ClientEnvError(f"{requirement}: cannot run {cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        text = (proc.stderr or proc.stdout).strip()
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        raise _install_error(requirement, lines)


def _install_error(requirement: str, lines: list[str]) -> ConformanceError:
    if any(_NO_RELEASE.search(ln) for ln in lines):
        return UsageError(f"{requirement}: no such release on the package index")
    tail = next((ln for ln in reversed(lines) if not ln.startswith("hint")), "no output")
    return ClientEnvError(f"building the environment for {requirement} failed: "
                          f"{tail.lstrip(_MARKS)}")


def ensure_env(distribution: str, version: str,
               progress: Callable[[str], None] | None = None) -> Path:
    """The interpreter of the cached environment for ``distribution==version``, built first
    if needed. UsageError when the release does not exist, ClientEnvError for other failures."""
    folder = env_dir(distribution, version)
    ready = folder / "ready.json"
    if _finished(ready):
        return env_python(folder)
    with file_lock(folder.with_name(folder.name + ".lock")):
        if _finished(ready):  # built by a concurrent run meanwhile
            return env_python(folder)
        shutil.rmtree(folder, ignore_errors=True)  # an interrupted build
        if progress:
            progress(f"building the environment for {distribution}=={version}")
        started = time.monotonic()
        uv = find_uv()
        requirement = f"{distribution}=={version}"
        try:
            if uv:
                _run([uv, "venv", "--quiet", "--python", sys.executable, str(folder)],
                     requirement)
                _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python",
                      str(env_python(folder)), requirement], requirement,
                     env=pip_settings_for_uv())
            else:
                _run([sys.executable, "-m", "venv", str(folder)], requirement)
                _run([str(env_python(folder)), "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", requirement], requirement)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        ready.write_text(json.dumps({"format": ENV_FORMAT, "requirement": requirement,
                                     "installer": "uv" if uv
                                     else "pip", "seconds": round(time.monotonic() - started, 1),
                                     "python": sys.version.split()[0]}))
    return env_python(folder)


def cached_envs() -> list[dict[str, object]]:
    """The finished environments in the cache: their ``ready.json`` plus ``path``."""
    out: list[dict[str, object]] = []
    root = cache_root() / "clients"
    for ready in sorted(root.glob("*/*/ready.json")) if root.is_dir() else []:
        try:
            info = json.loads(ready.read_text())
        except (OSError, ValueError):
            continue
        out.append({**info, "path": str(ready.parent)})
    return out


def _finished(ready: Path) -> bool:
    """A complete environment of the current format."""
    try:
        return json.loads(ready.read_text()).get("format") == ENV_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def worker_root() -> Path:
    """A folder holding only links to the worker-side packages ``conformance`` and
    ``adapters``, to put on a client environment's ``PYTHONPATH``."""
    import adapters
    import conformance

    sources = {"conformance": Path(conformance.__file__).resolve().parent,
               "adapters": Path(adapters.__file__).resolve().parent}
    digest = hashlib.sha256("\n".join(str(p) for p in sources.values()).encode()).hexdigest()
    root = cache_root() / "worker-root" / digest[:16]
    if all((root / name).resolve() == src for name, src in sources.items()):
        return root
    tmp = root.with_name(f"{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, src in sources.items():
        (tmp / name).symlink_to(src, target_is_directory=True)
    try:
        tmp.rename(root)
    except OSError:  # made by a concurrent run meanwhile (or stale): keep one
        if not all((root / n).resolve() == s for n, s in sources.items()):
            shutil.rmtree(root, ignore_errors=True)
            tmp.rename(root)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return root
