"""A failing report looked at in a real browser: headless Chromium at 900 and 1400 px.

No broker: the run result and its history are built by hand (tests/unit/test_report_html.py's
``rich_run``: failing generated and fixed cells, a history file, an all-unsupported entry). A
probe copy of the page (the report itself has no scripts) measures the layout in the browser
and writes it into the DOM, which ``--dump-dom`` returns: the page's scroll width against the
window, and whether the matrices, a failure's evidence table and its timeline picture are
displayed with a size. Screenshots are kept next to the report (``screenshot-<width>.png``).

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
from test_report_html import rich_run

from conformance.cache import cache_root, file_lock
from conformance.report.html import write_html

WIDTHS = (900, 1400)
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
function measure() {
  const d = document.documentElement;
  return {inner: window.innerWidth, scroll: d.scrollWidth, client: d.clientWidth,
          generated: shown("table.matrix.generated"), fixed: shown("table.matrix.fixed"),
          legend: shown("#legend"),
          evidence: shown("#c0-k1 table.events"), violations: shown("#c0-k1 table.violations"),
          timeline: shown("#c0-k1 svg.timeline-svg"), ring: shown("#c0-k1 svg .ev ellipse"),
          fixed_evidence: shown("#c2-k2 table.events"),
          fixed_timeline: shown("#c2-k2 svg.timeline-svg"),
          repro: shown("#c0-k1 .repro"), hazard: shown("#c0-k2")};
}
const out = {page: measure()};
document.getElementById("failures-only").checked = true;
out.filtered = measure();
const pre = document.createElement("pre");
pre.id = "probe";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>
"""


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


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("report")
    page = write_html(rich_run(run_dir), run_dir / "index.html")
    html = page.read_text(encoding="utf-8")
    (run_dir / "probe.html").write_text(html.replace("</body>", PROBE + "</body>"),
                                        encoding="utf-8")
    return page


@pytest.mark.full
@pytest.mark.parametrize("width", WIDTHS)
def test_matrix_evidence_and_timeline_are_visible_without_sideways_scroll(
        chromium: str, report: Path, tmp_path: Path, width: int) -> None:
    proc = _browser(chromium, tmp_path / "profile", width, "--dump-dom",
                    (report.parent / "probe.html").as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"no probe output (rc {proc.returncode}): {proc.stderr[-500:]}"
    result = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    page, filtered = result["page"], result["filtered"]
    assert page["inner"] == width
    assert page["scroll"] <= page["client"], f"the page scrolls sideways at {width} px: {page}"
    for name in ("generated", "fixed", "legend", "violations", "evidence", "timeline", "ring",
                 "fixed_evidence", "fixed_timeline", "repro", "hazard"):
        el = page[name]
        assert el["found"] and el["display"] != "none" and el["visibility"] == "visible", name
        assert el["width"] > 0 and el["height"] > 0, (name, el)
    assert page["timeline"]["width"] > 0.6 * width and page["timeline"]["height"] > 80
    assert filtered["hazard"]["display"] == "none", "failures only hides the hazard"
    assert filtered["evidence"]["height"] > 0 and filtered["fixed_timeline"]["height"] > 0

    shot = report.parent / f"screenshot-{width}.png"
    proc = _browser(chromium, tmp_path / "profile", width, f"--screenshot={shot}",
                    report.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, proc.stderr[-500:]
