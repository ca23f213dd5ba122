"""index.html: matrix, escaping, steps, per-partition timelines with highlighted evidence."""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import escape
from test_report_fixtures import HISTORY_FILE, HOSTILE, T, failing_history, sample_run

from conformance.history import HARNESS, History
from conformance.report.html import build_timeline, render_html, write_html
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict, Violation


def _page(tmp_path: Path) -> str:
    return write_html(sample_run(tmp_path), tmp_path / "index.html").read_text(encoding="utf-8")


#: the named ids of sample_run's first entry (spec ``confluent-kafka[BATCH]``, label
#: ``BATCH, classic``) and of rich_run's failing fixed scenario
A = "confluent-kafka-batch--batch-classic--"
FAIL_ID = A + "no-duplicates"
FIXED_FAIL_ID = "confluent-kafka--classic-fixed-scenarios--s8-killed-member-redelivery"


def _matrix(html: str) -> str:
    return html.split('<table class="matrix generated">', 1)[1].split("</table>", 1)[0]


def test_matrix_has_every_client_and_check(tmp_path: Path) -> None:
    result = sample_run(tmp_path)
    matrix = _matrix(_page(tmp_path))
    for client in result.clients:
        assert str(escape(client.name)) in matrix
        for check in client.checks:
            assert check.check in matrix
    for verdict in Verdict:
        assert f'class="cell v-{verdict}"' in matrix
        assert f" {verdict}" in matrix
    assert "37 ex" in matrix, "examples per cell where the entry's checks judged different counts"
    assert "12.5 s" not in matrix, "a generated check has no time of its own: none per cell"
    assert "not run" in matrix, "a check the second client did not run"
    assert f'href="#{FAIL_ID}"' in matrix, "a failing cell links to its section"


def test_header(tmp_path: Path) -> None:
    html = _page(tmp_path)
    for text in ("20260101-120000-abcd", "0.1.0", "embedded", "4.1.0", "1234",
                 "2026-01-01T12:00:00+00:00", "(330.0s)", "exit 1: a check failed"):
        assert text in html


def test_hostile_strings_are_escaped(tmp_path: Path) -> None:
    html = _page(tmp_path)
    assert "<script" not in html.lower(), "no raw script and no JavaScript at all"
    escaped = str(escape(HOSTILE))
    assert escaped == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    # the client name (clients table, matrix row) and the violation message (its section, the
    # last line of its chain of events and the failures box); never raw
    assert html.count(escaped) == 5


def test_hostile_strings_everywhere_are_escaped(tmp_path: Path) -> None:
    h = History()
    h.append("assigned", HOSTILE, 0.0, partitions=[[HOSTILE, 0]])
    h.append("error", HOSTILE, 0.1, code=HOSTILE, message=HOSTILE, fatal=True)
    h.to_jsonl(tmp_path / "h.jsonl")
    check = CheckResult(
        HOSTILE, HOSTILE, Verdict.FAIL, note=HOSTILE, steps=[HOSTILE],
        figures={HOSTILE: HOSTILE}, history_file="h.jsonl",
        violations=[Violation(HOSTILE, HOSTILE, HOSTILE, HOSTILE, [0, 1], {"x": HOSTILE})])
    result = RunResult(HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, broker={HOSTILE: HOSTILE},
                       errors=[HOSTILE],
                       clients=[ClientResult(HOSTILE, HOSTILE, HOSTILE, HOSTILE, checks=[check])])
    html = render_html(result, tmp_path)
    assert "<script" not in html.lower()
    assert html.count(str(escape(HOSTILE))) > 20


def test_self_contained(tmp_path: Path) -> None:
    html = _page(tmp_path)
    assert "<style>" in html
    assert not re.search(r"<link|\ssrc=|url\(|@import|https?://", html)


