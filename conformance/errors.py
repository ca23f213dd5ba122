"""Errors a user can act on. Each carries the exit code the CLI returns for it.

The CLI prints ``error: <message>`` on one line (no traceback) and exits with ``exit_code``:
2 for usage errors (bad input the user can fix on the command line), 3 for infrastructure errors
(broker, Java/Maven, workers).
"""

from __future__ import annotations


class ConformanceError(Exception):
    """Base class: a failure with a one-line, actionable message."""

    exit_code = 3


class UsageError(ConformanceError):
    """Bad input on the command line or in a file the user gave (unknown client, bad version)."""

    exit_code = 2


class BrokerError(ConformanceError):
    """The broker could not be fetched, started, reached or stopped."""


class PrerequisiteError(BrokerError):
    """A program the embedded broker needs (java, mvn) is missing or too old."""


class WorkerError(ConformanceError):
    """A consumer worker died unplanned, timed out, or spoke outside the line protocol."""


class ClientCallHung(WorkerError):
    """A worker's command timed out while the worker reported the client call it made as
    outstanding past its bound (``call_outstanding``): the client's failure, with evidence in
    the history, not the suite's (``call-never-returned``)."""

    def __init__(self, message: str, member: str, call: str) -> None:
        super().__init__(message)
        self.member = member
        self.call = call


class AdapterError(UsageError):
    """An adapter could not be found or loaded, or does not implement the contract."""


class UnknownAdapter(AdapterError):
    """No adapter is registered under the name given, and it is no ``module:Class`` reference."""
