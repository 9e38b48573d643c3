"""How figures are written in reports: each metric with its unit and interval (or why it has none), digits that
suit an interval, p-values as people read them, short digests and sizes. Shared by every view."""

from __future__ import annotations

import math
from typing import Any

from ..results import Job
from ..tasks import task_class
from ..views import missing_interval


def short_digest(digest: str | None) -> str:
    return (digest or "")[:12]


def human_count(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def precision_text(info: dict[str, Any]) -> str:
    """The numeric mode a model ran in, as a report names it wherever its figures appear (exact float32, or which
    fast mode: a lower dtype, an fp32 head, int8 layers, autocast, and the margin below which answers were
    predicted again in float32)."""
    if info.get("quantize"):
        return f"{info['dtype']} + {info['quantize']} linear layers"
    if info.get("head_dtype"):
        return f"{info['dtype']} (head {info['head_dtype']})"
    if info.get("autocast") and info.get("recheck_margin"):
        return (
            f"{info['dtype']}, {info['autocast']} matmuls (autocast), answers ahead by less than"
            f" {info['recheck_margin']:g} (log score ratio) answered again in {info['dtype']}"
        )
    if info.get("autocast"):
        return f"{info['dtype']}, {info['autocast']} matmuls (autocast)"
    return str(info.get("dtype") or "–")


def significant_digits(value: float) -> int:
    """Decimals that show a figure without an interval to three significant digits (0 to 4 decimals)."""
    if not math.isfinite(value) or value == 0:
        return 1
    return max(0, min(4, 2 - math.floor(math.log10(abs(value)))))


def interval_digits(width: float) -> int:
    """Decimals that suit an interval of ``width``: two significant figures of the width, 0 to 4 decimals."""
    if not math.isfinite(width) or width <= 0:
        return 2
    return max(0, min(4, 1 - math.floor(math.log10(width))))


def metric_rows(job: Job) -> list[dict[str, Any]]:
    """Each metric with its unit, its interval (or why there is none), the interval's kind and n."""
    task = task_class(job.kind)
    rows = []
    for key, est in job.metrics.items():
        info = task.metric_info(key)
        missing = missing_interval(est, job.sampling)
        shown = missing is None
        digits = interval_digits(est.high - est.low) if shown else significant_digits(est.value)
        if missing is not None:
            ci = missing
        else:
            kind = " anytime-valid" if est.interval == "anytime-valid confidence sequence" else ""
            ci = f"[{info.format(est.low, digits)}, {info.format(est.high, digits)}]{kind}"
        rows.append(
            {
                "key": key,
                "name": info.name,
                "unit": info.unit,
                "value": est.value,
                "low": est.low,
                "high": est.high,
                "n": est.n,
                "value_text": info.format(est.value, digits),
                "ci": ci,
                "text": f"{info.format(est.value, digits)} {ci}"
                if ci.startswith("[")
                else info.format(est.value, digits),
                "has_interval": est.has_interval,
            }
        )
    return rows
