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

from ..stats import decide_paired
from .stats import MetricDef, percentile_interval


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
    column: str | None = None,
) -> Delta:
    """B - A on the same examples, with an interval and a two-sided p-value of "no difference".

    A metric that is a mean of bounded per-example values gets the same finite-sample paired test as a
    baseline gate (:func:`auditkit.stats.decide_paired`: exact McNemar for 0/1 outcomes, betting otherwise,
    by cluster when the examples came in clusters, ``column`` naming them); any other statistic (macro-F1,
    ECE) the paired bootstrap, resampling whole clusters. McNemar's counts are kept for 0/1 outcomes.
    """
    if a.columns.shape[0] != b.columns.shape[0]:
        raise ValueError("paired comparison needs the same examples for both models")
    counts: tuple[int | None, int | None] = (None, None)
    if a.binary is not None and b.binary is not None:
        _, b_only, a_only = mcnemar_exact(a.binary, b.binary)
        counts = (b_only, a_only)
    if a.values is not None and b.values is not None:
        va, vb = np.asarray(a.values, dtype=np.float64), np.asarray(b.values, dtype=np.float64)
        keep = ~(np.isnan(va) | np.isnan(vb))
        if keep.any():
            labels = b.clusters(column)
            lo, hi = b.bounds
            d = decide_paired(
                vb[keep] * b.scale, va[keep] * b.scale, ">=", 0.0, alpha=1.0 - confidence, low=lo * b.scale,
                high=hi * b.scale, clusters=None if labels is None else labels[keep],
                binary=a.binary is not None and b.binary is not None,
            )  # fmt: skip
            return Delta(
                name, value_a, value_b, value_b - value_a, d.low, d.high, d.p_value, d.method, confidence, *counts
            )
    deltas = a.resampled_change(b, resamples, seed, b.clusters(column))
    low, high = percentile_interval(deltas, confidence)
    finite = deltas[np.isfinite(deltas)]
    boot_p = min(1.0, 2.0 * min(np.mean(finite <= 0.0), np.mean(finite >= 0.0))) if len(finite) else float("nan")
    test = "paired bootstrap" + (" (whole clusters)" if b.clusters(column) is not None else "")
    return Delta(name, value_a, value_b, value_b - value_a, low, high, float(boot_p), test, confidence, *counts)


def wins(a_scores: np.ndarray, b_scores: np.ndarray) -> dict[str, int]:
    """On how many examples each model scored higher, and on how many they tied."""
    return {
        "a": int(np.sum(a_scores > b_scores)),
        "b": int(np.sum(b_scores > a_scores)),
        "ties": int(np.sum(a_scores == b_scores)),
    }