def test_sections_for_non_pass_cells_only(tmp_path: Path) -> None:
    html = _page(tmp_path)
    sections = re.findall(r'<section class="finding f-\w+" id="([^"]+)"', html)
    assert sections == [FAIL_ID, A + "order", A + "commit-validity", "hz-latest-hazard"], \
        "failures first, then unknown, expected, then one section per hazard group; the " \
        "unsupported cell is a line of the unsupported list"
    assert f'<tr id="{A}latest-hazard">' in html, "the hazard cell: a row of its group"
    unsupported = html.split('<section id="unsupported">', 1)[1].split("</section>", 1)[0]
    assert f'<span id="{A}manual-assign"></span><span id="c0-k3"></span>' in unsupported
    assert re.search(r">S5(</a>)? Manual commit", html), "the section and its title"
    assert "adapter lacks the &#39;assign&#39; capability" in html
    assert "baseline: librdkafka stores offsets before processing" in html


def test_steps_are_a_pasteable_code_block(tmp_path: Path) -> None:
    html = _page(tmp_path)
    steps = re.search(r'<pre class="steps"><code>(.*?)</code></pre>', html, re.S).group(1)
    assert steps.splitlines() == ["state = CrashMachine()", "state.produce(n=10)",
                                  "state.crash(member=&#39;m1&#39;)", "state.teardown()"]


def test_timeline_rows_and_highlighted_evidence(tmp_path: Path) -> None:
    html = _page(tmp_path)
    section = html.split(f'id="{FAIL_ID}"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<tr class="(failing)?"><th>([^<]+)', section)
    assert rows == [("failing", f"{T}-0"), ("", f"{T}-1")]
    row0 = section.split(f"<th>{T}-0", 1)[1].split("</tr>", 1)[0]
    chips = re.findall(r'<li class="k-(\w+)( hl)?">(?:&#9733; )?([^<]*)<small>', row0)
    assert chips == [
        ("assigned", "", "m1 assigned"), ("produced", "", "produced 0\u20139"),
        ("processed", "", "m1 processed 0\u20134"), ("committed", "", "m1 committed 3 (sync)"),
        ("member_killed", "", "m1 killed"), ("assigned", "", "m2 assigned"),
        ("processed", " hl", "m2 processed 3\u20139"), ("committed", "", "m2 committed 10 (sync)"),
    ]
    assert "#4\u2013#8" in row0, "collapsed events keep their index range"
    assert f'<a href="#{FAIL_ID}-e12">#12</a>' in section, "the violation links its evidence"
    assert f'<li class="cited" id="{FAIL_ID}-e12">' in section, "the event is a chain line"


def test_missing_history_file_is_reported(tmp_path: Path) -> None:
    html = render_html(sample_run(), tmp_path)
    assert f"history file {HISTORY_FILE} not found" in html


def test_odd_history_does_not_crash_the_report(tmp_path: Path) -> None:
    History([]).to_jsonl(tmp_path / "h.jsonl")
    h = History()
    h.append("seeked", "m1", 1.0, topic="t")
    h.to_jsonl(tmp_path / "odd.jsonl")
    checks = [CheckResult("a", "S7", Verdict.FAIL, history_file="odd.jsonl"),
              CheckResult("b", "S7", Verdict.UNKNOWN, history_file="h.jsonl")]
    result = RunResult("r", "", clients=[ClientResult("c", checks=checks)])
    html = render_html(result, tmp_path)
    assert "timeline not drawn: KeyError" in html
    assert "0 partition(s), 0 events" in html


def _big_history(n: int) -> tuple[History, int]:
    """Two members alternately processing single records of p0 (nothing collapses)."""
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=1)
    h.append("assigned", "m1", 0.0, partitions=[["t", 0]])
    h.append("assigned", "m2", 0.0, partitions=[["t", 0]])
    mark = -1
    for o in range(n):
        e = h.append("processed", f"m{o % 2 + 1}", o / 1000, records=[["t", 0, o, None]])
        if o == n // 2:
            mark = e.index
    return h, mark


def test_long_rows_are_capped_but_keep_evidence() -> None:
    history, mark = _big_history(5000)
    timeline = build_timeline(history, {mark}, max_items=120)
    (row,) = timeline.rows
    assert row.total == 5002
    assert len(row.items) < 140
    gaps = [it for it in row.items if it.kind == "gap"]
    assert len(gaps) == 2
    assert sum(g.hidden for g in gaps) + len(row.items) - len(gaps) == row.total
    (hit,) = [it for it in row.items if it.highlight]
    assert hit.first == mark and hit.lo == 2500
    assert row.failing


