"""Reports of a run: ``results.json``, ``junit.xml`` and ``index.html`` in ``reports/<run-id>/``.

``write_reports`` applies the baseline (known deviations become ``expected``) and writes all
three files from the same ``RunResult``, so they always agree on every verdict and exit code.
Paths in them (histories, replay files, logs) are relative to that folder, so a copy of it (a
CI artifact unpacked anywhere) replays from where it is.
"""

from __future__ import annotations

from pathlib import Path

from conformance.report.baseline import Baseline, BaselineError, Deviation
from conformance.report.html import HTML_FILE, build_timeline, render_html, write_html
from conformance.report.json_report import (
    RESULTS_FILE,
    ResultsError,
    load_results,
    run_result_from_json,
    write_results,
)
from conformance.report.junit import JUNIT_FILE, build_junit, write_junit
from conformance.report.reference import reference_json
from conformance.report.since import since_file
from conformance.verdicts import RunResult

__all__ = [
    "HTML_FILE", "JUNIT_FILE", "RESULTS_FILE", "Baseline", "BaselineError", "Deviation",
    "ResultsError", "build_junit", "build_timeline", "load_results", "render_html",
    "run_result_from_json", "write_html", "write_junit", "write_reports", "write_results",
]


def write_reports(result: RunResult, run_dir: str | Path, baseline: Baseline | None = None,
                  previous: str | Path | None = None) -> dict[str, Path]:
    """Write every report of ``result`` into ``run_dir``; returns ``{"json"|"junit"|"html": path}``.

    History files named by the results are resolved against ``run_dir``. With a ``baseline``,
    the reports show the baselined result (see ``Baseline.apply``); ``result`` is not changed.
    With ``previous`` (a results.json), the HTML header says what changed since that run.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if baseline is not None:
        result = baseline.apply(result)
    reference = reference_json(result)
    return {
        "json": write_results(result, run_dir / RESULTS_FILE,
                              {"reference": reference} if reference else None),
        "junit": write_junit(result, run_dir / JUNIT_FILE, run_dir),
        "html": write_html(result, run_dir / HTML_FILE, run_dir,
                           since_file(previous, result) if previous is not None else None),
    }
