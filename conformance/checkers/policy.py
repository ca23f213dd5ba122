"""Detection vs policy: which anomalies fail, which are documented hazards, which are allowed.

Checkers report every anomaly they detect; ``judge`` decides what the configuration of the
scenario (the ``scenario`` event's data) makes of them:

    key-order-across-growth       always allowed: Kafka does not promise per-key order across
                                  partition growth (S9); counted in the note
    lost-before-first-assignment  hazard under auto_offset_reset=latest (S3)
    commit-beyond-processed       hazard with enable_auto_commit=true (librdkafka stores offsets
                                  when poll() returns a record and commits them in the
                                  background, S4) and with processing "pool" (S6)
    lost, skip, nonmonotonic      hazard with processing "pool" (S6)

Everything else fails. Verdict: FAIL if any violation fails, else HAZARD if any is a hazard, else
PASS (allowed anomalies included, named in the note).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from conformance.checkers.spans import Settings
from conformance.verdicts import Verdict, Violation

ALLOWED = "allowed"
HAZARD = "hazard"
FAILS = "fail"

POOL_HAZARDS = ("lost", "skip", "nonmonotonic", "commit-beyond-processed",
                "group-offset-beyond-processed")


def classify(anomaly: str, settings: Settings) -> tuple[str, str]:
    """(``allowed`` | ``hazard`` | ``fail``, the reason) for one anomaly under ``settings``."""
    if anomaly == "key-order-across-growth":
        return ALLOWED, "per-key order across partition growth is not promised by Kafka (S9)"
    if anomaly == "lost-before-first-assignment" and settings.auto_offset_reset == "latest":
        return HAZARD, ("records produced before the partition's first assignment have no "
                        "committed offset and auto_offset_reset=latest skips them (S3)")
    if anomaly in ("commit-beyond-processed", "group-offset-beyond-processed") \
            and settings.enable_auto_commit:
        return HAZARD, ("with enable_auto_commit the client may commit offsets stored when "
                        "poll() returned records, before processing (librdkafka, S4)")
    if anomaly in POOL_HAZARDS and settings.processing == "pool":
        return HAZARD, ("a worker pool lets poll() run and commit before workers finish, "
                        "losing and reordering records (S6)")
    return FAILS, ""


def judge(check_id: str, violations: list[Violation], scenario: dict[str, Any]
          ) -> tuple[Verdict, str]:
    """The verdict of ``check_id`` over ``violations`` under the scenario's configuration, and
    a note naming what was allowed or reported as a hazard."""
    if not violations:
        return Verdict.PASS, ""
    settings = Settings.from_scenario(scenario)
    kinds: dict[str, Counter[str]] = {ALLOWED: Counter(), HAZARD: Counter(), FAILS: Counter()}
    reasons: dict[str, str] = {}
    for v in violations:
        kind, reason = classify(v.anomaly, settings)
        kinds[kind][v.anomaly] += 1
        reasons.setdefault(v.anomaly, reason)
    parts = [_part(kind, kinds[kind], reasons) for kind in (FAILS, HAZARD, ALLOWED)
             if kinds[kind]]
    note = "; ".join(parts)
    if kinds[FAILS]:
        return Verdict.FAIL, note
    if kinds[HAZARD]:
        return Verdict.HAZARD, note
    return Verdict.PASS, note


def _part(kind: str, counts: Counter[str], reasons: dict[str, str]) -> str:
    label = {FAILS: "failed", HAZARD: "hazard", ALLOWED: "allowed"}[kind]
    items = ", ".join(f"{name} x{n}" + (f" ({reasons[name]})" if reasons[name] else "")
                      for name, n in sorted(counts.items()))
    return f"{label}: {items}"
