"""Trend charts as inline SVG, drawn on the server: no script, no outside host.

An entity's chart steps through its level at each run; a scorecard's or a team's
stacks the entities at each level per run. Both mark the runs where the
scorecard's definition changed (a dashed line, "rules changed"), so a drop there
is read as a stricter rule, and an entity's chart marks each drop with its cause.
Every mark carries a ``<title>``, which browsers show on hover and screen readers read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from portal.db.scorecard_history import NO_LEVEL
from portal.db.scorecard_trends import Point, Trend

__all__ = ["CAUSE_COLORS", "entity_chart", "group_chart"]

WIDTH = 640
LEFT = 96  # room for level names
RIGHT = 16
TOP = 16
BOTTOM = 36  # room for the dates
ROW = 28
PAD = 12  # between the axis and the first and last run
NO_LEVEL_COLOR = "#9e9e9e"
CAUSE_COLORS = {"regressed": "#c62828", "rule-changed": "#ef6c00", "exemption-ended": "#6a1b9a"}
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-zA-Z]+)$")


def _color(value: str | None) -> str:
    return value if value and _COLOR.match(value) else NO_LEVEL_COLOR


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT - 2 * PAD
    return LEFT + PAD + (span / 2 if count == 1 else span * index / (count - 1))


def _when(point: Point) -> str:
    return point.run.at.strftime("%Y-%m-%d %H:%M")


def _svg(height: int, label: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="portal-trend" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="11"><title>{escape(label)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _frame(points: Sequence[Point], plot_bottom: float) -> list[str]:
    """Dates under the plot and a dashed line at each run whose scorecard version changed."""
    out: list[str] = []
    count = len(points)
    first, last = points[0], points[-1]
    out.append(f'<text x="{LEFT}" y="{plot_bottom + 24}" fill="#555">{escape(_when(first))}</text>')
    if count > 1:
        out.append(
            f'<text x="{WIDTH - RIGHT}" y="{plot_bottom + 24}" text-anchor="end" fill="#555">'
            f"{escape(_when(last))}</text>"
        )
    for index, point in enumerate(points):
        if not point.version_changed:
            continue
        x = _x(index, count)
        out.append(
            f'<g class="portal-trend-version"><title>{escape(_when(point))}: the scorecard '
            f"changed (version {escape(point.run.version)}); changes here may come from "
            f'its rules</title><line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" '
            f'y2="{plot_bottom}" stroke="#ef6c00" stroke-dasharray="4 3"/>'
            f'<text x="{x + 3:.1f}" y="{TOP + 6}" fill="#ef6c00">rules changed</text></g>'
        )
    return out


def entity_chart(trend: Trend, colors: Mapping[str, str], title: str) -> Markup:
    """The entity's level at each run: a step line, drops marked with their cause."""
    points = trend.points
    names = [NO_LEVEL, *trend.levels]
    height = TOP + ROW * len(names) + BOTTOM
    plot_bottom = TOP + ROW * len(names)

    def y(level_index: int) -> float:
        return TOP + ROW * (len(names) - 1 - (level_index + 1)) + ROW / 2

    body: list[str] = []
    for index, name in enumerate(names):
        row_y = y(index - 1)
        label = name or "no level"
        body.append(
            f'<line x1="{LEFT}" y1="{row_y:.1f}" x2="{WIDTH - RIGHT}" y2="{row_y:.1f}" '
            f'stroke="#e0e0e0"/><text x="{LEFT - 8}" y="{row_y + 4:.1f}" text-anchor="end" '
            f'fill="{_color(colors.get(name))}">{escape(label)}</text>'
        )
    if not points:
        return _svg(height, f"{title}: no history yet", body)
    count = len(points)
    segment: list[str] = []
    for index, point in enumerate(points):
        if point.state is None:
            if len(segment) > 1:
                body.append(_polyline(segment))
            segment = []
            continue
        x, py = _x(index, count), y(point.state.level_index)
        if segment:
            segment.append(f"{x:.1f},{float(segment[-1].split(',')[1]):.1f}")
        segment.append(f"{x:.1f},{py:.1f}")
    if len(segment) > 1:
        body.append(_polyline(segment))
    for index, point in enumerate(points):
        state = point.state
        if state is None:
            continue
        x, py = _x(index, count), y(state.level_index)
        level = state.level or "no level"
        tip = f"{_when(point)}: {level}, score {state.score:g}"
        if point.change is not None and point.change.kind not in ("new", "changed"):
            tip += f" — {point.change.describe()}"
        body.append(
            f'<circle cx="{x:.1f}" cy="{py:.1f}" r="4" '
            f'fill="{_color(colors.get(state.level or ""))}" stroke="#333">'
            f"<title>{escape(tip)}</title></circle>"
        )
        change = point.change
        if change is not None and change.drop:
            color = CAUSE_COLORS[change.kind]
            body.append(
                f'<path class="portal-trend-drop" d="M{x - 5:.1f},{py + 8:.1f} h10 l-5,7 z" '
                f'fill="{color}"><title>{escape(change.describe())}</title></path>'
            )
    body += _frame(points, plot_bottom)
    return _svg(height, title, body)


def _polyline(points: list[str]) -> str:
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="#3f51b5" stroke-width="2"/>'


def group_chart(
    trend: Trend, colors: Mapping[str, str], title: str, owner: str | None = None
) -> Markup:
    """Entities per level at each run, stacked (lowest level at the bottom)."""
    points = trend.points
    names = [NO_LEVEL, *trend.levels]
    plot_height = 160
    height = TOP + plot_height + BOTTOM
    plot_bottom = TOP + plot_height
    counts = [p.run.levels(owner) for p in points]
    top = max((sum(c.values()) for c in counts), default=0) or 1
    body = [
        f'<line x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" y2="{plot_bottom}" '
        f'stroke="#9e9e9e"/><text x="{LEFT - 8}" y="{TOP + 8}" text-anchor="end" fill="#555">'
        f"{top}</text>"
        f'<text x="{LEFT - 8}" y="{plot_bottom}" text-anchor="end" fill="#555">0</text>'
    ]
    for index, name in enumerate(reversed(names)):  # legend, highest level first
        body.append(
            f'<rect x="8" y="{TOP + 16 + index * 16}" width="10" height="10" '
            f'fill="{_color(colors.get(name)) if name else NO_LEVEL_COLOR}"/>'
            f'<text x="22" y="{TOP + 25 + index * 16}" fill="#333">'
            f"{escape(name or 'no level')}</text>"
        )
    if not points:
        return _svg(height, f"{title}: no history yet", body)
    count = len(points)
    span = WIDTH - LEFT - RIGHT
    bar = max(2.0, min(16.0, span / count * 0.6))
    for index, (point, levels) in enumerate(zip(points, counts, strict=True)):
        x = _x(index, count) - bar / 2
        y = float(plot_bottom)
        for name in names:
            value = levels.get(name, 0)
            if not value:
                continue
            h = plot_height * value / top
            y -= h
            tip = f"{_when(point)}: {name or 'no level'}: {value} entities ({point.run.trigger})"
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{_color(colors.get(name)) if name else NO_LEVEL_COLOR}">'
                f"<title>{escape(tip)}</title></rect>"
            )
    body += _frame(points, plot_bottom)
    return _svg(height, title, body)