def test_consecutive_processing_collapses_into_ranges() -> None:
    h = History()
    h.append("assigned", "m1", 0.0, partitions=[["t", 0]])
    for o in range(3000):
        h.append("processed", "m1", 1 + o / 1000, records=[["t", 0, o, None]])
    h.append("processed", "m1", 5.0, records=[["t", 0, 3005, None]])
    (row,) = build_timeline(h).rows
    assert [it.label for it in row.items] == [
        "m1 assigned", "m1 processed 0\u20132999", "m1 processed 3005"]


def test_rows_are_capped_with_failing_partitions_kept() -> None:
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=50)
    h.append("assigned", "m1", 0.0, partitions=[["t", p] for p in range(50)])
    timeline = build_timeline(h, focus={("t", 49)}, max_rows=10)
    assert len(timeline.rows) == 10 and timeline.hidden_rows == 40
    assert timeline.rows[-1].name == "t-49" and timeline.rows[-1].failing


def test_kills_and_partition_growth_land_in_owned_rows() -> None:
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=2)
    h.append("assigned", "m1", 0.1, partitions=[["t", 0]])
    h.append("assigned", "m2", 0.2, partitions=[["t", 1]])
    h.append("member_killed", HARNESS, 0.3, member="m1")
    h.append("partitions_added", HARNESS, 0.4, topic="t", count=3)
    h.append("committed", "m2", 0.5, mode="async", ok=False, offsets=[], error="rebalance")
    rows = {r.name: [it.label for it in r.items] for r in build_timeline(h).rows}
    assert rows == {
        "t-0": ["m1 assigned", "m1 killed", "partitions added (now 3)"],
        "t-1": ["m2 assigned", "partitions added (now 3)",
                "m2 commit failed (async): rebalance"],
        "t-2": ["partitions added (now 3)"],
    }


def test_fault_steps_are_labelled_on_the_target_members_rows() -> None:
    h = History()
    h.append("scenario", HARNESS, 0.0, topic="t", partitions=2)
    h.append("assigned", "m1", 0.1, partitions=[["t", 0]])
    h.append("assigned", "m2", 0.2, partitions=[["t", 1]])
    h.append("step", HARNESS, 0.3, name="freeze_member", family="zombie",
             args={"member": "m1"}, label="freeze m1 (SIGSTOP) past its session timeout")
    h.append("member_frozen", HARNESS, 0.3, member="m1")
    h.append("step", HARNESS, 0.4, name="produce", family="core", args={"count": 1},
             label="produce 1 records over 1 keys")
    h.append("member_thawed", HARNESS, 3.0, member="m1")
    rows = {r.name: [it.label for it in r.items] for r in build_timeline(h).rows}
    assert rows == {
        "t-0": ["m1 assigned", "freeze m1 (SIGSTOP) past its session timeout",
                "m1 frozen (SIGSTOP)", "m1 thawed (SIGCONT)"],
        "t-1": ["m2 assigned"],
    }


def test_failing_history_fixture_timeline() -> None:
    history, dup = failing_history()
    timeline = build_timeline(history, {dup})
    assert [r.name for r in timeline.rows if r.failing] == [f"{T}-0"]


def _two_specs() -> RunResult:
    """kafka-python 2.0.2 passes order where 3.0.12 fails it; only 2.0.2 ran S5."""
    gen = "classic range reset=earliest BATCH+revoke"
    order_fail = CheckResult("order", "S9", Verdict.FAIL, violations=[
        Violation("order", "seek-not-honored", "S7", "seek to 3 on t-0 not honored")])
    return RunResult(run_id="r", started_at="", clients=[
        ClientResult("kafka-python", "kafka-python", "2.0.2", gen, spec="kafka-python==2.0.2",
                     checks=[CheckResult("no-loss", "S1", Verdict.PASS),
                             CheckResult("order", "S9", Verdict.PASS)]),
        ClientResult("kafka-python", "kafka-python", "2.0.2", "classic fixed scenarios",
                     spec="kafka-python==2.0.2", protocol="classic", fixed=True,
                     checks=[CheckResult("S5-RECORD-crash-bound", "S5", Verdict.PASS)]),
        ClientResult("kafka-python", "kafka-python", "3.0.12", gen, spec="kafka-python==3.0.12",
                     checks=[CheckResult("no-loss", "S1", Verdict.PASS), order_fail]),
        ClientResult("confluent-kafka", "confluent-kafka", "2.12.0", gen,
                     checks=[CheckResult("no-loss", "S1", Verdict.PASS)]),
    ])


