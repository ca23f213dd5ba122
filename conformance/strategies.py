"""Client-agnostic commit strategies (SEMANTICS S4, S5) and processing models (S6).

A strategy decides WHEN a worker commits what it has processed; the worker always commits
explicit offsets (last processed + 1 per owned partition), so the history says exactly what was
committed. Names follow Spring Kafka's AckMode:

    auto              enable.auto.commit=true; the client commits by itself (S4)
    RECORD            commit after each record
    BATCH             commit after all records of one poll (the default)
    TIME              commit when ``interval_ms`` passed since the last commit (checked per record)
    COUNT             commit every ``count`` records
    COUNT_TIME        whichever of COUNT and TIME comes first
    MANUAL            the application acknowledges each record; acknowledged offsets are
                      committed at the start of the next poll
    MANUAL_IMMEDIATE  committed at once on acknowledge

``explicit`` (default) commits explicit offsets; ``explicit=False`` calls ``commit()`` without
offsets, as many applications do: the client commits what it tracks, its stored offsets where
the adapter stores processed ones (capability ``stores_processed``), else its positions, so a
worker without stored offsets does so only when every polled record is processed (and commits
explicit offsets mid-batch). Only workers that report ``commit_without_offsets`` take it.

``bound`` is the most records a member can have processed since its last commit, i.e. the most
duplicates a crash may cause per partition hand-over (None: not a fixed number of records).
``commit_on_revoke`` commits processed offsets inside on_revoked (S8); ``asynchronous`` uses
async commits (S5). Processing models: ``in-loop`` (process each record in the poll loop),
``pool`` (a thread pool processes while the loop polls on and commits what it polled: S6 loss
and reordering), ``per-partition`` (one consumer per partition: in-loop, members = partitions).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

STRATEGIES = ("auto", "RECORD", "BATCH", "TIME", "COUNT", "COUNT_TIME", "MANUAL",
              "MANUAL_IMMEDIATE")
PROCESSING = ("in-loop", "pool", "per-partition")


@dataclass
class Strategy:
    """A commit strategy with its parameters; a plain value sent to workers as JSON."""

    name: str = "BATCH"
    interval_ms: int = 1000
    count: int = 10
    asynchronous: bool = False
    commit_on_revoke: bool = False
    processing: str = "in-loop"
    process_ms: float = 0.0  # simulated work per record
    explicit: bool = True  # False: commit() without offsets (see the module doc)

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise ValueError(f"unknown commit strategy {self.name!r}; one of {STRATEGIES}")
        if self.processing not in PROCESSING:
            raise ValueError(f"unknown processing model {self.processing!r}; one of {PROCESSING}")

    @property
    def auto_commit(self) -> bool:
        return self.name == "auto"

    def bound(self, max_poll_records: int) -> int | None:
        """Most records processed after the last commit (per member), None if not fixed."""
        if self.processing == "pool":
            return None
        return {
            "RECORD": 1,
            "MANUAL_IMMEDIATE": 1,
            "BATCH": max_poll_records,
            "MANUAL": max_poll_records,
            "COUNT": self.count,
            "COUNT_TIME": self.count,
        }.get(self.name)

    @property
    def label(self) -> str:
        parts = [self.name]
        if self.name in ("TIME", "COUNT_TIME"):
            parts.append(f"{self.interval_ms}ms")
        if self.name in ("COUNT", "COUNT_TIME"):
            parts.append(f"n{self.count}")
        if self.asynchronous:
            parts.append("async")
        if self.commit_on_revoke:
            parts.append("revoke-commit")
        if self.processing != "in-loop":
            parts.append(self.processing)
        if not self.explicit:
            parts.append("no-offsets")
        return "/".join(parts)

    def describe(self, max_poll_records: int) -> dict[str, Any]:
        return {**asdict(self), "bound": self.bound(max_poll_records), "label": self.label}

    def to_json(self) -> dict[str, Any]:
        """The wire form; ``explicit`` only when False (workers that lack it never get it)."""
        data = asdict(self)
        if self.explicit:
            del data["explicit"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Strategy:
        return cls(**data)

    @classmethod
    def parse(cls, text: str) -> Strategy:
        """``BATCH``, ``COUNT:5``, ``TIME:500``, ``BATCH+async``, ``BATCH+revoke``, ``auto``."""
        name, *flags = text.split("+")
        name, _, arg = name.partition(":")
        s = cls(name=name.upper() if name.lower() != "auto" else "auto")
        if arg:
            if s.name in ("COUNT", "COUNT_TIME"):
                s.count = int(arg)
            elif s.name == "TIME":
                s.interval_ms = int(arg)
        for flag in flags:
            if flag == "async":
                s.asynchronous = True
            elif flag == "revoke":
                s.commit_on_revoke = True
            elif flag in PROCESSING:
                s.processing = flag
            else:
                raise ValueError(f"unknown strategy flag {flag!r} in {text!r}")
        return s


class CommitClock:
    """The per-worker state a strategy needs to decide when to commit."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.since_commit = 0
        self.last_commit = time.monotonic()
        self.acked_pending = False

    def committed(self) -> None:
        self.since_commit = 0
        self.last_commit = time.monotonic()
        self.acked_pending = False

    def after_record(self) -> bool:
        """Called once a record is processed: commit now?"""
        s = self.strategy
        self.since_commit += 1
        if s.name in ("BATCH", "auto"):
            return False
        if s.name in ("RECORD", "MANUAL_IMMEDIATE"):
            return True
        if s.name == "MANUAL":
            self.acked_pending = True
            return False
        count_due = self.since_commit >= s.count
        time_due = (time.monotonic() - self.last_commit) * 1000 >= s.interval_ms
        if s.name == "COUNT":
            return count_due
        if s.name == "TIME":
            return time_due
        if s.name == "COUNT_TIME":
            return count_due or time_due
        return False

    def after_batch(self) -> bool:
        """Called after all records of one poll are processed: commit now?"""
        return self.strategy.name == "BATCH" and self.since_commit > 0

    def before_poll(self) -> bool:
        """Called before each poll: commit what was acknowledged (MANUAL)?"""
        return self.strategy.name == "MANUAL" and self.acked_pending
