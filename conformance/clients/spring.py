"""The ``spring-kafka`` client: a worker running Spring for Apache Kafka's listener container.

``spring-kafka`` is spring-kafka :data:`DEFAULT_RELEASE` with kafka-clients pinned to the
embedded broker's release (:data:`~conformance.broker.jars.DEFAULT_KAFKA_VERSION`);
``spring-kafka==VERSION`` another release with the kafka-clients it brings. The worker's
sources live in ``adapters/spring`` (docs/spring-kafka-worker.md) and compile together with
the Java reference worker's (``adapters/java``: JSON lines, errors, config mapping). A release
is built once with ``mvn -B -q ... compile`` into
``<cache>/workers/spring-kafka/<version>-<hash>/`` (``classes``, the runtime jars in ``lib``),
``<hash>`` covering both source trees; builds go to a temporary folder renamed into place, under
a file lock; a ``ready.json`` marks a finished build.
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
from conformance.clients import java
from conformance.clients.envs import ClientEnvError
from conformance.clients.native import NativeBuild
from conformance.errors import UsageError

MAIN_CLASS = "io.github.kafkaconformance.worker.SpringMain"
#: The release ``spring-kafka`` means (4.1.x needs Java 17).
DEFAULT_RELEASE = "4.1.2"
#: The oldest release the worker compiles against (Spring 6 / Java 17 baseline, the 3.x API).
OLDEST = (3, 0)
BUILD_TIMEOUT = 900.0
BUILD_FORMAT = 1

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)([.-][0-9A-Za-z.-]+)?$")


def sources() -> Path:
    """The worker's Maven project (``adapters/spring``)."""
    import adapters

    return Path(adapters.__file__).resolve().parent / "spring"


def source_hash() -> str:
    """A digest of the pom and every source file of both trees: a changed worker is a new
    build."""
    digest = hashlib.sha256()
    for root in (sources(), java.sources()):
        files = [root / "pom.xml", *sorted((root / "src").rglob("*.java"))]
        for path in files:
            digest.update(f"{root.name}/{path.relative_to(root)}".encode() + b"\0"
                          + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_dir(version: str) -> Path:
    return cache_root() / "workers" / "spring-kafka" / f"{version}-{source_hash()}"


def check_release(version: str) -> str:
    """``version`` if it names a spring-kafka release this worker builds on; UsageError if
    not."""
    match = _VERSION_RE.match(version)
    if not match:
        raise UsageError(f"spring-kafka=={version}: not a spring-kafka release (e.g. "
                         f"spring-kafka=={DEFAULT_RELEASE})")
    if (int(match.group(1)), int(match.group(2))) < OLDEST:
        raise UsageError(f"spring-kafka=={version}: the worker needs spring-kafka "
                         f"{OLDEST[0]}.{OLDEST[1]}.0 or newer")
    return version


def _tool(name: str) -> str:
    try:
        return java._tool(name)
    except ClientEnvError:
        what = "Apache Maven 3.8+" if name == "mvn" else "a Java 17+ JDK"
        raise ClientEnvError(f"the spring-kafka client needs {name}: {name} not found (install "
                             f"{what} or put it on PATH)") from None


def _finished(folder: Path) -> dict[str, object] | None:
    try:
        info = json.loads((folder / "ready.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == BUILD_FORMAT else None


def _command(java_bin: str, folder: Path) -> tuple[str, ...]:
    classpath = os.pathsep.join([str(folder / "classes"), str(folder / "lib" / "*")])
    return (java_bin, *java.JVM_FLAGS, "-cp", classpath, MAIN_CLASS)


def _mvn_error(version: str, output: str) -> Exception:
    artifact = rf"org\.springframework\.kafka:spring-kafka:(jar|pom):{re.escape(version)}"
    if re.search(rf"(Could not find artifact {artifact}|{artifact}[^\n]* was not found|"
                 rf"Failure to find {artifact})", output):
        return UsageError(f"spring-kafka=={version}: spring-kafka {version} is not published "
                          f"in the Maven repository (e.g. spring-kafka=={DEFAULT_RELEASE})")
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR" in ln and "-> [Help" not in ln]
    detail = (errors or lines or ["no output"])[0]
    detail = re.sub(r"\x1b\[[0-9;]*m", "", detail).removeprefix("[ERROR] ")
    return ClientEnvError(f"building the spring-kafka worker for spring-kafka {version} "
                          f"failed: {detail[:300]}")


def build(version: str | None, progress: Callable[[str], None] | None = None) -> NativeBuild:
    """The command that starts a spring-kafka worker on release ``version`` (None: the
    default release), building it into the cache first if needed."""
    version = check_release(version or DEFAULT_RELEASE)
    java_bin = _tool("java")
    folder = build_dir(version)
    info = _finished(folder)
    if info is None:
        with file_lock(folder.with_name(folder.name + ".lock")):
            info = _finished(folder)  # built by a concurrent process meanwhile
            if info is None:
                info = _build(version, folder, java_bin, progress)
    return NativeBuild(_command(java_bin, folder), version, str(info.get("runtime", "")))


def _build(version: str, folder: Path, java_bin: str,
           progress: Callable[[str], None] | None) -> dict[str, object]:
    mvn = _tool("mvn")
    pin = version == DEFAULT_RELEASE
    if progress:
        progress(f"building the spring-kafka worker for spring-kafka {version}")
    started = time.monotonic()
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "-q", "-f", str(sources() / "pom.xml"), f"-Dspring.kafka.version={version}",
           *([f"-Dkafka.clients.version={DEFAULT_KAFKA_VERSION}"] if pin else []),
           f"-Dworker.out={tmp}", "compile"]
    env = {**os.environ, "MAVEN_OPTS": os.environ.get("MAVEN_OPTS", "-XX:TieredStopAtLevel=1")}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              env=env)
    except subprocess.TimeoutExpired:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ClientEnvError(f"building the spring-kafka worker for spring-kafka {version}: "
                             f"mvn did not finish within {BUILD_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise ClientEnvError(f"cannot run {mvn}: {exc}") from None
    jars = sorted((tmp / "lib").glob("kafka-clients-*.jar"))
    if proc.returncode != 0 or not (tmp / "classes").is_dir() \
            or not any((tmp / "lib").glob(f"spring-kafka-{version}.jar")) or not jars:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _mvn_error(version, proc.stdout + "\n" + proc.stderr)
    clients = jars[0].name.removeprefix("kafka-clients-").removesuffix(".jar")
    info: dict[str, object] = {"format": BUILD_FORMAT, "version": version,
                               "kafka_clients": clients,
                               "hash": folder.name.rsplit("-", 1)[-1],
                               "runtime": f"{java._runtime(java_bin)}, kafka-clients {clients}",
                               "seconds": round(time.monotonic() - started, 1)}
    (tmp / "ready.json").write_text(json.dumps(info))
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted or stale build
    tmp.rename(folder)
    return info
