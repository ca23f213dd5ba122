"""The legend beside the report's matrix: what each verdict means, and each check in one line
with its section of docs/semantics.md (linked when the document is on this machine).

Descriptions: fixed scenarios (``S5-BATCH-crash-bound``) by their registered title (the first
paragraph of the scenario's docstring); generated-scenario checks by ``CHECK_LINES`` below;
any other check by nothing but its section.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

SECTIONS = {
    "S1": "Committed offsets live in the broker",
    "S2": "auto.offset.reset",
    "S3": "The latest hazard under partition growth",
    "S4": "Auto commit",
    "S5": "Manual commit",
    "S6": "Multi-threaded consumers",
    "S7": "Manual assignment and seek",
    "S8": "Rebalance listener",
    "S9": "Order",
}
VERDICTS = {
    "pass": "every example held the behaviour",
    "fail": "the client broke it: the section below names the records",
    "hazard": "documented Kafka behaviour reproduced and measured, within what is documented",
    "expected": "a failure the baseline file lists as a known deviation",
    "unsupported": "the client lacks a capability this check needs",
    "unknown": "the suite could not decide (infrastructure or checker error)",
}
CHECK_LINES = {
    "no-loss": "every produced record is processed by some member",
    "duplicates-bounded": "re-deliveries stay within the commit strategy's bound",
    "order": "records of a partition are processed in offset order; seeks are honoured",
    "start-position": "a new owner starts at the group's committed offset (or the reset)",
    "commit-validity": "members commit only partitions they own, never past what they processed",
    "exclusive-ownership": "at most one member owns a partition at a time",
    "zombie-fencing": "a member isolated past its session can neither commit nor read",
    "member-assigned": "the group settles, and every live member gets partitions",
    "isolation": "aborted records and transaction markers never reach the application",
    "pause-honored": "a paused partition returns no record until it is resumed",
    "calls-return": "every client call returns within its documented bound",
    "progress": "a member that owns a partition with records to read reads them",
    "member-rejoined": "a member removed from the group is assigned again while it polls",
}
SEMANTICS_DOC = Path(__file__).resolve().parents[2] / "docs" / "semantics.md"


def anchor(section: str) -> str:
    """The heading anchor of ``section`` in docs/semantics.md (``s5-manual-commit``)."""
    title = SECTIONS.get(section, "")
    if not title:
        return ""
    text = f"{section} {title}".lower()
    return re.sub(r"\s+", "-", re.sub(r"[^a-z0-9 _-]", "", text))


def semantics_href(section: str, run_dir: str | Path | None) -> str:
    """A link from the report in ``run_dir`` to ``section`` of docs/semantics.md; '' when the
    document is not on this machine (an installed package) or the section is unknown."""
    if run_dir is None or not SEMANTICS_DOC.is_file() or section not in SECTIONS:
        return ""
    rel = os.path.relpath(SEMANTICS_DOC, Path(run_dir).resolve())
    return f"{Path(rel).as_posix()}#{anchor(section)}"


def describe(check: str) -> str:
    """One line on what ``check`` verifies ('' if nothing is known about it)."""
    if check in CHECK_LINES:
        return CHECK_LINES[check]
    try:
        from conformance.scenarios import SEMANTICS_CHECKS
    except ImportError:  # a report renderer without the scenarios' dependencies
        return ""
    found = SEMANTICS_CHECKS.get(check)
    return found.title if found is not None else ""


def check_legend(checks: dict[str, str], run_dir: str | Path | None) -> list[dict[str, Any]]:
    """One entry per check (id -> section): its description and section link, in order."""
    return [{"check": check, "section": section, "title": SECTIONS.get(section, ""),
             "href": semantics_href(section, run_dir), "text": describe(check)}
            for check, section in checks.items()]
