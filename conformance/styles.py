"""How a verdict looks in a terminal (rich markup): one table for the run's summary, `compare`
and the release history."""

from __future__ import annotations

from rich.markup import escape

#: verdict -> rich style
VERDICT_STYLE = {"pass": "green", "fail": "bold red", "hazard": "yellow", "unsupported": "dim",
                 "unknown": "magenta", "expected": "cyan"}


def styled(verdict: str, text: str | None = None) -> str:
    """``text`` (the verdict itself by default, escaped) in ``verdict``'s style."""
    shown = escape(verdict if text is None else text)
    style = VERDICT_STYLE.get(str(verdict), "")
    return f"[{style}]{shown}[/]" if style else shown
