"""The timeline of one history as an inline SVG picture (no scripts, no external resources): the
marks of ``timeline_model``, merged, laid out.

The picture (a ``viewBox`` 900 units wide, scaled to the page) shows, left to right in time:

    axis        seconds since the first event; idle stretches are cut out (``//``) and a burst
                of events is spread out (x blends time with the events' order, ``Scale``)
    partitions  one row each: the owner (a band in the member's colour), records produced (grey
                ticks above the line), records processed (bars in the member's colour, labelled
                with their offsets where there is room; processed again: orange, below), commits
                (filled diamonds; failed: red, hollow; a member's commits in a row: a line to
                its last one, labelled with the offsets), the group's committed offsets as the
                broker reports them (hollow diamonds), seeks (arrows) and records never
                processed (red crosses at the moment they were produced, with their offsets)
    members     one lane each, also for a member that never got a partition: its life from start
                to kill (black cross), stop (square) or death; rebalances (assigned up, revoked
                down, lost red), pauses, freezes, network and protocol faults (spans), errors,
                fault steps
    vertical    partition growth (orange), broker faults and the teardown, across every row

Events named in a violation's evidence are circled in red; the first ones carry their index.
Every element has a ``<title>`` (a tooltip) with the event indices and offsets it stands for.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import pairwise

from markupsafe import Markup, escape

from conformance.history import History
from conformance.report.evidence import ranges
from conformance.report.timeline_model import (
    ENDINGS,
    ENDS,
    RECORDS,
    SPANS,
    TP,
    Mark,
    brief,
    build_model,
    merge,
)
from conformance.verdicts import Violation

WIDTH, LEFT, RIGHT = 900.0, 92.0, 892.0
AXIS_H, ROW_H, LANE_H, GAP_H = 32.0, 28.0, 24.0, 18.0
BREAK_W = 14.0
MAX_BREAKS = 12
MAX_LABELS = 16
RANK = 0.6  # how much of a busy stretch's width goes by event moments rather than by time
SPARSE = 12  # rows with at most this many processed bars get every bar's offsets written
COLOURS = ("#0969da", "#1a7f37", "#8250df", "#0e7490", "#bf3989", "#953800", "#4d2d00",
           "#0a3069", "#6e7781", "#116329")
MISSING = ("lost", "missing", "skip")
#: marks so many that those falling on one spot are drawn once
DENSE = {"processed", "again", "produced", "polled", "committed", "group_offset"}


# -- the time scale ------------------------------------------------------------------------------
@dataclass
class Scale:
    """Time -> x. Idle gaps are cut to a narrow break; within a busy stretch, x blends time
    with the rank of the moment among the events' moments (``RANK``), so that a burst of events
    gets room while the order and the spacing of quiet moments still read as time."""

    t0: float
    pieces: list[tuple[float, float, float, float]]  # t_from, t_to, x_from, x_to
    knots: list[tuple[float, float]] = field(default_factory=list)  # (t, x), t ascending

    def x(self, t: float) -> float:
        i = bisect.bisect_right(self.knots, (t, math.inf))
        if i == 0:
            return self.knots[0][1]
        if i == len(self.knots):
            return self.knots[-1][1]
        (ta, xa), (tb, xb) = self.knots[i - 1], self.knots[i]
        return xa if tb <= ta else xa + (t - ta) / (tb - ta) * (xb - xa)

    def breaks(self) -> list[tuple[float, float]]:
        """(x of the break's middle, seconds cut out) between consecutive pieces."""
        return [(a[3] + BREAK_W / 2, b[0] - a[1]) for a, b in pairwise(self.pieces)]


def build_scale(times: list[float], x0: float = LEFT, x1: float = RIGHT) -> Scale:
    """The scale of ``times`` (sorted): gaps longer than a tenth of the whole (and 1 s) are
    cut, at most ``MAX_BREAKS`` of them (the longest)."""
    times = sorted(set(times))
    if not times:
        return Scale(0.0, [(0.0, 1.0, x0, x1)], [(0.0, x0), (1.0, x1)])
    total = times[-1] - times[0]
    gaps = sorted((b - a for a, b in pairwise(times)), reverse=True)
    threshold = max(1.0, 0.1 * total)
    if len(gaps) > MAX_BREAKS:
        threshold = max(threshold, gaps[MAX_BREAKS])
    groups = [[times[0]]]
    for t in times[1:]:
        if t - groups[-1][-1] > threshold:
            groups.append([t])
        else:
            groups[-1].append(t)
    eps = max(0.01 * total, 0.05)
    spans = [max(g[-1] - g[0], eps) for g in groups]
    weights = [RANK * len(g) / len(times) + (1 - RANK) * span / sum(spans)
               for g, span in zip(groups, spans, strict=True)]
    room = (x1 - x0) - BREAK_W * (len(groups) - 1)
    pieces, knots, x = [], [], x0
    for g, w in zip(groups, weights, strict=True):
        width = room * w / sum(weights)
        pad = 0.5 * max(0.0, eps - (g[-1] - g[0]))
        a, b = g[0] - pad, g[-1] + pad
        pieces.append((a, b, x, x + width))
        moments = [a, *g, b] if pad else g
        for rank, t in enumerate(moments):
            frac = RANK * rank / max(1, len(moments) - 1) + (1 - RANK) * (
                (t - a) / (b - a) if b > a else 0.5)
            knots.append((t, x + width * frac))
        x += width + BREAK_W
    ta, tb, xa, _xb = pieces[-1]
    pieces[-1] = (ta, tb, xa, x1)  # no rounding past the right edge
    knots[-1] = (knots[-1][0], min(knots[-1][1], x1))
    return Scale(times[0], pieces, knots)


def ticks(scale: Scale, spacing: float = 60.0) -> list[tuple[float, str]]:
    """Axis ticks (x, "+1.5s") at round seconds, coarse steps first, then finer ones where
    the scale spreads a burst, none closer than ``spacing`` units to another."""
    chosen: list[tuple[float, str]] = []
    for ta, tb, xa, xb in scale.pieces:
        span = max(tb - ta, 1e-6)
        coarse = _nice(span / max(1.0, (xb - xa) / 90.0))
        for step in (coarse, coarse / 2, coarse / 5, coarse / 10):
            t = math.ceil((ta - scale.t0) / step) * step + scale.t0
            while t <= tb + 1e-9:
                x = scale.x(t)
                if all(abs(x - other) >= spacing for other, _label in chosen):
                    chosen.append((x, _seconds(t - scale.t0, step)))
                t += step
    return sorted(chosen)


def _nice(raw: float) -> float:
    exp = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next((m * exp for m in (1, 2, 5, 10) if m * exp >= raw), 10 * exp)


def _seconds(t: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"+{t:.{decimals}f}s"


# -- what the picture holds ----------------------------------------------------------------------
@dataclass
class Picture:
    """The rows, lanes and marks of one history, before drawing."""

    tps: list[TP] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    hidden_rows: int = 0
    hidden_members: int = 0


def collect(history: History, evidence: frozenset[int] | set[int] = frozenset(),
            focus: frozenset[TP] | set[TP] = frozenset(), max_rows: int = 24,
            max_members: int = 16) -> Picture:
    """The marks of ``history``'s model, merged, with the picture's spans; ``evidence``
    events are highlighted, ``focus`` partitions (and the partitions of evidence events) kept
    first when rows are capped."""
    model = build_model(history, evidence)
    end = model.times[-1] if model.times else 0.0
    marks = _spans(model.marks, history, end)
    marks += [Mark("life", born, member=m, t2=_death(marks, m, end))
              for m, born in model.members.items()]
    focused = set(focus) | {m.partition for m in marks if m.highlight and m.partition}
    tps, hidden = _cap(model.partitions, focused, max_rows)
    return Picture(tps, list(model.members)[:max_members], merge(marks), model.times, hidden,
                   max(0, len(model.members) - max_members))


def _spans(marks: list[Mark], history: History, end: float) -> list[Mark]:
    """``marks`` with a pause or fault drawn as a span to its end (an end without its start
    that is evidence: a mark of its own), and a band per owner of a partition, from its
    assignment to its revocation, the end of its member or ``end``."""
    out: list[Mark] = []
    owners: dict[TP, tuple[str, float, int]] = {}
    opened: dict[tuple[str, str], str] = {}  # (member, kind of the end) -> kind of the start

    def band_end(tp: TP, t: float) -> None:
        if tp in owners:
            member, start, index = owners.pop(tp)
            out.append(Mark("owner", start, member, tp, t, events=[index]))

    for m in marks:
        if m.kind in ENDS:
            start = opened.pop((m.member, m.kind), None)
            span = next((s for s in reversed(out) if s.kind == start and s.member == m.member
                         and s.t2 is None), None) if start else None
            if span is not None:
                span.t2, span.events = m.t, [*span.events, *m.events]
                span.highlight = span.highlight or m.highlight
            elif start is None and m.highlight:
                out.append(Mark("other", m.t, m.member, events=list(m.events), highlight=True,
                                label=m.kind, detail=brief(history[m.events[0]].data)))
            continue
        if m.kind in SPANS:
            m = replace(m, events=list(m.events))
            opened[(m.member, SPANS[m.kind][0])] = m.kind
        out.append(m)
        if m.kind == "assigned":
            for tp in m.partitions:
                band_end(tp, m.t)
                owners[tp] = (m.member, m.t, m.events[0])
        elif m.kind in ("revoked", "lost") or m.kind in ENDINGS:
            for tp in m.partitions:
                if owners.get(tp, ("",))[0] == m.member:
                    band_end(tp, m.t)
    for tp in list(owners):
        band_end(tp, end)
    for m in out:
        if m.t2 is None and m.kind in SPANS:
            m.t2 = end
    return out


def _death(marks: list[Mark], member: str, end: float) -> float:
    ends = [m.t for m in marks if m.member == member and m.kind in ENDINGS]
    return min(ends) if ends else end


def _cap(tps: list[TP], focus: set[TP], limit: int) -> tuple[list[TP], int]:
    if len(tps) <= limit:
        return tps, 0
    keep = [tp for tp in tps if tp in focus][:limit]
    keep += [tp for tp in tps if tp not in focus][: limit - len(keep)]
    return sorted(keep), len(tps) - len(keep)


# -- drawing -------------------------------------------------------------------------------------
def render_svg(history: History, evidence: frozenset[int] | set[int] = frozenset(),
               focus: frozenset[TP] | set[TP] = frozenset(),
               missing: dict[TP, list[tuple[int, float]]] | None = None) -> Markup:
    """The picture of ``history`` as an ``<svg>`` element. ``missing``: per partition, the
    (offset, produced-at ts) of records never processed (crossed out in red)."""
    pic = collect(history, evidence, focus)
    return draw(pic, missing or {}, focus)


def missing_records(history: History, violations: Iterable[Violation] = ()
                    ) -> dict[TP, list[tuple[int, float]]]:
    """Per partition, (offset, produced-at ts) of the records never processed, and of the
    offsets a violation reports missing (anomalies ``lost*``, ``missing``, ``skip``)."""
    from conformance.checkers.loss import lost_records

    produced = {(r.topic, r.partition, r.offset): history[r.event].ts
                for r in history.produced()}
    out: dict[TP, dict[int, float]] = defaultdict(dict)
    for r in lost_records(history):
        out[r.tp][r.offset] = history[r.event].ts
    for v in violations:
        d = v.details or {}
        topic, part = d.get("topic"), d.get("partition")
        if not v.anomaly.startswith(MISSING) or not isinstance(topic, str) \
                or not isinstance(part, int):
            continue
        offsets = d.get("offsets", d.get("missing", []))
        for off in offsets if isinstance(offsets, list) else []:
            ts = produced.get((topic, part, off)) if isinstance(off, int) else None
            if ts is not None:
                out[(topic, part)][off] = ts
    return {tp: sorted(offs.items()) for tp, offs in out.items()}


def draw(pic: Picture, missing: dict[TP, list[tuple[int, float]]],
         focus: frozenset[TP] | set[TP] = frozenset()) -> Markup:
    """The ``<svg>`` of ``pic``."""
    scale = build_scale(pic.times)
    colour = {m: COLOURS[i % len(COLOURS)] for i, m in enumerate(pic.members)}
    row_y = {tp: AXIS_H + i * ROW_H for i, tp in enumerate(pic.tps)}
    lanes_top = AXIS_H + len(pic.tps) * ROW_H + GAP_H
    lane_y = {m: lanes_top + i * LANE_H for i, m in enumerate(pic.members)}
    height = lanes_top + len(pic.members) * LANE_H + 8
    topics = sorted({tp[0] for tp in pic.tps})
    prefix = _common_prefix(topics) if len(topics) > 1 else ""
    out: list[str] = [
        f'<svg class="timeline-svg" viewBox="0 0 {WIDTH:.0f} '
        f'{height:.0f}" role="img" font-family="sans-serif" font-size="11">',
        "<title>timeline: one row per partition, one lane per member</title>",
    ]
    out += _axis(scale, height)
    failing = set(focus) | {m.partition for m in pic.marks if m.highlight and m.partition}
    for tp, y in row_y.items():
        # one topic: p0, p1 ...; several: what tells them apart (the end of their names)
        name = f"p{tp[1]}" if len(topics) == 1 else f"{tp[0][len(prefix):]}-{tp[1]}"
        name = name if len(name) <= 14 else "\u2026" + name[-13:]
        cls = "row failing" if tp in failing else "row"
        bold = ' fill="#a40e26" font-weight="bold"' if tp in failing else ""
        out.append(f'<g class="{cls}" data-tp="{escape(f"{tp[0]}-{tp[1]}")}">'
                   f'<rect x="0" y="{y:.1f}" width="{WIDTH:.0f}" height="{ROW_H:.0f}" '
                   f'fill="{"#fff5f4" if tp in failing else "none"}"/>'
                   f'<text x="4" y="{y + 16:.1f}" font-family="monospace"{bold}>'
                   f'<title>{escape(f"{tp[0]}-{tp[1]}")}</title>{escape(name)}</text>'
                   f'<line x1="{LEFT}" x2="{RIGHT}" y1="{y + 13:.1f}" y2="{y + 13:.1f}" '
                   f'stroke="#d0d7de"/></g>')
    if pic.members:
        out.append(f'<text x="4" y="{lanes_top - 5:.1f}" fill="#656d76" font-size="9">'
                   f'members</text>')
    for m, y in lane_y.items():
        out.append(f'<g class="lane" data-member="{escape(m)}"><text x="4" y="{y + 14:.1f}" '
                   f'fill="{colour[m]}" font-weight="bold">{escape(_clip(m, 14))}</text></g>')
    spots = _spots(sorted(pic.marks, key=lambda m: m.kind not in ("owner", "life")))
    bars = Counter(m.partition for m, _text, _title in spots if m.kind == "processed")
    labels = [0]
    drawn: set[tuple[str, TP | None, str, int, int]] = set()
    written: set[tuple[TP | None, str, str]] = set()  # spots with a bar's offsets beside it
    for mark, text, title in spots:
        if mark.kind in DENSE and not mark.highlight:  # one of a kind per 2 units is enough
            x2 = mark.t if mark.t2 is None else mark.t2
            key = (mark.kind, mark.partition, mark.member, int(scale.x(mark.t) / 2),
                   int(scale.x(x2) / 2))
            if key in drawn:
                continue
            drawn.add(key)
        spot = (mark.partition, mark.member, f"{scale.x(mark.t):.1f}")
        labelled = mark.kind == "processed" and bars[mark.partition] <= SPARSE \
            and spot not in written  # bars of one read starting together: written once
        if labelled:
            written.add(spot)
        out += _mark(mark, text, title, scale, row_y, lane_y, colour, height, labels,
                     labelled)
    for tp, records in missing.items():
        if tp in row_y:
            out += _missing(records, scale, row_y[tp], tp)
    if pic.hidden_rows or pic.hidden_members:
        out.append(f'<text x="{RIGHT}" y="{height - 1:.0f}" text-anchor="end" fill="#656d76" '
                   f'font-size="9">{pic.hidden_rows} more partition(s), {pic.hidden_members} '
                   f'more member(s) not drawn</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _axis(scale: Scale, height: float) -> list[str]:
    out = [f'<g class="axis"><line x1="{LEFT}" x2="{RIGHT}" y1="22" y2="22" stroke="#656d76"/>']
    for x, label in ticks(scale):
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="18" y2="{height - 6:.0f}" '
                   f'stroke="#eaeef2"/><text x="{x:.1f}" y="14" text-anchor="middle" '
                   f'fill="#656d76" font-size="10">{label}</text>')
    for x, cut in scale.breaks():
        out.append(f'<rect x="{x - BREAK_W / 2 + 2:.1f}" y="18" width="{BREAK_W - 4:.1f}" '
                   f'height="{height - 24:.0f}" fill="#f6f8fa"/><text x="{x:.1f}" y="27" '
                   f'text-anchor="middle" fill="#656d76" font-size="8">//<title>{cut:.1f} s '
                   f'without events cut out</title></text>')
    out.append("</g>")
    return out


def _spots(marks: list[Mark]) -> list[tuple[Mark, str, str]]:
    """Each mark with its text and title; the runs of records of one event that stay apart on
    one spot (offsets with gaps, not merged) as one, with their offsets listed."""
    spots: list[list[Mark]] = []
    for m in marks:
        prev = spots[-1][0] if spots else None
        if prev is not None and m.kind in RECORDS and m.t2 is None and prev.t2 is None and (
                m.kind, m.partition, m.member, m.events) == (
                prev.kind, prev.partition, prev.member, prev.events):
            spots[-1].append(m)
        else:
            spots.append([m])
    out = []
    for runs in spots:
        text = ", ".join(r.text for r in runs)
        out.append((runs[0], text, f"{runs[0].what} {text}" if len(runs) > 1 else runs[0].title))
    return out


def _mark(m: Mark, text: str, title: str, scale: Scale, row_y: dict[TP, float],
          lane_y: dict[str, float], colour: dict[str, str], height: float, labels: list[int],
          labelled: bool) -> list[str]:
    """The shapes of ``m``, saying ``text`` and ``title`` (``labelled``: a short bar that still
    gets its offsets written)."""
    x = scale.x(m.t)
    x2 = scale.x(m.t2) if m.t2 is not None else x
    where = f" (event {_idx(m.events)})" if m.events else ""
    title = f"<title>{escape(title or m.kind)}{where}</title>"
    c = colour.get(m.member, "#57606a")
    out: list[str] = []
    if m.partition is not None:
        if m.partition not in row_y:
            return []
        y = row_y[m.partition] + 13
        out.append(_row_shape(m, text, x, x2, y, c, title, labelled))
    elif m.member:
        if m.member not in lane_y:
            return []
        y = lane_y[m.member] + 11
        out.append(_lane_shape(m, text, x, x2, y, c, title))
    else:
        y = 22
        stroke = "#fb8f44" if m.kind == "partitions_added" else "#8c959f"
        out.append(f'<g class="mark {m.kind}"><line x1="{x:.1f}" x2="{x:.1f}" y1="18" '
                   f'y2="{height - 6:.0f}" stroke="{stroke}" stroke-width="1.5" '
                   f'stroke-dasharray="4 3"/><text x="{x + 2:.1f}" y="{AXIS_H - 1:.0f}" '
                   f'fill="{stroke}" font-size="8.5">{escape(_clip(text, 22))}</text>{title}'
                   f'</g>')
    if m.highlight:
        out.append(_ring(m, x, x2, y, labels))
    return out


def _row_shape(m: Mark, text: str, x: float, x2: float, y: float, c: str, title: str,
               labelled: bool) -> str:
    k = m.kind
    if k == "owner":
        return (f'<rect class="mark owner" x="{x:.1f}" y="{y - 11:.1f}" '
                f'width="{max(x2 - x, 1):.1f}" height="22" fill="{c}" fill-opacity="0.09">'
                f'{title}</rect>')
    if k == "produced":
        return (f'<rect class="mark produced" x="{x - 1:.1f}" y="{y - 10:.1f}" '
                f'width="{max(x2 - x, 0) + 2:.1f}" height="5" fill="#8c959f">{title}</rect>')
    if k in ("processed", "again", "polled"):
        fill = {"processed": c, "again": "#fb8f44", "polled": "#54aeff"}[k]
        top = y + 1 if k == "again" else y - 4
        width = max(x2 - x, 0) + 3
        label = ""
        if width > 6 * len(text) + 4:
            label = (f'<text x="{x + 2:.1f}" y="{top + 6:.1f}" font-size="7" fill="#fff">'
                     f'{escape(text)}</text>')
        elif labelled:
            label = (f'<text x="{x - 1:.1f}" y="{top - 2:.1f}" font-size="7.5" fill="{c}">'
                     f'{escape(_clip(text, 18))}</text>')
        elif k == "again":
            label = (f'<text x="{x:.1f}" y="{y + 12:.1f}" font-size="8" fill="#bc4c00">'
                     f'{escape(_clip(text, 18))}</text>')
        return (f'<g class="mark {k}"><rect x="{x - 1.5:.1f}" y="{top:.1f}" width="{width:.1f}" '
                f'height="{7 if k == "again" else 8}" fill="{fill}" rx="1">{title}</rect>'
                f'{label}</g>')
    if k == "committed" and x2 > x:  # a run of commits: a line to its last one
        return (f'<g class="mark committed"><line x1="{x:.1f}" x2="{x2:.1f}" y1="{y:.1f}" '
                f'y2="{y:.1f}" stroke="#8250df" stroke-width="1.5"/><path d="M{x2:.1f} '
                f'{y - 5:.1f} l4 5 l-4 5 l-4 -5 z" fill="#8250df"/><text x="{x2 + 5:.1f}" '
                f'y="{y - 2:.1f}" font-size="7.5" fill="#8250df">{escape(text)}</text>'
                f'{title}</g>')
    if k in ("committed", "commit_failed", "commit_requested", "group_offset"):
        filled = k == "committed"
        stroke = {"commit_failed": "#cf222e", "group_offset": "#24292f"}.get(k, "#8250df")
        dy = -9 if k == "group_offset" else 0
        return (f'<g class="mark {k}"><path d="M{x:.1f} {y + dy - 5:.1f} l4 5 l-4 5 l-4 -5 z" '
                f'fill="{"#8250df" if filled else "#fff"}" stroke="{stroke}" stroke-width="1.3"/>'
                f'<text x="{x + 5:.1f}" y="{y + dy - 2:.1f}" font-size="7.5" fill="{stroke}">'
                f'{escape(text)}</text>{title}</g>')
    if k == "seeked":
        return (f'<g class="mark seeked"><path d="M{x - 6:.1f} {y - 7:.1f} h6 v4" fill="none" '
                f'stroke="#24292f"/><text x="{x + 1:.1f}" y="{y - 5:.1f}" font-size="7.5">'
                f'seek {escape(text)}</text>{title}</g>')
    return f'<circle class="mark {escape(k)}" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#57606a">' \
           f'{title}</circle>'


def _lane_shape(m: Mark, text: str, x: float, x2: float, y: float, c: str, title: str
                ) -> str:
    k = m.kind
    if k == "life":
        return (f'<line class="mark life" x1="{x:.1f}" x2="{max(x2, x + 1):.1f}" y1="{y:.1f}" '
                f'y2="{y:.1f}" stroke="{c}" stroke-width="2" stroke-opacity="0.5"/>')
    if k in SPANS:
        fill = {"paused": "#afb8c1", "member_frozen": "#0550ae", "network_fault": "#bc4c00",
                "protocol_fault": "#1b7c83"}[k]
        return (f'<g class="mark {k}"><rect x="{x:.1f}" y="{y - 6:.1f}" '
                f'width="{max(x2 - x, 2):.1f}" height="12" fill="{fill}" fill-opacity="0.35" '
                f'stroke="{fill}"/><text x="{x + 2:.1f}" y="{y + 3:.1f}" font-size="8">'
                f'{escape(text)}</text>{title}</g>')
    if k in ("assigned", "revoked", "lost"):
        path = f"M{x - 4:.1f} {y + 4:.1f} h8 l-4 -8 z" if k == "assigned" else \
            f"M{x - 4:.1f} {y - 4:.1f} h8 l-4 8 z"
        fill = {"assigned": "#2da44e", "revoked": "#d4a72c", "lost": "#cf222e"}[k]
        return f'<path class="mark {k}" d="{path}" fill="{fill}">{title}</path>'
    if k in ("member_killed", "member_died"):
        colour = "#24292f" if k == "member_killed" else "#cf222e"
        return (f'<g class="mark {k}"><path d="M{x - 5:.1f} {y - 5:.1f} l10 10 m0 -10 l-10 10" '
                f'stroke="{colour}" stroke-width="2.5"/><text x="{x + 7:.1f}" y="{y + 3:.1f}" '
                f'font-size="9" font-weight="bold" fill="{colour}">{escape(text)}</text>'
                f'{title}</g>')
    if k in ("member_stopped", "closed"):
        return (f'<g class="mark {k}"><rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" '
                f'height="8" fill="#57606a"/><text x="{x + 6:.1f}" y="{y + 3:.1f}" '
                f'font-size="8" fill="#57606a">{escape(text)}</text>{title}</g>')
    if k == "committed" and x2 > x:  # a run of commits
        return (f'<line class="mark committed" x1="{x:.1f}" x2="{x2:.1f}" y1="{y:.1f}" '
                f'y2="{y:.1f}" stroke="#8250df" stroke-width="3">{title}</line>')
    if k in ("committed", "commit_failed"):
        ok = k == "committed"
        return (f'<path class="mark {k}" d="M{x:.1f} {y - 4:.1f} l3 4 l-3 4 l-3 -4 z" '
                f'fill="{"#8250df" if ok else "#fff"}" stroke="{"#8250df" if ok else "#cf222e"}"'
                f'>{title}</path>')
    if k == "error":
        return (f'<g class="mark error"><circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#cf222e"/>'
                f'<text x="{x:.1f}" y="{y + 3.5:.1f}" text-anchor="middle" fill="#fff" '
                f'font-size="9" font-weight="bold">!</text>{title}</g>')
    return (f'<g class="mark {escape(k)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>'
            f'<text x="{x + 5:.1f}" y="{y - 3:.1f}" font-size="8" fill="#57606a">'
            f'{escape(_clip(text, 40))}</text>{title}</g>')


def _ring(m: Mark, x: float, x2: float, y: float, labels: list[int]) -> str:
    cx = (x + x2) / 2
    r = max(7.0, (x2 - x) / 2 + 4)
    label = ""
    if labels[0] < MAX_LABELS:
        labels[0] += 1
        label = (f'<text x="{cx + r + 1:.1f}" y="{y - 5:.1f}" font-size="8.5" font-weight="bold" '
                 f'fill="#cf222e">#{m.events[0]}</text>')
    return (f'<g class="ev"><ellipse cx="{cx:.1f}" cy="{y:.1f}" rx="{r:.1f}" ry="8" fill="none" '
            f'stroke="#cf222e" stroke-width="2"/>{label}</g>')


def _missing(records: list[tuple[int, float]], scale: Scale, top: float, tp: TP) -> list[str]:
    """Red crosses where records never processed were produced, one per produce moment."""
    by_time: dict[float, list[int]] = defaultdict(list)
    for offset, ts in records:
        by_time[round(scale.x(ts), 1)].append(offset)
    out = []
    for x, offsets in sorted(by_time.items()):
        text = ranges(sorted(offsets))
        y = top + 19
        out.append(f'<g class="mark missing"><path d="M{x - 3:.1f} {y - 3:.1f} l6 6 m0 -6 l-6 6" '
                   f'stroke="#cf222e" stroke-width="2"/><text x="{x + 4:.1f}" y="{y + 4:.1f}" '
                   f'font-size="8" font-weight="bold" fill="#cf222e">{escape(_clip(text, 24))}'
                   f'</text><title>never processed: {escape(f"{tp[0]}-{tp[1]}")} offsets '
                   f'{escape(text)}</title></g>')
    return out


def _common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)
    n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b),
             min(len(first), len(last)))
    return first[:n]


def _idx(events: list[int]) -> str:
    if len(events) == 1:
        return f"#{events[0]}"
    return f"#{min(events)}\u2013#{max(events)}, {len(events)} events"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"
