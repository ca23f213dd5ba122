"""``results.json``: the machine-readable result of a run (schema in docs/results-schema.md).

``write_results`` writes ``RunResult.to_json()`` (which carries ``exit_code``); ``load_results``
reads it back as a dict and rejects a malformed file with a one-line ``ResultsError``;
``run_result_from_json`` rebuilds a ``RunResult`` from that dict so reports can be re-rendered.
Both read schema /2 and the older /1 (see :func:`upgraded`).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from conformance.errors import UsageError
from conformance.protocols import parse
from conformance.verdicts import (
    RESULTS_SCHEMA,
    CheckResult,
    ClientResult,
    RunResult,
    Verdict,
    Violation,
)

RESULTS_FILE = "results.json"
SCHEMA = RESULTS_SCHEMA
#: the schema before entries carried ``fixed`` and ``config``; still read (:func:`upgraded`)
SCHEMA_1 = "kafka-conformance/results/1"
VERDICTS = frozenset(str(v) for v in Verdict)


class ResultsError(UsageError):
    """A results.json that cannot be read or does not follow the schema."""


def write_results(result: RunResult, path: str | Path,
                  extra: dict[str, Any] | None = None) -> Path:
    """Write ``result`` (and ``extra`` members, e.g. ``reference``) as pretty-printed UTF-8
    JSON (atomically: temp file then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**result.to_json(), **(extra or {})}
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json; a missing, non-JSON or off-schema file raises ``ResultsError``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno})") from None
    problem = validate(data)
    if problem:
        raise ResultsError(f"{path}: not a kafka-conformance results file: {problem}")
    return upgraded(data)


def upgraded(data: dict[str, Any]) -> dict[str, Any]:
    """A /1 results dict with its entries in the /2 shape (others as they are): ``fixed`` and,
    where not recorded, ``protocol`` told from the label, ``config`` empty. ``schema`` stays
    as read. /1 entries said these only in their label, so this is the one place it is read."""
    if data.get("schema") != SCHEMA_1:
        return data
    clients = []
    for entry in data["clients"]:
        label = str(entry.get("label") or "")
        entry = {**entry, "fixed": label.endswith(" fixed scenarios"), "config": {}}
        if not entry.get("protocol"):  # written before the protocol was recorded
            with contextlib.suppress(UsageError):
                entry["protocol"] = str(parse(label.split(" ", 1)[0], "label"))
        clients.append(entry)
    return {**data, "clients": clients}


def validate(data: Any) -> str | None:
    """The first schema problem of a parsed results.json, or None when it is well-formed."""
    if not isinstance(data, dict):
        return "expected a JSON object at the top level"
    if data.get("schema") not in (SCHEMA, SCHEMA_1):
        return f"'schema' is {data.get('schema')!r}, expected {SCHEMA!r} (or {SCHEMA_1!r})"
    for key, kind in (("run_id", str), ("clients", list), ("exit_code", int)):
        if not isinstance(data.get(key), kind):
            return f"'{key}' missing or not {_kind(kind)}"
    if not isinstance(data.get("incomplete", False), bool):
        return "'incomplete' is not true or false"
    for i, client in enumerate(data["clients"]):
        where = f"clients[{i}]"
        if not isinstance(client, dict) or not isinstance(client.get("name"), str):
            return f"{where} must be an object with a string 'name'"
        if not isinstance(client.get("checks"), list):
            return f"{where}.checks missing or not a list"
        if not isinstance(client.get("early_access", False), bool):
            return f"{where}.early_access is not true or false"
        if not isinstance(client.get("fixed", False), bool):
            return f"{where}.fixed is not true or false"
        if not isinstance(client.get("config", {}), dict):
            return f"{where}.config is not an object"
        for j, check in enumerate(client["checks"]):
            here = f"{where}.checks[{j}]"
            if not isinstance(check, dict) or not isinstance(check.get("check"), str):
                return f"{here} must be an object with a string 'check'"
            if check.get("verdict") not in VERDICTS:
                return f"{here}.verdict is {check.get('verdict')!r}, expected one of " \
                       f"{', '.join(sorted(VERDICTS))}"
            if not isinstance(check.get("violations", []), list):
                return f"{here}.violations is not a list"
    return None


def run_result_from_json(data: dict[str, Any]) -> RunResult:
    """Rebuild a ``RunResult`` from a (validated) results.json dict, /1 or /2.

    Violations beyond the ones stored (``violations_total`` may be larger) are not recoverable.
    """
    data = upgraded(data)
    return RunResult(
        run_id=data["run_id"],
        started_at=data.get("started_at", ""),
        finished_at=data.get("finished_at", ""),
        tool_version=data.get("tool_version", ""),
        profile=data.get("profile", "ci"),
        seed=data.get("seed"),
        broker=dict(data.get("broker") or {}),
        clients=[_client(c) for c in data["clients"]],
        errors=list(data.get("errors") or []),
        command_line=str(data.get("command_line") or ""),
        environment=dict(data.get("environment") or {}),
        incomplete=bool(data.get("incomplete", False)),
    )


def _client(d: dict[str, Any]) -> ClientResult:
    return ClientResult(
        name=d["name"],
        client=d.get("client", ""),
        client_version=d.get("client_version", ""),
        label=d.get("label", ""),
        spec=d.get("spec") or d["name"],
        timings=dict(d.get("timings") or {}),
        adapter=str(d.get("adapter") or ""),
        protocol=str(d.get("protocol") or ""),
        early_access=d.get("early_access") is True,
        fixed=d.get("fixed") is True,
        config=dict(d.get("config") or {}),
        capabilities=dict(d.get("capabilities") or {}),
        checks=[_check(c) for c in d["checks"]],
    )


def _check(d: dict[str, Any]) -> CheckResult:
    return CheckResult(
        check=d["check"],
        section=d.get("section", ""),
        verdict=Verdict(d["verdict"]),
        examples=int(d.get("examples", 0)),
        seconds=float(d.get("seconds", 0.0)),
        violations=[_violation(v) for v in d.get("violations", [])],
        figures=dict(d.get("figures") or {}),
        note=d.get("note", ""),
        steps=list(d.get("steps") or []),
        history_file=d.get("history_file"),
        shrink=d.get("shrink", ""),
    )


def _violation(d: dict[str, Any]) -> Violation:
    return Violation(
        check=d.get("check", ""),
        anomaly=d.get("anomaly", ""),
        section=d.get("section", ""),
        message=d.get("message", ""),
        evidence=list(d.get("evidence") or []),
        details=dict(d.get("details") or {}),
    )


def _kind(kind: type) -> str:
    return {str: "a string", list: "a list", int: "an integer"}[kind]
