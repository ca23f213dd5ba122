"""S6 multi-threaded consumers: a worker pool loses and reorders; one consumer per partition
does neither."""

from __future__ import annotations

from conformance.history import Event
from conformance.scenarios import evidence
from conformance.scenarios.base import (
    Context,
    generic,
    lost,
    processed,
    result,
    semantics_check,
)
from conformance.strategies import Strategy
from conformance.verdicts import CheckResult, Verdict


@semantics_check("S6-worker-pool", "S6")
def worker_pool(ctx: Context) -> CheckResult:
    """One poller with a worker pool: a crash after its commit loses unfinished records, and
    records finish out of order.

    A hazard only within S6's explanation, as the policy measures it (records the killed member
    had polled and committed; out of order only among polled records); beyond it fails."""
    check, section = "S6-worker-pool", "S6"
    h = ctx.harness("s6-pool", Strategy("BATCH", processing="pool", process_ms=20))
    h.start_member("m1")

    def committed_polled(event: Event) -> bool:
        return event.type == "committed" and event.source == "m1" and bool(event.data.get("ok"))

    h.produce(60)
    h.kill_member("m1", when=committed_polled, timeout=15)
    h.start_member("m2")
    h.produce(60)
    total = len(h.history.produced())
    h.wait_for(lambda: len({o for _p, o in processed(h.history, "m2")}) >= total - 60, 30)
    h.drain()
    results = generic(h, "no-loss", "order")
    loss, order = results["no-loss"], results["order"]
    anomalies = order.figures.get("anomalies", {})
    figures = {"lost": len(lost(h.history)), "reordered": anomalies.get("nonmonotonic", 0),
               "no_loss": str(loss.verdict), "order": str(order.verdict)}
    bad = [r for r in (loss, order) if r.verdict == Verdict.FAIL]
    if bad:  # beyond what S6 explains (e.g. a record no member polled)
        return result(check, section, Verdict.FAIL, history=h,
                      violations=evidence.from_results(h.history, *bad),
                      note=evidence.results_note(bad), **figures)
    if loss.verdict == Verdict.UNKNOWN:
        return result(check, section, Verdict.UNKNOWN, history=h, note=loss.note, **figures)
    if figures["lost"] or figures["reordered"]:
        return result(check, section, Verdict.HAZARD, history=h,
                      violations=evidence.from_results(h.history, loss, order,
                                                       bad_only=False),
                      note=f"the pool model lost {figures['lost']} record(s) after a crash and "
                           f"reordered {figures['reordered']} (S6)", **figures)
    return result(check, section, Verdict.PASS, history=h,
                  note="no loss or reordering observed in this run", **figures)


@semantics_check("S6-consumer-per-partition", "S6")
def consumer_per_partition(ctx: Context) -> CheckResult:
    """One consumer per partition (members = partitions): no loss, per-partition order kept,
    also when one of them crashes."""
    check, section = "S6-consumer-per-partition", "S6"
    h = ctx.harness("s6-per-partition", Strategy("BATCH", process_ms=2), partitions=3)
    for member in ("m1", "m2", "m3"):
        h.start_member(member)
    h.settle()
    h.produce(90, [f"k{i}" for i in range(9)])
    h.wait_for(lambda: len(processed(h.history)) >= 45, 30)
    h.kill_member("m2", mid_batch=True, trigger=lambda: h.produce(30, ["k0", "k1", "k2"]))
    h.settle()
    h.drain()
    results = generic(h, "no-loss", "order", "duplicates-bounded")
    bad = [r for r in results.values() if r.verdict == Verdict.FAIL]
    figures = {"lost": len(lost(h.history)),
               "order": str(results["order"].verdict)}
    if bad:
        return result(check, section, Verdict.FAIL, history=h,
                      violations=evidence.from_results(h.history, *bad),
                      note=evidence.results_note(bad), **figures)
    return result(check, section, Verdict.PASS, history=h, **figures)
