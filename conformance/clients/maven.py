"""Workers built with Maven from a project in ``adapters/`` (the ``java`` and ``spring-kafka``
clients).

A release is built once with ``mvn -B -q ... compile`` into
``<cache>/workers/<client>/<version>-<hash>/`` (``classes`` and the runtime jars in ``lib``),
where ``<hash>`` covers the worker's pom and every ``.java`` file of the source folders the pom
compiles (its ``compileSourceRoots``: the java and spring-kafka workers each compile their own
folder and ``adapters/java/shared``), so an edited worker, or edited shared code, is rebuilt.
Builds go to a temporary folder renamed into place when complete, under a file lock
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
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conformance.cache import cache_root, file_lock, finished_build
from conformance.clients.envs import ClientEnvError
from conformance.clients.native import NativeBuild
from conformance.errors import UsageError

#: JVM flags for a quick start of a short-lived worker (C1 only, one GC thread).
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k", "-Xms16m", "-Xmx256m",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-Dorg.slf4j.simpleLogger.logFile=System.err")
BUILD_TIMEOUT = 900.0
BUILD_FORMAT = 1

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)([.-][0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class MavenWorker:
    """One client whose worker Maven builds: its spec name, the artifact a release names (the
    pom property it goes into), the main class, the ``adapters/`` folder of its pom (which
    lists the source folders it compiles), the oldest release it builds on and its default."""

    client: str
    artifact: str  # group:artifact of the release, e.g. org.apache.kafka:kafka-clients
    version_property: str
    main_class: str
    project: str  # the folder in adapters/ holding the pom, e.g. "spring"
    oldest: tuple[int, int]
    default: str
    #: pom properties set when the default release is built (e.g. kafka-clients pinned)
    default_pins: tuple[tuple[str, str], ...] = ()

    @property
    def release_of(self) -> str:
        """The artifact id a release names (``kafka-clients``, ``spring-kafka``)."""
        return self.artifact.split(":", 1)[1]

    def sources(self) -> Path:
        """The worker's Maven project: the folder of its pom."""
        import adapters

        return Path(adapters.__file__).resolve().parent / self.project

    def source_roots(self) -> list[Path]:
        """The source folders the pom compiles: maven-compiler-plugin's ``compileSourceRoots``
        (``${project.basedir}`` is the pom's folder), else ``src/main/java``."""
        base = self.sources()
        roots = [el.text.strip() for el in ET.parse(base / "pom.xml").iter()
                 if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] == "compileSourceRoot"
                 and el.text and el.text.strip()]
        return [Path(os.path.normpath(base / root.replace("${project.basedir}", str(base))))
                for root in roots or ["src/main/java"]]

    def source_hash(self) -> str:
        """A digest of the pom and every ``.java`` file of the folders it compiles, each named by
        its path below ``adapters/``: a change to any of them (shared code too) is a new build."""
        adapters_dir = self.sources().parent
        files = [self.sources() / "pom.xml"]
        for root in self.source_roots():
            files += sorted(root.rglob("*.java"))
        digest = hashlib.sha256()
        for path in files:
            name = os.path.relpath(path, adapters_dir).replace(os.sep, "/")
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:12]

    def build_dir(self, version: str) -> Path:
        return cache_root() / "workers" / self.client / f"{version}-{self.source_hash()}"

    def check_release(self, version: str) -> str:
        """``version`` if it names a release the worker builds on; UsageError if not."""
        match = _VERSION_RE.match(version)
        if not match:
            raise UsageError(f"{self.client}=={version}: not a {self.release_of} release "
                             f"(e.g. {self.client}=={self.default})")
        if (int(match.group(1)), int(match.group(2))) < self.oldest:
            raise UsageError(f"{self.client}=={version}: the {self.client} worker needs "
                             f"{self.release_of} {self.oldest[0]}.{self.oldest[1]}.0 or newer")
        return version

    def build(self, version: str | None,
              progress: Callable[[str], None] | None = None) -> NativeBuild:
        """The command that starts a worker on release ``version`` (None: the default),
        building it into the cache first if needed."""
        version = self.check_release(version or self.default)
        java = self.tool("java")
        folder = self.build_dir(version)
        info = finished_build(folder, BUILD_FORMAT)
        if info is None:
            with file_lock(folder.with_name(folder.name + ".lock")):
                info = finished_build(folder, BUILD_FORMAT)  # built meanwhile by another run
                if info is None:
                    info = self._build(version, folder, java, progress)
        classpath = os.pathsep.join([str(folder / "classes"), str(folder / "lib" / "*")])
        return NativeBuild((java, *JVM_FLAGS, "-cp", classpath, self.main_class), version,
                           str(info.get("runtime", "")))

    def tool(self, name: str) -> str:
        """``java`` (``JAVA_HOME`` first) or ``mvn``; ClientEnvError when missing."""
        if name == "java":
            home = os.environ.get("JAVA_HOME")
            if home and (Path(home) / "bin" / "java").is_file():
                return str(Path(home) / "bin" / "java")
        found = shutil.which(name)
        if not found:
            what = "Apache Maven 3.8+" if name == "mvn" else "a Java 17+ JDK"
            raise ClientEnvError(f"the {self.client} client needs {name}: {name} not found "
                                 f"(install {what} or put it on PATH)")
        return found

    def _build(self, version: str, folder: Path, java: str,
               progress: Callable[[str], None] | None) -> dict[str, object]:
        mvn = self.tool("mvn")
        label = f"the {self.client} worker for {self.release_of} {version}"
        if progress:
            progress(f"building {label}")
        started = time.monotonic()
        tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        pins = self.default_pins if version == self.default else ()
        cmd = [mvn, "-B", "-q", "-f", str(self.sources() / "pom.xml"),
               f"-D{self.version_property}={version}", *(f"-D{k}={v}" for k, v in pins),
               f"-Dworker.out={tmp}", "compile"]
        env = {**os.environ, "MAVEN_OPTS": os.environ.get("MAVEN_OPTS", "-XX:TieredStopAtLevel=1")}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                                  env=env)
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ClientEnvError(f"building {label}: mvn did not finish within "
                                 f"{BUILD_TIMEOUT:.0f} s") from None
        except OSError as exc:
            raise ClientEnvError(f"cannot run {mvn}: {exc}") from None
        clients = sorted((tmp / "lib").glob("kafka-clients-*.jar"))
        if proc.returncode != 0 or not (tmp / "classes").is_dir() or not clients \
                or not (tmp / "lib" / f"{self.release_of}-{version}.jar").is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            raise self._mvn_error(version, label, proc.stdout + "\n" + proc.stderr)
        kafka_clients = clients[0].name.removeprefix("kafka-clients-").removesuffix(".jar")
        runtime = _runtime(java)
        if self.release_of != "kafka-clients":
            runtime += f", kafka-clients {kafka_clients}"
        info: dict[str, object] = {"format": BUILD_FORMAT, "version": version,
                                   "kafka_clients": kafka_clients,
                                   "hash": folder.name.rsplit("-", 1)[-1], "runtime": runtime,
                                   "seconds": round(time.monotonic() - started, 1)}
        (tmp / "ready.json").write_text(json.dumps(info))
        shutil.rmtree(folder, ignore_errors=True)  # an interrupted or stale build
        tmp.rename(folder)
        return info

    def _mvn_error(self, version: str, label: str, output: str) -> Exception:
        artifact = rf"{re.escape(self.artifact)}:(jar|pom):{re.escape(version)}"
        if re.search(rf"(Could not find artifact {artifact}|{artifact}[^\n]* was not found|"
                     rf"Failure to find {artifact})", output):
            return UsageError(f"{self.client}=={version}: {self.release_of} {version} is not "
                              f"published in the Maven repository (e.g. "
                              f"{self.client}=={self.default})")
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "ERROR" in ln and "-> [Help" not in ln]
        detail = (errors or lines or ["no output"])[0]
        detail = re.sub(r"\x1b\[[0-9;]*m", "", detail).removeprefix("[ERROR] ")
        return ClientEnvError(f"building {label} failed: {detail[:300]}")


def _runtime(java: str) -> str:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClientEnvError(f"cannot run {java} -version: {exc}") from None
    match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
    return f"java {match.group(1)}" if match else "java"
