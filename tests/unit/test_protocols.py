"""The group protocol has one home (``conformance/protocols.py``) and one check of a consumer
config's value (``ConsumerConfig``); a bad ``--protocol`` is one line and exit 2."""

from __future__ import annotations

import json

import pytest

from adapters.base import ConsumerConfig
from conformance import cli
from conformance.errors import UsageError
from conformance.protocols import ALL, GroupProtocol, parse


def test_parse_accepts_both_names_and_the_values_themselves() -> None:
    assert ALL == (GroupProtocol.CLASSIC, GroupProtocol.CONSUMER)
    for protocol in ALL:
        assert parse(str(protocol), "here") is protocol
        assert parse(protocol, "here") is protocol
    assert parse("consumer", "here") == "consumer"  # a str: JSON and dict configs keep working
    assert json.dumps({"p": GroupProtocol.CONSUMER}) == '{"p": "consumer"}'


@pytest.mark.parametrize("bad", ["foo", "", "Classic", " classic", None, 1])
def test_parse_refuses_anything_else_naming_the_value_and_where(bad: object) -> None:
    with pytest.raises(UsageError) as refused:
        parse(bad, "somewhere")
    message = str(refused.value)
    assert message.startswith("somewhere: ") and repr(bad) in message
    assert len(message.splitlines()) == 1


def test_a_consumer_config_parses_its_protocol_and_refuses_an_unknown_one() -> None:
    config = ConsumerConfig.from_json({"bootstrap_servers": "b:9092", "group_protocol": "consumer"})
    assert config.group_protocol is GroupProtocol.CONSUMER
    assert ConsumerConfig("b:9092").group_protocol is GroupProtocol.CLASSIC
    assert json.loads(json.dumps(config.to_json()))["group_protocol"] == "consumer"
    with pytest.raises(UsageError, match="'foo'"):
        ConsumerConfig.from_json({"bootstrap_servers": "b:9092", "group_protocol": "foo"})
    with pytest.raises(UsageError, match="'foo'"):
        ConsumerConfig("b:9092", group_protocol="foo")  # type: ignore[arg-type]


def test_the_cli_refuses_an_unknown_protocol_in_one_line_with_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--protocol", "foo"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --protocol: 'foo'") and len(err.splitlines()) == 1
    assert "Traceback" not in err
