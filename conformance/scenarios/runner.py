"""Run the semantics checks for one adapter and group protocol."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from adapters.base import Adapter, ConsumerConfig, Unsupported
from conformance.broker.base import Broker
from conformance.errors import ConformanceError
from conformance.harness import SCENARIO_CONFIG
from conformance.scenarios import SEMANTICS_CHECKS
from conformance.scenarios.base import Context
from conformance.verdicts import CheckResult, Verdict


def run_semantics(broker: Broker, name: str, cls: type[Adapter], protocol: str,
                  workdir: Path, only: Iterable[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> list[CheckResult]:
    """Every registered semantics check (or ``only``) for one adapter and protocol."""
    ordered = sorted(SEMANTICS_CHECKS, key=lambda c: SEMANTICS_CHECKS[c].section)  # stable
    wanted = ordered if only is None else [c for c in ordered if c in set(only)]
    out = []
    for check_id in wanted:
        spec = SEMANTICS_CHECKS[check_id]
        if progress:
            progress(check_id)
        if protocol not in spec.protocols:
            continue
        try:
            cls.check_config(ConsumerConfig.from_json({"bootstrap_servers": "-",
                                                       **SCENARIO_CONFIG,
                                                       "group_protocol": protocol}))
            missing = [n for n in spec.needs if not getattr(cls.capabilities, n, False)]
            if missing:
                raise Unsupported(f"{name} lacks {', '.join(missing)}")
        except Unsupported as exc:
            out.append(CheckResult(check_id, spec.section, Verdict.UNSUPPORTED, note=str(exc)))
            continue
        ctx = Context(broker, name, protocol, cls.capabilities, workdir / check_id)
        started = time.monotonic()
        try:
            res = spec.fn(ctx)
        except ConformanceError as exc:
            res = CheckResult(check_id, spec.section, Verdict.UNKNOWN,
                              note=f"infrastructure: {str(exc).splitlines()[0]}")
        except Exception as exc:  # a scenario bug must not end the run
            traceback.print_exc()
            res = CheckResult(check_id, spec.section, Verdict.UNKNOWN,
                              note=f"scenario error: {type(exc).__name__}: {exc}")
        finally:
            ctx.close()
        res.seconds = time.monotonic() - started
        res.examples = max(res.examples, 1)
        for h in ctx.harnesses:
            if h.infra_errors and res.verdict != Verdict.FAIL:
                res.verdict = Verdict.UNKNOWN
                res.note = (res.note + "; " if res.note else "") + "; ".join(h.infra_errors)
        out.append(res)
    return out