def test_two_specs_of_one_client_are_separate_rows_named_by_spec() -> None:
    html = render_html(_two_specs())
    matrix = _matrix(html)
    assert matrix.count("<th scope=\"row\">kafka-python==2.0.2<") == 1
    assert matrix.count("<th scope=\"row\">kafka-python==3.0.12<") == 1
    assert "<th scope=\"row\">confluent-kafka<" in matrix, "no spec: the adapter name"
    assert re.search(r'<section class="finding f-fail" id="kafka-python-3\.0\.12--classic-'
                     r'range-reset-earliest-batch-revoke--order">.*?kafka-python==3\.0\.12', html,
                     re.S), "the finding names the spec"


def test_version_matrix_one_column_per_spec() -> None:
    from conformance.report.html import version_matrices

    [vm] = version_matrices(_two_specs(), {(2, "order"): "c2-k1"})
    assert vm["client"] == "kafka-python"
    assert vm["specs"] == ["kafka-python==2.0.2", "kafka-python==3.0.12"]
    rows = {(r["label"], r["check"]): r for r in vm["rows"]}
    order = rows["classic range reset=earliest BATCH+revoke", "order"]
    assert [c["verdict"] for c in order["cells"]] == ["pass", "fail"]
    assert order["differs"] and order["cells"][1]["anchor"] == "c2-k1"
    assert not rows["classic range reset=earliest BATCH+revoke", "no-loss"]["differs"]
    s5 = rows["classic fixed scenarios", "S5-RECORD-crash-bound"]
    assert s5["cells"][1] is None and s5["differs"], "not run by 3.0.12"
    assert vm["differing"] == 2

    html = render_html(_two_specs())
    table = html.split('<table class="matrix versions">', 1)[1].split("</table>", 1)[0]
    assert '<th class="mono">kafka-python==2.0.2</th><th class="mono">kafka-python==3.0.12</th>' \
        in table
    assert table.count('class="differs"') == 2
    assert 'href="#kafka-python-3.0.12--classic-range-reset-earliest-batch-revoke--order"' in table
    assert "confluent-kafka" not in table, "one spec of a client: no version matrix"


def test_no_version_matrix_for_one_spec_per_client(tmp_path: Path) -> None:
    assert "matrix versions" not in _page(tmp_path)


# -- issue 13: reproduce box, layout, legend, filter, evidence tables, header ---------------------
FIXED = ["S1-resume-after-empty-group", "S5-BATCH-crash-bound", "S8-killed-member-redelivery"]


def _fixed_entry(spec: str, protocol: str, verdicts: dict[str, Verdict],
                 note: str = "") -> ClientResult:
    return ClientResult(spec, spec, "2.12.0", f"{protocol} fixed scenarios", spec=spec,
                        protocol=protocol, fixed=True,
                        checks=[CheckResult(c, c[:2], verdicts.get(c, Verdict.PASS), examples=1,
                                            note=note) for c in FIXED])


