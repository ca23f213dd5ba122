"""Running checks: each with a fresh session in a folder of its own, ``jobs`` at once, into a
pass, fail or error :class:`Outcome`; the exit code and the JSON summary of a run."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.broker.base import Broker
from conformance.errors import ConformanceError, WorkerError
from conformance.worker_check.checks import CHECKS, Check
from conformance.worker_check.session import Session
from conformance.worker_check.transport import Violation


@dataclass
class Outcome:
    """One check's verdict: ``pass``, ``fail`` (a protocol violation) or ``error`` (the
    infrastructure failed, nothing is known about the rule)."""

    name: str
    rule: str
    verdict: str
    reason: str
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "rule": self.rule, "verdict": self.verdict,
                "reason": self.reason, "seconds": round(self.seconds, 2)}


def select(names: tuple[str, ...] | list[str]) -> list[Check]:
    """The checks named (all when none); ValueError names an unknown one."""
    if not names:
        return list(CHECKS)
    known = {c.name: c for c in CHECKS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown check {unknown[0]!r}; one of {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]


def run_check(chk: Check, broker: Broker, command: tuple[str, ...], adapter: str,
              workdir: Path) -> Outcome:
    """Run one check with fresh workers; never raises for the worker's or broker's faults."""
    started = time.monotonic()
    folder = workdir / chk.name
    folder.mkdir(parents=True, exist_ok=True)
    session = Session(broker, command, adapter, folder)
    try:
        verdict, reason = "pass", chk.run(session)
    except Violation as exc:
        verdict, reason = "fail", str(exc)
    except WorkerError as exc:  # the worker died or spoke outside the protocol
        verdict, reason = "fail", str(exc)
    except ConformanceError as exc:  # the broker, a topic, producing
        verdict, reason = "error", f"infrastructure: {exc}"
    except OSError as exc:
        verdict, reason = "error", f"cannot start the worker: {exc}"
    except Exception as exc:  # a bug of the kit (or output it did not foresee): not a verdict
        verdict, reason = "error", f"internal error: {type(exc).__name__}: {exc}"
    finally:
        session.close()
    return Outcome(chk.name, chk.rule, verdict, reason.splitlines()[0] if reason else "",
                   time.monotonic() - started)


def run_checks(broker: Broker, command: tuple[str, ...], adapter: str,
               checks: list[Check] | None = None,
               progress: Callable[[Outcome], None] | None = None,
               jobs: int = 1) -> list[Outcome]:
    """Run ``checks`` (all by default) against a started broker, ``jobs`` at once (each has
    its own topic, group and workers); the outcomes come in the order of ``checks``."""
    chosen = checks or list(CHECKS)
    with tempfile.TemporaryDirectory(prefix="worker-check-") as tmp, \
            ThreadPoolExecutor(max(1, jobs), thread_name_prefix="kc-job-check") as pool:
        # "kc-job" threads live until every check ended: their workers die with the run
        futures = [pool.submit(run_check, chk, broker, command, adapter, Path(tmp))
                   for chk in chosen]
        outcomes = []
        for future in futures:
            outcomes.append(future.result())
            if progress is not None:
                progress(outcomes[-1])
    return outcomes


def exit_code(outcomes: list[Outcome]) -> int:
    """0 every check passed, 1 a check failed (a protocol violation), 3 infrastructure."""
    verdicts = {o.verdict for o in outcomes}
    if "error" in verdicts:
        return 3
    return 1 if "fail" in verdicts else 0


def summary_json(command: tuple[str, ...], adapter: str,
                 outcomes: list[Outcome]) -> dict[str, Any]:
    return {"command": list(command), "adapter": adapter, "exit_code": exit_code(outcomes),
            "checks": [o.to_json() for o in outcomes]}
