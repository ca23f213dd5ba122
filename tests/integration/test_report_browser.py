"""A failing report looked at in a real browser: headless Chromium from a phone's 390 px to
1400 px.

No broker: the run results and their histories are built by hand: tests/unit/test_report_html.py's
``rich_run`` (failing generated and fixed cells, a history file, an all-unsupported entry) and
tests/unit/test_report_page.py's ``readme_run`` (shaped like the README's run: 13 generated
checks and 20 fixed scenarios per entry, a failure on a busy history, hazards, unsupported
entries). A probe copy of the page (the report itself has no scripts) measures the layout in
the browser and writes it into the DOM, which ``--dump-dom`` returns: the page's scroll width
against the window, the matrices' scroll boxes, whether a failure's chain, violations and
timeline picture are displayed with a size, the first section, where the failure links lead,
every in-page link's target, and the visible text smaller than 10 px (an SVG text's size is
its computed font size times the picture's scale: the size it is drawn at). Screenshots are
kept next to the report (``screenshot-<width>.png``).

Chromium is Debian's ``chromium`` package; when it is missing and the tests run as root with
apt-get, the fixture installs it, otherwise the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_report_html import FAIL_ID, FIXED_FAIL_ID, rich_run
from test_report_page import readme_run

from conformance.cache import cache_root, file_lock
from conformance.report.html import write_html

WIDTHS = (900, 1400)
#: the narrowest window headless Chromium opens; narrower pages are probed in a frame
MIN_WINDOW = 500
INSTALL_TIMEOUT = 900
BROWSER_TIMEOUT = 120
PROBE = """
<script>
function shown(sel) {
  const el = document.querySelector(sel);
  if (!el) return {found: false};
  const r = el.getBoundingClientRect(), st = getComputedStyle(el);
  return {found: true, width: Math.round(r.width), height: Math.round(r.height),
          display: st.display, visibility: st.visibility};
}
function target(a) {
  const el = a && document.getElementById(decodeURIComponent(a.hash.slice(1)));
  return el ? {id: el.id, fail: el.matches("section.finding.f-fail")} : null;
}
function smallText() {
  const out = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest("title, #probe")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (![...range.getClientRects()].some(r => r.width > 0 && r.height > 0)) continue;
    const st = getComputedStyle(el);
    if (st.visibility !== "visible") continue;
    let size = parseFloat(st.fontSize);
    if (el.closest("svg")) { const m = el.getScreenCTM(); size *= Math.hypot(m.a, m.b); }
    if (size < 10) out.push([node.textContent.trim().slice(0, 30), Math.round(size * 10) / 10]);
  }
  return out;
}
function measure() {
  const d = document.documentElement, s = document.scrollingElement;
  const boxes = [...document.querySelectorAll("#matrix .matrix-box")].map(
      b => ({scroll: b.scrollWidth, client: b.clientWidth}));
  const dead = [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute("href"))
      .filter(h => !document.getElementById(decodeURIComponent(h.slice(1))));
  return {inner: window.innerWidth, scroll: d.scrollWidth, client: d.clientWidth,
          scrolling: s.scrollWidth, boxes: boxes, dead: dead,
          first_section: (document.querySelector("section") || {}).id,
          failure_link: target(document.querySelector("#failures li a")),
          matrix_link: target(document.querySelector("table.matrix td.v-fail a")),
          small: smallText(),
          generated: shown("table.matrix.generated"), fixed: shown("table.matrix.fixed"),
          legend: shown("#legend"),
          chain: shown("#FAIL ol.chain"), violations: shown("#FAIL table.violations"),
          timeline: shown("#FAIL svg.timeline-svg"), ring: shown("#FAIL svg .ev ellipse"),
          fixed_chain: shown("#FIXED ol.chain"),
          fixed_timeline: shown("#FIXED svg.timeline-svg"),
          repro: shown("#FAIL .repro"), hazard: shown("section.finding.f-hazard")};
}
const out = {page: measure()};
document.getElementById("failures-only").checked = true;
out.filtered = measure();
const pre = document.createElement("pre");
pre.id = "probe";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
if (window.parent !== window) window.parent.postMessage(pre.textContent, "*");
</script>
""".replace("#FAIL", f"#{FAIL_ID}").replace("#FIXED", f"#{FIXED_FAIL_ID}")


def _find() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def chromium() -> str:
    """The chromium binary, installed with apt-get when missing and allowed."""
    found = _find()
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and "
                    "apt-get: apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    # one install at a time across pytest-xdist workers (dpkg holds a lock of its own)
    with file_lock(cache_root() / "locks" / "chromium-install.lock"):
        found = _find()
        if found:
            return found
        try:
            proc = subprocess.run(install, capture_output=True, text=True, env=env,
                                  timeout=INSTALL_TIMEOUT)
            if proc.returncode != 0:  # an empty package list: update once, then try again
                subprocess.run(["apt-get", "update"], capture_output=True, env=env,
                               timeout=INSTALL_TIMEOUT)
                proc = subprocess.run(install, capture_output=True, text=True, env=env,
                                      timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.skip(f"apt-get install chromium took over {INSTALL_TIMEOUT} s")
    found = _find()
    if not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"chromium could not be installed with apt-get: {tail[0]}")
    return found


def _browser(chromium: str, profile: Path, width: int, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={profile}", f"--window-size={width},1200", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # chromium refuses to run as root with its sandbox
    return subprocess.run(cmd, capture_output=True, text=True, timeout=BROWSER_TIMEOUT)


def _with_probe(page: Path) -> Path:
    html = page.read_text(encoding="utf-8")
    probe = page.with_name("probe.html")
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("report")
    return _with_probe(write_html(rich_run(run_dir), run_dir / "index.html"))


@pytest.fixture(scope="module")
def readme_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("readme-report")
    return _with_probe(write_html(readme_run(run_dir), run_dir / "index.html"))


def _frame(page: Path, width: int) -> Path:
    """A page showing ``page`` in a ``width`` px wide frame, for widths below the narrowest
    window headless Chromium opens (``MIN_WINDOW``): the frame is the page's viewport (its
    media queries see ``width``); the probe in it posts its result to this page's ``probe``."""
    frame = page.with_name(f"frame-{width}-{page.name}")
    frame.write_text(
        '<!doctype html><html><body style="margin:0"><pre id="probe"></pre><script>'
        'addEventListener("message", e => {document.getElementById("probe").textContent = '
        f'e.data;}});</script><iframe src="{page.name}" style="width:{width}px;height:1200px;'
        'border:0;display:block"></iframe></body></html>', encoding="utf-8")
    return frame


