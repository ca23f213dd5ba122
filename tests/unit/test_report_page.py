"""The page as a whole (issue "The report, second pass"): anchors named by client,
configuration and check; the short text of every section it cites instead of links into the
repository; a size cap on a run shaped like the README's (hazards grouped, pictures and
tables capped with counts); every in-page link with its target."""

from __future__ import annotations

import re
from pathlib import Path

from test_report_fixtures import sample_run

from conformance.checkers import CHECKS
from conformance.history import HARNESS, History
from conformance.report.columns import cell_ids, slug
from conformance.report.html import MAX_PICTURES, render_html, write_html
from conformance.report.legend import SECTION_TEXT, SECTIONS
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict, Violation

SEMANTICS = Path(__file__).resolve().parents[2] / "docs" / "semantics.md"
MAX_PAGE = 150_000


def _ids(html: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', html)


def _dead_links(html: str) -> set[str]:
    return set(re.findall(r'href="#([^"]+)"', html)) - set(_ids(html))


def test_anchors_are_named_and_stay_when_entries_move() -> None:
    result = sample_run()
    ids = cell_ids(result.clients)
    assert ids[0, 1] == "confluent-kafka-batch--batch-classic--no-duplicates"
    assert slug("kafka-python==2.0.2 [classic range reset=earliest BATCH/revoke-commit]") == \
        "kafka-python-2.0.2-classic-range-reset-earliest-batch-revoke-commit"
    html = render_html(result)
    assert f'<section class="finding f-fail" id="{ids[0, 1]}">' in html
    assert '<span id="c0-k1"></span>' in html, "the positional alias for older links"
    # another run lists the entries the other way round: every cell keeps its id
    moved = sample_run()
    moved.clients.reverse()
    again = cell_ids(moved.clients)
    n = len(moved.clients) - 1
    assert {again[n - ei, ki] for (ei, ki) in ids} == set(ids.values())
    assert again[n, 1] == ids[0, 1]
    assert f'<section class="finding f-fail" id="{ids[0, 1]}">' in render_html(moved)


def test_a_repeated_entry_gets_its_own_id() -> None:
    twice = [ClientResult("x", label="classic", checks=[CheckResult("order", "S9", Verdict.FAIL)])
             for _ in range(2)]
    ids = cell_ids(twice)
    assert (ids[0, 0], ids[1, 0]) == ("x--classic--order", "x--classic--order-2")
    html = render_html(RunResult("r", "", clients=twice))
    assert not _dead_links(html) and len(_ids(html)) == len(set(_ids(html)))


def test_the_page_carries_the_text_of_every_section_it_cites() -> None:
    html = render_html(sample_run())
    assert not re.search(r'href="[^"#]*\.md', html), "no link into the repository's docs"
    cited = {"S1", "S3", "S5", "S7", "S9"}  # the sections of sample_run's cells
    for section in SECTIONS:
        entry = f'<div id="sec-{section.lower()}"><dt>{section} '
        assert (entry in html) == (section in cited), section
    assert SECTION_TEXT["S5"][:60] in html
    assert 'href="#sec-s5"' in html and not _dead_links(html)
    # the short texts stand for docs/semantics.md's sections: same sections, same titles
    headings = re.findall(r"^## (S\d) (.+)$", SEMANTICS.read_text(encoding="utf-8"), re.M)
    assert dict(headings) == SECTIONS and set(SECTION_TEXT) == set(SECTIONS)


# -- a run shaped like the README's ----------------------------------------------------------
FIXED = ["S1-resume-after-empty-group", "S1-topic-recreated", "S2-reset-matrix",
         "S3-latest-growth-hazard", "S4-auto-commit-crash", "S5-RECORD-crash-bound",
         "S5-BATCH-crash-bound", "S5-COUNT-10-crash-bound", "S5-TIME-300-crash-bound",
         "S5-COUNT_TIME-10-crash-bound", "S5-MANUAL-crash-bound",
         "S5-MANUAL_IMMEDIATE-crash-bound", "S5-BATCH-async-crash-bound",
         "S5-commit-after-removal", "S6-worker-pool", "S6-consumer-per-partition",
         "S7-assign-seek", "S8-revoke-commit-no-duplicates", "S8-killed-member-redelivery",
         "S9-order"]
LABEL = "range reset=earliest BATCH/revoke-commit"


def _history(path: Path, records: int, partitions: int = 3) -> int:
    """A busy example: a member reads ``records`` records of each partition, one per poll,
    asking for and getting a commit after each; killed; a drain re-reads. Returns the index of
    the drain's first read of p1 (the evidence)."""
    h = History()
    ts = iter(x / 50 for x in range(1_000_000))
    h.append("scenario", HARNESS, next(ts), topic="topic-0f18a133", partitions=partitions,
             config={"group_protocol": "classic", "assignment_strategy": "cooperative-sticky",
                     "max_poll_records": 1, "isolation_level": "read_committed"},
             strategy={"name": "BATCH", "label": "BATCH/revoke-commit"})
    h.append("note", HARNESS, next(ts), text="drawn: batch=max.poll.records=1, "
                                             "assignor=cooperative-sticky")
    h.append("member_started", HARNESS, next(ts), member="m1", adapter="java")
    tps = [["topic-0f18a133", p] for p in range(partitions)]
    h.append("assigned", "m1", next(ts), partitions=tps)
    h.append("produced", HARNESS, next(ts), records=[
        ["topic-0f18a133", p, o, "k", "x"] for p in range(partitions) for o in range(records)])
    done = {p: 0 for p in range(partitions)}
    for o in range(records):
        for p in range(partitions):
            h.append("polled", "m1", next(ts), records=[["topic-0f18a133", p, o, "k"]])
            h.append("processed", "m1", next(ts), records=[["topic-0f18a133", p, o, "k"]])
            done[p] = o + 1
            offsets = [["topic-0f18a133", q, done[q]] for q in range(partitions)]
            h.append("commit_requested", "m1", next(ts), mode="batch", offsets=offsets)
            h.append("committed", "m1", next(ts), mode="batch", ok=True, offsets=offsets)
    h.append("member_killed", HARNESS, next(ts), member="m1")
    h.append("member_started", HARNESS, next(ts), member="drain", adapter="java")
    h.append("assigned", "drain", next(ts), partitions=tps)
    first = h.append("polled", "drain", next(ts), records=[["topic-0f18a133", 1, records, "k"]])
    h.to_jsonl(path)
    return first.index


def readme_run(run_dir: Path, failing: int = 1) -> RunResult:
    """3 clients x 2 protocols, 13 generated checks and 20 fixed scenarios each (kafka-python
    on consumer all unsupported); ``failing`` generated cells fail on a busy history (30
    violations, each citing the drain's read and one poll of m1's); two
    hazards per fixed entry (S3 and S6), each with its own history; one baseline-expected
    cell; the reference client's differences."""
    checks = list(CHECKS)
    clients: list[ClientResult] = []
    n = 0
    for spec in ("java", "confluent-kafka", "kafka-python"):
        for protocol in ("classic", "consumer"):
            unsupported = spec == "kafka-python" and protocol == "consumer"
            gen = []
            for check in checks:
                verdict = Verdict.UNSUPPORTED if unsupported else Verdict.PASS
                cell = CheckResult(check, "S1", verdict, examples=7, seconds=10.5,
                                   note="no KIP-848" if unsupported else "")
                if not unsupported and n < failing and check == "start-position":
                    n += 1
                    name = f"{spec}-{protocol}/example-{n}/history.jsonl"
                    (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
                    hit = _history(run_dir / name, 40)
                    cell.verdict, cell.history_file = Verdict.FAIL, name
                    cell.violations = [Violation(check, "start-after-committed", "S1",
                                                 f"drain started t-1 at 40, expected {38 - k}",
                                                 [hit, 5 + 4 * k],
                                                 {"topic": "topic-0f18a133",
                                                            "partition": 1, "member": "drain"})
                                       for k in range(30)]
                if spec == "kafka-python" and check == "exclusive-ownership" and not unsupported:
                    name = f"{spec}-{protocol}/expected/history.jsonl"
                    (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
                    hit = _history(run_dir / name, 10)
                    cell.verdict, cell.history_file = Verdict.EXPECTED, name
                    cell.violations = [Violation(check, "unsubscribe-without-revoke", "S8",
                                                 "m1 unsubscribed", [hit])]
                gen.append(cell)
            fixed = []
            for scenario in FIXED:
                verdict = Verdict.UNSUPPORTED if unsupported else Verdict.PASS
                cell = CheckResult(scenario, scenario[:2], verdict, examples=1, seconds=12.0,
                                   note="no KIP-848" if unsupported else "")
                if not unsupported and scenario in ("S3-latest-growth-hazard", "S6-worker-pool"):
                    name = f"{spec}-{protocol}-semantics/{scenario}/history.jsonl"
                    (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
                    hit = _history(run_dir / name, 20, partitions=2)
                    cell.verdict, cell.history_file = Verdict.HAZARD, name
                    cell.figures = {"lost": 5, "reordered": 3}
                    cell.violations = [Violation("no-loss", "lost", "S1", f"{k} never processed",
                                                 [hit], {"topic": "topic-0f18a133",
                                                         "partition": 1}) for k in range(20)]
                fixed.append(cell)
            clients.append(ClientResult(spec, spec, "1.0", f"{protocol} {LABEL}", spec=spec,
                                        protocol=protocol, checks=gen,
                                        timings={"median_example": 14.7}))
            clients.append(ClientResult(spec, spec, "1.0", f"{protocol} fixed scenarios",
                                        spec=spec, protocol=protocol, checks=fixed))
    return RunResult("r", "2026-12-07T04:51:11+00:00", tool_version="0.1.0", seed=20,
                     broker={"provider": "embedded", "version": "4.3.1", "nodes": 1},
                     clients=clients)


def test_the_readme_run_report_stays_under_150_kb(tmp_path: Path) -> None:
    html = write_html(readme_run(tmp_path), tmp_path / "index.html").read_text(encoding="utf-8")
    size = len(html.encode("utf-8"))
    assert size < MAX_PAGE, f"{size} bytes"
    # hazards: one section per (check, anomalies), a row per cell, evidence not per client
    groups = re.findall(r'<section class="finding f-hazard" id="([^"]+)">', html)
    assert groups == ["hz-s3-latest-growth-hazard-lost", "hz-s6-worker-pool-lost"]
    group = html.split(f'id="{groups[0]}">', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r'<tr id="[^"]+--s3-latest-growth-hazard">', group)) == 5
    assert group.count('<ol class="chain">') == 1, "the first cell's story only"
    assert html.count("<svg") == 1, "a picture for the failure only"
    # long tables capped, with a count of what was cut
    assert "Violations (30, first 20 shown" in html
    assert "... 15 more violations not shown" in group, "20 violations, 5 rows"
    assert not _dead_links(html)
    assert len(_ids(html)) == len(set(_ids(html))), "ids are unique"


def test_pictures_are_capped_and_every_cited_event_is_on_the_page_or_in_its_history(
        tmp_path: Path) -> None:
    html = write_html(readme_run(tmp_path, failing=MAX_PICTURES + 1),
                      tmp_path / "index.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="finding f-fail" id="[^"]+">.*?</section>', html,
                          re.S)
    assert len(sections) == MAX_PICTURES + 1
    assert [("<svg" in s) for s in sections] == [True] * MAX_PICTURES + [False]
    assert f"drawn for the first {MAX_PICTURES} failing" in sections[-1]
    for section in sections:
        table = section.split('<table class="small violations">', 1)[1].split("</table>")[0]
        hrefs = re.findall(r'<a href="([^"]+)"(?: title="([^"]+)")?>#(\d+)</a>', table)
        assert hrefs
        for href, title, index in hrefs:
            if href.startswith("#"):  # on the page: its line of the chain
                assert re.search(rf'<li class="cited" id="{href[1:]}">', section), href
            else:  # not told: its line of the example's history.jsonl
                assert href.endswith("/history.jsonl") and (tmp_path / href).is_file()
                assert title == f"line {int(index) + 1} of {href}"
        assert any(not h.startswith("#") for h, _t, _i in hrefs), \
            "the polls cited by violations 4 to 20 are told by no chain"
    assert not _dead_links(html)
