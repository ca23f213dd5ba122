"""Violations as small table rows (never raw JSON), and events and values in words.

A violation becomes one row: anomaly, section, partition, offsets, member(s), message and its
remaining details as ``key value`` pairs; repeats of one violation are one row. Its evidence
events are told in the chain of events (``chain``), each summarised in words where no better
phrase exists: ``records t-0 3-9``, ``partitions t-0, t-1``, ``offsets t-0 10 (sync, ok)``.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.history import Event
from conformance.verdicts import Violation

OFFSET_KEYS = ("offsets", "offset", "expected", "read", "committed", "first", "missing")
MEMBER_KEYS = ("member", "members", "from", "to", "owners")
RECORDS = ("produced", "processed", "polled")
MAX_TEXT = 240


def violation_rows(violations: list[Violation], limit: int = 50) -> list[dict[str, Any]]:
    """One row per distinct violation (at most ``limit``): the generic columns, then other
    details. Violations that differ only in their evidence (a check repeated on every poll)
    are one row with ``times`` and the evidence of all."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for n, v in enumerate(violations, 1):
        d = v.details or {}
        key = json.dumps([v.anomaly, v.section, v.message, d], sort_keys=True, default=str)
        evidence = [i for i in v.evidence if isinstance(i, int)]
        if key in seen:
            row = seen[key]
            row["times"] += 1
            row["numbers"].append(n)
            row["evidence"] += [i for i in evidence if i not in row["evidence"]]
            continue
        if len(rows) >= limit:
            continue
        topic, part = d.get("topic"), d.get("partition")
        where = f"{topic}-{part}" if topic is not None and part is not None else \
            ("" if part is None else f"p{part}")
        shown = {"topic", "partition", *OFFSET_KEYS, *MEMBER_KEYS}
        row = {
            "n": n, "numbers": [n], "times": 1, "anomaly": v.anomaly, "section": v.section,
            "message": v.message, "partition": where,
            "offsets": [(k, value_text(d[k])) for k in OFFSET_KEYS if k in d],
            "members": " \u2192 ".join(value_text(d[k]) for k in MEMBER_KEYS if k in d),
            "details": [(k, value_text(val)) for k, val in d.items() if k not in shown],
            "evidence": evidence,
        }
        seen[key] = row
        rows.append(row)
    return rows


def summary(e: Event) -> str:
    """What an event says, in a few words."""
    d = e.data
    if e.type in RECORDS:
        return _records_summary([e])
    if e.type in ("assigned", "revoked", "lost", "paused", "resumed"):
        return _clip(", ".join(f"{t}-{p}" for t, p in e.partitions()) or "no partitions")
    if e.type in ("committed", "commit_requested", "group_offsets"):
        offs = e.offsets()
        text = ", ".join(f"{t}-{p} \u2192 {o}" for (t, p), o in sorted(offs.items())) \
            or ("all consumed" if e.type == "commit_requested" else "nothing")
        extra = [str(d["mode"])] if d.get("mode") else []
        if e.type == "committed":
            extra.append("ok" if d.get("ok", True) else f"failed: {d.get('error') or 'error'}")
        return _clip(text + (f" ({', '.join(extra)})" if extra else ""))
    return _clip(", ".join(f"{k} {value_text(v)}" for k, v in d.items()))


def _records_summary(events: list[Event]) -> str:
    """The records of ``events`` as offset ranges per partition."""
    by: dict[str, list[int]] = {}
    for e in events:
        for r in e.data.get("records") or []:
            by.setdefault(f"{r[0]}-{r[1]}", []).append(int(r[2]))
    return _clip("; ".join(f"{tp} {ranges(offs)}" for tp, offs in by.items()))


def ranges(offsets: list[int]) -> str:
    """[0, 1, 2, 5] -> '0\u20132, 5' (in the given order)."""
    runs: list[list[int]] = []
    for o in offsets:
        if runs and o == runs[-1][1] + 1:
            runs[-1][1] = o
        else:
            runs.append([o, o])
    return ", ".join(str(a) if a == b else f"{a}\u2013{b}" for a, b in runs)


def value_text(value: Any) -> str:
    """A detail value in words: offset lists as ranges, lists joined, mappings as k v."""
    if isinstance(value, str):
        return _clip(value)
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                 for v in value):
        return _clip(ranges(value))
    if isinstance(value, list | tuple):
        return _clip(", ".join(value_text(v) for v in value))
    if isinstance(value, dict):
        return _clip("; ".join(f"{k} {value_text(v)}" for k, v in value.items()))
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return _clip(str(value))


def _clip(text: str, n: int = MAX_TEXT) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"
