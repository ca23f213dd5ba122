"""``kafka-conformance releases``: parsing each registry tool's output, ordering, pre-releases,
releases marked unusable, the cache, and the CLI's error paths. The literals are excerpts of
real output (2026-12-07; index hosts replaced by ``index.invalid``); the tests marked ``full``
ask the registries themselves."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conformance import cli
from conformance.clients import releases as rel
from conformance.clients.releases import Release
from conformance.errors import UsageError

# `python -m pip index versions confluent-kafka --pre -vv` (stdout), Python 3.11, linux x86_64
PIP_OUTPUT = """\
1 location(s) to search for versions of confluent-kafka:
* https://index.invalid/simple/confluent-kafka/
  Found link https://index.invalid/packages/96/36/confluent-kafka-0.11.0.tar.gz (from https://index.invalid/simple/confluent-kafka/), version: 0.11.0
  Found link https://index.invalid/packages/4d/97/confluent-kafka-1.9.2.tar.gz (from https://index.invalid/simple/confluent-kafka/), version: 1.9.2
  Skipping link: none of the wheel's tags (cp37-cp37m-manylinux1_i686) are compatible (run pip debug --verbose to show compatible tags): https://index.invalid/packages/1e/b2/confluent_kafka-1.9.2-cp37-cp37m-manylinux1_i686.whl (from https://index.invalid/simple/confluent-kafka/)
  Found link https://index.invalid/packages/25/ac/confluent-kafka-2.0.2.tar.gz (from https://index.invalid/simple/confluent-kafka/), version: 2.0.2
  Found link https://index.invalid/packages/f6/d6/confluent_kafka-2.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (from https://index.invalid/simple/confluent-kafka/), version: 2.0.2
  Found link https://index.invalid/packages/c7/9d/confluent_kafka-2.16.2-cp311-cp311-manylinux_2_28_x86_64.whl (from https://index.invalid/simple/confluent-kafka/) (requires-python:>=3.9), version: 2.16.2
  Skipping link: 2.17.0 Requires-Python >=3.12: https://index.invalid/packages/aa/bb/confluent_kafka-2.17.0.tar.gz (from https://index.invalid/simple/confluent-kafka/) (requires-python:>=3.12)
Available versions: 2.16.2, 2.16.0rc3, 2.10.0, 2.9.1, 2.0.2, 1.9.2, 0.11.0
"""  # noqa: E501
# a pure-Python release: an sdist and a py2-only wheel (kafka-python 1.0.1)
PIP_PURE = """\
  Found link https://index.invalid/packages/x/kafka-python-1.0.1.tar.gz (from https://index.invalid/simple/kafka-python/), version: 1.0.1
  Skipping link: none of the wheel's tags (py2-none-any) are compatible (run pip debug --verbose to show compatible tags): https://index.invalid/packages/y/kafka_python-1.0.1-py2-none-any.whl (from https://index.invalid/simple/kafka-python/)
Available versions: 1.0.1
"""  # noqa: E501
# `mvn -B -U -X ... dependency:get -Dartifact=org.apache.kafka:kafka-clients:LATEST:pom`
MVN_DEBUG_LINE = "[DEBUG] Using local repository at {repo}"
MAVEN_METADATA = """\
<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>org.apache.kafka</groupId>
  <artifactId>kafka-clients</artifactId>
  <versioning>
    <latest>4.4.0</latest>
    <release>4.4.0</release>
    <versions>
      <version>0.8.2-beta</version>
      <version>0.8.2.0</version>
      <version>2.3.1</version>
      <version>2.4.0</version>
      <version>2.10.0</version>
      <version>2.9.1</version>
      <version>3.6.1</version>
      <version>4.4.0</version>
    </versions>
  </versioning>
