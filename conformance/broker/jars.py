"""Fetch and cache the Apache Kafka broker classpath with Maven.

The jars of one Kafka version go to ``<cache>/<version>/lib`` (cache: ``$KAFKA_CONFORMANCE_CACHE``
or ``~/.cache/kafka-conformance``), fetched once by ``mvn dependency:copy-dependencies`` from the
``pom.xml`` shipped in this package, into a temporary folder renamed into place when complete.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from conformance.cache import cache_root
from conformance.errors import BrokerError, PrerequisiteError, UsageError

DEFAULT_KAFKA_VERSION = "4.3.1"
_VERSION_RE = re.compile(r"^4\.\d+\.\d+$")


def check_version(version: str) -> str:
    if not _VERSION_RE.match(version):
        raise UsageError(
            f"unsupported Kafka version {version!r}: the embedded broker runs Apache Kafka 4.x "
            f"in KRaft mode, e.g. --kafka-version {DEFAULT_KAFKA_VERSION}"
        )
    return version


def java_executable() -> str:
    """The java binary (JAVA_HOME first), checked to be Java 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() \
        else shutil.which("java")
    if not java:
        raise PrerequisiteError(
            "java not found: install a Java 17+ runtime (e.g. OpenJDK 17) or set JAVA_HOME, "
            "or use --bootstrap-servers for an existing cluster"
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PrerequisiteError(f"cannot run {java} -version: {exc}") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):
            major = int(match.group(2))
        if major < 17:
            raise PrerequisiteError(
                f"{java} is Java {major}; Kafka 4.x needs Java 17+: install it or set JAVA_HOME"
            )
    return java


def mvn_executable() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise PrerequisiteError(
            "mvn not found: install Apache Maven (it fetches the Kafka jars once), "
            "or use --bootstrap-servers for an existing cluster"
        )
    return mvn


def lib_dir(version: str) -> Path:
    return cache_root() / version / "lib"


def ensure_jars(version: str = DEFAULT_KAFKA_VERSION, *, quiet: bool = True) -> Path:
    """Return the folder holding every jar of the broker, fetching it with mvn once."""
    check_version(version)
    lib = lib_dir(version)
    if (lib / ".complete").exists():
        return lib
    mvn = mvn_executable()
    lib.parent.mkdir(parents=True, exist_ok=True)
    with open(lib.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be fetching the same version
        if (lib / ".complete").exists():
            return lib
        tmp = lib.parent / "lib.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        pom = resources.files("conformance.broker") / "pom.xml"
        with resources.as_file(pom) as pom_path:
            cmd = [mvn, "-B", "-q" if quiet else "-ntp", "-f", str(pom_path),
                   f"-Dkafka.version={version}", "dependency:copy-dependencies",
                   f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            except subprocess.TimeoutExpired:
                raise BrokerError("mvn did not finish fetching the Kafka jars in 30 min") from None
        if proc.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            shutil.rmtree(tmp, ignore_errors=True)
            raise _fetch_error(version, proc.stdout + proc.stderr)
        shutil.rmtree(lib, ignore_errors=True)
        tmp.rename(lib)
        (lib / ".complete").write_text(version + "\n")
    return lib


def _fetch_error(version: str, output: str) -> Exception:
    missing = rf"org\.apache\.kafka:kafka_2\.13:(jar|pom):{re.escape(version)}"
    if re.search(rf"(Could not find artifact {missing}|{missing} was not found)", output):
        return UsageError(
            f"Kafka {version} is not published in the Maven repository: pick an existing 4.x "
            f"version, e.g. --kafka-version {DEFAULT_KAFKA_VERSION}"
        )
    last = [ln for ln in output.splitlines() if "ERROR" in ln][:1] or output.splitlines()[-1:]
    detail = last[0].strip() if last else "no output"
    return BrokerError(
        f"mvn could not fetch the Kafka {version} jars ({detail[:300]}); check that Maven can "
        f"reach its repository (settings.xml, proxy)"
    )
