"""S3 the `latest` hazard under partition growth; S9 order, also across growth."""

from __future__ import annotations

import time

from conformance.harness import Harness
from conformance.scenarios import evidence
from conformance.scenarios.base import (
    Context,
    generic,
    processed,
    result,
    semantics_check,
)
from conformance.verdicts import CheckResult, Verdict, Violation


def _owns(h: Harness, member: str, partition: int) -> bool:
    return (h.topic, partition) in h.own.of(member)


def _growth_run(ctx: Context, reset: str) -> tuple[dict[str, float | int], Harness]:
    """Grow a 1-partition topic to 2 while producing to the new partition until the member
    owns it; returns the records of partition 1 lost, the window the group needed, and the
    harness."""
    h = ctx.harness(f"s3-{reset}", auto_offset_reset=reset)
    h.start_member("m1")
    h.wait_for(lambda: _owns(h, "m1", 0), 30)
    h.add_partitions(1)
    grown = time.monotonic()
    in_window = 0
    while not h.wait_for(lambda: _owns(h, "m1", 1), 0.1) and time.monotonic() - grown < 60:
        h.produce(1, partition=1)
        in_window += 1
    window = time.monotonic() - grown
    h.produce(5, partition=1)  # after the new partition was assigned
    h.drain()
    done = {o for p, o in processed(h.history) if p == 1}
    produced = [r.offset for r in h.history.produced() if r.partition == 1]
    gone = [o for o in produced if o not in done]
    return ({"lost": len(gone), "produced_in_window": in_window,
             "window_s": round(window, 2)}, h)


@semantics_check("S3-latest-growth-hazard", "S3")
def latest_growth(ctx: Context) -> CheckResult:
    """Records produced to added partitions before the group notices them: lost with
    `latest` (a documented hazard, measured), never with `earliest`."""
    check, section = "S3-latest-growth-hazard", "S3"
    latest, h_latest = _growth_run(ctx, "latest")
    earliest, h_earliest = _growth_run(ctx, "earliest")
    figures = {f"latest_{k}": v for k, v in latest.items()}
    figures |= {f"earliest_{k}": v for k, v in earliest.items()}
    path, starts = evidence.write_combined(ctx.workdir / "history.jsonl",
                                           [h_latest.history, h_earliest.history])
    lost_latest = evidence.shifted(_lost(h_latest), starts[0], part="latest")
    lost_earliest = evidence.shifted(_lost(h_earliest), starts[1], part="earliest")
    if earliest["lost"]:
        return result(check, section, Verdict.FAIL, history=path,
                      violations=lost_earliest,
                      note=f"earliest lost {earliest['lost']} record(s) of the added partition: "
                           + evidence.note_of(lost_earliest), **figures)
    if latest["lost"]:
        return result(check, section, Verdict.HAZARD, history=path, violations=lost_latest,
                      note=f"with latest, {latest['lost']} record(s) produced to the added "
                           f"partition were never consumed ({latest['produced_in_window']} of "
                           f"them during the {latest['window_s']} s before the group noticed "
                           f"it, the rest before the new owner's reset); earliest lost none "
                           f"(S3)",
                      **figures)
    return result(check, section, Verdict.PASS, history=path, note="the hazard was not "
                  "reproduced: no record landed in the window", **figures)


def _lost(h: Harness) -> list[Violation]:
    """no-loss's violations: every lost record, hazard or not."""
    return evidence.from_results(h.history, generic(h, "no-loss")["no-loss"], bad_only=False)


@semantics_check("S9-order", "S9")
def order_across_growth(ctx: Context) -> CheckResult:
    """Per-partition order holds; per-key order across growth is reported, not promised."""
    check, section = "S9-order", "S9"
    h = ctx.harness("s9-order", partitions=2)
    keys = [f"k{i}" for i in range(6)]
    h.start_member("m1")
    h.produce(40, keys)
    h.wait_for(lambda: len(processed(h.history)) >= 40, 30)
    h.add_partitions(2)
    h.wait_for(lambda: all(_owns(h, "m1", p) for p in range(4)), 30)
    h.produce(40, keys)
    h.drain()
    order = generic(h, "order")["order"]
    anomalies = order.figures.get("anomalies", {})
    figures = {"key_order_across_growth": anomalies.get("key-order-across-growth", 0),
               "partition_order_violations": sum(v for k, v in anomalies.items()
                                                 if k != "key-order-across-growth")}
    if order.verdict == Verdict.FAIL:
        return result(check, section, Verdict.FAIL, history=h,
                      violations=evidence.from_results(h.history, order),
                      note=evidence.results_note([order]), **figures)
    note = "per-partition order held"
    if figures["key_order_across_growth"]:
        note += (f"; {figures['key_order_across_growth']} key(s) were processed out of "
                 f"production order across the partition growth: not promised by Kafka (S9)")
    return result(check, section, Verdict.PASS, history=h, note=note, **figures)
