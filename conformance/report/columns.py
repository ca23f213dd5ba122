"""Names of report columns: one per client spec and configuration label.

A run may hold several specs of one client (``kafka-python==2.0.2``, ``kafka-python==3.0.12``),
each with several configurations; the pair (spec, label) identifies one entry of
``RunResult.clients``. Every report names entries the same way, through these helpers.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from conformance.protocols import EARLY_ACCESS
from conformance.verdicts import ClientResult


def spec_of(client: ClientResult) -> str:
    """The client spec the entry ran as (the adapter name for results without a spec)."""
    return client.spec or client.name


def configuration_of(client: ClientResult) -> str:
    """The configuration an entry ran, as comparisons pair it: its label without the
    early-access mark (``--early-access`` on kafka-clients 3.9 runs the configuration that 4.x
    runs generally available; told by the entry's ``early_access`` field, not by its text)."""
    if not client.early_access:
        return client.label
    return " ".join(bit for bit in client.label.split(" ") if bit != EARLY_ACCESS)


def column_title(client: ClientResult) -> str:
    """``<spec> [<label>]`` (just the spec when there is no label)."""
    spec = spec_of(client)
    return f"{spec} [{client.label}]" if client.label else spec


def column_ids(clients: list[ClientResult]) -> list[str]:
    """One id per entry, unique within the list: the column title, with `` #2``, `` #3`` ...
    appended to repeats of one (spec, label) pair."""
    seen: Counter[str] = Counter()
    out = []
    for client in clients:
        title = column_title(client)
        seen[title] += 1
        out.append(title if seen[title] == 1 else f"{title} #{seen[title]}")
    return out


def slug(text: str) -> str:
    """``text`` as a piece of an HTML id: lower case, letters, digits and dots, every other
    run of characters one hyphen (``kafka-python==2.0.2`` -> ``kafka-python-2.0.2``)."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "x"


def cell_ids(clients: list[ClientResult]) -> dict[tuple[int, int], str]:
    """The id of every cell's place in ``index.html``, keyed by (entry index, check index):
    ``<spec>--<configuration label>--<check>``, each part a :func:`slug`
    (``java--classic-range-reset-earliest-batch-revoke-commit--start-position``). Named, not
    numbered, so a link to a cell stays right across runs whose entries come in another order;
    a repeat of one name gets ``-2``, ``-3``. Other reports (junit.xml) link to
    ``index.html#<id>``; every cell that is not ``pass`` has such a place."""
    out: dict[tuple[int, int], str] = {}
    seen: Counter[str] = Counter()
    for ei, client in enumerate(clients):
        for ki, check in enumerate(client.checks):
            base = "--".join((slug(spec_of(client)), slug(client.label),
                              slug(check.check)))
            seen[base] += 1
            out[ei, ki] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return out


def cell_anchor(entry: int, check: int) -> str:
    """The positional id of a cell, ``c<entry>-k<check>`` (by the entry's index in
    ``RunResult.clients`` and the check's index in its ``checks``): links written before the
    named ids (:func:`cell_ids`), and ``history.html``'s, still land, as ``index.html`` keeps
    it as an alias beside each named place."""
    return f"c{entry}-k{check}"


def specs_by_client(clients: list[ClientResult]) -> dict[str, list[str]]:
    """Adapter name -> its distinct specs in first-seen order (several: a version matrix)."""
    out: dict[str, list[str]] = defaultdict(list)
    for client in clients:
        if spec_of(client) not in out[client.name]:
            out[client.name].append(spec_of(client))
    return dict(out)
