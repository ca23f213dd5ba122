"""What a run prints on the terminal beside its progress: the console, each verdict's style,
the client x check tables and the exit code's meaning."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from conformance.checkers import CHECKS
from conformance.protocols import EARLY_ACCESS
from conformance.styles import styled
from conformance.verdicts import CheckResult, RunResult, Verdict

console = Console(stderr=True)

#: The rich style of each verdict.
def print_summary(result: RunResult) -> None:
    """The client x check tables: generated invariants, then the fixed scenarios (transposed:
    one row per check, one column per client and protocol)."""
    out = Console(width=max(Console().width, 140))
    generated = [cl for cl in result.clients if not cl.fixed]
    fixed = [cl for cl in result.clients if cl.fixed]

    def cell(c: CheckResult | None) -> str:
        return "-" if c is None else styled(str(c.verdict))

    if generated:
        table = Table(title=f"generated scenarios (run {result.run_id})")
        table.add_column("client")
        table.add_column("configuration")
        for check, (section, _fn) in CHECKS.items():
            table.add_column(f"{check}\n{section}")
        for cl in generated:
            by = {c.check: c for c in cl.checks}
            table.add_row(escape(cl.spec or cl.name), escape(cl.label),
                          *[cell(by.get(check)) for check in CHECKS])
        out.print(table)
    if fixed:
        table = Table(title="fixed scenarios per docs/semantics.md section")
        table.add_column("check")
        for cl in fixed:
            early = f" {EARLY_ACCESS}" if cl.early_access else ""
            table.add_column(escape(f"{cl.spec or cl.name}\n{cl.protocol}{early}"))
        ids = list(dict.fromkeys(c.check for cl in fixed for c in cl.checks))
        for check in ids:
            table.add_row(check, *[cell(next((c for c in cl.checks if c.check == check), None))
                                   for cl in fixed])
        out.print(table)
    print_reference(result, out)
    code = result.exit_code
    verdicts = [c.verdict for cl in result.clients for c in cl.checks]
    judged = sum(v not in (Verdict.UNSUPPORTED, Verdict.UNKNOWN) for v in verdicts)
    meaning = {0: "every check passed", 1: "a check failed",
               3: "infrastructure error or undecided check",
               130: "interrupted: the reports hold the configurations that finished"}[code]
    if code != 130 and verdicts and all(v == Verdict.UNSUPPORTED for v in verdicts):
        meaning = "nothing was judged: every cell is unsupported"
    console.print(f"exit code {code}: {meaning} ({judged} of {len(verdicts)} cells judged, "
                  f"{sum(v == Verdict.UNSUPPORTED for v in verdicts)} unsupported)")
    for err in result.errors:
        console.print(f"[red]error:[/red] {err}")


def print_reference(result: RunResult, out: Console) -> None:
    """The cells where a client differs from the Java reference client, and a count per
    client of the cells that agree and of those either side did not decide."""
    from conformance.report.reference import against_reference, reference_spec

    against = against_reference(result)
    if not against:
        return
    table = Table(title=f"against the reference client {reference_spec(result)}")
    for column in ("client", "configuration", "check", "reference", "client's", "moved"):
        table.add_column(column)
    for a in against:
        for d in a.differences:
            moved = ", ".join(f"{k} {v['old']}->{v['new']}" for k, v in d.figures.items())
            table.add_row(escape(a.spec), escape(d.label), d.check, d.old or "-", d.new or "-",
                          escape(moved))
    if table.row_count:
        out.print(table)
    for a in against:
        out.print(escape(f"{a.spec} against {reference_spec(result)}: {len(a.differences)} "
                         f"differ, {a.same} agree, {a.undecided} not compared "
                         f"(unsupported, unknown or not run on one side)"))

