"""The "reproduce" box of a failing cell: where its files are and the commands that re-run it.

A failing example's folder holds ``history.jsonl`` (``CheckResult.history_file``, relative to
the run folder), ``replay.json`` (generated scenarios: the steps, written when the example
failed) and one ``<member>.stderr`` per worker. Links and the replay path are relative to the
run folder (the report's own folder), so they work wherever the folder is copied or a CI
artifact is unpacked. Commands:

    kafka-conformance replay <example>/replay.json      (in the report's folder) the same steps
    kafka-conformance run --only <check or generated> --client <spec> --protocol <p>
        --profile <profile> --seed <seed>               that client and protocol only, again

The JUnit failure body carries the same two commands (``replay_command``, ``rerun_command``).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from conformance.report.columns import spec_of
from conformance.verdicts import CheckResult, ClientResult, RunResult

REPLAY_FILE = "replay.json"
MAX_LOGS = 12


def is_fixed(check: str) -> bool:
    """Whether ``check`` is a fixed scenario (``S5-BATCH-crash-bound``)."""
    return check[:1] == "S" and check[1:2].isdigit() and "-" in check


def _log_name(path: Path, folder: Path) -> str:
    """``log m1``, ``log replay-2/m1``; ``(empty)`` when the worker wrote nothing."""
    name = path.stem if path.parent == folder else \
        path.relative_to(folder).with_suffix("").as_posix()
    empty = path.stat().st_size == 0
    return f"log {name}" + (" (empty)" if empty else "")


def replay_path(check: CheckResult, run_dir: str | Path | None) -> str:
    """The cell's ``replay.json``, relative to the run folder ('' if it has none): the file
    beside its history when ``run_dir`` shows it exists; without ``run_dir``, when the cell
    recorded steps (a failing generated example writes its replay.json beside its history)."""
    if not check.history_file:
        return ""
    path = Path(check.history_file).parent / REPLAY_FILE
    if run_dir is None:
        return path.as_posix() if check.steps else ""
    return path.as_posix() if (Path(run_dir) / path).is_file() else ""


def replay_command(path: str) -> str:
    """``kafka-conformance replay <path>``, to run in the report's folder."""
    return shlex.join(["kafka-conformance", "replay", path])


def rerun_command(result: RunResult, client: ClientResult, check: CheckResult) -> str:
    """``kafka-conformance run`` narrowed to this cell: its fixed scenario (or the generated
    scenarios), its client, its group protocol (``--early-access`` when it ran as early
    access), the run's profile and seed, and the embedded
    broker's node count and Kafka release when they are not the defaults."""
    if client.adapter:  # an adapter given by reference: the column shows its declared name
        pick = ["--adapter", client.adapter]
    else:
        spec = spec_of(client)
        pick = ["--adapter" if spec.endswith(".py") or ".py:" in spec else "--client", spec]
    protocol = client.protocol  # a /1 file's comes from its label (json_report.upgraded)
    seed = [] if result.seed is None else ["--seed", str(result.seed)]
    broker: list[str] = []
    if result.broker.get("provider") == "embedded":
        from conformance.broker.jars import DEFAULT_KAFKA_VERSION  # the broker package is slow

        if result.broker.get("nodes") not in (None, 1):
            broker += ["--nodes", str(result.broker["nodes"])]
        version = result.broker.get("version")
        if version and version != DEFAULT_KAFKA_VERSION:
            broker += ["--kafka-version", str(version)]
    return shlex.join(["kafka-conformance", "run", "--only",
                       check.check if is_fixed(check.check) else "generated", *pick,
                       *(["--protocol", protocol] if protocol else []),
                       *(["--early-access"] if client.early_access else []),
                       "--profile", result.profile, *seed, *broker])


def reproduce(result: RunResult, client: ClientResult, check: CheckResult,
              run_dir: str | Path | None) -> dict[str, Any]:
    """Links (relative to the run folder), commands, seed and shrink state of one cell."""
    base = Path(run_dir) if run_dir is not None else None
    links: list[tuple[str, str]] = []
    replay = replay_path(check, run_dir)
    if check.history_file:
        history = Path(check.history_file)
        links.append(("history", history.as_posix()))
        folder = history.parent
        if replay:
            links.append(("replay", replay))
        if base is not None and (base / folder).is_dir():
            logs = sorted((base / folder).rglob("*.stderr"))[:MAX_LOGS]
            links += [(_log_name(p, base / folder), p.relative_to(base).as_posix())
                      for p in logs]
    commands = []
    if replay:
        commands.append(("in the report's folder: replay these steps on a fresh broker",
                         replay_command(replay)))
    commands.append(("run this fixed scenario again" if is_fixed(check.check) else
                     "run this client's search again with its seed (timing may differ)",
                     rerun_command(result, client, check)))
    shrink = check.shrink or ("" if is_fixed(check.check) or not check.steps else
                              "shrink state not recorded")
    return {
        "links": links, "commands": commands,
        "seed": "" if result.seed is None else str(result.seed),
        "shrink": shrink, "partly": shrink.startswith(("partly", "not shrunk", "shrink state")),
    }
