"""The releases of a built-in client the suite can run (``kafka-conformance releases NAME``).

Each listing comes from the registry's own client, run with the machine's settings (index,
mirrors, proxies, certificates); no registry address is written here:

- Python clients: ``python -m pip index versions DIST --pre -vv`` with the suite's interpreter
  (the one client environments are built with). The ``Available versions`` line gives the
  releases this interpreter can install; pip's debug lines add the ones skipped for their
  ``Requires-Python`` (marked with the Python they need) and tell which releases of a compiled
  package (one with platform wheels) have no wheel for this interpreter and platform, only a
  source archive (a C extension to build: marked). uv has no listing command, so pip it is.
- ``java`` (kafka-clients) and ``spring-kafka``: Maven metadata through ``mvn`` itself. ``mvn
  -U -X dependency:get -Dartifact=G:A:LATEST:pom`` resolves the LATEST metaversion, for which
  Maven downloads the artifact's ``maven-metadata.xml`` (through the configured mirrors) into
  the local repository as ``maven-metadata-<repository>.xml``; the debug output names the local
  repository, and the versions are read from those files. This keeps Maven's settings,
  mirrors and credentials Maven's business: no settings file is parsed and no URL is built
  here (the alternatives, the versions plugin, only reports the newest release; fetching
  ``<mirror>/.../maven-metadata.xml`` ourselves would bypass proxies and authentication).
- ``franz-go``: ``go list -m -versions -json`` (in an empty folder, with the franz-go builder's
  environment). Behind many module proxies this list is partial; ``franz-go==VERSION`` asks for
  a release directly and is not limited to it.
- ``kafkajs``: ``npm view kafkajs versions --json``.

Pre-releases (alpha, beta, rc, milestones, snapshots, dev) are left out unless asked for.
Releases are sorted newest first. A listing is cached for an hour in
``<cache>/releases/`` (``refresh`` bypasses it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from conformance.cache import cache_root
from conformance.clients.native import BUILDERS
from conformance.clients.spec import DISTRIBUTIONS
from conformance.errors import ConformanceError, UsageError

#: How long a listing is reused, in seconds.
CACHE_SECONDS = 3600.0
CACHE_FORMAT = 1
TIMEOUT = 300.0
#: The dependency plugin that resolves Maven's LATEST metaversion (dependency:get).
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

#: Python releases known not to load in the adapter, measured (oldest release that loads,
#: reason): aiokafka before 0.9 imports kafka-python's modules the adapter's environment lacks.
PYTHON_OLDEST: dict[str, tuple[str, str]] = {
    "aiokafka": ("0.9.0", "the adapter cannot load aiokafka before 0.9.0 "
                          "(No module named 'kafka.conn')"),
}


#: Clients whose listing can lack releases that exist (a Go module proxy's list is partial):
#: ``NAME==VERSION`` still asks for a release the listing omits.
PARTIAL_LISTINGS = frozenset({"franz-go"})


def listing_partial(name: str) -> bool:
    """Whether client ``name``'s listing can omit releases that exist."""
    return name.split(":", 1)[0] in PARTIAL_LISTINGS


class RegistryError(ConformanceError):
    """A registry's client is missing or could not list the releases (exit 3)."""


@dataclass(frozen=True)
class Release:
    """One release: its version as the registry writes it, whether it is a pre-release, and
    why the suite cannot run it (None: nothing known against it)."""

    version: str
    unusable: str | None = None
    pre: bool = False

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def known_clients() -> list[str]:
    """The built-in clients whose releases can be listed."""
    return sorted({*DISTRIBUTIONS, *BUILDERS})


