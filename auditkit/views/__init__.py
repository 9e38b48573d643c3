"""Building blocks of report view models: charts, tables and excerpts, shared by the report and the tasks.

Tasks own their report sections (see :meth:`auditkit.tasks.base.Task.job_view`) and build them from
these pieces, so this module sits below the tasks in the layering. Text from datasets and models is
kept raw here; the templates escape it (and :mod:`auditkit.views.charts` escapes chart labels).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

EXCERPT_CHARS = 160


class Chart(TypedDict):
    """An SVG chart: HTML inlines ``svg``; Markdown links ``plots/<id>.svg``."""

    id: str
    title: str
    svg: str


class SliceTable(TypedDict):
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    hidden: int


class Piece(TypedDict):
    text: str
    kind: str


class WorstExample(TypedDict):
    id: str
    question: str
    title: str
    gold: str
    prediction: str
    confidence: str
    excerpt: list[Piece]


class ConfusionRow(TypedDict):
    gold: str
    cells: list[int]


class Confusion(TypedDict):
    labels: list[str]
    rows: list[ConfusionRow]


class JobView(TypedDict):
    """A job's quantitative analyses and worst errors, as every task kind contributes them."""

    slices: list[SliceTable]
    worst: list[WorstExample]
    worst_title: str
    confusion: Confusion | None
    charts: list[Chart]


def chart(kind: str, title: str, body: str, *parts: str) -> Chart:
    """A chart whose id (its file name under plots/) is readable and unique: names that differ only in characters
    a file name cannot hold ("a/b" and "a b") still get different ids, from a digest of the exact parts."""
    raw = "\x1f".join((kind, *parts))
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join((kind, *parts))).strip("-.")[:80]
    return {"id": f"{slug}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}", "title": title, "svg": body}


def fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def slice_table(
    title: str, groups: Mapping[str, Mapping[str, Any]], columns: Sequence[str], limit: int | None = None
) -> SliceTable:
    rows = [
        {"group": g, "n": v["n"], **{c: fmt(v[c]) if isinstance(v[c], int | float) else v[c] for c in columns}}
        for g, v in groups.items()
    ]
    hidden = max(0, len(rows) - limit) if limit else 0
    return {"title": title, "columns": list(columns), "rows": rows[:limit] if limit else rows, "hidden": hidden}


def segments(context: str, spans: list[tuple[int, int, str]], window: int = EXCERPT_CHARS) -> list[Piece]:
    """An excerpt of ``context`` around the spans, split into pieces tagged gold / pred / both / plain."""
    spans = [(s, e, k) for s, e, k in spans if 0 <= s < e <= len(context)]
    if not spans:
        return [{"text": context[: 2 * window] + ("…" if len(context) > 2 * window else ""), "kind": ""}]
    lo = max(0, min(s for s, _, _ in spans) - window)
    hi = min(len(context), max(e for _, e, _ in spans) + window)
    cuts = sorted({lo, hi, *[p for s, e, _ in spans for p in (s, e) if lo <= p <= hi]})
    pieces: list[Piece] = [{"text": "…", "kind": ""}] if lo > 0 else []
    for a, b in itertools.pairwise(cuts):
        kinds = {k for s, e, k in spans if s <= a and b <= e}
        kind = "both" if kinds == {"gold", "pred"} else (kinds.pop() if kinds else "")
        pieces.append({"text": context[a:b], "kind": kind})
    if hi < len(context):
        pieces.append({"text": "…", "kind": ""})
    return pieces


def p_text(p: float) -> str:
    """A p-value as people read it: ``< 0.0001`` rather than 0.0000, four decimals otherwise."""
    if not math.isfinite(p):
        return "–"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md_escape(value: Any) -> str:
    """Text for Markdown: one line; ``& < >`` as entities (no raw HTML can form), other Markdown punctuation backslash-
    escaped.
    """
    text = " ".join(str(value).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


#: Below this many examples an interval is not shown: resampling a handful of values says nothing.
MIN_INTERVAL_N = 10


def missing_interval(estimate: Any, sampling: Any = None) -> str | None:
    """Why a figure is written without an interval, or None when it has one worth showing: the one rule the
    report, the model card and every other view follow (a card must not print "100.00 to 100.00" for n = 4
    where the report says there are too few examples)."""
    if estimate.interval == "none":
        return "none (a plug-in metric, computed once)"
    if estimate.interval == "too few clusters" and sampling is not None:
        return f"none: {sampling.n_clusters} {sampling.unit}(s) are too few for an interval"
    if not estimate.has_interval:
        return "none"
    if estimate.n is not None and estimate.n < MIN_INTERVAL_N:
        return f"too few examples for an interval (n = {estimate.n})"
    return None
