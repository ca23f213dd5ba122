"""The franz-go worker (adapters/go): built once per franz-go release into the cache.

``franz-go`` is the release pinned in ``adapters/go/go.mod`` (built with the committed
``go.sum``); ``franz-go==X`` (``X`` or ``vX``) copies the worker's sources into a temporary
folder, requires ``github.com/twmb/franz-go@vX`` there (``go get``, ``go mod tidy``) and builds.
Modules come through ``go`` with the machine's own settings (proxy, checksum database); the
local toolchain is used as is (``GOTOOLCHAIN=local``), so a release needing a newer Go fails
with one line instead of downloading a toolchain.

A build lives in ``<cache>/workers/franz-go/<version>-<hash>/worker``, the hash covering the
worker's sources and the Go release; a ``ready.json`` marks a finished build. It is built in a
temporary folder renamed into place, under a file lock, so concurrent runs build it once.
Whether the release has ``kgo.ServerSideBalancer`` (KIP-848, franz-go 1.22.0+) is read from the
module's source and selects the ``franzssb`` build tag (see ssb.go / nossb.go).
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

MODULE = "github.com/twmb/franz-go"
SOURCES = Path(__file__).resolve().parents[2] / "adapters" / "go"
BUILD_FORMAT = 1
BUILD_TIMEOUT = 900.0
_RELEASE = re.compile(r"^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")
_NO_RELEASE = re.compile(r"unknown revision|invalid version|no matching versions|"
                         r"version is not available|not found: .*franz-go|"
                         r"reading .*franz-go.*\b(403|404|410)\b", re.IGNORECASE)


def pinned_version() -> str:
    """The franz-go release adapters/go/go.mod requires (without the leading v)."""
    text = (SOURCES / "go.mod").read_text()
    found = re.search(rf"^\s*(?:require\s+)?{re.escape(MODULE)}\s+v(\S+)", text, re.MULTILINE)
    if not found:
        raise ClientEnvError(f"franz-go: adapters/go/go.mod does not require {MODULE}")
    return found.group(1)


def _source_files() -> list[Path]:
    return sorted([*SOURCES.glob("*.go"), SOURCES / "go.mod", SOURCES / "go.sum"])


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ClientEnvError("franz-go: go not found on PATH (the franz-go worker is built "
                             "with the Go toolchain, 1.26+)")
    return go


def _env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": "local", "GOWORK": "off"}


def _run(cmd: list[str], cwd: Path, label: str) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT, env=_env())
    except subprocess.TimeoutExpired:
        raise ClientEnvError(f"{label}: {' '.join(cmd[:2])} did not finish within "
                             f"{BUILD_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise ClientEnvError(f"{label}: cannot run {cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        if cmd[1] in ("get", "list") and any(_NO_RELEASE.search(ln) for ln in lines):
            raise UsageError(f"{label}: no such release of {MODULE}")
        first = next((ln for ln in lines if not ln.startswith("#")), "no output")
        what = "the worker does not compile against this release" if cmd[1] == "build" \
            else f"go {cmd[1]} failed"
        raise ClientEnvError(f"{label}: {what}: {first}")
    return proc.stdout


def _go_version(go: str) -> str:
    try:
        return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True,
                              timeout=60, env=_env()).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClientEnvError(f"franz-go: cannot run {go}: {exc}") from None


def _check_release(go: str, version: str, src: Path, label: str) -> None:
    """UsageError when the module proxy does not know ``version``: asked for that release
    (``go list -m MODULE@vX``), not looked up in ``go list -m -versions``, whose listing is
    partial behind many mirrors (seen: v1.12.1 resolves, the listing starts later)."""
    try:
        _run([go, "list", "-m", f"{MODULE}@v{version}"], src, label)
    except ClientEnvError:
        return  # the proxy cannot be asked (e.g. offline): go get decides


def build_dir(version: str, runtime: str) -> Path:
    """Where the worker of franz-go ``version`` is built (sources and Go release hashed)."""
    digest = hashlib.sha256(runtime.encode())
    for path in _source_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return cache_root() / "workers" / "franz-go" / f"{version}-{digest.hexdigest()[:12]}"


def _finished(folder: Path) -> bool:
    return (finished_build(folder, BUILD_FORMAT) is not None
            and (folder / "worker").is_file())


def build(version: str | None, progress: Callable[[str], None] | None = None) -> NativeBuild:
    """The franz-go worker for ``version`` (None: the pinned release), built if needed.

    UsageError: not a release (or no such release). ClientEnvError: no ``go``, or the build
    failed."""
    pinned = pinned_version()
    if version is None:
        version = pinned
    else:
        found = _RELEASE.match(version.strip())
        if not found:
            raise UsageError(f"franz-go=={version}: not a release (expected e.g. 1.21.7)")
        version = found.group(1)
    label = f"franz-go=={version}"
    go = _go()
    runtime = _go_version(go)
    folder = build_dir(version, runtime)
    command = (str(folder / "worker"),)
    if _finished(folder):
        return NativeBuild(command, version, runtime)
    with file_lock(folder.with_name(folder.name + ".lock")):
        if not _finished(folder):  # not built by a concurrent run meanwhile
            _build(go, version, pinned, folder, label, runtime, progress)
    return NativeBuild(command, version, runtime)


def _build(go: str, version: str, pinned: str, folder: Path, label: str, runtime: str,
           progress: Callable[[str], None] | None) -> None:
    if progress:
        progress(f"building the franz-go worker for {label}")
    started = time.monotonic()
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    src = tmp / "src"
    try:
        src.mkdir(parents=True)
        for path in _source_files():
            shutil.copy2(path, src / path.name)
        if version != pinned:
            _check_release(go, version, src, label)
            _run([go, "get", f"{MODULE}@v{version}"], src, label)
            _run([go, "mod", "tidy"], src, label)
        found = json.loads(_run([go, "mod", "download", "-json", MODULE], src, label))
        config = Path(found.get("Dir") or "-") / "pkg" / "kgo" / "config.go"
        ssb = config.is_file() and "func ServerSideBalancer(" in config.read_text()
        cmd = [go, "build", "-trimpath", "-o", str(tmp / "worker")]
        _run([*cmd, *(["-tags", "franzssb"] if ssb else []), "."], src, label)
        shutil.rmtree(src)
        (tmp / "ready.json").write_text(json.dumps({
            "format": BUILD_FORMAT, "client": "franz-go", "version": version,
            "runtime": runtime, "server_side_balancer": ssb,
            "seconds": round(time.monotonic() - started, 1)}))
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished earlier build
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