def releases(name: str, *, pre: bool = False, refresh: bool = False,
             clock: Callable[[], float] = time.time) -> list[Release]:
    """The releases of client ``name`` (an adapter name; a variant ``NAME:x`` means NAME),
    newest first; pre-releases only with ``pre``. UsageError for an unknown client,
    RegistryError when the registry's tool is missing or fails."""
    base = name.split(":", 1)[0]
    if base not in known_clients():
        raise UsageError(f"unknown client {name!r}: releases are listed for "
                         f"{', '.join(known_clients())}")
    key = base
    if base in DISTRIBUTIONS:
        key = f"{base}-py{sys.version_info[0]}.{sys.version_info[1]}"
    path = cache_root() / "releases" / f"{key}.json"
    listing = None if refresh else _cached(path, clock())
    if listing is None:
        listing = _fetch(base)
        _store(path, listing, clock())
    return [r for r in listing if pre or not r.pre]


# -- cache --------------------------------------------------------------------------------------
def _cached(path: Path, now: float) -> list[Release] | None:
    try:
        data = json.loads(path.read_text())
        if data.get("format") != CACHE_FORMAT or not 0 <= now - data["fetched"] < CACHE_SECONDS:
            return None
        return [Release(**entry) for entry in data["releases"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _store(path: Path, listing: list[Release], now: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"format": CACHE_FORMAT, "fetched": now,
                               "releases": [r.to_json() for r in listing]}))
    tmp.replace(path)


# -- ordering -----------------------------------------------------------------------------------
_PRE_WORDS = re.compile(r"(?i)(alpha|beta|snapshot|milestone|preview|pre|dev|rc|cr|ea|"
                        r"(?<![a-z])[abm](?=\d|$))")
_FINAL_WORDS = {"", "release", "final", "ga"}


