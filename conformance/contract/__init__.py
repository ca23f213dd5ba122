"""The adapter contract suite (the tests in :mod:`conformance.contract.suite`, their helpers in
:mod:`conformance.contract.helpers`), shipped in the package so that a user's own test session
can run it against the user's adapter (:mod:`conformance.pytest_plugin`)."""