def rich_run(tmp_path: Path) -> RunResult:
    """sample_run plus fixed scenarios: one failing column, one passing, one all-unsupported;
    the failing generated cell has a replay file, worker logs and a partly finished shrink."""
    result = sample_run(tmp_path)
    folder = tmp_path / HISTORY_FILE.rsplit("/", 1)[0]
    (folder / "replay.json").write_text("{}")
    (folder / "m1.stderr").write_text("")
    (folder / "m2.stderr").write_text("WARN: rebalance in progress\n")
    result.clients[0].checks[1].shrink = "partly shrunk (3 of 9 steps removed, 4 replays)"
    result.clients += [
        _fixed_entry("confluent-kafka", "classic", {FIXED[2]: Verdict.FAIL}),
        _fixed_entry("confluent-kafka", "consumer", {}),
        _fixed_entry("kafka-python", "consumer", dict.fromkeys(FIXED, Verdict.UNSUPPORTED),
                     note="no consumer group protocol"),
    ]
    bad = result.clients[2].checks[2]
    bad.history_file = HISTORY_FILE
    bad.violations = [
        Violation(bad.check, "duplicated", "S8", "3, 4 processed twice", [12, 4],
                  {"topic": T, "partition": 0, "offsets": [3, 4], "member": "m2"}),
        Violation(bad.check, "missing", "S8", "9 never processed", [12, 3],
                  {"topic": T, "partition": 0, "offsets": [9]})]
    result.command_line = "kafka-conformance run --client confluent-kafka --seed 1234"
    result.environment = {"python": "3.11.7", "clients": {
        "confluent-kafka[BATCH]": {"runtime": "python 3.11.7", "librdkafka": "2.12.1"},
        "java": {"runtime": "java 17.0.9"}}}
    return result


def _rich_page(tmp_path: Path) -> str:
    return write_html(rich_run(tmp_path), tmp_path / "index.html").read_text(encoding="utf-8")


def _finding(html: str, anchor: str) -> str:
    return html.split(f'id="{anchor}">', 1)[1].split("</section>", 1)[0]


def test_reproduce_box_links_files_and_gives_commands_seed_and_shrink(tmp_path: Path) -> None:
    section = _finding(_rich_page(tmp_path), FAIL_ID)
    box = section.split('<div class="repro">', 1)[1].split("</div>\n</div>", 1)[0]
    folder = HISTORY_FILE.rsplit("/", 1)[0]
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', box)
    assert links == [(HISTORY_FILE, "history"), (f"{folder}/replay.json", "replay"),
                     (f"{folder}/m1.stderr", "log m1 (empty)"),
                     (f"{folder}/m2.stderr", "log m2")]
    # relative to the report's folder: it works wherever the folder is copied
    assert f"kafka-conformance replay {folder}/replay.json" in box and str(tmp_path) not in box
    # narrowed to the failing client (and its protocol, when the entry records it): not the
    # whole run's command line
    assert ("kafka-conformance run --only generated --client &#39;confluent-kafka[BATCH]&#39; "
            "--profile ci --seed 1234") in box
    assert "seed <code>1234</code>" in box
    assert '<span class="partly">partly shrunk (3 of 9 steps removed, 4 replays)</span>' in box


def test_the_failures_box_comes_first_with_cause_link_and_command(tmp_path: Path) -> None:
    html = _page(tmp_path)
    box = html.split('<section id="failures"', 1)[1].split("</section>", 1)[0]
    assert html.index('<section id="failures"') < html.index('<dl class="meta">') \
        < html.index('<section id="matrix">')
    assert "1 failing cell</h2>" in box
    [item] = re.findall(r"<li>.*?</li>", box, re.S)
    assert f'href="#{FAIL_ID}"' in item and "no-duplicates" in item and "2.12.0" in item
    assert "2 record(s) of ktest-topic-0 processed twice" in item
    assert "as run: commit BATCH" in item, "the configuration its failing example ran with"
    assert "kafka-conformance run --only generated" in item and "--seed 1234" in item
    assert f'<section class="finding f-fail" id="{FAIL_ID}">' in html, "the link's target"
    passing = sample_run(tmp_path)
    passing.clients = passing.clients[1:]
    assert '<section id="failures"' not in render_html(passing, tmp_path)


def test_a_fixed_scenario_reproduces_with_its_own_run_command(tmp_path: Path) -> None:
    box = _finding(_rich_page(tmp_path), FIXED_FAIL_ID).split('<div class="repro">', 1)[1]
    assert ("kafka-conformance run --only S8-killed-member-redelivery --client confluent-kafka "
            "--protocol classic --profile ci --seed 1234") in box
    assert "run this fixed scenario again" in box


