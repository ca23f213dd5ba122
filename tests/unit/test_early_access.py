"""``--early-access`` (issue 25 item 6): the consumer protocol on releases that ship it as early
access is the user's choice. The flag reaches every consumer config, the confluent-kafka
adapter's gate follows it, and reports label such configurations (no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.base import ConsumerConfig, Unsupported
from conformance import cli
from conformance.clients import Client, ClientSpec
from conformance.history import HARNESS, History
from conformance.machines.scenario import ScenarioSpec
from conformance.matrix import specs_for
from conformance.options import RunOptions
from conformance.protocols import ALL, GroupProtocol, early_access
from conformance.report.as_run import as_run
from conformance.report.json_report import load_results, run_result_from_json, write_results
from conformance.report.reproduce import rerun_command
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

ck = pytest.importorskip("adapters.confluent_kafka")


# -- the consumer config ----------------------------------------------------------------------
def test_the_consumer_config_round_trips_the_flag_off_by_default() -> None:
    config = ConsumerConfig("127.0.0.1:9", group_id="g", group_protocol="consumer",
                            early_access=True)
    data = config.to_json()
    assert data["early_access"] is True
    assert ConsumerConfig.from_json(data) == config
    plain = ConsumerConfig("127.0.0.1:9")
    assert plain.early_access is False
    assert ConsumerConfig.from_json(plain.to_json()).early_access is False


def test_the_matrix_puts_the_flag_into_every_configuration() -> None:
    client = Client(ClientSpec("java", version="3.9.0"), "",
                    info={"capabilities": {"consumer_protocol": False}})
    allowed = specs_for(client, ALL, "dev", early_access=True)
    assert allowed and all(s.config["early_access"] is True for s in allowed)
    assert all("early_access" not in s.config for s in specs_for(client, ALL, "dev"))
    assert RunOptions().early_access is False


# -- the confluent-kafka adapter's gate --------------------------------------------------------
@pytest.mark.parametrize("librdkafka", [(2, 4, 0), (2, 8, 0), (2, 11, 1)])
def test_an_early_access_librdkafka_runs_the_consumer_protocol_only_with_the_flag(
        librdkafka: tuple[int, ...]) -> None:
    refused = ck.consumer_protocol_refusal(librdkafka, False, "confluent-kafka x")
    assert refused is not None and "early access" in refused and "--early-access" in refused
    assert ck.consumer_protocol_refusal(librdkafka, True, "confluent-kafka x") is None


@pytest.mark.parametrize("allowed", [False, True])
def test_a_librdkafka_before_the_early_access_is_refused_either_way(allowed: bool) -> None:
    refused = ck.consumer_protocol_refusal((2, 3, 0), allowed, "confluent-kafka 2.3.0")
    assert refused is not None and "no KIP-848 group.protocol property" in refused
    assert ck.consumer_protocol_refusal((2, 12, 0), allowed, "confluent-kafka 2.12.0") is None


@pytest.mark.parametrize(("librdkafka", "allowed", "runs"), [
    ((2, 6, 0), False, False), ((2, 6, 0), True, True),
    ((2, 3, 0), False, False), ((2, 3, 0), True, False), ((2, 16, 0), False, True)])
def test_check_config_follows_the_linked_librdkafka_and_the_flag(
        monkeypatch: pytest.MonkeyPatch, librdkafka: tuple[int, ...], allowed: bool,
        runs: bool) -> None:
    monkeypatch.setattr(ck, "LIBRDKAFKA", librdkafka)
    config = ConsumerConfig("127.0.0.1:9", group_id="g", group_protocol="consumer",
                            early_access=allowed)
    if runs:
        ck.ConfluentAdapter.check_config(config)
    else:
        with pytest.raises(Unsupported, match="librdkafka"):
            ck.ConfluentAdapter.check_config(config)
    ck.ConfluentAdapter.check_config(ConsumerConfig("127.0.0.1:9", group_id="g",
                                                    early_access=allowed))  # classic: as ever


@pytest.mark.parametrize(("librdkafka", "session"), [((2, 6, 0), 2000), ((2, 11, 1), None)])
def test_early_librdkafka_gets_a_session_timeout_it_validates(
        monkeypatch: pytest.MonkeyPatch, librdkafka: tuple[int, ...], session: int | None
        ) -> None:
    """librdkafka 2.4-2.8 refuse the consumer unless max.poll.interval.ms >= session.timeout.ms
    (its 45 s default) even under the consumer protocol; 2.10+ reject the property there."""
    monkeypatch.setattr(ck, "LIBRDKAFKA", librdkafka)
    adapter = ck.ConfluentAdapter.__new__(ck.ConfluentAdapter)
    adapter.config = ConsumerConfig("127.0.0.1:9", group_id="g", group_protocol="consumer",
                                    early_access=True, session_timeout_ms=2000,
                                    max_poll_interval_ms=6000)
    adapter._has_group = True
    props = adapter._client_config()
    assert props["group.protocol"] == "consumer"
    assert props.get("session.timeout.ms") == session
    assert "heartbeat.interval.ms" not in props and "early_access" not in props


# -- labels and results ------------------------------------------------------------------------
def _spec(ga: bool, **config: Any) -> ScenarioSpec:
    client = Client(ClientSpec("java", version="4.1.0" if ga else "3.9.0"), "",
                    info={"capabilities": {"consumer_protocol": ga}})
    return ScenarioSpec(client, {"group_protocol": "consumer", **config})


def test_the_label_says_early_access_only_where_the_protocol_runs_as_such() -> None:
    early = _spec(False, early_access=True)
    assert early.early_access and early.label.startswith("consumer early-access reset=")
    for spec in (_spec(False), _spec(True, early_access=True),
                 _spec(False, early_access=True, group_protocol="classic")):
        assert not spec.early_access and "early-access" not in spec.label
    assert early_access(GroupProtocol.CONSUMER, True, {})  # a client that did not say
    assert not early_access(GroupProtocol.CLASSIC, True, {})


def test_results_carry_the_field_and_the_rerun_command_the_flag(tmp_path: Path) -> None:
    entry = ClientResult("java", "kafka-clients", "3.9.0", "consumer early-access reset=earliest "
                         "BATCH/revoke-commit", spec="java==3.9.0", protocol="consumer",
                         early_access=True,
                         checks=[CheckResult("no-loss", "S1", Verdict.FAIL)])
    other = ClientResult("java", "kafka-clients", "4.1.0", "consumer reset=earliest",
                         spec="java==4.1.0", protocol="consumer",
                         checks=[CheckResult("no-loss", "S1", Verdict.PASS)])
    result = RunResult("r", "now", clients=[entry, other], seed=1)
    data = load_results(write_results(result, tmp_path / "results.json"))
    assert data["clients"][0]["early_access"] is True
    assert "early_access" not in data["clients"][1]
    again = run_result_from_json(data)
    assert [c.early_access for c in again.clients] == [True, False]
    assert again.to_json() == data
    command = rerun_command(result, entry, entry.checks[0])
    assert "--protocol consumer --early-access" in command
    assert "--early-access" not in rerun_command(result, other, other.checks[0])


def test_the_configuration_as_run_names_early_access() -> None:
    def history(ga: bool, allowed: bool) -> History:
        h = History()
        h.append("scenario", HARNESS, 0.0, topic="t", partitions=1,
                 config={"group_protocol": "consumer", "early_access": allowed},
                 strategy={"name": "BATCH", "label": "BATCH"})
        h.append("ready", "m1", 0.1, adapter="java", client="kafka-clients",
                 client_version="3.9.0", capabilities={"consumer_protocol": ga}, pid=1)
        return h

    items = as_run(history(False, True))
    assert (items[0].key, items[0].value) == ("protocol", "consumer, early access")
    assert items[0].text == "protocol consumer, early access"
    assert all(it.key != "protocol" for it in as_run(history(True, True)))
    assert all(it.key != "protocol" for it in as_run(history(False, False)))


# -- the command line --------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["run", "history", "bisect"])
def test_the_commands_list_the_flag_in_their_help(command: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--early-access" in out and "early access" in out


def test_run_history_and_bisect_carry_the_flag_into_the_run_options(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from conformance import bisect, release_history, run
    from conformance.clients import releases as rel
    from conformance.clients.releases import Release

    seen: list[RunOptions] = []

    def record(opts: RunOptions, *_: object) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setattr(run, "execute", record)
    monkeypatch.setattr(release_history, "run_history", record)
    monkeypatch.setattr(bisect, "run_bisect", record)
    monkeypatch.setattr(rel, "releases", lambda name, *, pre=False, refresh=False: [
        Release("2.6.0"), Release("2.5.0"), Release("2.4.0")])
    out = ["--out", str(tmp_path)]
    for args in (["run", "--client", "java==3.9.0", "--protocol", "consumer"],
                 ["history", "--client", "confluent-kafka", "--releases", "2.4.0..2.6.0"],
                 ["bisect", "--client", "confluent-kafka", "--good", "2.4.0", "--bad", "2.6.0",
                  "--check", "no-loss"]):
        for flag in ([], ["--early-access"]):
            with pytest.raises(SystemExit) as exit_:
                cli.main([*args, *flag, *out])
            assert exit_.value.code == 0, capsys.readouterr().err
            assert seen[-1].early_access is bool(flag)
    assert len(seen) == 6
