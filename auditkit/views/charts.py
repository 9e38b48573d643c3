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


def _wrap(label: str, width: int) -> list[str]:
    """A label on at most two lines of ``width`` characters, split at a space; the rest of a very long label is
    shortened with an ellipsis (the full text stays in the bar's tooltip and the tables)."""
    if len(label) <= width:
        return [label]
    cut = label.rfind(" ", 0, width + 1)
    cut = cut if cut > 0 else width
    first, rest = label[:cut].rstrip(), label[cut:].strip()
    return [first, rest if len(rest) <= width else rest[: width - 1] + "…"]


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
    min_value: float = 0.0,
    legend: Sequence[str] = (),
    decimals: int = 1,
) -> str:
    """Horizontal bars, one group per row label, one bar per series, with CI whiskers where given.

    The axis runs from ``min_value`` (0 unless the metric's range goes below it: a correlation's -1) to
    ``max_value`` (a rounded-up maximum when not given); bars start at 0, or at the axis' start above it."""
    label_width, plot_width, bar_h, gap = 170, 420, 14, 10
    series = max((len(bars) for _, bars in groups), default=1)
    label_lines = max((len(_wrap(label, 26)) for label, _ in groups), default=1)
    group_h = max(series * bar_h, 14 * label_lines) + gap
    legend_h = 22 if legend else 0
    height = 40 + legend_h + len(groups) * group_h + 24
    width = label_width + plot_width + 80
    highest = max((max(v, hi or v) for _, bars in groups for _, v, _, hi in bars), default=1.0)
    top = max_value if max_value is not None else _nice_max(highest)
    bottom = min(min_value, top)
    scale = plot_width / (top - bottom) if top > bottom else 1.0
    origin = min(max(0.0, bottom), top)

    def x_of(value: float) -> float:
        return label_width + (min(max(value, bottom), top) - bottom) * scale

    body = [_text(8, 20, title, weight="600", size=13)]
    y0 = 34 + legend_h
    for i, name in enumerate(legend):
        lx = label_width + i * 150
        body.append(f'<rect x="{lx}" y="{30}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        body.append(_text(lx + 16, 40, name))
    for tick in range(5):
        value = bottom + (top - bottom) * tick / 4
        x = x_of(value)
        body.append(f'<line x1="{x:.1f}" y1="{y0 - 4}" x2="{x:.1f}" y2="{height - 22}" stroke="#e2e8f0"/>')
        body.append(_text(x, height - 8, f"{value:g}{unit}", anchor="middle", fill="#4a5568", size=11))
    for g, (label, bars) in enumerate(groups):
        gy = y0 + g * group_h
        lines = _wrap(label, 26)
        first_y = gy + series * bar_h / 2 + 4 - 7 * (len(lines) - 1)
        for k, line in enumerate(lines):
            body.append(_text(label_width - 8, first_y + 14 * k, line, anchor="end"))
        for s, (series_name, value, low, high) in enumerate(bars):
            y = gy + s * bar_h
            color = PALETTE[s % len(PALETTE)]
            left, right = sorted((x_of(origin), x_of(value)))
            w = right - left
            body.append(
                f'<rect x="{left:.1f}" y="{y + 1}" width="{w:.1f}" height="{bar_h - 3}" fill="{color}" rx="2">'
                f"<title>{escape(f'{series_name}: {value:.{decimals + 1}f}{unit}')}</title></rect>"
            )
            if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
                x1, x2 = x_of(low), x_of(high)
                cy = y + bar_h / 2 - 0.5
                body.append(
                    f'<path d="M{x1:.1f} {cy:.1f}H{x2:.1f}M{x1:.1f} {cy - 4:.1f}V{cy + 4:.1f}M{x2:.1f}'
                    f' {cy - 4:.1f}V{cy + 4:.1f}" '
                    f'stroke="#1a202c" stroke-width="1.2" fill="none"/>'
                )
            body.append(
                _text(
                    max(right, x_of(high) if high is not None and math.isfinite(high) else right) + 6,
                    y + bar_h - 3,
                    f"{value:.{decimals}f}{unit}",
                    fill="#2d3748",
                    size=11,
                )
            )
    return _svg(width, height, title, body)


#: Fewer samples than this are drawn one by one (a strip of ticks): a histogram of five values is one or two bars.
MIN_HISTOGRAM = 12


def histogram(
    values: Sequence[float],
    *,
    title: str,
    xlabel: str,
    bins: int = 20,
    marks: Sequence[tuple[str, float]] = (),
    x_range: tuple[float, float] | None = None,
) -> str:
    """A histogram with a count axis and optional labelled vertical marks (percentiles); few values become a strip
    of ticks instead, since a histogram of a handful of values is one or two bars. ``x_range`` fixes the axis,
    so charts of several models on one task share a scale."""
    width, height, left, plot_w, plot_h = 520, 236, 56, 440, 140
    finite = [v for v in values if math.isfinite(v)]
    body = [_text(8, 20, title, weight="600", size=13)]
    if not finite:
        body.append(_text(left, 100, "no data"))
        return _svg(width, height, title, body)
    lo, hi = x_range if x_range is not None else (min(finite), max(finite))
    if hi <= lo:
        hi = lo + 1.0
    y_base = 46 + plot_h
    body.append(f'<line x1="{left}" y1="{y_base}" x2="{left + plot_w}" y2="{y_base}" stroke="#a0aec0"/>')
    if len(finite) < MIN_HISTOGRAM:
        for v in finite:
            x = left + plot_w * (v - lo) / (hi - lo)
            body.append(
                f'<line x1="{x:.1f}" y1="{y_base - 40}" x2="{x:.1f}" y2="{y_base}" stroke="{PALETTE[0]}"'
                f' stroke-width="2"><title>{escape(_num(v))}</title></line>'
            )
        body.append(_text(left, 60, f"each of the {len(finite)} samples (too few for a histogram)", fill="#4a5568"))
    else:
        bins = max(5, min(bins, round(math.sqrt(len(finite)) * 2)))
        counts = [0] * bins
        for v in finite:
            counts[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
        peak = max(counts)
        bin_width = (hi - lo) / bins
        for i, c in enumerate(counts):
            h = plot_h * c / peak
            x = left + i * plot_w / bins
            body.append(
                f'<rect x="{x:.1f}" y="{y_base - h:.1f}" width="{plot_w / bins - 1:.1f}" height="{h:.1f}"'
                f' fill="{PALETTE[0]}" opacity="0.8">'
                f"<title>{escape(f'{_num(lo + i * bin_width)}–{_num(lo + (i + 1) * bin_width)}: {c}')}</title></rect>"
            )
        body.append(f'<line x1="{left}" y1="46" x2="{left}" y2="{y_base}" stroke="#a0aec0"/>')
        for tick in (0, peak // 2, peak) if peak > 1 else (0, peak):
            y = y_base - plot_h * tick / peak
            body.append(_text(left - 6, y + 4, str(tick), anchor="end", fill="#4a5568", size=11))
        body.append(
            f'<text x="14" y="{46 + plot_h / 2:.1f}" text-anchor="middle" font-size="11" fill="#4a5568"'
            f' transform="rotate(-90 14 {46 + plot_h / 2:.1f})">count</text>'
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
