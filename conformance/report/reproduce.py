"""The "reproduce" box of a failing cell: where its files are and the commands that re-run it.

A failing example's folder holds ``history.jsonl`` (``CheckResult.history_file``, relative to
the run folder), ``replay.json`` (generated scenarios: the steps, written when the example
failed) and one ``<member>.stderr`` per worker. Links are relative to the run folder, so they
work wherever the folder is copied. Commands:

    kafka-conformance replay <run folder>/<example>/replay.json    the same steps, fresh broker
    kafka-conformance run --only <check> --client <spec> --protocol <p> --seed <seed>
                                                                    the fixed scenario again
    kafka-conformance run ... --seed <seed>                         the whole search again
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


def reproduce(result: RunResult, client: ClientResult, check: CheckResult,
              run_dir: str | Path | None) -> dict[str, Any]:
    """Links (relative to the run folder), commands, seed and shrink state of one cell."""
    base = Path(run_dir) if run_dir is not None else None
    links: list[tuple[str, str]] = []
    replay = ""
    if check.history_file:
        history = Path(check.history_file)
        links.append(("history", history.as_posix()))
        folder = history.parent
        if base is not None and (base / folder / REPLAY_FILE).is_file():
            replay = (folder / REPLAY_FILE).as_posix()
            links.append(("replay", replay))
        if base is not None and (base / folder).is_dir():
            logs = sorted((base / folder).rglob("*.stderr"))[:MAX_LOGS]
            links += [(f"log {p.stem}" if p.parent == base / folder else
                       f"log {p.relative_to(base / folder).with_suffix('').as_posix()}",
                       p.relative_to(base).as_posix()) for p in logs]
    commands = []
    where = Path(run_dir) if run_dir is not None else Path(".")
    if replay:
        commands.append(("replay these steps on a fresh broker",
                         shlex.join(["kafka-conformance", "replay", (where / replay).as_posix()])))
    spec = spec_of(client)
    pick = ["--adapter", spec] if ("/" in spec or spec.endswith(".py") or ".py:" in spec) \
        else ["--client", spec]
    protocol = client.label.split()[0] if client.label.split()[:1] in (["classic"],
                                                                      ["consumer"]) else ""
    seed = [] if result.seed is None else ["--seed", str(result.seed)]
    again = ["kafka-conformance", "run", "--only",
             check.check if is_fixed(check.check) else "generated", *pick,
             *(["--protocol", protocol] if protocol else []), "--profile", result.profile, *seed]
    line = shlex.join(again)
    if not is_fixed(check.check) and result.command_line.startswith("kafka-conformance run"):
        line = result.command_line  # the run as it was started, with its seed
        if seed and "--seed" not in shlex.split(line):
            line += f" --seed {result.seed}"
    commands.append(("run this fixed scenario again" if is_fixed(check.check) else
                     "run the whole search again with its seed (timing may differ)", line))
    shrink = check.shrink or ("" if is_fixed(check.check) or not check.steps else
                              "shrink state not recorded")
    return {
        "links": links, "commands": commands,
        "seed": "" if result.seed is None else str(result.seed),
        "shrink": shrink, "partly": shrink.startswith(("partly", "not shrunk", "shrink state")),
    }