</metadata>
"""
MVN_ERROR = """\
[DEBUG] Using local repository at /root/.m2/repository
[ERROR] Failed to execute goal org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get (default-cli) on project standalone-pom: Couldn't download artifact: Failed to read artifact descriptor for org.apache.kafka:kafka-clientz:pom:LATEST: 
[ERROR] 
[ERROR] -> [Help 1]
[ERROR] For more information about the errors and possible solutions, please read the following articles:
[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/MojoExecutionException
"""  # noqa: E501, W291
# `go list -m -versions -json github.com/twmb/franz-go`
GO_OUTPUT = """\
{
\t"Path": "github.com/twmb/franz-go",
\t"Versions": [
\t\t"v1.0.0",
\t\t"v1.9.1",
\t\t"v1.18.0",
\t\t"v1.22.0-rc.1",
\t\t"v1.22.3"
\t]
}
"""
# `npm view kafkajs versions --json` and a failing `npm view ... --json` (stdout)
NPM_OUTPUT = '["1.9.3","1.10.0","1.16.0-beta.10","1.16.0-beta.9","1.16.0","2.2.4",' \
             '"2.3.0-beta.3"]'
NPM_ERROR = """{
  "error": {
    "code": "E404",
    "summary": "Not Found - GET https://index.invalid/kafkajs-nonexist",
    "detail": "The requested resource 'kafkajs-nonexist@*' could not be found."
  }
}"""


def versions(listing: list[Release]) -> list[str]:
    return [r.version for r in listing]


# -- parsing and ordering -------------------------------------------------------------------------
def test_pip_output_is_parsed_newest_first_with_python_and_wheel_reasons() -> None:
    listing = rel.parse_pip(PIP_OUTPUT, "3.11")
    assert versions(listing) == ["2.17.0", "2.16.2", "2.16.0rc3", "2.10.0", "2.9.1", "2.0.2",
                                 "1.9.2", "0.11.0"]
    by = {r.version: r for r in listing}
    assert by["2.17.0"].unusable == "needs Python >=3.12 (this is Python 3.11)"
    assert "no wheel for Python 3.11" in str(by["1.9.2"].unusable)
    assert by["0.11.0"].unusable == by["1.9.2"].unusable  # no wheel at all, a compiled package
    assert by["2.0.2"].unusable is None and by["2.10.0"].unusable is None
    assert by["2.16.0rc3"].pre and not by["2.16.2"].pre


def test_a_pure_python_release_without_a_matching_wheel_runs() -> None:
    assert rel.parse_pip(PIP_PURE, "3.11") == [Release("1.0.1")]


def test_known_python_bounds_mark_older_releases() -> None:
    listing = rel.parse_pip("Available versions: 0.10.0, 0.9.0, 0.8.1\n", "3.11",
                            rel.PYTHON_OLDEST["aiokafka"])
    assert [r.unusable is None for r in listing] == [True, True, False]
    assert "0.9.0" in str(listing[-1].unusable)


def test_maven_versions_are_ordered_and_old_releases_marked() -> None:
    listing = rel.maven_listing(rel.parse_maven_metadata([MAVEN_METADATA]), (2, 4), "java",
                                "kafka-clients")
    assert versions(listing) == ["4.4.0", "3.6.1", "2.10.0", "2.9.1", "2.4.0", "2.3.1",
                                 "0.8.2.0", "0.8.2-beta"]
    by = {r.version: r for r in listing}
    assert by["2.3.1"].unusable == "the java worker needs kafka-clients 2.4.0 or newer"
    assert by["2.4.0"].unusable is None
    assert by["0.8.2-beta"].pre and not by["0.8.2.0"].pre


@pytest.mark.parametrize(("newer", "older"), [
    ("2.10.0", "2.9.1"), ("v1.18.0", "v1.9.1"), ("3.0.0", "3.0.0-RC1"), ("3.0.0-RC1", "3.0.0-M2"),
    ("3.0.0-M2", "3.0.0-M1"), ("2.2.0.RELEASE", "2.1.14.RELEASE"), ("2.3.1", "2.3.0.RELEASE"),
    ("1.16.0-beta.10", "1.16.0-beta.9"), ("1.16.0", "1.16.0-beta.10"), ("0.8.2.0", "0.8.2-beta"),
    ("4.0.0", "4.0.0-SNAPSHOT"),
])
def test_release_key_orders_maven_go_and_npm_versions(newer: str, older: str) -> None:
    assert rel.release_key(newer) > rel.release_key(older)


def test_a_spring_release_suffix_is_the_release_itself() -> None:
    assert rel.release_key("2.3.0.RELEASE") == rel.release_key("2.3.0")


@pytest.mark.parametrize(("version", "pre"), [
    ("3.0.0rc1", True), ("2.13.0b1", True), ("0.4.2.dev0", True), ("2.16.2", False),
])
def test_python_pre_releases(version: str, pre: bool) -> None:
    assert rel.python_pre(version) is pre


@pytest.mark.parametrize(("version", "pre"), [
    ("3.0.0-M1", True), ("3.0.0-RC1", True), ("2.0.0.RC1", True), ("4.0.0-SNAPSHOT", True),
    ("1.16.0-beta.10", True), ("v1.22.0-rc.1", True), ("0.8.2-beta", True), ("1.0.0.M2", True),
    ("2.2.0.RELEASE", False), ("v1.22.3", False), ("0.8.2.0", False), ("4.4.0", False),
])
def test_maven_go_npm_pre_releases(version: str, pre: bool) -> None:
    assert rel.release_pre(version) is pre


def test_go_output_is_parsed_newest_first() -> None:
    listing = rel.parse_go(GO_OUTPUT)
    assert versions(listing) == ["v1.22.3", "v1.22.0-rc.1", "v1.18.0", "v1.9.1", "v1.0.0"]
    assert [r.pre for r in listing] == [False, True, False, False, False]
    plain = "github.com/twmb/franz-go v1.0.0 v1.9.1 v1.18.0"
    assert versions(rel.parse_go(plain)) == ["v1.18.0", "v1.9.1", "v1.0.0"]


def test_npm_output_is_parsed_newest_first() -> None:
    listing = rel.parse_npm(NPM_OUTPUT)
    assert versions(listing) == ["2.3.0-beta.3", "2.2.4", "1.16.0", "1.16.0-beta.10",
                                 "1.16.0-beta.9", "1.10.0", "1.9.3"]
    assert versions(rel.parse_npm('"2.2.4"')) == ["2.2.4"]


def test_error_lines_of_each_tool() -> None:
    assert rel.error_line("mvn", MVN_ERROR, "").startswith(
        "Failed to execute goal org.apache.maven.plugins:maven-dependency-plugin")
    assert rel.error_line("npm", NPM_ERROR, "npm error code E404\nnpm error A complete log "
                          "of this run can be found in: /x.log") == \
        "Not Found - GET https://index.invalid/kafkajs-nonexist"
    stdout = "Could not fetch URL https://index.invalid/simple/x/: connection error: refused\n"
    assert rel.error_line("pip", stdout, "WARNING: experimental\nERROR: No matching "
                          "distribution found for x") == (
        "ERROR: No matching distribution found for x (could not fetch "
        "https://index.invalid/simple/x/: connection error: refused)")
    assert rel.error_line("go", "", "go: reading list: 403 Forbidden\n\tserver response: "
                          "not available") == "server response: not available"


# -- the tools as processes (fakes on PATH) -------------------------------------------------------
def _fake_tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_maven_listing_reads_the_metadata_mvn_downloaded(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    folder = repo / "org" / "apache" / "kafka" / "kafka-clients"
    folder.mkdir(parents=True)
    (folder / "maven-metadata-central.xml").write_text(MAVEN_METADATA)
    (folder / "maven-metadata-local.xml").write_text(
        MAVEN_METADATA.replace("3.6.1", "3.99.1"))  # installed locally, never published
    _fake_tool(tmp_path, "mvn", f"echo '{MVN_DEBUG_LINE.format(repo=repo)}'\n")
    listing = rel.maven_releases("org.apache.kafka:kafka-clients", (2, 4),
                                 str(tmp_path / "mvn"), "java")
    assert "3.6.1" in versions(listing) and "3.99.1" not in versions(listing)


def test_a_failing_mvn_is_one_line(tmp_path: Path) -> None:
    _fake_tool(tmp_path, "mvn", f"cat <<'EOF'\n{MVN_ERROR}EOF\nexit 1\n")
    with pytest.raises(rel.RegistryError, match=r"^listing the releases of java: mvn failed: "
                                                r"Failed to execute goal") as err:
        rel.maven_releases("org.apache.kafka:kafka-clients", (2, 4), str(tmp_path / "mvn"),
                           "java")
    assert "\n" not in str(err.value)


# -- the cache ------------------------------------------------------------------------------------
@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An empty cache folder and a fake registry counting its calls."""
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    calls: list[str] = []

    def fetch(base: str) -> list[Release]:
        calls.append(base)
        return [Release("2.2.4"), Release("2.3.0-beta.3", pre=True), Release("1.0.0", "old")]

    monkeypatch.setattr(rel, "_fetch", fetch)
    return calls


def test_a_listing_is_cached_for_an_hour(cache: list[str]) -> None:
    now = [1000.0]
    assert versions(rel.releases("kafkajs", clock=lambda: now[0])) == ["2.2.4", "1.0.0"]
    now[0] += rel.CACHE_SECONDS - 1
    assert versions(rel.releases("kafkajs", pre=True, clock=lambda: now[0])) == \
        ["2.2.4", "2.3.0-beta.3", "1.0.0"]
    assert cache == ["kafkajs"]
    now[0] += 2
    rel.releases("kafkajs", clock=lambda: now[0])
    assert cache == ["kafkajs", "kafkajs"]
    rel.releases("kafkajs", refresh=True, clock=lambda: now[0])
    rel.releases("kafkajs:variant", clock=lambda: now[0])  # a variant lists its client's
    assert cache == ["kafkajs"] * 3


def test_a_broken_cache_file_is_fetched_again(cache: list[str], tmp_path: Path) -> None:
    rel.releases("java")
    (path,) = (tmp_path / "releases").glob("java.json")
    path.write_text("{not json")
    assert rel.releases("java")[0] == Release("2.2.4")
    assert cache == ["java", "java"]


def test_unknown_client_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown client 'nope': releases are listed for "
                                         r"aiokafka, confluent-kafka, franz-go, java"):
        rel.releases("nope")


