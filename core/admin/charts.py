"""Charts for the back office, drawn on the server as inline SVG: no script (the CSP allows none inline), no fetch.

Three shapes cover what officers look at: a line over time (``line_chart``), a histogram (``histogram_chart``) and a
curve on the unit square (``curve_chart``, for a ROC curve). Each is an ``<svg role="img">`` whose ``<title>`` and
``<desc>`` say what it shows, and every point or bar carries its own ``<title>`` with its numbers, so a screen reader
and a mouse pointer both read them; the pages put the same numbers in a table beside the chart.

Values come in as ``Decimal`` or ``int`` (shares, rates, counts: never money) and are turned into pixels here only.
The colours are set on the elements, so a chart looks the same on any page without a stylesheet.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 20, 28, 40
COLOURS = ("#2563eb", "#d97706", "#dc2626", "#059669")
AXIS, GRID, TEXT = "#9ca3af", "#e5e7eb", "#4b5563"
MAX_X_LABELS = 12
Number = Decimal | int | float


@dataclass(frozen=True)
class Line:
    label: str
    values: Sequence[Number | None]  # one per x label; None leaves a gap
    notes: Sequence[str] = ()  # said after each value in its point's title, e.g. "(49 decisions)"


@dataclass(frozen=True)
class Guide:
    """A horizontal (line chart) or vertical (histogram) reference line with its label."""

    value: Number
    label: str


def _f(value: Number) -> float:
    return float(value)


def _px(value: float) -> str:
    """A coordinate as SVG reads it: to a tenth of a pixel."""
    return f"{value:.1f}"


def _g(value: float) -> str:
    return f"{value:g}"


def nice_step(span: float, *, count: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``count`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10 ** _floor_log10(raw)
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return multiple * power
    return 10 * power


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


def _ticks(low: float, high: float, *, count: int = 4) -> list[float]:
    step = nice_step(high - low, count=count)
    first = step * int(low / step)
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


def _svg(*, chart_id: str, title: str, description: str, body: SafeString, width: int, height: int) -> SafeString:
    return format_html(
        '<svg class="chart" id="{}" role="img" aria-labelledby="{}-title {}-desc" width="{}" height="{}" '
        'viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        chart_id,
        chart_id,
        chart_id,
        width,
        height,
        width,
        height,
        chart_id,
        title,
        chart_id,
        description,
        body,
    )


def _y_axis(ticks: list[float], y: Callable[[float], float], fmt: Callable[[float], str], width: int) -> SafeString:
    return format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/><text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>',
        (
            (LEFT, _px(y(tick)), width - RIGHT, _px(y(tick)), GRID, LEFT - 6, _px(y(tick) + 4), TEXT, fmt(tick))
            for tick in ticks
        ),
    )


def _frame(width: int, height: int) -> SafeString:
    return format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>',
        LEFT,
        TOP,
        LEFT,
        height - BOTTOM,
        AXIS,
        LEFT,
        height - BOTTOM,
        width - RIGHT,
        height - BOTTOM,
        AXIS,
    )


def _legend(labels: Sequence[str]) -> SafeString:
    items = []
    x = LEFT
    for index, label in enumerate(labels):
        colour = COLOURS[index % len(COLOURS)]
        items.append((x, 10, colour, x + 16, 14, TEXT, label))
        x += 26 + 7 * len(label)
    return format_html_join(
        "",
        '<rect x="{}" y="{}" width="12" height="4" fill="{}"/><text x="{}" y="{}" fill="{}">{}</text>',
        items,
    )


def _point_title(line: Line, x_label: str, value: str, index: int) -> str:
    note = line.notes[index] if index < len(line.notes) else ""
    return f"{line.label}, {x_label}: {value}" + (f" {note}" if note else "")


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    x_labels: Sequence[str],
    lines: Sequence[Line],
    y_max: Number | None = None,
    y_format: Callable[[float], str] = lambda value: f"{value:g}",
    point_format: Callable[[Number], str] | None = None,
    guides: Sequence[Guide] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Values over time: one polyline per ``Line``, one circle per value with its ``<title>``; ``None`` is a gap."""
    values = [_f(value) for line in lines for value in line.values if value is not None]
    top = _f(y_max) if y_max is not None else max([*values, *(_f(guide.value) for guide in guides), 0.0])
    top = top or 1.0
    ticks = _ticks(0.0, top)
    top = max(top, ticks[-1])
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    count = max(len(x_labels), 1)

    def x(index: int) -> float:
        return LEFT + (index + 0.5) * plot_w / count

    def y(value: float) -> float:
        return TOP + (1 - value / top) * plot_h

    shown = point_format or (lambda value: y_format(_f(value)))
    parts = [_y_axis(ticks, y, y_format, width), _frame(width, height)]
    every = max(1, -(-count // MAX_X_LABELS))
    parts.append(
        format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>',
            (
                (_px(x(index)), height - BOTTOM + 16, TEXT, label)
                for index, label in enumerate(x_labels)
                if index % every == 0
            ),
        )
    )
    for guide in guides:
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-dasharray="4 3"/>'
                '<text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>',
                LEFT,
                _px(y(_f(guide.value))),
                width - RIGHT,
                _px(y(_f(guide.value))),
                AXIS,
                width - RIGHT - 2,
                _px(y(_f(guide.value)) - 3),
                TEXT,
                guide.label,
            )
        )
    for number, line in enumerate(lines):
        colour = COLOURS[number % len(COLOURS)]
        points = [(index, value) for index, value in enumerate(line.values)]
        for is_gap, run in itertools.groupby(points, key=lambda point: point[1] is None):
            run = list(run)
            if is_gap or len(run) < 2:
                continue
            parts.append(
                format_html(
                    '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
                    colour,
                    " ".join(f"{_px(x(index))},{_px(y(_f(value)))}" for index, value in run),
                )
            )
        parts.append(
            format_html_join(
                "",
                '<circle cx="{}" cy="{}" r="3.5" fill="{}"><title>{}</title></circle>',
                (
                    (_px(x(index)), _px(y(_f(value))), colour, _point_title(line, x_labels[index], shown(value), index))
                    for index, value in points
                    if value is not None
                ),
            )
        )
    if len(lines) > 1:
        parts.append(_legend([line.label for line in lines]))
    return _svg(
        chart_id=chart_id,
        title=title,
        description=description,
        body=mark_safe("".join(parts)),  # noqa: S308 - every part is built by format_html above
        width=width,
        height=height,
    )


