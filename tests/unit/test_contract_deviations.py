"""The one list of known deviations: the contract suite and the run's baseline read one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.contract import suite
from conformance.contract.deviations import known
from conformance.protocols import GroupProtocol
from conformance.report.baseline import Baseline

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "conformance" / "known-deviations.toml"


def test_the_checkout_path_is_the_package_file() -> None:
    assert (ROOT / "baselines" / "known-deviations.toml").resolve() == FILE.resolve()


def test_both_readers_take_their_tables_from_the_one_file() -> None:
    contract = known()
    baseline = Baseline.load(ROOT / "baselines" / "known-deviations.toml")
    assert contract == suite.DEVIATIONS and len(contract) >= 10
    assert len(baseline.deviations) >= 11
    names = {name for name in dir(suite) if name.startswith("test_")}
    assert {d.test for d in contract} <= names, "every entry names a contract test"
    assert suite.STALL.test == "test_assignment_arrives_when_polls_are_short_and_far_apart"
    java = next(d for d in contract if d.adapter == "java")
    assert java.protocol == GroupProtocol.CLASSIC and java.until is None
    exact = [d for d in contract if d.exact]
    assert [(d.adapter, d.since, d.until) for d in exact] == [("kafka-python", "2.0.2", "2.0.3")]


@pytest.mark.parametrize("text,error", [
    ('[[contract]]\ntest = "t"\nclient = "c"\nsince = "1"\n', "'reason' must be"),
    ('[[contract]]\ntest = "t"\nclient = "c"\nsince = "1"\nreason = "r"\nwhen = "x"\n',
     "unknown key 'when'"),
    ('[[contract]]\ntest = "t"\nclient = "c"\nsince = "1"\nreason = "r"\nprotocol = "eager"\n',
     "not a group protocol"),
    ('[[contract]]\ntest = "t"\nclient = "c"\nsince = "1"\nreason = "r"\nexact = "yes"\n',
     "'exact' must be"),
    ('[contract]\ntest = "t"\n', "array of tables"),
])
def test_a_malformed_contract_entry_is_named(text: str, error: str) -> None:
    with pytest.raises(Exception, match=error):
        known(text)


def test_a_baseline_skips_contract_tables_but_still_refuses_other_keys() -> None:
    ok = Baseline.from_dict({"contract": [{"test": "t"}], "deviation": []})
    assert ok.deviations == []
    with pytest.raises(Exception, match="unknown top-level key 'other'"):
        Baseline.from_dict({"other": []})