def test_fixed_scenarios_are_rows_and_all_unsupported_entries_fold(tmp_path: Path) -> None:
    html = _rich_page(tmp_path)
    table = html.split('<table class="matrix fixed">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr class="(\w+)">\s*<th scope="row"><span class="mono">([^<]+)', table)
    assert rows == [("nofail", FIXED[0]), ("nofail", FIXED[1]), ("fails", FIXED[2])]
    head = table.split("</thead>", 1)[0]
    assert re.findall(r'<th><span class="mono">([^<]+)</span>', head) == [
        "confluent-kafka", "confluent-kafka"], "the all-unsupported column is folded"
    assert "classic</span>" in head and "consumer</span>" in head
    folded = re.findall(r'<p class="folded">.*?</p>', html)
    assert len(folded) == 1 and "kafka-python [consumer fixed scenarios]" in folded[0]
    assert "all 3 checks" in folded[0] and "no consumer group protocol" in folded[0]
    unsupported = html.split('<section id="unsupported">', 1)[1].split("</section>", 1)[0]
    assert unsupported.count("<li>") == 2, "one line per reason, not one card per cell"
    assert "no consumer group protocol" in unsupported and "(3: " in unsupported


def test_every_in_page_link_has_a_target(tmp_path: Path) -> None:
    html = _rich_page(tmp_path)
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    targets = set(re.findall(r'href="#([^"]+)"', html))
    assert targets and targets <= ids, targets - ids
    assert len(re.findall(r'\sid="([^"]+)"', html)) == len(ids), "ids are unique"


def test_legend_describes_every_check_and_links_its_section(tmp_path: Path) -> None:
    html = _rich_page(tmp_path)
    legend = html.split('<aside id="legend">', 1)[1].split("</aside>", 1)[0]
    for verdict in Verdict:
        assert f'badge v-{verdict}' in legend
    result = rich_run(tmp_path)
    for check in {c.check for cl in result.clients for c in cl.checks}:
        assert f'<dt><span class="mono">{check}</span>' in legend
    assert "every produced record is processed by some member" in legend
    assert "A member killed without a chance to commit" in legend, "a fixed scenario's title"
    links = re.findall(r'href="([^"]*)"', legend)
    assert links and all(href.startswith("#sec-s") for href in links), "in-page links only"
    for href in set(links):
        assert f'<div id="{href[1:]}"><dt>' in legend, f"{href}: the section's text is here"


def test_failures_only_filter_is_css_only(tmp_path: Path) -> None:
    html = _rich_page(tmp_path)
    assert '<input type="checkbox" id="failures-only">' in html
    assert '<label for="failures-only"' in html
    assert "#failures-only:checked ~ main tr.nofail" in html
    assert "#failures-only:checked ~ main .finding:not(.f-fail)" in html
    assert "<script" not in html.lower()
    generated = _matrix(html)
    assert generated.count('<tr class="fails">') == 1 and generated.count('"nofail"') == 1


def test_evidence_is_a_chain_of_events_each_cited_event_once(tmp_path: Path) -> None:
    section = _finding(_rich_page(tmp_path), FIXED_FAIL_ID)
    assert "{&#34;" not in section and '{"' not in section, "no raw JSON"
    chains = re.findall(r'<ol class="chain">(.*?)</ol>', section, re.S)
    assert len(chains) == 2, "one chain per distinct violation"
    ids = re.findall(rf'id="{FIXED_FAIL_ID}-e(\d+)"', section)
    assert sorted(ids, key=int) == ["3", "4", "12"] and len(set(ids)) == 3, \
        "every cited event has one line with an id, event 12 (cited by both) once"
    assert re.search(r'<span class="at">#12 [^<]*</span> <b>m2</b> processed '
                     r'<span class="tp">p0</span> <span class="off">3\u20139</span>', chains[0])
    last = re.findall(r"<li[^>]*>(.*?)</li>", chains[0])[-1]
    assert "<b>duplicated</b>: 3, 4 processed twice" in last, "the violation is the last line"
    violations = section.split('<table class="small violations">', 1)[1].split("</table>")[0]
    assert f'<td class="mono">{T}-0</td>' in violations and "3\u20134" in violations
    assert f'<a href="#{FIXED_FAIL_ID}-e12">#12</a>' in violations


