"""The adapter contract suite (conformance/contract/suite.py) in our own test session, under
this module's test ids: every built-in adapter (and entry-point adapter) in this process, and
the client specs of ``--contract-client`` / the ini list ``contract_clients``."""

from __future__ import annotations

import pytest

from adapters.registry import available, load
from conformance.contract.helpers import targets
from conformance.contract.suite import *  # noqa: F403  (the tests, their fixture and hook)


def test_every_builtin_is_covered(pytestconfig: pytest.Config) -> None:
    local = {t.adapter for t in targets(pytestconfig) if not t.remote}
    assert local == set(available())
    for name in available():
        cls = load(name)
        assert cls.name == name
        assert cls.client_version(), f"{name}: client {cls.client!r} not installed"
