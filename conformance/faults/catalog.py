"""The Kafka-protocol faults a consumer meets, and what a correct client does with each.

One table for the ``protocol`` step family (:mod:`conformance.machines.steps`), its draws and
docs/faults.md (:func:`markdown_table` renders the table the docs show; a unit test keeps them
equal). Each :class:`ErrorFault` is one (API, error) pair a consumer can get from a broker, the
group protocols under which it can (``classic``, ``consumer``: KIP-848), one line on what a
correct client does, and where the Kafka protocol guide or a KIP says so.

``provoke`` names what a step does so that the member sends the API within the step's window:
``commit`` (records are produced: the member processes them and commits), ``rejoin`` (the member
unsubscribes and subscribes again: JoinGroup, SyncGroup, OffsetFetch), ``""`` (the member sends it
on its own, all the time: Fetch, heartbeats). Pairs with ``drawn=False`` are in the table (and
can be named in a program) but not drawn, for the reason given.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.protocols import ALL, GroupProtocol

PROTOCOL_GUIDE = "https://kafka.apache.org/protocol#protocol_error_codes"
_KIP = "https://cwiki.apache.org/confluence/display/KAFKA/"
KIP_320 = _KIP + "KIP-320%3A+Allow+fetchers+to+detect+and+handle+log+truncation"
KIP_447 = _KIP + "KIP-447%3A+Producer+scalability+for+exactly+once+semantics"
KIP_848 = _KIP + "KIP-848%3A+The+Next+Generation+of+the+Consumer+Rebalance+Protocol"

CLASSIC, CONSUMER = GroupProtocol.CLASSIC, GroupProtocol.CONSUMER  # short, for the rows
BOTH = ALL

#: What a step does so that the member sends the API soon (see the module docstring).
PROVOKE = {"OffsetCommit": "commit", "OffsetFetch": "rejoin", "JoinGroup": "rejoin",
           "SyncGroup": "rejoin"}


@dataclass(frozen=True)
class ErrorFault:
    """One (API, error) pair a consumer meets, and what a correct client does with it."""

    api: str
    error: str
    protocols: tuple[GroupProtocol, ...]
    correct: str
    sources: tuple[str, ...]
    drawn: bool = True
    why_not_drawn: str = ""

    @property
    def provoke(self) -> str:
        return PROVOKE.get(self.api, "")


def _pairs(api: str, protocols: tuple[GroupProtocol, ...], sources: tuple[str, ...],
           rows: list[tuple[str, str]]) -> list[ErrorFault]:
    return [ErrorFault(api, error, protocols, correct, sources) for error, correct in rows]


_COMMIT_FAILED = "report the commit failed (it was not applied) and rejoin the group"
_REJOIN = "rejoin: send JoinGroup again"

#: Every (API, error) pair of the protocol family, in the order draws index them.
ERRORS: tuple[ErrorFault, ...] = (
    *_pairs("OffsetCommit", (CLASSIC,), (PROTOCOL_GUIDE,), [
        ("REBALANCE_IN_PROGRESS", f"{_COMMIT_FAILED} (\"a rejoin is needed\", not "
                                  "retriable); never re-send it after a newer commit"),
        ("ILLEGAL_GENERATION", f"{_COMMIT_FAILED}: its generation is stale (not retriable); "
                               "never re-send it with the old generation"),
    ]),
    ErrorFault("OffsetCommit", "UNKNOWN_MEMBER_ID", BOTH,
               f"{_COMMIT_FAILED} with a new member id (classic) or epoch 0 (KIP-848 "
               "fencing)", (PROTOCOL_GUIDE, KIP_848)),
    *_pairs("OffsetCommit", BOTH, (PROTOCOL_GUIDE,), [
        ("COORDINATOR_NOT_AVAILABLE", "retriable: find the coordinator again and retry the "
                                      "commit (sync) or report it failed as retriable (async)"),
        ("NOT_COORDINATOR", "retriable: find the coordinator again (FindCoordinator) and retry "
                            "the commit, or report it failed as retriable"),
        ("REQUEST_TIMED_OUT", "retriable: retry the commit or report it failed; never report "
                              "it done"),
    ]),
    ErrorFault("OffsetCommit", "STALE_MEMBER_EPOCH", (CONSUMER,),
               "retry the commit once a ConsumerGroupHeartbeat has given the member its "
               "current epoch (KIP-848); never report it done", (KIP_848,)),
    *_pairs("OffsetFetch", BOTH, (PROTOCOL_GUIDE,), [
        ("COORDINATOR_LOAD_IN_PROGRESS", "retriable: ask again; never fall back to the reset "
                                         "policy while a committed offset exists"),
        ("NOT_COORDINATOR", "retriable: find the coordinator again and ask again; no reset "
                            "policy fallback"),
    ]),
    ErrorFault("OffsetFetch", "UNSTABLE_OFFSET_COMMIT", BOTH,
               "retriable: a transactional commit is pending (KIP-447); ask again and start "
               "at the committed offset once it is stable", (PROTOCOL_GUIDE, KIP_447)),
    ErrorFault("Fetch", "NOT_LEADER_OR_FOLLOWER", BOTH,
               "retriable: refresh metadata and fetch from the leader at the same position "
               "(no skip, no reset)", (PROTOCOL_GUIDE,)),
    *_pairs("Fetch", BOTH, (PROTOCOL_GUIDE, KIP_320), [
        ("FENCED_LEADER_EPOCH", "retriable: the consumer's leader epoch is older than the "
                                "broker's; refresh metadata, validate the position, fetch on "
                                "from it"),
        ("UNKNOWN_LEADER_EPOCH", "retriable: the consumer's leader epoch is newer than the "
                                 "broker's; back off and fetch again at the same position"),
    ]),
    ErrorFault("Fetch", "OFFSET_OUT_OF_RANGE", BOTH,
               "apply auto.offset.reset (earliest, latest) to the partition, or report an error "
               "under none (not retriable)", (PROTOCOL_GUIDE,), drawn=False,
               why_not_drawn="the injected error names an offset that is in range: a correct "
                             "client resets by policy, which no-loss (latest) and "
                             "duplicates-bounded (earliest) would fail today; drawn once the "
                             "checks judge a reset by policy"),
    *_pairs("JoinGroup", (CLASSIC,), (PROTOCOL_GUIDE,), [
        ("REBALANCE_IN_PROGRESS", _REJOIN),
        ("ILLEGAL_GENERATION", f"reset the generation and {_REJOIN}"),
        ("UNKNOWN_MEMBER_ID", f"reset the member id and {_REJOIN}"),
    ]),
    *_pairs("SyncGroup", (CLASSIC,), (PROTOCOL_GUIDE,), [
        ("REBALANCE_IN_PROGRESS", f"{_REJOIN}; no partition of the aborted sync is owned"),
        ("ILLEGAL_GENERATION", f"reset the generation and {_REJOIN}; own nothing meanwhile"),
        ("UNKNOWN_MEMBER_ID", f"reset the member id and {_REJOIN}; own nothing meanwhile"),
    ]),
    *_pairs("Heartbeat", (CLASSIC,), (PROTOCOL_GUIDE,), [
        ("REBALANCE_IN_PROGRESS", "rejoin: revoke (eager, committing first) or keep "
                                  "(cooperative) its partitions, then JoinGroup"),
        ("ILLEGAL_GENERATION", "its partitions are lost (no commit for them); reset the "
                               "generation and rejoin"),
        ("UNKNOWN_MEMBER_ID", "its partitions are lost (no commit for them); reset the member "
                              "id and rejoin"),
    ]),
    *_pairs("ConsumerGroupHeartbeat", (CONSUMER,), (KIP_848,), [
        ("FENCED_MEMBER_EPOCH", "give up every partition (lost, no commit) and rejoin with the "
                                "same member id and epoch 0"),
        ("UNKNOWN_MEMBER_ID", "give up every partition (lost, no commit) and rejoin with epoch 0"),
        ("COORDINATOR_NOT_AVAILABLE", "retriable: find the coordinator again and heartbeat; "
                                      "keep its partitions meanwhile"),
    ]),
    ErrorFault("FindCoordinator", "COORDINATOR_NOT_AVAILABLE", BOTH,
               "retriable: ask again after a backoff; no group request meanwhile",
               (PROTOCOL_GUIDE,), drawn=False,
               why_not_drawn="a member asks only when it starts or after a coordinator error; "
                             "no step provokes it yet"),
    ErrorFault("ListOffsets", "NOT_LEADER_OR_FOLLOWER", BOTH,
               "retriable: refresh metadata and ask the leader again; never start at a "
               "position it did not get", (PROTOCOL_GUIDE,), drawn=False,
               why_not_drawn="a member asks only for a partition without a committed offset "
                             "(or a seek to an end); no step provokes it yet"),
)

#: The APIs ``lose_next_response`` and ``slow_api`` draw from, per group protocol.
LOSE_APIS = {CLASSIC: ("OffsetCommit", "Fetch", "Heartbeat"),
             CONSUMER: ("OffsetCommit", "Fetch", "ConsumerGroupHeartbeat")}
SLOW_APIS = LOSE_APIS


def errors_for(protocol: GroupProtocol, drawn: bool = True) -> list[ErrorFault]:
    """The pairs a member of ``protocol`` meets (only those drawn, unless ``drawn`` is False)."""
    return [e for e in ERRORS if protocol in e.protocols and (e.drawn or not drawn)]


def find(api: str, error: str) -> ErrorFault | None:
    """The catalog entry of (api, error), if any."""
    return next((e for e in ERRORS if e.api == api and e.error == error), None)


def markdown_table() -> str:
    """The table docs/faults.md shows: one row per pair."""
    def protocols(e: ErrorFault) -> str:
        return "both" if set(e.protocols) == set(BOTH) else e.protocols[0]

    rows = ["| API | error | group protocol | a correct client | source |",
            "|---|---|---|---|---|"]
    for e in ERRORS:
        correct = e.correct if e.drawn else f"{e.correct} (not drawn: {e.why_not_drawn})"
        sources = ", ".join(f"[{_name(s)}]({s})" for s in e.sources)
        rows.append(f"| {e.api} | {e.error} | {protocols(e)} | {correct} | {sources} |")
    return "\n".join(rows)


def _name(url: str) -> str:
    return {PROTOCOL_GUIDE: "protocol guide", KIP_320: "KIP-320", KIP_447: "KIP-447",
            KIP_848: "KIP-848"}.get(url, url)
