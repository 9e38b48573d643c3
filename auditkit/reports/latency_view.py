"""The latency sections of a report: per-batch model time (with a p95 interval over batches), an endpoint's
request latency, and the p95 change between two jobs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics.latency import bootstrap_latency_difference, percentile_ci
from ..results import Job
from ..tasks import task_class
from ..views import Chart, chart, charts, fmt
from .formatting import precision_text


def latency_chart(job: Job, values_ms: list[float], what: str, xlabel: str, x_max: float | None = None) -> Chart:
    """A histogram of a job's latencies with its p50/p95/p99 marked."""
    marks = [(f"p{q}", float(np.percentile(values_ms, q))) for q in (50, 95, 99)] if values_ms else []
    title = f"{what} — {job.model} · {job.task}"
    x_range = (0.0, x_max) if x_max else None
    body = charts.histogram(values_ms, title=title, xlabel=xlabel, marks=marks, x_range=x_range)
    return chart("latency", title, body, job.model, job.task)


#: Fewer timed samples than this get no p95 interval: a bootstrap of a tail from a handful of points says nothing.
MIN_TAIL_SAMPLES = 20


def p95_interval(seconds: list[float] | None) -> str | None:
    """The p95's 95% bootstrap interval over the raw samples, as text; None when there are too few."""
    if not seconds or len(seconds) < MIN_TAIL_SAMPLES:
        return None
    low, high = percentile_ci(1000 * np.asarray(seconds), 95, 0.95, seed=0)
    return f"[{low:.1f}, {high:.1f}]"


def per_item_ms(job: Job) -> list[float]:
    """Per batch, its wall time divided by its items: the latency histogram's values."""
    pairs = zip(job.timing.batch_seconds or [], job.timing.batch_items or [], strict=True)
    return [1000 * seconds / n for seconds, n in pairs if n]


def latency_section(job: Job, model_info: dict[str, Any], x_max: float | None = None) -> dict[str, Any]:
    t = job.timing
    per_example_ms = per_item_ms(job)
    unit = task_class(job.kind).latency_unit
    what, xlabel = f"Model time per {unit}, per batch", f"ms per {unit} (batch time / batch size)"
    return {
        "model": job.model,
        "task": job.task,
        "examples": t.examples,
        "wall_seconds": fmt(t.wall_seconds),
        "examples_per_second": fmt(t.examples_per_second, 1),
        "p50": fmt(t.batch_latency_ms_p50, 1),
        "p95": fmt(t.batch_latency_ms_p95, 1),
        "p95_ci": p95_interval(t.batch_seconds),
        "p99": fmt(t.batch_latency_ms_p99, 1),
        "batches": t.batches,
        "batch_size": t.batch_size_used,
        "device": model_info.get("device"),
        "dtype": precision_text(model_info)
        + (f"; {t.rechecked} of {t.examples} re-checked" if t.rechecked is not None else ""),
        "tokens_per_second": fmt(t.tokens_per_second, 0),
        "chart": latency_chart(job, per_example_ms, what, xlabel, x_max),
        "single": {
            "examples": t.single_request_examples,
            "p50": fmt(t.single_request_ms_p50, 1),
            "p95": fmt(t.single_request_ms_p95, 1),
            "p99": fmt(t.single_request_ms_p99, 1),
            "mean": fmt(t.single_request_ms_mean, 1),
        }
        if t.single_request_ms_p50 is not None
        else None,
    }


def request_latency_section(job: Job) -> dict[str, Any]:
    """An endpoint job's client-side request latency, with the server's own compute time beside it when reported."""
    t = job.timing
    samples = [1000 * x for x in t.request_seconds or []]
    return {
        "model": job.model,
        "task": job.task,
        "examples": t.examples,
        "examples_per_second": fmt(t.examples_per_second, 1),
        "requests": t.requests,
        "retries": t.retries,
        "p50": fmt(t.request_latency_ms_p50, 1),
        "p95": fmt(t.request_latency_ms_p95, 1),
        "p95_ci": p95_interval(t.request_seconds),
        "p99": fmt(t.request_latency_ms_p99, 1),
        "compute_p50": fmt(t.batch_latency_ms_p50, 1) if t.batch_latency_ms_p50 is not None else "not reported",
        "batch_size": t.batch_size_used,
        "failed": job.failures.count if job.failures else 0,
        "chart": latency_chart(job, samples, "Request latency, client side", "ms per request, end to end"),
    }


def latency_delta(job_a: Job, job_b: Job, seed: int) -> dict[str, Any] | None:
    """B - A of the batch-latency p95 with a two-sample bootstrap interval over each job's timed batches
    (they are different batches, so not paired); lower is better. None without enough samples."""
    a, b = job_a.timing.batch_seconds or [], job_b.timing.batch_seconds or []
    if len(a) < MIN_TAIL_SAMPLES or len(b) < MIN_TAIL_SAMPLES:
        return None
    ms_a, ms_b = 1000 * np.asarray(a), 1000 * np.asarray(b)
    boot = bootstrap_latency_difference(ms_b, ms_a, "p95_ms", 2000, seed)
    low, high = (float(x) for x in np.quantile(boot, [0.025, 0.975]))
    p95_a, p95_b = float(np.percentile(ms_a, 95)), float(np.percentile(ms_b, 95))
    significant = low > 0 or high < 0
    return {
        "metric": "latency.p95_ms",
        "name": "Batch latency p95 (ms, lower is better)",
        "a": p95_a,
        "b": p95_b,
        "delta": p95_b - p95_a,
        "low": low,
        "high": high,
        "text": f"{p95_b - p95_a:+.1f} [{low:+.1f}, {high:+.1f}]",
        "p_text": "–",
        "test": "two-sample bootstrap over batches",
        "b_only_correct": None,
        "a_only_correct": None,
        "n": f"{len(a)} / {len(b)} batches",
        "verdict": ("B worse" if low > 0 else "B better") if significant else "no significant difference",
    }
