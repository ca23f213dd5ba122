"""Baseline files: known deviations turn failures into expected; malformed files are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report_fixtures import failing_only

from conformance.errors import UsageError
from conformance.report.baseline import Baseline, BaselineError
from conformance.verdicts import RunResult, Verdict

BASELINE = """
[[deviation]]
client = "confluent-kafka*"
check = "commit-validity"
reason = \"\"\"librdkafka stores offsets
   before processing (S4)\"\"\"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(*clients) -> RunResult:
    return RunResult(run_id="r", started_at="", clients=list(clients))


def test_matching_failure_becomes_expected(tmp_path: Path) -> None:
    baseline = Baseline.load(_write(tmp_path, BASELINE))
    result = _run(failing_only("confluent-kafka[BATCH]"))
    assert result.exit_code == 1
    applied = baseline.apply(result)
    check = applied.clients[0].checks[0]
    assert check.verdict == Verdict.EXPECTED
    assert check.note == "baseline: librdkafka stores offsets before processing (S4)"
    assert check.violations, "the evidence stays visible"
    assert applied.exit_code == 0
    assert result.clients[0].checks[0].verdict == Verdict.FAIL, "input not mutated"


def test_non_matching_failure_stays(tmp_path: Path) -> None:
    baseline = Baseline.load(_write(tmp_path, BASELINE))
    result = _run(failing_only("confluent-kafka[BATCH]"),
                  failing_only("kafka-python[BATCH]"),
                  failing_only("confluent-kafka[RECORD]", check="no-loss"))
    applied = baseline.apply(result)
    assert [c.checks[0].verdict for c in applied.clients] == \
        [Verdict.EXPECTED, Verdict.FAIL, Verdict.FAIL]
    assert applied.exit_code == 1


def test_library_name_matches_too() -> None:
    baseline = Baseline.parse('[[deviation]]\nclient = "confluent-kafka"\ncheck = "*"\n'
                              'reason = "known"\n')
    client = failing_only("librdkafka-latest")
    client.client = "confluent-kafka"
    assert baseline.apply(_run(client)).exit_code == 0


def test_spec_pins_a_deviation_to_one_release() -> None:
    baseline = Baseline.parse('[[deviation]]\nclient = "kafka-python==3.0.*"\ncheck = "*"\n'
                              'reason = "known in 3.0"\n')
    old, new = failing_only("kafka-python"), failing_only("kafka-python")
    old.spec, new.spec = "kafka-python==2.0.2", "kafka-python==3.0.12"
    applied = baseline.apply(_run(old, new))
    assert [c.checks[0].verdict for c in applied.clients] == [Verdict.FAIL, Verdict.EXPECTED]


def test_anomalies_restrict_the_entry() -> None:
    text = BASELINE + 'anomalies = ["commit-ahead"]\n'
    baseline = Baseline.parse(text)
    assert baseline.apply(_run(failing_only(anomaly="commit-ahead"))).exit_code == 0
    assert baseline.apply(_run(failing_only(anomaly="commit-regressed"))).exit_code == 1


def test_a_protocol_restricts_the_entry_to_configurations_of_that_protocol() -> None:
    baseline = Baseline.parse(BASELINE + 'protocol = "consumer"\n')
    consumer, classic, unknown = (failing_only("confluent-kafka") for _ in range(3))
    consumer.protocol, classic.protocol = "consumer", "classic"
    applied = baseline.apply(_run(consumer, classic, unknown))
    assert [c.checks[0].verdict for c in applied.clients] == \
        [Verdict.EXPECTED, Verdict.FAIL, Verdict.FAIL]
    with pytest.raises(BaselineError, match="'protocol' must be one of classic, consumer"):
        Baseline.parse(BASELINE + 'protocol = "kip848"\n')


def test_other_verdicts_untouched_and_unused_entries() -> None:
    baseline = Baseline.parse(BASELINE + '\n[[deviation]]\nclient = "x"\ncheck = "y"\n'
                              'reason = "stale"\n')
    result = _run(failing_only())
    applied = baseline.apply(result)
    assert baseline.apply(applied).to_json() == applied.to_json(), "idempotent"
    assert [d.reason for d in baseline.unused(applied)] == ["stale"]


def test_empty_baseline() -> None:
    assert Baseline.parse("").deviations == []


@pytest.mark.parametrize(("text", "expected"), [
    ("[[deviation]\nclient = 1", "not valid TOML"),
    ('[[deviation]]\nclient = "a"\ncheck = "b"\n', "'reason' must be a non-empty string"),
    ('[[deviation]]\nclient = "a"\ncheck = "b"\nreason = ""\n', "'reason'"),
    ('[[deviation]]\nclient = 3\ncheck = "b"\nreason = "r"\n', "'client'"),
    ('[deviation]\nclient = "a"\ncheck = "b"\nreason = "r"\n', "array of tables"),
    ('[[deviation]]\nclient = "a"\ncheck = "b"\nreason = "r"\nresaon = "x"\n',
     "unknown key 'resaon'"),
    ('[[deviations]]\nclient = "a"\n', "unknown top-level key 'deviations'"),
    ('[[deviation]]\nclient = "a"\ncheck = "b"\nreason = "r"\nanomalies = "x"\n',
     "'anomalies'"),
])
def test_malformed_baseline(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(BaselineError) as info:
        Baseline.load(path)
    message = str(info.value)
    assert expected in message and str(path) in message
    assert "\n" not in message
    assert isinstance(info.value, UsageError)


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="file not found"):
        Baseline.load(tmp_path / "none.toml")


def test_a_release_range_matches_the_client_installed_beside_the_suite() -> None:
    from conformance.report.baseline import Deviation
    from conformance.verdicts import CheckResult, ClientResult, Verdict

    dev = Deviation(client="kafka-python==3.0.*", check="order", reason="r")
    check = CheckResult("order", "S9", Verdict.FAIL)
    beside = ClientResult("kafka-python", "kafka-python", "3.0.12", spec="kafka-python")
    older = ClientResult("kafka-python", "kafka-python", "2.0.2", spec="kafka-python")
    assert dev.matches(beside, check) and not dev.matches(older, check)
