"""The ``java`` client: the Java reference worker on Apache Kafka's own consumer (kafka-clients).

``java`` is the kafka-clients release of the embedded broker
(:data:`~conformance.broker.jars.DEFAULT_KAFKA_VERSION`), ``java==VERSION`` another one. The
worker's sources live in ``adapters/java`` (docs/java-worker.md); a release is built once with
``mvn -B -q ... compile`` into ``<cache>/workers/java/<version>-<hash>/`` (``classes`` and the
runtime jars in ``lib``), where ``<hash>`` covers the worker's sources, so an edited worker is
rebuilt. Builds go to a temporary folder renamed into place when complete, under a file lock
(concurrent test processes build once); a ``ready.json`` marks a finished build.
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

from conformance.broker.jars import DEFAULT_KAFKA_VERSION
from conformance.cache import cache_root, file_lock
from conformance.clients.envs import ClientEnvError
from conformance.clients.native import NativeBuild
from conformance.errors import UsageError

MAIN_CLASS = "io.github.kafkaconformance.worker.Main"
#: JVM flags for a quick start of a short-lived worker (C1 only, one GC thread).
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k", "-Xms16m", "-Xmx256m",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-Dorg.slf4j.simpleLogger.logFile=System.err")
BUILD_TIMEOUT = 900.0
#: The oldest release the worker compiles against (onPartitionsLost, committed(Set), the
#: cooperative assignor: kafka-clients 2.4).
OLDEST = (2, 4)
BUILD_FORMAT = 1

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)([.-][0-9A-Za-z.-]+)?$")


def sources() -> Path:
    """The worker's Maven project (``adapters/java``)."""
    import adapters

    return Path(adapters.__file__).resolve().parent / "java"


def source_hash(root: Path | None = None) -> str:
    """A digest of the pom and every source file: a changed worker is a new build."""
    root = root or sources()
    digest = hashlib.sha256()
    files = [root / "pom.xml", *sorted((root / "src").rglob("*.java"))]
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_dir(version: str) -> Path:
    return cache_root() / "workers" / "java" / f"{version}-{source_hash()}"


def check_release(version: str) -> str:
    """``version`` if it names a kafka-clients release this worker builds on; UsageError if
    not."""
    match = _VERSION_RE.match(version)
    if not match:
        raise UsageError(f"java=={version}: not a kafka-clients release (e.g. "
                         f"java=={DEFAULT_KAFKA_VERSION})")
    if (int(match.group(1)), int(match.group(2))) < OLDEST:
        raise UsageError(f"java=={version}: the Java worker needs kafka-clients "
                         f"{OLDEST[0]}.{OLDEST[1]}.0 or newer")
    return version


def _tool(name: str) -> str:
    if name == "java":
        home = os.environ.get("JAVA_HOME")
        if home and (Path(home) / "bin" / "java").is_file():
            return str(Path(home) / "bin" / "java")
    found = shutil.which(name)
    if not found:
        what = "Apache Maven 3.8+" if name == "mvn" else "a Java 17+ JDK"
        raise ClientEnvError(f"the java client needs {name}: {name} not found (install {what} "
                             f"or put it on PATH)")
    return found


def _runtime(java: str) -> str:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClientEnvError(f"cannot run {java} -version: {exc}") from None
    match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
    return f"java {match.group(1)}" if match else "java"


def _finished(folder: Path) -> dict[str, object] | None:
    try:
        info = json.loads((folder / "ready.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == BUILD_FORMAT else None


def _command(java: str, folder: Path) -> tuple[str, ...]:
    classpath = os.pathsep.join([str(folder / "classes"), str(folder / "lib" / "*")])
    return (java, *JVM_FLAGS, "-cp", classpath, MAIN_CLASS)


def _mvn_error(version: str, output: str) -> Exception:
    artifact = rf"org\.apache\.kafka:kafka-clients:(jar|pom):{re.escape(version)}"
    if re.search(rf"(Could not find artifact {artifact}|{artifact}[^\n]* was not found|"
                 rf"Failure to find {artifact})", output):
        return UsageError(f"java=={version}: kafka-clients {version} is not published in the "
                          f"Maven repository (e.g. java=={DEFAULT_KAFKA_VERSION})")
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR" in ln and "-> [Help" not in ln]
    detail = (errors or lines or ["no output"])[0]
    detail = re.sub(r"\x1b\[[0-9;]*m", "", detail).removeprefix("[ERROR] ")
    return ClientEnvError(f"building the java worker for kafka-clients {version} failed: "
                          f"{detail[:300]}")


def build(version: str | None, progress: Callable[[str], None] | None = None) -> NativeBuild:
    """The command that starts a Java worker on kafka-clients ``version`` (None: the broker's
    release), building it into the cache first if needed."""
    version = check_release(version or DEFAULT_KAFKA_VERSION)
    java = _tool("java")
    folder = build_dir(version)
    info = _finished(folder)
    if info is None:
        with file_lock(folder.with_name(folder.name + ".lock")):
            info = _finished(folder)  # built by a concurrent process meanwhile
            if info is None:
                info = _build(version, folder, java, progress)
    return NativeBuild(_command(java, folder), version, str(info.get("runtime", "")))


def _build(version: str, folder: Path, java: str,
           progress: Callable[[str], None] | None) -> dict[str, object]:
    mvn = _tool("mvn")
    if progress:
        progress(f"building the java worker for kafka-clients {version}")
    started = time.monotonic()
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "-q", "-f", str(sources() / "pom.xml"), f"-Dkafka.clients.version={version}",
           f"-Dworker.out={tmp}", "compile"]
    env = {**os.environ, "MAVEN_OPTS": os.environ.get("MAVEN_OPTS", "-XX:TieredStopAtLevel=1")}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              env=env)
    except subprocess.TimeoutExpired:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ClientEnvError(f"building the java worker for kafka-clients {version}: mvn did "
                             f"not finish within {BUILD_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise ClientEnvError(f"cannot run {mvn}: {exc}") from None
    if proc.returncode != 0 or not (tmp / "classes").is_dir() \
            or not any((tmp / "lib").glob(f"kafka-clients-{version}.jar")):
        shutil.rmtree(tmp, ignore_errors=True)
        raise _mvn_error(version, proc.stdout + "\n" + proc.stderr)
    info: dict[str, object] = {"format": BUILD_FORMAT, "version": version,
                               "hash": folder.name.rsplit("-", 1)[-1],
                               "runtime": _runtime(java),
                               "seconds": round(time.monotonic() - started, 1)}
    (tmp / "ready.json").write_text(json.dumps(info))
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted or stale build
    tmp.rename(folder)
    return info
