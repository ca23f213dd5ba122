"""Options of the project's own test suite.

``--contract-client SPEC`` (repeatable; ini setting ``contract_clients``, a list): client specs
(``NAME==VERSION``, ``NAME@/path/to/python``) the adapter contract tests run against besides
the built-in adapters in this process, each in its own environment through an adapter host
(tests/integration/test_adapter_contract.py). Given on the command line, the option replaces the
ini list; ``-o contract_clients=`` runs the built-ins only.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kafka-conformance contract tests")
    group.addoption("--contract-client", action="append", default=None, metavar="SPEC",
                    dest="contract_clients",
                    help="also run the adapter contract tests against this client spec, e.g. "
                         "kafka-python==2.0.2 (repeatable; replaces the ini contract_clients)")
    parser.addini("contract_clients", "client specs the adapter contract tests also run "
                  "against, each in its own environment", type="linelist", default=[])
