"""The harness: drives one scenario's consumer workers on a broker and records its history.

    core.py          Harness: topic, group, members, producing, settling, the history
    workers.py       WorkerHandle: one worker process and its line protocol
    ownership.py     Ownership: who owns which partition now, from the workers' events
    drain.py         the final drain with a fresh member
    faults.py        faults beyond a crash: frozen members, network faults, broker failover
    transactions.py  the transactional producer: records that commit or abort
    session.py       Recorder, Session: what the three parts above need of the Harness (they
                     import these protocols, never ``core``; the Harness satisfies them)
"""

from conformance.harness.core import SCENARIO_CONFIG, SETTLE_QUIET, Harness
from conformance.harness.workers import MidBatch, WorkerHandle

__all__ = ["SCENARIO_CONFIG", "SETTLE_QUIET", "Harness", "MidBatch",
           "WorkerHandle"]
