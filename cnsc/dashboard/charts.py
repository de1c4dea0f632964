"""Trend charts drawn on the server as SVG: no script, no library download, no CDN, readable on
a phone and printable. Shares are lines on a 0–100% scale, counts in a period are bars; the
target is a dashed line. Colours come from the page's CSS classes."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .indicators import Kind
from .periods import Period
from .selectors import Figure, format_count

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 14, 26


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 × 10^n at or above ``value`` (an axis maximum)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _axis_label(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0f}%"
    if value >= 100_000:
        return f"{value / 1000:,.0f}k".replace(",", ".")
    if value != int(value):
        return f"{value:.1f}".replace(".", ",")
    return f"{value:,.0f}".replace(",", ".")


@dataclass(frozen=True)
class Series:
    """What a chart draws: one value (or a gap) per period, a target line, and how to read."""

    title: str
    points: list[tuple[Period, float | None, str]]
    target: float | None
    percent: bool
    bars: bool
    # The last period is still running (its bar is drawn lighter: it is not a whole period).
    running: bool = False

    @property
    def top(self) -> float:
        known = [v for _p, v, _l in self.points if v is not None]
        if self.percent:
            return nice_ceiling(self.target) if self.target and self.target > 100 else 100.0
        # At least 4, so an axis of small counts reads 0, 2, 4 rather than 0, 0, 1.
        return nice_ceiling(max([*known, self.target or 0, 4]))

    def axis_label(self, value: float) -> str:
        return _axis_label(value, self.percent)


def series_of(figures: Sequence[tuple[Period, Figure]], *, today: dt.date | None = None) -> Series:
    """An indicator over time as a chart sees it. An "against target" figure is drawn as the
    count it is (members, teams) against the planned count, so years without a plan still show
    the count."""
    indicator = figures[0][1].indicator
    if indicator.roster_target:
        dens = [f.denominator for _p, f in figures if f.denominator]
        return Series(
            title=indicator.label(),
            points=[(p, float(f.numerator), format_count(f.numerator)) for p, f in figures],
            target=float(dens[-1]) if dens else None,
            percent=False,
            bars=False,
        )
    targets = [f.target for _p, f in figures if f.target is not None]
    return Series(
        title=indicator.label(),
        points=[(p, f.value, f.display()) for p, f in figures],
        target=targets[-1] if targets else None,
        percent=indicator.is_percent,
        bars=indicator.kind == Kind.FLOW and not indicator.is_percent,
        running=today is not None and figures[-1][0].end >= today,
    )


def trend_svg(series: Series) -> SafeString:
    """One indicator over time, oldest first."""
    points = series.points
    if not points:
        return mark_safe("")
    top = series.top
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(points)
    step = plot_w / n

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - min(max(v / top, 0), 1))

    last = next((label for _p, v, label in reversed(points) if v is not None), "—")
    label = f"{series.title}: {last}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(label)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        gy = y(top * fraction)
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{gy:.1f}"/>'
            f'<text class="chart-axis" x="{LEFT - 4}" y="{gy + 3.5:.1f}" text-anchor="end">'
            f"{escape(series.axis_label(top * fraction))}</text>"
        )
    if series.bars:
        width = max(step * 0.7, 1.0)
        for i, (period, value, text) in enumerate(points):
            if value is None:
                continue
            top_y = y(value)
            css = "chart-bar chart-bar-running" if series.running and i == n - 1 else "chart-bar"
            parts.append(
                f'<rect class="{css}" x="{x(i) - width / 2:.1f}" y="{top_y:.1f}" '
                f'width="{width:.1f}" height="{TOP + plot_h - top_y:.1f}">'
                f"<title>{escape(period.label())}: {escape(text)}</title></rect>"
            )
    else:
        segment: list[str] = []
        for i, (_period, value, _text) in enumerate([*points, (None, None, "")]):
            if value is None:
                if len(segment) > 1:
                    parts.append(f'<polyline class="chart-line" points="{" ".join(segment)}"/>')
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(value):.1f}")
        for i, (period, value, text) in enumerate(points):
            if value is None:
                continue
            radius = 3.2 if i == n - 1 else 2
            parts.append(
                f'<circle class="chart-point" cx="{x(i):.1f}" cy="{y(value):.1f}" '
                f'r="{radius}"><title>{escape(period.label())}: {escape(text)}</title></circle>'
            )
    target = series.target
    if target is not None and target <= top:
        ty = y(target)
        parts.append(
            f'<line class="chart-target" x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{ty:.1f}"><title>{escape(_("Target"))}: '
            f"{escape(series.axis_label(target))}</title></line>"
        )
    for i in sorted({0, n // 2, n - 1}):
        # The last label ends at the right edge rather than running off it.
        anchor, at = ("end", WIDTH - 2) if i == n - 1 and n > 1 else ("middle", x(i))
        parts.append(
            f'<text class="chart-axis" x="{at:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
            f"{escape(points[i][0].short_label())}</text>"
        )
    if all(v is None for _p, v, _l in points):
        parts.append(
            f'<text class="chart-empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
            f'text-anchor="middle">{escape(_("No figures yet"))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped)
