"""The configuration an example ran with, read from its history: what the report's title of a
failing cell and its matrix tooltip say beyond the configuration's label.

A generated example draws values per dimension (``machines/dimensions.py``: commit strategy,
``max.poll.records``, fetch sizes, partition-EOF events, isolation level, offsets form,
assignor) and each member draws its consume path. The history keeps them: the ``scenario``
event holds the config and commit strategy as run, a ``note`` ``drawn: k=v, ...`` names the
dimensions the example drew (not in a replayed history), and each ``member_started`` names
the member's adapter (its consume path). Items, in this order, each only when the history
says it:

    protocol   ``consumer, early access`` when the consumer protocol ran as early access
               (``--early-access``; the members' ``ready`` capabilities lack it as GA)
    commit     the commit strategy's label (``BATCH/revoke-commit``, ``auto@200ms``)
    offsets    ``commit()`` (no offsets: the client commits what it tracks) or ``explicit``
    assignor   the client-side assignor (classic protocol)
    batch      ``max.poll.records=N``
    fetch      ``tiny fetches`` (1-byte fetch sizes), else what the example drew
    eof        ``partition EOF events`` when on
    isolation  the isolation level
    reset      ``auto.offset.reset``
    path       the consume paths of the members (the drain member left out)

``drawn`` marks the items the example drew (from the note) rather than took from its
configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.history import History
from conformance.protocols import GroupProtocol, early_access

DRAWN_NOTE = "drawn: "
ORDER = ("protocol", "commit", "offsets", "assignor", "batch", "fetch", "eof", "isolation",
         "reset", "path")
#: the dimension names of ``machines/dimensions.py`` -> the item they set
DIMENSION_ITEM = {"commit": "commit", "offsets": "offsets", "assignor": "assignor",
                  "batch": "batch", "fetch": "fetch", "eof": "eof", "isolation": "isolation"}
DRAIN = "drain"


@dataclass(frozen=True)
class Item:
    """One value of the configuration as run."""

    key: str
    value: str
    drawn: bool = False

    @property
    def text(self) -> str:
        return f"{self.key} {self.value}"


def drawn_values(history: History) -> dict[str, str]:
    """The dimensions the example drew, from its ``drawn:`` note ({} when there is none)."""
    for e in history.of_type("note"):
        text = str(e.data.get("text") or "")
        if text.startswith(DRAWN_NOTE):
            out = {}
            for part in text[len(DRAWN_NOTE):].split(", "):
                key, sep, value = part.partition("=")
                if sep and key.strip():
                    out[key.strip()] = value.strip()
            return out
    return {}


def as_run(history: History) -> list[Item]:
    """The configuration ``history`` ran with, as items in :data:`ORDER` ([] without a
    ``scenario`` event)."""
    sc = history.scenario()
    if not sc:
        return []
    config: dict[str, Any] = sc.get("config") if isinstance(sc.get("config"), dict) else {}
    strategy: dict[str, Any] = sc.get("strategy") if isinstance(sc.get("strategy"), dict) \
        else {}
    drawn = drawn_values(history)
    found: dict[str, str] = {}
    ready = [e.data.get("capabilities") for e in history.of_type("ready")]
    capabilities = next((c for c in ready if isinstance(c, dict)), {})
    if early_access(config.get("group_protocol"), config.get("early_access"), capabilities):
        found["protocol"] = f"{GroupProtocol.CONSUMER}, early access"
    label = strategy.get("label") or strategy.get("name")
    if label:
        found["commit"] = str(label)
    if strategy and strategy.get("name") != "auto":
        found["offsets"] = "explicit" if strategy.get("explicit", True) else "commit()"
    if (config.get("assignment_strategy")
            and config.get("group_protocol") != GroupProtocol.CONSUMER):
        found["assignor"] = str(config["assignment_strategy"])
    if config.get("max_poll_records") is not None:
        found["batch"] = f"max.poll.records={config['max_poll_records']}"
    if config.get("fetch_max_bytes") == 1 or config.get("max_partition_fetch_bytes") == 1:
        found["fetch"] = "tiny fetches"
    if config.get("partition_eof"):
        found["eof"] = "partition EOF events"
    if config.get("isolation_level"):
        found["isolation"] = str(config["isolation_level"])
    if config.get("auto_offset_reset"):
        found["reset"] = str(config["auto_offset_reset"])
    paths = dict.fromkeys(str(e.data.get("adapter")) for e in history.of_type("member_started")
                          if e.data.get("adapter") and e.data.get("member") != DRAIN)
    if paths:
        found["path"] = ", ".join(paths)
    drawn_items = {DIMENSION_ITEM[k] for k in drawn if k in DIMENSION_ITEM}
    for dimension, value in drawn.items():  # a drawn value the config does not show
        item = DIMENSION_ITEM.get(dimension)
        if item and item not in found:
            found[item] = value
    return [Item(k, found[k], k in drawn_items) for k in ORDER if k in found]


def as_run_text(items: list[Item]) -> str:
    """``commit BATCH · assignor cooperative-sticky (drawn) · ...`` for a tooltip."""
    return " \u00b7 ".join(it.text + (" (drawn)" if it.drawn else "") for it in items)
