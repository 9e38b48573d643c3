"""Paired comparison of two models on the same examples: deltas with intervals, p-values, wins.

Pairing matters: both models answered the *same* questions, so their errors are correlated and the
difference is far better determined than two independent intervals suggest. The paired bootstrap
draws one set of resample counts and applies it to both models' per-example columns; McNemar's
exact test uses only the examples on which the two models disagree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .stats import MetricDef, percentile_interval, resampled_sums


@dataclass(frozen=True)
class Delta:
    """B minus A for one metric, with its paired-bootstrap interval and a two-sided p-value."""

    metric: str
    a: float
    b: float
    delta: float
    low: float
    high: float
    p_value: float
    test: str
    confidence: float
    b_only_correct: int | None = None  # McNemar counts, for proportion metrics
    a_only_correct: int | None = None

    def to_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)

    @property
    def significant(self) -> bool:
        return self.p_value < 1.0 - self.confidence


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[float, int, int]:
    """Two-sided exact McNemar p-value, and the counts (B right & A wrong, A right & B wrong).

    Under the null, each disagreement is a fair coin: p = P(Binomial(n, 1/2) <= min count) x 2, capped at 1.
    Computed in log space, so it is exact (to float precision) for any number of disagreements.
    """
    keep = ~(np.isnan(a_correct) | np.isnan(b_correct))
    a, b = a_correct[keep] > 0.5, b_correct[keep] > 0.5
    b_only, a_only = int(np.sum(b & ~a)), int(np.sum(a & ~b))
    n = a_only + b_only
    if n == 0:
        return 1.0, b_only, a_only
    k = min(a_only, b_only)
    log_terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)
    ]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2.0 * tail), b_only, a_only


def paired_delta(
    name: str,
    a: MetricDef,
    b: MetricDef,
    *,
    value_a: float,
    value_b: float,
    resamples: int,
    confidence: float,
    seed: int,
) -> Delta:
    """B - A with a paired bootstrap interval; McNemar's exact p for proportion metrics, else the bootstrap p.

    The bootstrap p-value is two-sided: twice the share of resampled deltas on the far side of zero.
    """
    if a.columns.shape[0] != b.columns.shape[0]:
        raise ValueError("paired comparison needs the same examples for both models")
    k = a.columns.shape[1]
    n = a.columns.shape[0]
    sums = resampled_sums(np.hstack([a.columns, b.columns]), resamples, seed)
    deltas = b.statistic(sums[:, k:], n) - a.statistic(sums[:, :k], n)
    low, high = percentile_interval(deltas, confidence)
    finite = deltas[np.isfinite(deltas)]
    boot_p = min(1.0, 2.0 * min(np.mean(finite <= 0.0), np.mean(finite >= 0.0))) if len(finite) else float("nan")
    if a.binary is not None and b.binary is not None:
        p, b_only, a_only = mcnemar_exact(a.binary, b.binary)
        return Delta(
            name, value_a, value_b, value_b - value_a, low, high, p, "McNemar exact", confidence, b_only, a_only
        )
    return Delta(name, value_a, value_b, value_b - value_a, low, high, float(boot_p), "paired bootstrap", confidence)


def wins(a_scores: np.ndarray, b_scores: np.ndarray) -> dict[str, int]:
    """On how many examples each model scored higher, and on how many they tied."""
    return {
        "a": int(np.sum(a_scores > b_scores)),
        "b": int(np.sum(b_scores > a_scores)),
        "ties": int(np.sum(a_scores == b_scores)),
    }
