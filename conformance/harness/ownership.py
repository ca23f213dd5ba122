"""Which member owns which partition now, derived from worker events as they arrive."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.history import Event

TP = tuple[str, int]


@dataclass
class Ownership:
    """Current partitions per member (from ``assigned``/``revoked``/``lost`` events), the
    members that have joined (a member that lost its partitions was removed from the group:
    it has joined again with its next assignment), and when the assignment last changed. Not
    thread-safe: the harness calls it under its history lock."""

    owned: dict[str, set[TP]] = field(default_factory=dict)
    last_change: float = field(default_factory=time.monotonic)
    joined: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> None:
        """Account for one worker event (other types are ignored)."""
        if event.type not in ("assigned", "revoked", "lost"):
            return
        tps = {(str(t), int(p)) for t, p in event.data.get("partitions", [])}
        owned = self.owned.setdefault(event.source, set())
        if event.type == "assigned":
            owned |= tps
            self.joined.add(event.source)
        else:
            owned -= tps
            if event.type == "lost" and tps:
                self.joined.discard(event.source)
        self.last_change = time.monotonic()

    def of(self, member: str) -> set[TP]:
        """A copy of what ``member`` owns."""
        return set(self.owned.get(member, ()))

    def owners(self, members: Iterable[str]) -> dict[str, str]:
        """``"topic:partition" -> member`` over ``members``."""
        return {f"{t}:{p}": m for m in members for t, p in sorted(self.owned.get(m, ()))}

    def settled(self, live: list[str], wanted: set[TP], quiet: float) -> bool:
        """Every wanted partition owned by exactly one of ``live``, every live member joined,
        and no change for ``quiet`` seconds."""
        if not live or any(m not in self.joined for m in live):
            return False
        seen = [tp for m in live for tp in self.owned.get(m, ())]
        if len(seen) != len(set(seen)) or set(seen) != wanted:
            return False
        return time.monotonic() - self.last_change >= quiet