def _probe(chromium: str, report: Path, profile: Path, width: int) -> dict:
    page = report.parent / "probe.html"
    if width < MIN_WINDOW:
        page = _frame(page, width)
    proc = _browser(chromium, profile, max(width, MIN_WINDOW), "--virtual-time-budget=10000",
                    "--dump-dom", page.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"no probe output (rc {proc.returncode}): {proc.stderr[-500:]}"
    text = match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(text.replace("&amp;", "&"))


def _screenshot(chromium: str, report: Path, profile: Path, width: int) -> None:
    shot = report.parent / f"screenshot-{width}.png"
    page = _frame(report, width) if width < MIN_WINDOW else report
    proc = _browser(chromium, profile, max(width, MIN_WINDOW), f"--screenshot={shot}",
                    page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, proc.stderr[-500:]


@pytest.mark.full
@pytest.mark.parametrize("width", WIDTHS)
def test_matrix_evidence_and_timeline_are_visible_without_sideways_scroll(
        chromium: str, report: Path, tmp_path: Path, width: int) -> None:
    result = _probe(chromium, report, tmp_path / "profile", width)
    page, filtered = result["page"], result["filtered"]
    assert page["inner"] == width
    assert page["scroll"] <= page["client"], f"the page scrolls sideways at {width} px: {page}"
    for name in ("generated", "fixed", "legend", "violations", "chain", "timeline", "ring",
                 "fixed_chain", "fixed_timeline", "repro", "hazard"):
        el = page[name]
        assert el["found"] and el["display"] != "none" and el["visibility"] == "visible", name
        assert el["width"] > 0 and el["height"] > 0, (name, el)
    assert page["timeline"]["width"] > 0.6 * width and page["timeline"]["height"] > 80
    assert filtered["hazard"]["display"] == "none", "failures only hides the hazards"
    assert filtered["chain"]["height"] > 0 and filtered["fixed_timeline"]["height"] > 0
    assert not page["dead"], page["dead"]
    _screenshot(chromium, report, tmp_path / "profile", width)


@pytest.mark.full
@pytest.mark.parametrize("width", (1280, 390))
def test_the_readme_run_report_on_a_laptop_and_a_phone(
        chromium: str, readme_report: Path, tmp_path: Path, width: int) -> None:
    """The failures box first, the failing cell's section one click away (from the box and
    from the matrix), no dead in-page link; at 1280 px the matrices need no sideways scroll;
    at 390 px no visible text under 10 px, and still no sideways scroll of the page (the
    matrices and the picture scroll in their own boxes)."""
    page = _probe(chromium, readme_report, tmp_path / "profile", width)["page"]
    assert page["inner"] == width
    assert page["first_section"] == "failures", "the failures box is the first section"
    assert page["failure_link"] and page["failure_link"]["fail"], page["failure_link"]
    assert page["matrix_link"] == page["failure_link"], "the matrix cell leads there too"
    assert not page["dead"], f"in-page links without a target: {page['dead']}"
    assert page["scroll"] <= page["client"], f"the page scrolls sideways at {width} px: {page}"
    if width >= 1280:
        assert page["scrolling"] <= width
        assert len(page["boxes"]) == 2, page["boxes"]
        for box in page["boxes"]:
            assert box["scroll"] <= box["client"], f"a matrix scrolls sideways: {page['boxes']}"
    else:
        assert not page["small"], f"visible text under 10 px at {width} px: {page['small'][:10]}"
    _screenshot(chromium, readme_report, tmp_path / "profile", width)