def python_key(version: str) -> tuple[int, object]:
    """Sort key of a Python release (PEP 440); unparsable ones sort oldest."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def python_pre(version: str) -> bool:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return True
    return parsed.is_prerelease


def _split(version: str) -> tuple[tuple[int, ...], str]:
    found = re.match(r"^v?(\d+(?:\.\d+)*)(.*)$", version.strip())
    if not found:
        return (), version
    return tuple(int(p) for p in found.group(1).split(".")), found.group(2).lstrip(".-+_")


def release_key(version: str) -> tuple[tuple[int, ...], int, tuple[object, ...]]:
    """Sort key of a Maven, Go or npm release: the numbers, then a final release after its
    pre-releases (``3.0.0-M1`` < ``3.0.0-RC1`` < ``3.0.0`` = ``3.0.0.RELEASE``), pre-release
    parts compared number by number (``beta.10`` > ``beta.9``)."""
    numbers, rest = _split(version)
    numbers = tuple(numbers) + (0,) * max(0, 4 - len(numbers))
    if rest.lower() in _FINAL_WORDS:
        return numbers, 1, ()
    parts = tuple((1, int(p), "") if p.isdigit() else (0, 0, p.lower())
                  for p in re.findall(r"\d+|[A-Za-z]+", rest))
    return numbers, 0, parts


def release_pre(version: str) -> bool:
    """Whether a Maven, Go or npm release is a pre-release (or a snapshot)."""
    numbers, rest = _split(version)
    return not numbers or (rest.lower() not in _FINAL_WORDS
                           and bool(_PRE_WORDS.search(rest) or version.startswith("0.0.0-")))


# -- the registries' tools ----------------------------------------------------------------------
def _fetch(base: str) -> list[Release]:
    if base in DISTRIBUTIONS:
        dist = DISTRIBUTIONS[base]
        proc = _tool([sys.executable, "-m", "pip", "index", "versions", dist, "--pre", "-vv",
                      "--disable-pip-version-check"], base, check=False)
        found = parse_pip(proc.stdout, f"{sys.version_info[0]}.{sys.version_info[1]}",
                          PYTHON_OLDEST.get(base))
        if not found:
            raise RegistryError(f"listing the releases of {base}: pip failed: "
                                f"{error_line('pip', proc.stdout, proc.stderr)}")
        return found
    if base in ("java", "spring-kafka"):
        from conformance.clients import java, spring

        worker = java.WORKER if base == "java" else spring.WORKER
        return maven_releases(worker.artifact, worker.oldest, worker.tool("mvn"), base)
    if base == "franz-go":
        from conformance.clients import go

        return parse_go(_tool([go._go(), "list", "-m", "-versions", "-json", go.MODULE], base,
                              env=go._env()).stdout)
    from conformance.clients import node

    return parse_npm(_tool([node._tool("npm"), "view", "kafkajs", "versions", "--json"],
                           base).stdout)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_line(program: str, stdout: str, stderr: str) -> str:
    """The line of a failed registry tool's output that says why (at most 300 characters):
    Maven's first ``[ERROR]``, npm's JSON error summary, pip's ``ERROR:`` with the fetch
    error from its debug output; else the last line of stderr."""
    lines = [ln.strip() for ln in _ANSI.sub("", stderr or stdout).splitlines() if ln.strip()]
    line = lines[-1] if lines else "no output"
    if program == "mvn":
        errors = [ln.removeprefix("[ERROR]").strip() for ln in _ANSI.sub("", stdout + stderr)
                  .splitlines() if ln.startswith("[ERROR]") and "-> [Help" not in ln]
        line = next((e for e in errors if e), line)
    elif program == "npm":
        try:
            line = json.loads(stdout)["error"]["summary"] or line
        except (ValueError, KeyError, TypeError):
            line = next((ln for ln in reversed(lines) if "complete log" not in ln), line)
    elif program == "pip":
        line = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), line)
        fetch = re.findall(r"^Could not fetch URL (.+)$", stdout, re.MULTILINE)
        if fetch:
            line += f" (could not fetch {fetch[-1].strip()})"
    return line[:300]


def _tool(cmd: Sequence[str], base: str, env: dict[str, str] | None = None,
          check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a registry tool in an empty folder; RegistryError (with the line of its output
    that says why) when it cannot start, times out or (``check``) fails."""
    program = Path(cmd[0]).name
    if list(cmd[1:3]) == ["-m", "pip"]:
        program = "pip"
    with tempfile.TemporaryDirectory(prefix="kc-releases-") as folder:
        try:
            proc = subprocess.run(list(cmd), cwd=folder, capture_output=True, text=True,
                                  timeout=TIMEOUT, env=env)
        except subprocess.TimeoutExpired:
            raise RegistryError(f"listing the releases of {base}: {program} did not finish "
                                f"within {TIMEOUT:.0f} s") from None
        except OSError as exc:
            raise RegistryError(f"listing the releases of {base}: cannot run {cmd[0]}: "
                                f"{exc}") from None
    if check and proc.returncode != 0:
        raise RegistryError(f"listing the releases of {base}: {program} failed: "
                            f"{error_line(program, proc.stdout, proc.stderr)}")
    return proc


# -- parsers (one per tool's output) ------------------------------------------------------------
_AVAILABLE = re.compile(r"^Available versions:\s*(.+)$", re.MULTILINE)
_FOUND = re.compile(r"Found link (\S+?)(?:#\S*)? .*, version: (\S+)\s*$", re.MULTILINE)
_NEEDS_PYTHON = re.compile(r"Skipping link: (\S+) Requires-Python ([^:]+): ", re.MULTILINE)
_OTHER_WHEEL = re.compile(r"Skipping link: none of the wheel's tags .*?: (\S+?\.whl)\b",
                          re.MULTILINE)


def _binary_wheel_version(url: str) -> str | None:
    """The version of a wheel built for a platform (a C extension), None for a pure one."""
    parts = url.rsplit("/", 1)[-1].removesuffix(".whl").split("-")
    return parts[1] if len(parts) >= 5 and parts[-1] != "any" else None


