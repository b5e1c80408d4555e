"""The overview's charts, drawn on the server as inline SVG: no JavaScript, no charting
library in the browser, nothing to build, and the page's Content-Security-Policy holds
(colours are SVG attributes, not inline styles).

Two kinds: bars over time, stacked by series (the biggest few, the rest as one), and a latency
chart with one row per destination on a logarithmic axis (p50, p90, p99). Each bar and mark
carries a ``<title>`` (a tooltip, read by screen readers); the page lists the same figures as a
table beside each chart, for those who cannot see it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime

from markupsafe import Markup

from hub.services.overview import DestinationFigures, Series

# Okabe–Ito: told apart by people with the common colour vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442")
OTHERS = "#8c959f"
MOST_SERIES = len(PALETTE)
_W, _H, _LEFT, _BOTTOM, _TOP = 720, 200, 44, 22, 8


def top_series(series: Sequence[Series], others: str) -> list[tuple[Series, str]]:
    """The biggest series with their colours, the rest summed as ``others`` (grey)."""
    shown = [(s, PALETTE[i]) for i, s in enumerate(series[:MOST_SERIES])]
    rest = series[MOST_SERIES:]
    if rest:
        summed = tuple(sum(v) for v in zip(*(s.values for s in rest), strict=True))
        shown.append((Series(others, summed), OTHERS))
    return shown


def stacked_bars(
    shown: Sequence[tuple[Series, str]],
    starts: Sequence[datetime],
    when: Callable[[datetime], str],
    label: str,
) -> Markup:
    """Bars over time, one per bucket, stacked by series; ``when`` writes a bucket's start."""
    n = len(starts)
    heights = [sum(s.values[i] for s, _ in shown) for i in range(n)]
    top = _nice(max(heights, default=0))
    plot_w, plot_h = _W - _LEFT - 4, _H - _BOTTOM - _TOP
    slot = plot_w / max(n, 1)
    bar = max(1.0, slot * 0.8)
    parts = _axis(top, plot_h)
    for i in range(n):
        x = _LEFT + i * slot + (slot - bar) / 2
        y: float = _TOP + plot_h
        for s, colour in shown:
            v = s.values[i]
            if not v:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(
                Markup(
                    '<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">'
                    "<title>{} · {}: {}</title></rect>"
                ).format(x, y, bar, h, colour, when(starts[i]), s.name, v)
            )
    for i in sorted({0, n // 2, n - 1}) if n else []:
        parts.append(_label(_LEFT + i * slot + slot / 2, _H - 6, when(starts[i])))
    return _svg(label, parts)


def latency_chart(
    destinations: Sequence[DestinationFigures], label: str, seconds: Callable[[float], str]
) -> Markup:
    """One row per destination: a line from p50 to p99 on a log axis, a dot at each of p50,
    p90 and p99 (the class bounds the percentiles fall in)."""
    rows = [d for d in destinations if d.latency.get(50) is not None]
    left, row_h = 150, 26
    height = _TOP + row_h * max(len(rows), 1) + _BOTTOM
    low, high = 0.1, 7200.0
    width = _W - left - 10

    def x(value: float) -> float:
        clamped = min(max(value, low), high)
        return left + width * math.log10(clamped / low) / math.log10(high / low)

    parts: list[Markup] = []
    for tick in (0.1, 1, 10, 60, 600, 3600):
        parts.append(
            Markup('<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#d0d7de"/>').format(
                x(tick), _TOP, x(tick), height - _BOTTOM
            )
        )
        parts.append(_label(x(tick), height - 6, seconds(tick)))
    for i, d in enumerate(rows):
        y = _TOP + row_h * i + row_h / 2
        p50, p90, p99 = (d.latency[p] or low for p in (50, 90, 99))
        parts.append(
            Markup(
                '<text x="{}" y="{:.1f}" text-anchor="end" font-size="12" fill="#1b1f24">{}</text>'
                '<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#0b5cad" '
                'stroke-width="3"/>'
            ).format(left - 8, y + 4, d.destination, x(p50), y, x(p99), y)
        )
        for p, v, colour in ((50, p50, PALETTE[0]), (90, p90, PALETTE[1]), (99, p99, PALETTE[5])):
            parts.append(
                Markup(
                    '<circle cx="{:.1f}" cy="{:.1f}" r="5" fill="{}"><title>{} p{} ≤ {}</title>'
                    "</circle>"
                ).format(x(v), y, colour, d.destination, p, seconds(v))
            )
    return _svg(label, parts, height)


def _label(x: float, y: float, text: str) -> Markup:
    return Markup(
        '<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="11" fill="#57606a">{}</text>'
    ).format(x, y, text)


def _axis(top: int, plot_h: float) -> list[Markup]:
    out = []
    for frac in (0, 0.5, 1):
        y = _TOP + plot_h * (1 - frac)
        out.append(
            Markup(
                '<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#d0d7de"/>'
                '<text x="{}" y="{:.1f}" text-anchor="end" font-size="11" fill="#57606a">{}'
                "</text>"
            ).format(_LEFT, y, _W - 4, y, _LEFT - 6, y + 4, _count(top * frac))
        )
    return out


def _svg(label: str, parts: Sequence[Markup], height: int = _H) -> Markup:
    return Markup(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>'
    ).format(_W, height, label, Markup("").join(parts))


def _nice(peak: int) -> int:
    """A round axis top at or above ``peak`` (1, 2, 5 × a power of ten)."""
    if peak <= 0:
        return 1
    power = 10 ** math.floor(math.log10(peak))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= peak))


def _count(value: float) -> str:
    return f"{value / 1000:g}k" if value >= 10_000 else f"{value:g}"