def test_header_versions_command_line_and_incomplete_banner(tmp_path: Path) -> None:
    result = rich_run(tmp_path)
    html = render_html(result, tmp_path)
    for text in ("Python 3.11.7", "java 17.0.9", "Kafka 4.1.0",
                 "kafka-conformance run --client confluent-kafka --seed 1234",
                 '<td class="mono">2.12.1</td>', "python 3.11.7"):
        assert text in html, text
    assert 'id="incomplete"' not in html
    result.incomplete = True  # an interrupted run (#13 item 7)
    assert 'id="incomplete"' in render_html(result, tmp_path)


def test_the_timeline_is_an_inline_picture(tmp_path: Path) -> None:
    section = _finding(_page(tmp_path), FAIL_ID)
    svg = section.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'class="axis"' in svg
    assert re.findall(r'<g class="lane" data-member="(\w+)"', svg) == ["m1", "m2"]
    assert '<g class="ev">' in svg and "#12" in svg


def test_failures_open_and_hazards_fold_their_evidence(tmp_path: Path) -> None:
    """An expected failure keeps its heading and note, its evidence folded; a hazard is a row
    of its group's section (its cause visible), the group's evidence folded."""
    html = _page(tmp_path)
    fail = _finding(html, FAIL_ID)
    expected = _finding(html, A + "commit-validity")
    hazard = _finding(html, "hz-latest-hazard")
    assert '<details class="body" open>' in fail
    assert '<details class="body">' in expected and "folded: expected, not a failure" in expected
    assert '<details class="body">' in hazard and '<details class="body" open' not in hazard
    assert hazard.index("12 records lost with latest") < hazard.index('<details class="body">')


def test_hazards_are_grouped_by_check_and_anomaly_and_folded(tmp_path: Path) -> None:
    """After the failures box, one folded line per (check, anomalies) across clients, each
    cell linked to its row of the group's one section (not a section per client)."""
    def cell(verdict: Verdict, anomaly: str) -> CheckResult:
        v = Violation(check="zombie-fencing", anomaly=anomaly, section="S8",
                      message=f"m3 read while fenced ({anomaly})", evidence=[], details={})
        return CheckResult("zombie-fencing", "S8", verdict, violations=[v])
    clients = [ClientResult(name, name, "1.0", label=f"{name} classic", protocol="classic",
                            checks=[cell(Verdict.HAZARD, "zombie-read")])
               for name in ("java", "confluent-kafka")]
    clients.append(ClientResult("kafka-python", "kafka-python", "3.0", label="kp", checks=[
        cell(Verdict.HAZARD, "zombie-commit-accepted")]))
    run = RunResult(run_id="r", tool_version="0", started_at="2026-01-01T00:00:00+00:00",
                    clients=clients)
    html = render_html(run)
    hazards = html.split('<section id="hazards"', 1)[1].split("</section>", 1)[0]
    assert "<details>" in hazards and "<details open" not in hazards
    assert "3 hazard cells</b> in 2 group(s)" in hazards
    first, second = hazards.split("<li>")[1:3]
    assert "zombie-read" in first and "&times;2" in first
    assert 'href="#java--java-classic--zombie-fencing"' in first
    assert 'href="#confluent-kafka--confluent-kafka-classic--zombie-fencing"' in first
    assert "zombie-commit-accepted" in second
    assert 'href="#kafka-python--kp--zombie-fencing"' in second
    assert html.index('id="hazards"') < html.index('id="matrix"')
    groups = re.findall(r'<section class="finding f-hazard" id="([^"]+)">', html)
    assert groups == ["hz-zombie-fencing-zombie-read", "hz-zombie-fencing-zombie-commit-accepted"]
    group = _finding(html, groups[0])
    assert re.findall(r'<tr id="([^"]+)">', group) == [
        "java--java-classic--zombie-fencing",
        "confluent-kafka--confluent-kafka-classic--zombie-fencing"]
