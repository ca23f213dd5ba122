"""``kafka-conformance worker-check -- CMD ARGS...``: does a worker speak the worker protocol?

A list of named checks (:data:`CHECKS`), each verifying one rule of docs/worker-protocol.md:
it starts the worker command (``--id MEMBER`` appended) as a fresh process, drives it through
the protocol against a broker (a topic and records of its own) and returns pass or fail with a
one-line reason. Every line the worker writes is kept in a transcript, in arrival order across
the workers of a check, beside the commands sent, so that order rules are judged on what the
harness would see. Checks are independent: a worker that breaks one rule fails that check only
(a line that is not JSON is a ``framing`` failure, and ignored by the others).

    transport.py  CheckedWorker: a worker process and the transcript of its lines; Violation
    session.py    Session: what one check works with (broker, topics, workers started and
                  initialised); poll_until
    checks.py     CHECKS: the rules, one check each, and the pure judgements they share
    runner.py     running checks into Outcomes; the exit code and the JSON summary
"""

from conformance.worker_check.checks import (
    CHECKS,
    Check,
    commit_before_processed,
    framing_problem,
)
from conformance.worker_check.runner import Outcome, exit_code, run_checks, select, summary_json
from conformance.worker_check.transport import Line, Violation

__all__ = ["CHECKS", "Check", "Line", "Outcome", "Violation", "commit_before_processed",
           "exit_code", "framing_problem", "run_checks", "select", "summary_json"]
