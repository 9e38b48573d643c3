"""Bootstrap confidence intervals that resample per-example statistics, never re-run a metric.

Every metric auditkit reports is a function of *sums* of per-example columns: a mean is one column,
macro-F1 is the confusion-matrix cells (one indicator column per cell), calibration error is per-bin
counts and sums. A bootstrap resample is a vector of multinomial counts ``w`` (how often each
example was drawn), so its sums are ``w @ columns`` -- one matrix product for all resamples at once.
At SQuAD scale (10k examples, 1,000 resamples) that takes a fraction of a second, where recomputing
a string-matching metric per resample would take minutes.

The same counts applied to two models' columns give a *paired* bootstrap (for comparisons).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

#: Resamples drawn per matrix product; bounds memory at ~chunk x n x 8 bytes.
CHUNK = 200

SumsStatistic = Callable[[np.ndarray, int], np.ndarray]
"""Maps sums of shape (resamples, k) and the sample size n to one value per resample."""


@dataclass(frozen=True)
class Estimate:
    """A metric value with its bootstrap percentile confidence interval."""

    value: float
    low: float
    high: float
    confidence: float
    resamples: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def resampled_sums(columns: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Column sums for ``resamples`` bootstrap samples of the rows of ``columns`` (n, k) -> (resamples, k)."""
    columns = np.asarray(columns, dtype=np.float64)
    if columns.ndim == 1:
        columns = columns[:, None]
    n = columns.shape[0]
    rng = np.random.default_rng(seed)
    uniform = np.full(n, 1.0 / n)
    out = np.empty((resamples, columns.shape[1]))
    for first in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - first)
        counts = rng.multinomial(n, uniform, size=size).astype(np.float64)
        out[first : first + size] = counts @ columns
    return out


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    finite = samples[np.isfinite(samples)]
    if not len(finite):
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def estimate(
    columns: np.ndarray,
    statistic: SumsStatistic,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    value: float | None = None,
) -> Estimate:
    """``statistic`` on the full sample, with a percentile bootstrap interval.

    ``value`` overrides the point estimate when it must come from a reference implementation (SQuAD's
    official summation order), while the interval still comes from the resampled sums.
    """
    columns = np.asarray(columns, dtype=np.float64)
    if columns.ndim == 1:
        columns = columns[:, None]
    n = columns.shape[0]
    point = float(statistic(columns.sum(axis=0, keepdims=True), n)[0]) if value is None else float(value)
    if n == 0 or resamples <= 0:
        return Estimate(point, float("nan"), float("nan"), confidence, 0)
    low, high = percentile_interval(statistic(resampled_sums(columns, resamples, seed), n), confidence)
    return Estimate(point, low, high, confidence, resamples)


def percent_mean(sums: np.ndarray, n: int) -> np.ndarray:
    """100 x the mean of the first column (accuracy, exact match, F1 in percent)."""
    return 100.0 * sums[:, 0] / n


def percent_ratio(sums: np.ndarray, n: int) -> np.ndarray:
    """100 x first column sum / second column sum: a mean over a subset (column 2 is membership)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio: np.ndarray = 100.0 * sums[:, 0] / sums[:, 1]
    return ratio


@dataclass(frozen=True)
class MetricDef:
    """A metric as a statistic of per-example column sums, so it can be bootstrapped and compared pairwise.

    ``binary`` is the per-example 0/1 outcome for metrics that are a proportion of correct answers
    (accuracy, exact match): comparisons of those also get McNemar's test, and gates Wilson's interval.
    ``values`` is set for metrics that are ``scale`` x the mean of per-example values lying in ``bounds``
    (NaN: not in the metric's subset): those can be decided sequentially, with anytime-valid intervals.
    """

    columns: np.ndarray
    statistic: SumsStatistic
    binary: np.ndarray | None = None
    values: np.ndarray | None = None
    bounds: tuple[float, float] = (0.0, 1.0)
    scale: float = 100.0

    def estimate(self, *, resamples: int, confidence: float, seed: int, value: float | None = None) -> Estimate:
        return estimate(
            self.columns, self.statistic, resamples=resamples, confidence=confidence, seed=seed, value=value
        )

    def resampled(self, resamples: int, seed: int) -> np.ndarray:
        """The statistic on ``resamples`` bootstrap samples (for tests of a gate's bound)."""
        return self.statistic(resampled_sums(self.columns, resamples, seed), self.columns.shape[0])


def mean_def(values: np.ndarray, *, binary: bool = False, bounds: tuple[float, float] = (0.0, 1.0)) -> MetricDef:
    """Mean of per-example values in percent (values in ``bounds``, 0..1 unless said)."""
    values = np.asarray(values, dtype=np.float64)
    return MetricDef(values[:, None], percent_mean, values if binary else None, values, bounds)


def subset_mean_def(
    values: np.ndarray, mask: np.ndarray, *, binary: bool = False, bounds: tuple[float, float] = (0.0, 1.0)
) -> MetricDef:
    """Mean over the examples where ``mask`` holds, in percent; resampling keeps the subset's size random."""
    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(mask, dtype=np.float64)
    inside = np.where(mask > 0, values, np.nan)
    return MetricDef(np.column_stack([values * mask, mask]), percent_ratio, inside if binary else None, inside, bounds)