@dataclass(frozen=True)
class Bin:
    lower: Number
    upper: Number
    count: int


def histogram_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    bins: Sequence[Bin],
    markers: Sequence[Guide] = (),
    bin_label: Callable[[Bin], str] = lambda bin_: f"{bin_.lower:g}–{bin_.upper:g}",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Counts per range of a numeric value (``Bin``s side by side), with vertical markers at given values."""
    low = min((_f(bin_.lower) for bin_ in bins), default=0.0)
    high = max((_f(bin_.upper) for bin_ in bins), default=1.0)
    for marker in markers:
        low, high = min(low, _f(marker.value)), max(high, _f(marker.value))
    high = high if high > low else low + 1
    top = max((bin_.count for bin_ in bins), default=0) or 1
    ticks = [tick for tick in _ticks(0.0, float(top)) if tick == int(tick)]
    top = max(float(top), ticks[-1])
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x(value: float) -> float:
        return LEFT + (value - low) / (high - low) * plot_w

    def y(value: float) -> float:
        return TOP + (1 - value / top) * plot_h

    parts = [_y_axis(ticks, y, _g, width), _frame(width, height)]
    parts.append(
        format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            (
                (
                    _px(x(_f(bin_.lower)) + 0.5),
                    _px(y(bin_.count)),
                    _px(max(x(_f(bin_.upper)) - x(_f(bin_.lower)) - 1, 1)),
                    _px(y(0) - y(bin_.count)),
                    COLOURS[0],
                    bin_label(bin_),
                    bin_.count,
                )
                for bin_ in bins
            ),
        )
    )
    axis_ticks = _ticks(low, high, count=8)
    parts.append(
        format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>',
            ((_px(x(tick)), height - BOTTOM + 16, TEXT, _g(tick)) for tick in axis_ticks),
        )
    )
    for number, marker in enumerate(markers):
        at = x(_f(marker.value))
        # A label near either edge is anchored inside the chart, so it is never cut off.
        anchor = "start" if at < LEFT + 30 else "end" if at > width - RIGHT - 30 else "middle"
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2" stroke-dasharray="5 3"/>'
                '<text x="{}" y="{}" text-anchor="{}" fill="{}">{}</text>',
                _px(at),
                TOP,
                _px(at),
                height - BOTTOM,
                COLOURS[(number + 1) % len(COLOURS)],
                _px(at),
                TOP - 6 - 11 * (number % 2),
                anchor,
                TEXT,
                marker.label,
            )
        )
    return _svg(
        chart_id=chart_id,
        title=title,
        description=description,
        body=mark_safe("".join(parts)),  # noqa: S308 - every part is built by format_html above
        width=width,
        height=height,
    )


def curve_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    points: Sequence[tuple[Number, Number]],
    x_title: str,
    y_title: str,
    labelled: Sequence[tuple[Number, Number, str]] = (),
    diagonal: bool = True,
    size: int = 320,
) -> SafeString:
    """A curve on the unit square (both axes 0 to 1), the chance diagonal dashed, and labelled points to hover."""
    width, height = size + LEFT + RIGHT, size + TOP + BOTTOM

    def x(value: float) -> float:
        return LEFT + value * size

    def y(value: float) -> float:
        return TOP + (1 - value) * size

    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    parts = [_y_axis(ticks, y, _g, width), _frame(width, height)]
    parts.append(
        format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>',
            ((_px(x(tick)), height - BOTTOM + 16, TEXT, _g(tick)) for tick in ticks),
        )
    )
    parts.append(
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>'
            '<text x="12" y="{}" text-anchor="middle" fill="{}" transform="rotate(-90 12 {})">{}</text>',
            _px(x(0.5)),
            height - 6,
            TEXT,
            x_title,
            _px(y(0.5)),
            TEXT,
            _px(y(0.5)),
            y_title,
        )
    )
    if diagonal:
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-dasharray="4 3"/>',
                _px(x(0)),
                _px(y(0)),
                _px(x(1)),
                _px(y(1)),
                AXIS,
            )
        )
    parts.append(
        format_html(
            '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
            COLOURS[0],
            " ".join(f"{_px(x(_f(px)))},{_px(y(_f(py)))}" for px, py in points),
        )
    )
    parts.append(
        format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3.5" fill="{}"><title>{}</title></circle>',
            ((_px(x(_f(px))), _px(y(_f(py))), COLOURS[0], label) for px, py, label in labelled),
        )
    )
    return _svg(
        chart_id=chart_id,
        title=title,
        description=description,
        body=mark_safe("".join(parts)),  # noqa: S308 - every part is built by format_html above
        width=width,
        height=height,
    )


__all__ = ["Bin", "Guide", "Line", "curve_chart", "histogram_chart", "line_chart", "nice_step"]
