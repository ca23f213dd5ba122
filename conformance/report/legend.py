"""The legend under the report's matrix: what each verdict means, each check in one line with
its section, and each section the page cites with its short text (``SECTION_TEXT``, what
docs/semantics.md says at more length). Everything is on the page: links to a section go to
its legend entry (``#sec-s5``), never into the repository, so a copied report explains itself.

Descriptions: fixed scenarios (``S5-BATCH-crash-bound``) by their registered title (the first
paragraph of the scenario's docstring); generated-scenario checks by the line their checker
registered (``conformance.checkers.registry``); any other check by nothing but its section.
"""

from __future__ import annotations

from typing import Any

from conformance.checkers import REGISTERED

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
#: What each section of docs/semantics.md says, in short: the page carries it, so that a
#: report copied away from the repository still explains every section it cites.
SECTION_TEXT = {
    "S1": "A member that gains a partition starts at the group's committed offset (kept by the "
          "broker, outliving every member), so a new owner neither skips nor re-reads "
          "committed records; every record the producer had acknowledged is processed by "
          "some member. Filed here too: aborted transactional records and control markers "
          "never reach the application under read_committed.",
    "S2": "auto.offset.reset applies only where the group has no committed offset: earliest "
          "starts at the log start, latest at the log end when the position is reset, none "
          "raises an error instead of picking a position. With a committed offset every "
          "setting resumes right after the last committed record.",
    "S3": "Partitions added to a subscribed topic are noticed only after a metadata refresh "
          "and a rebalance; with latest, records produced to a new partition in that window "
          "are never read. Documented Kafka behaviour: measured as a hazard, and earliest "
          "loses nothing in the same scenario.",
    "S4": "With auto commit the client commits by itself: the Java client inside poll() for "
          "records returned by earlier polls (a crash re-delivers, never loses), librdkafka "
          "from a background thread for offsets stored at poll (a crash can lose). The suite "
          "measures per client what a crash costs.",
    "S5": "Without auto commit the application commits: a sync commit blocks, retries and "
          "raises when it cannot succeed (e.g. after removal from the group); an async "
          "commit may fail or be lost, causing duplicates, never loss. Each strategy bounds "
          "what a crash re-delivers per hand-over: RECORD 1, BATCH one poll, COUNT N.",
    "S6": "A worker pool fed by one polling thread commits before processing ends: a crash "
          "loses records and processing reorders them (a hazard). One consumer per partition "
          "loses nothing and keeps order.",
    "S7": "assign() takes partitions without group membership, rebalances or listener calls; "
          "after seek() the next record of the partition is exactly at that offset; a paused "
          "partition returns nothing until resumed.",
    "S8": "on_revoked runs before a rebalance moves partitions away and a commit there is "
          "effective; a member that loses partitions without committing causes re-delivery, "
          "never loss. One owner per partition at a time; a removed member (a zombie) is "
          "fenced when it returns; a live group settles with every member assigned.",
    "S9": "Within a partition a member processes offsets in increasing order without gaps "
          "from its start, except after a seek. Per-key order holds while the partition "
          "count is unchanged; across partition growth Kafka does not promise it (reported, "
          "never failed).",
}


def describe(check: str) -> str:
    """One line on what ``check`` verifies ('' if nothing is known about it)."""
    if check in REGISTERED:
        return REGISTERED[check].line
    try:
        from conformance.scenarios import SEMANTICS_CHECKS
    except ImportError:  # a report renderer without the scenarios' dependencies
        return ""
    found = SEMANTICS_CHECKS.get(check)
    return found.title if found is not None else ""


def section_id(section: str) -> str:
    """The id of ``section``'s entry in the page's legend (``sec-s5``); '' when unknown."""
    return f"sec-{section.lower()}" if section in SECTIONS else ""


def check_legend(checks: dict[str, str]) -> list[dict[str, Any]]:
    """One entry per check (id -> section): its description and its section's in-page id."""
    return [{"check": check, "section": section, "title": SECTIONS.get(section, ""),
             "href": f"#{section_id(section)}" if section_id(section) else "",
             "text": describe(check)}
            for check, section in checks.items()]


def section_legend(sections: list[str]) -> list[dict[str, str]]:
    """The sections ``sections`` names (known ones, S1 to S9 order): id, title, short text."""
    return [{"section": s, "id": section_id(s), "title": SECTIONS[s], "text": SECTION_TEXT[s]}
            for s in SECTIONS if s in sections]
