"""Small, dependency-free SVG charts for reports.

Hand-written rather than matplotlib: the output is deterministic (committed example reports do not
churn), a few kilobytes, styled by the report's own fonts, and every label is XML-escaped here --
labels come from datasets and models (article titles, class names) and must never become markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

PALETTE = ("#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#c53030", "#718096")
FONT = 'font-family="system-ui, -apple-system, \'Segoe UI\', Roboto, sans-serif" font-size="12"'

Bar = tuple[str, float, float | None, float | None]
"""(series label, value, CI low, CI high)."""


def _num(value: float) -> str:
    """Three significant digits, without scientific notation for the milliseconds charts show (1,519 not 1.52e+03)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    weight: str = "normal",
    fill: str = "#1a202c",
    size: int = 12,
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-weight="{weight}" font-size="{size}" '
        f'fill="{fill}">{escape(text)}</text>'
    )


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" {FONT}>'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def bar_chart(
    groups: Sequence[tuple[str, Sequence[Bar]]],
    *,
    title: str,
    unit: str = "",
    max_value: float | None = None,
    legend: Sequence[str] = (),
) -> str:
    """Horizontal bars, one group per row label, one bar per series, with CI whiskers where given."""
    label_width, plot_width, bar_h, gap = 170, 420, 14, 10
    series = max((len(bars) for _, bars in groups), default=1)
    group_h = series * bar_h + gap
    legend_h = 22 if legend else 0
    height = 40 + legend_h + len(groups) * group_h + 24
    width = label_width + plot_width + 80
    highest = max((max(v, hi or v) for _, bars in groups for _, v, _, hi in bars), default=1.0)
    top = max_value if max_value is not None else _nice_max(highest)
    scale = plot_width / top if top else 1.0
    body = [_text(8, 20, title, weight="600", size=13)]
    y0 = 34 + legend_h
    for i, name in enumerate(legend):
        lx = label_width + i * 150
        body.append(f'<rect x="{lx}" y="{30}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        body.append(_text(lx + 16, 40, name))
    for tick in range(5):
        value = top * tick / 4
        x = label_width + value * scale
        body.append(f'<line x1="{x:.1f}" y1="{y0 - 4}" x2="{x:.1f}" y2="{height - 22}" stroke="#e2e8f0"/>')
        body.append(_text(x, height - 8, f"{value:g}{unit}", anchor="middle", fill="#4a5568", size=11))
    for g, (label, bars) in enumerate(groups):
        gy = y0 + g * group_h
        shown = label if len(label) <= 26 else label[:25] + "…"
        body.append(_text(label_width - 8, gy + series * bar_h / 2 + 4, shown, anchor="end"))
        for s, (series_name, value, low, high) in enumerate(bars):
            y = gy + s * bar_h
            color = PALETTE[s % len(PALETTE)]
            w = max(0.0, min(value, top)) * scale
            body.append(
                f'<rect x="{label_width}" y="{y + 1}" width="{w:.1f}" height="{bar_h - 3}" fill="{color}" rx="2">'
                f"<title>{escape(f'{series_name}: {value:.2f}{unit}')}</title></rect>"
            )
            if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
                x1, x2 = label_width + max(low, 0) * scale, label_width + min(high, top) * scale
                cy = y + bar_h / 2 - 0.5
                body.append(
                    f'<path d="M{x1:.1f} {cy:.1f}H{x2:.1f}M{x1:.1f} {cy - 4:.1f}V{cy + 4:.1f}M{x2:.1f}'
                    f' {cy - 4:.1f}V{cy + 4:.1f}" '
                    f'stroke="#1a202c" stroke-width="1.2" fill="none"/>'
                )
            body.append(
                _text(
                    label_width + max(w, (high or 0) * scale if high is not None and math.isfinite(high) else w) + 6,
                    y + bar_h - 3,
                    f"{value:.1f}{unit}",
                    fill="#2d3748",
                    size=11,
                )
            )
    return _svg(width, height, title, body)


def histogram(
    values: Sequence[float], *, title: str, xlabel: str, bins: int = 20, marks: Sequence[tuple[str, float]] = ()
) -> str:
    """A histogram with optional labelled vertical marks (percentiles)."""
    width, height, left, plot_w, plot_h = 620, 256, 50, 540, 160
    finite = [v for v in values if math.isfinite(v)]
    body = [_text(8, 20, title, weight="600", size=13)]
    if not finite:
        body.append(_text(left, 100, "no data"))
        return _svg(width, height, title, body)
    lo, hi = min(finite), max(finite)
    if hi <= lo:
        hi = lo + 1.0
    counts = [0] * bins
    for v in finite:
        counts[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
    peak = max(counts)
    y_base = 46 + plot_h
    bin_width = (hi - lo) / bins
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + i * plot_w / bins
        body.append(
            f'<rect x="{x:.1f}" y="{y_base - h:.1f}" width="{plot_w / bins - 1:.1f}" height="{h:.1f}"'
            f' fill="{PALETTE[0]}" opacity="0.8">'
            f"<title>{escape(f'{_num(lo + i * bin_width)}–{_num(lo + (i + 1) * bin_width)}: {c}')}</title></rect>"
        )
    for tick in range(5):
        value = lo + (hi - lo) * tick / 4
        body.append(_text(left + plot_w * tick / 4, y_base + 16, _num(value), anchor="middle", fill="#4a5568", size=11))
    legend = []
    for i, (name, value) in enumerate(marks):
        color = PALETTE[1 + i % 4]
        x = left + plot_w * (value - lo) / (hi - lo)
        body.append(
            f'<line x1="{x:.1f}" y1="46" x2="{x:.1f}" y2="{y_base}" stroke="{color}" stroke-width="1.5"'
            ' stroke-dasharray="4 3"/>'
        )
        legend.append((f"{name} {_num(value)}", color))
    lx = left + plot_w
    for label, color in reversed(legend):  # right-aligned caption row above the plot: never overlaps the bars
        lx -= 7 * len(label) + 18
        body.append(
            f'<line x1="{lx:.1f}" y1="34" x2="{lx + 12:.1f}" y2="34" stroke="{color}" stroke-width="1.5"'
            ' stroke-dasharray="4 3"/>'
        )
        body.append(_text(lx + 15, 38, label, fill=color, size=11))
    body.append(_text(left + plot_w / 2, height - 6, xlabel, anchor="middle", fill="#4a5568", size=11))
    return _svg(width, height, title, body)


def reliability_diagram(table: Sequence[dict[str, float | None]], *, title: str) -> str:
    """Accuracy per confidence bin against the diagonal of perfect calibration; bar labels give counts."""
    size, left, top = 260, 50, 34
    body = [_text(8, 20, title, weight="600", size=13)]
    body.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#cbd5e0"/>')
    body.append(
        f'<line x1="{left}" y1="{top + size}" x2="{left + size}" y2="{top}" stroke="#a0aec0" stroke-dasharray="4 3"/>'
    )
    for row in table:
        if not row["count"]:
            continue
        low, high = float(row["low"] or 0.0), float(row["high"] or 0.0)
        x = left + size * low
        w = size * (high - low) - 1
        acc = float(row["accuracy"] or 0.0)
        conf = float(row["confidence"] or 0.0)
        h = size * acc
        tip = (
            f"confidence {float(row['low'] or 0.0):.1f}–{float(row['high'] or 0.0):.1f}: accuracy {acc:.2f},"
            f" mean confidence {conf:.2f}, n={row['count']}"
        )
        body.append(
            f'<rect x="{x:.1f}" y="{top + size - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{PALETTE[0]}"'
            ' opacity="0.85">'
            f"<title>{escape(tip)}</title></rect>"
        )
        body.append(f'<circle cx="{x + w / 2:.1f}" cy="{top + size - size * conf:.1f}" r="2.5" fill="{PALETTE[1]}"/>')
    for tick in (0.0, 0.5, 1.0):
        body.append(_text(left + size * tick, top + size + 16, f"{tick:g}", anchor="middle", fill="#4a5568", size=11))
        body.append(_text(left - 6, top + size - size * tick + 4, f"{tick:g}", anchor="end", fill="#4a5568", size=11))
    body.append(
        _text(
            left + size / 2,
            top + size + 32,
            "confidence (dots: mean confidence per bin)",
            anchor="middle",
            fill="#4a5568",
            size=11,
        )
    )
    return _svg(left + size + 30, top + size + 44, title, body)
