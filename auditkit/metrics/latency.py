"""Latency figures with intervals: percentiles of raw timed samples, resampled, never averaged across shards.

A p95 averaged over workers is not the p95 of anything; auditkit merges every chunk's and every Ray
worker's raw samples first (``cache.merge_timings``) and takes percentiles of the whole set. Their
uncertainty is a bootstrap over those samples (requests, or batches for local models).
"""

from __future__ import annotations

import numpy as np


def latency_statistic(samples: np.ndarray, key: str) -> np.ndarray:
    """The figure (p50/p95/p99/mean) of each row of ``samples`` -- percentiles as numpy's default (linear)."""
    if key.endswith("mean_ms"):
        return np.asarray(samples.mean(axis=-1))
    q = float(key.rsplit("_", 2)[-2].removeprefix("p"))
    return np.asarray(np.percentile(samples, q, axis=-1))


def bootstrap_latency(samples: np.ndarray, key: str, resamples: int, seed: int) -> np.ndarray:
    """The latency figure on ``resamples`` bootstrap resamples of the requests (or batches)."""
    rng = np.random.default_rng(seed)
    out = np.empty(resamples)
    for first in range(0, resamples, 500):
        size = min(500, resamples - first)
        idx = rng.integers(0, len(samples), size=(size, len(samples)))
        out[first : first + size] = latency_statistic(samples[idx], key)
    return out


def bootstrap_latency_difference(
    candidate: np.ndarray, baseline: np.ndarray, key: str, resamples: int, seed: int
) -> np.ndarray:
    """Candidate minus baseline of the latency figure, each resampled on its own: two runs time different
    requests (or batches), so the samples are not paired."""
    difference: np.ndarray = bootstrap_latency(candidate, key, resamples, seed) - bootstrap_latency(
        baseline, key, resamples, seed + 1
    )
    return difference


def percentile_ci(
    samples_ms: np.ndarray, q: int, confidence: float, seed: int, resamples: int = 2000
) -> tuple[float, float]:
    """A percentile bootstrap interval of the ``q``-th percentile of ``samples_ms``."""
    boot = bootstrap_latency(np.asarray(samples_ms, dtype=np.float64), f"p{q}_ms", resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return float(low), float(high)