def parse_pip(output: str, python: str,
              oldest: tuple[str, str] | None = None) -> list[Release]:
    """Releases from ``pip index versions --pre -vv`` output, run on Python ``python``."""
    available: set[str] = set()
    for line in _AVAILABLE.findall(output):
        available.update(v.strip() for v in line.split(",") if v.strip())
    needs = {v: spec.strip() for v, spec in _NEEDS_PYTHON.findall(output)}
    wheel: dict[str, bool] = {}
    for url, version in _FOUND.findall(output):
        is_wheel = url.endswith(".whl")
        wheel[version] = wheel.get(version, False) or is_wheel
    # a compiled package: some release has wheels for a platform (this one's or others')
    compiled = any(_binary_wheel_version(url) for url in _OTHER_WHEEL.findall(output)) or any(
        _binary_wheel_version(url) for url, _ in _FOUND.findall(output) if url.endswith(".whl"))
    out = []
    for version in sorted(available | set(needs), key=python_key, reverse=True):
        reason = None
        if oldest and python_key(version) < python_key(oldest[0]):
            reason = oldest[1]
        elif version not in available:
            reason = f"needs Python {needs[version]} (this is Python {python})"
        elif compiled and not wheel.get(version, True):
            reason = (f"no wheel for Python {python} on this platform: pip would compile "
                      f"it from source (needs a C compiler and the library's headers)")
        out.append(Release(version, reason, python_pre(version)))
    return out


def parse_maven_metadata(texts: Sequence[str]) -> list[str]:
    """The versions in ``maven-metadata.xml`` documents (union, unordered)."""
    versions: set[str] = set()
    for text in texts:
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            continue
        versions.update(v.text.strip() for v in root.iter("version") if v.text)
    return sorted(versions)


def maven_releases(artifact: str, oldest: tuple[int, int], mvn: str,
                   client: str) -> list[Release]:
    """The releases of ``artifact`` (``group:artifact``) from the metadata ``mvn`` downloads."""
    group, _, name = artifact.partition(":")
    out = _tool([mvn, "-B", "-U", "-X", "-Dstyle.color=never", f"{DEPENDENCY_PLUGIN}:get",
                 f"-Dartifact={artifact}:LATEST:pom", "-Dtransitive=false"], client).stdout
    found = re.search(r"Using local repository at (.+)$", out, re.MULTILINE)
    if not found:
        raise RegistryError(f"listing the releases of {client}: mvn did not name its local "
                            f"repository")
    folder = Path(found.group(1).strip()).joinpath(*group.split("."), name)
    texts = [p.read_text() for p in sorted(folder.glob("maven-metadata-*.xml"))
             if p.name != "maven-metadata-local.xml"]
    versions = parse_maven_metadata(texts)
    if not versions:
        raise RegistryError(f"listing the releases of {client}: mvn left no maven-metadata "
                            f"in {folder}")
    return maven_listing(versions, oldest, client, name)


def maven_listing(versions: Sequence[str], oldest: tuple[int, int], client: str,
                  release_of: str) -> list[Release]:
    """Maven ``versions`` as releases, those older than the worker's ``oldest`` marked."""
    out = []
    for version in sorted(set(versions), key=release_key, reverse=True):
        numbers, _ = _split(version)
        reason = None
        if tuple(numbers[:2]) < oldest:
            reason = (f"the {client} worker needs {release_of} {oldest[0]}.{oldest[1]}.0 "
                      f"or newer")
        out.append(Release(version, reason, release_pre(version)))
    return out


def parse_go(output: str) -> list[Release]:
    """Releases from ``go list -m -versions -json MODULE`` (or its plain one-line form)."""
    text = output.strip()
    try:
        versions = json.loads(text).get("Versions") or []
    except ValueError:
        versions = text.split()[1:]
    return [Release(v, None, release_pre(v))
            for v in sorted(set(versions), key=release_key, reverse=True)]


def parse_npm(output: str) -> list[Release]:
    """Releases from ``npm view PKG versions --json`` (a list, or a string for one)."""
    data = json.loads(output or "[]")
    versions = [data] if isinstance(data, str) else list(data)
    return [Release(v, None, release_pre(v))
            for v in sorted(set(versions), key=release_key, reverse=True)]
