"""``calls-return`` (S8, liveness): every client call returns.

A consumer API promises that its calls return: ``poll(timeout)`` within its timeout and what
the rebalance listener it runs takes, the blocking calls within the client's API timeout,
``close()`` within its close timeout (``conformance.calls.bound``: the bounds and where they
come from). A worker that watches its client calls (capability ``reports_calls``) reports one
still outstanding past its bound as a ``call_outstanding`` event, and one that returned after
all as ``call_returned``. The harness then gives up on the command, SIGKILLs the member
(``member_killed`` with ``hung``: the call) and ends the example, so the run judges the rest of
the history instead of calling every check undecided. Filed under S8 with ``member-assigned``:
both are liveness, what a member must keep doing.

A hang of the worker itself (its own loop, its shutdown) shows no ``call_outstanding`` event: it
stays an infrastructure error (verdict ``unknown``), never this check's failure.

Anomalies (one per call that never returned)
    ``call-never-returned``  a ``call_outstanding`` event with no later ``call_returned`` of the
                             same call id. Evidence: the step during which the call was made
                             (the harness's last ``step`` event before it began), the
                             ``call_outstanding`` event and the harness's ``member_killed`` of
                             the member, if any. Details: member, call, ``since`` (monotonic
                             time it began), ``seconds`` outstanding when reported, ``bound``.
"""

from __future__ import annotations

from conformance.checkers.registry import registers
from conformance.history import HARNESS, Event, History
from conformance.verdicts import Violation

CHECK = "calls-return"
SECTION = "S8"


def never_returned(history: History) -> list[Event]:
    """The ``call_outstanding`` events of calls that had not returned by the end."""
    returned = {(e.source, e.data.get("id")) for e in history.of_type("call_returned")}
    return [e for e in history.of_type("call_outstanding")
            if e.source != HARNESS and (e.source, e.data.get("id")) not in returned]


@registers(CHECK, section="S8", rank=110, needs="reports_calls",
           line="every client call returns within its documented bound")
def check_calls_return(history: History) -> list[Violation]:
    """Client calls reported outstanding past their bound that never returned."""
    return [_violation(history, e) for e in never_returned(history)]


def _violation(history: History, e: Event) -> Violation:
    since = e.data.get("since")
    began = float(since) if isinstance(since, int | float) else e.ts
    step = next((s for s in reversed(history.events[:e.index])
                 if s.type == "step" and s.ts <= began), None)
    killed = next((k for k in history.events[e.index + 1:] if k.type == "member_killed"
                   and k.data.get("member") == e.source), None)
    call = str(e.data.get("call", "?"))
    during = f" during step '{step.data.get('label')}'" if step is not None else ""
    return Violation(
        check=CHECK, anomaly="call-never-returned", section=SECTION,
        message=(f"{e.source}'s {call}() made{during} never returned: outstanding "
                 f"{e.data.get('seconds')} s when reported (its bound: {e.data.get('bound')} s)"
                 + (", then the member was killed" if killed is not None else "")),
        evidence=sorted({i for i in (step.index if step else None, e.index,
                                     killed.index if killed else None) if i is not None}),
        details={"member": e.source, "call": call, "since": began,
                 "seconds": e.data.get("seconds"), "bound": e.data.get("bound")},
    )
