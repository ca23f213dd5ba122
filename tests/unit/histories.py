"""A tiny builder for readable hand-made histories (timestamps increase automatically).

    h = (H().scenario(partitions=1, reset="earliest")
         .produce(0, range(3))
         .assigned("m1", 0).processed("m1", 0, range(3)).as_("done")
         .committed("m1", {0: 3}).killed("m1"))
    h.at["done"]        # the index of the event named with as_()
    h.build()           # the History

Partitions are given as ints of the builder's topic; offsets as ints and/or ranges.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conformance.history import HARNESS, Event, History

Offsets = int | Iterable[int]


def _flat(offsets: Iterable[Offsets]) -> list[int]:
    out: list[int] = []
    for o in offsets:
        out.extend([o] if isinstance(o, int) else list(o))
    return out


class H:
    """Chainable history builder; every method appends one event and returns the builder."""

    def __init__(self, topic: str = "t", group: str = "g") -> None:
        self.topic, self.group = topic, group
        self.history = History()
        self.at: dict[str, int] = {}
        self._ts = 100.0
        self._keys: dict[tuple[int, int], str | None] = {}

    # -- plumbing ---------------------------------------------------------------------------
    def add(self, type: str, source: str = HARNESS, **data: Any) -> H:
        self._ts += 0.001
        self.history.append(type, source, round(self._ts, 3), **data)
        return self

    @property
    def last(self) -> int:
        return len(self.history) - 1

    def backdated(self, seconds: float) -> H:
        """Move the last event's timestamp back by ``seconds``: a worker event written before
        an earlier harness event (e.g. before SIGSTOP) but recorded after it."""
        e = self.history.events[-1]
        self.history.events[-1] = Event(e.type, round(e.ts - seconds, 3), e.source, e.data,
                                        e.index)
        return self

    def as_(self, name: str) -> H:
        """Name the last event: ``h.at[name]`` is its index."""
        self.at[name] = self.last
        return self

    def build(self) -> History:
        return self.history

    def _tps(self, partitions: Iterable[int]) -> list[list[Any]]:
        return [[self.topic, p] for p in partitions]

    def _recs(self, partition: int, offsets: Iterable[Offsets]) -> list[list[Any]]:
        return [[self.topic, partition, o, self._keys.get((partition, o))] for o in _flat(offsets)]

    # -- harness ----------------------------------------------------------------------------
    def scenario(self, partitions: int = 1, reset: str = "earliest", auto_commit: bool = False,
                 strategy: str = "BATCH", bound: int | None = None, processing: str = "in-loop",
                 commit_on_revoke: bool = False, asynchronous: bool = False,
                 **config: Any) -> H:
        cfg = {"auto_offset_reset": reset, "enable_auto_commit": auto_commit,
               "group_protocol": "classic", "assignment_strategy": "range",
               "max_poll_records": 10, **config}
        return self.add("scenario", topic=self.topic, group=self.group, partitions=partitions,
                        client="test", config=cfg,
                        strategy={"name": strategy, "bound": bound,
                                  "commit_on_revoke": commit_on_revoke,
                                  "asynchronous": asynchronous, "processing": processing})

    def produce(self, partition: int, *offsets: Offsets, key: str | None = None,
                keys: list[str | None] | None = None) -> H:
        flat = _flat(offsets)
        keys = keys if keys is not None else [key] * len(flat)
        for o, k in zip(flat, keys, strict=True):
            self._keys[(partition, o)] = k
        return self.add("produced", records=[[self.topic, partition, o, k, f"p{partition}-{o}"]
                                             for o, k in zip(flat, keys, strict=True)])

    def started(self, member: str, polling: bool | None = None) -> H:
        """``polling``: the harness started its poll loop (older histories lack it)."""
        if polling is None:
            return self.add("member_started", member=member)
        return self.add("member_started", member=member, polling=polling)

    def killed(self, member: str) -> H:
        return self.add("member_killed", member=member)

    def stopped(self, member: str) -> H:
        return self.add("member_stopped", member=member)

    def died(self, member: str, returncode: int = 1) -> H:
        return self.add("member_died", member=member, returncode=returncode)

    def partitions_added(self, count: int) -> H:
        return self.add("partitions_added", topic=self.topic, count=count)

    def settled(self, owners: dict[int, str], timeout: bool | None = None,
                live: list[str] | None = None, partitions: int | None = None) -> H:
        data: dict[str, Any] = {"owners": {f"{self.topic}:{p}": m for p, m in owners.items()}}
        extra = {"timeout": timeout, "live": live, "partitions": partitions}
        data.update({k: v for k, v in extra.items() if v is not None})
        return self.add("settled", **data)

    def frozen(self, member: str) -> H:
        return self.add("member_frozen", member=member)

    def thawed(self, member: str, seconds: float = 5.0, sent: float | None = None) -> H:
        """SIGCONT; ``sent``: when it was sent (older histories lack it)."""
        if sent is None:
            return self.add("member_thawed", member=member, frozen_seconds=seconds)
        return self.add("member_thawed", member=member, frozen_seconds=seconds, sent=sent)

    def waited(self, seconds: float) -> H:
        """Let ``seconds`` pass before the next event."""
        self._ts += seconds
        return self

    def network_fault(self, member: str, kind: str = "cut", seconds: float = 12.0,
                      delay_ms: int = 0) -> H:
        return self.add("network_fault", member=member, kind=kind, seconds=seconds,
                        delay_ms=delay_ms)

    def network_healed(self, member: str) -> H:
        return self.add("network_healed", member=member)

    def drain_finished(self, member: str, complete: bool = True,
                       joined: bool | None = None) -> H:
        data: dict[str, Any] = {"member": member, "complete": complete}
        if joined is not None:
            data["joined"] = joined
        return self.add("drain_finished", **data)

    # -- worker -----------------------------------------------------------------------------
    def assigned(self, member: str, *partitions: int, manual: bool = False) -> H:
        data: dict[str, Any] = {"partitions": self._tps(partitions)}
        if manual:
            data["manual"] = True
        return self.add("assigned", member, **data)

    def revoked(self, member: str, *partitions: int) -> H:
        return self.add("revoked", member, partitions=self._tps(partitions))

    def lost(self, member: str, *partitions: int) -> H:
        return self.add("lost", member, partitions=self._tps(partitions))

    def paused(self, member: str, *partitions: int) -> H:
        return self.add("paused", member, partitions=self._tps(partitions))

    def resumed(self, member: str, *partitions: int) -> H:
        return self.add("resumed", member, partitions=self._tps(partitions))

    def unsubscribed(self, member: str) -> H:
        return self.add("unsubscribed", member)

    def closed(self, member: str) -> H:
        return self.add("closed", member)

    def transaction(self, partition: int, *offsets: Offsets, commit: bool = True) -> H:
        """Records of one transaction: ``produced`` (``transactional``) if it commits, else
        ``aborted``. The offset after them is its control marker: never produced."""
        recs = [[self.topic, partition, o, None, f"p{partition}-{o}"] for o in _flat(offsets)]
        if commit:
            return self.add("produced", records=recs, transactional=True)
        return self.add("aborted", records=recs)

    def polled(self, member: str, partition: int, *offsets: Offsets) -> H:
        return self.add("polled", member, records=self._recs(partition, offsets))

    def processed(self, member: str, partition: int, *offsets: Offsets) -> H:
        return self.add("processed", member, records=self._recs(partition, offsets))

    def consumed(self, member: str, partition: int, *offsets: Offsets) -> H:
        """A ``polled`` event followed by the ``processed`` event of the same records."""
        return self.polled(member, partition, *offsets).processed(member, partition, *offsets)

    def seeked(self, member: str, partition: int, offset: int) -> H:
        return self.add("seeked", member, topic=self.topic, partition=partition, offset=offset)

    def commit_requested(self, member: str, offsets: dict[int, int] | None,
                         mode: str = "sync", tracked: dict[int, int] | None = None) -> H:
        offs = None if offsets is None else [[self.topic, p, o] for p, o in offsets.items()]
        extra = {} if tracked is None else {
            "tracked": [[self.topic, p, o] for p, o in tracked.items()]}
        return self.add("commit_requested", member, mode=mode, offsets=offs, **extra)

    def committed(self, member: str, offsets: dict[int, int], mode: str = "sync",
                  ok: bool = True, error: str | None = None) -> H:
        return self.add("committed", member, mode=mode, ok=ok,
                        offsets=[[self.topic, p, o] for p, o in offsets.items()], error=error)