# -- the CLI --------------------------------------------------------------------------------------
def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err


def test_cli_unknown_client_is_one_line_and_exit_2(capsys, cache) -> None:
    code, out, err = _main(["releases", "nope"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: unknown client 'nope'")
    assert "kafka-python" in err and "Traceback" not in err


def test_cli_registry_failure_is_one_line_and_exit_3(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    _fake_tool(tmp_path, "npm", f"cat <<'EOF'\n{NPM_ERROR}\nEOF\n"
                                "echo 'npm error code E404' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    code, out, err = _main(["releases", "kafkajs", "--refresh"], capsys)
    assert code == 3 and out == ""
    assert err == ("error: listing the releases of kafkajs: npm failed: Not Found - GET "
                   "https://index.invalid/kafkajs-nonexist\n")


def test_cli_missing_tool_is_exit_3(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = _main(["releases", "franz-go"], capsys)
    assert code == 3 and err.startswith("error: franz-go: go not found") and err.count("\n") == 1


def test_cli_table_json_and_limit(capsys, cache) -> None:
    code, out, _ = _main(["releases", "kafkajs", "--limit", "1", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == [{"version": "2.2.4", "unusable": None, "pre": False}]
    code, out, _ = _main(["releases", "kafkajs", "--pre"], capsys)
    assert code == 0 and "2.3.0-beta.3" in out and "runs" in out and "old" in out
    code, _, err = _main(["releases", "kafkajs", "--limit", "0"], capsys)
    assert code == 2 and "--limit" in err


# -- the registries themselves (network) ----------------------------------------------------------
@pytest.mark.full
@pytest.mark.parametrize(("client", "release"), [
    ("confluent-kafka", "2.3.0"), ("java", "3.6.1"), ("franz-go", "v1.18.0"),
    ("kafkajs", "2.2.4"),
])
def test_the_registry_lists_a_well_known_release(client: str, release: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_CONFORMANCE_CACHE", str(tmp_path))
    listing = rel.releases(client)
    assert release in versions(listing)
    assert versions(listing) == sorted(versions(listing), reverse=True,
                                       key=rel.python_key if client == "confluent-kafka"
                                       else rel.release_key)
    assert not any(r.pre for r in listing)
