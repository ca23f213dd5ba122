"""Client specs: NAME, NAME==VERSION, NAME@/path/to/python, and bad input as usage errors."""

from __future__ import annotations

import sys

import pytest

from conformance.clients import ClientSpec
from conformance.errors import UsageError
from conformance.options import client_specs


def test_name_is_the_client_beside_the_suite():
    spec = ClientSpec.parse("kafka-python")
    assert spec == ClientSpec("kafka-python") and spec.beside and spec.label == "kafka-python"


def test_version_names_a_release():
    spec = ClientSpec.parse("confluent-kafka:batch==2.0.2")
    assert (spec.adapter, spec.version, spec.python) == ("confluent-kafka:batch", "2.0.2", None)
    assert not spec.beside and spec.label == "confluent-kafka:batch==2.0.2"


def test_interpreter_path():
    spec = ClientSpec.parse(f"kafka-python@{sys.executable}")
    assert spec.python == sys.executable and spec.label == f"kafka-python@{sys.executable}"


def test_adapter_reference_stays_whole():
    assert ClientSpec.parse("my_pkg.adapter:MyAdapter").adapter == "my_pkg.adapter:MyAdapter"


@pytest.mark.parametrize("text,message", [
    ("kafka-python==", "NAME==VERSION"),
    ("==2.0.2", "NAME==VERSION"),
    ("kafka-python==2.0.2; rm", "NAME==VERSION"),
    ("my_pkg.adapter:MyAdapter==1.0", "only for a built-in client"),
    ("kafka-python@/no/such/python", "no interpreter"),
    ("", "needs a name"),
])
def test_bad_specs_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        ClientSpec.parse(text)


def test_specs_in_order_without_repeats_and_defaults():
    specs = client_specs(("kafka-python==2.0.2", "kafka-python", "kafka-python==2.0.2"),
                         ("x.py:A",))
    assert [s.label for s in specs] == ["kafka-python==2.0.2", "kafka-python", "x.py:A"]
    assert [s.label for s in client_specs(())] == ["java", "confluent-kafka", "kafka-python"]
