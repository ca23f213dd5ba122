"""Run the semantics checks for one client and group protocol."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from adapters.base import Capabilities
from conformance.broker.base import Broker
from conformance.clients import Client
from conformance.errors import ConformanceError
from conformance.harness import SCENARIO_CONFIG
from conformance.scenarios import SEMANTICS_CHECKS
from conformance.scenarios.base import Context
from conformance.verdicts import CheckResult, Verdict


def capabilities(client: Client) -> Capabilities:
    """The client's capabilities as its worker described them (unknown names ignored)."""
    known = set(Capabilities.__dataclass_fields__)
    return Capabilities(**{k: bool(v) for k, v in client.capabilities.items() if k in known})


def semantics_config(protocol: str, early_access: bool = False) -> dict[str, Any]:
    """The consumer config the fixed scenarios of ``protocol`` ask of a client (a scenario
    may change settings of its own); ``early_access``: ``--early-access``."""
    return {**SCENARIO_CONFIG, "group_protocol": protocol,
            **({"early_access": True} if early_access else {})}


def run_semantics(broker: Broker, client: Client, protocol: str,
                  workdir: Path, only: Iterable[str] | None = None,
                  progress: Callable[[str], None] | None = None,
                  early_access: bool = False) -> list[CheckResult]:
    """Every registered semantics check (or ``only``) for one client and protocol;
    ``early_access`` (``--early-access``) goes into every consumer config."""
    caps = capabilities(client)
    refused = client.unsupported(semantics_config(protocol, early_access))
    ordered = sorted(SEMANTICS_CHECKS, key=lambda c: SEMANTICS_CHECKS[c].section)  # stable
    wanted = ordered if only is None else [c for c in ordered if c in set(only)]
    out = []
    for check_id in wanted:
        spec = SEMANTICS_CHECKS[check_id]
        if progress:
            progress(check_id)
        if protocol not in spec.protocols:
            continue
        missing = [n for n in spec.needs if not getattr(caps, n, False)]
        reason = refused or (f"{client.name} {client.client_version} lacks "
                             f"{', '.join(missing)}" if missing else None)
        if reason:
            out.append(CheckResult(check_id, spec.section, Verdict.UNSUPPORTED, note=reason))
            continue
        ctx = Context(broker, client, protocol, caps, workdir / check_id,
                      early_access=early_access)
        started = time.monotonic()
        try:
            res = spec.fn(ctx)
        except ConformanceError as exc:
            line = str(exc).splitlines()[0]
            if getattr(exc, "code", None) == "unsupported":  # the worker refused a command
                res = CheckResult(check_id, spec.section, Verdict.UNSUPPORTED, note=line)
            else:
                res = CheckResult(check_id, spec.section, Verdict.UNKNOWN,
                                  note=f"infrastructure: {line}")
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
