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

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Resamples drawn per matrix product; bounds memory at ~chunk x n x 8 bytes.
CHUNK = 200

SumsStatistic = Callable[[np.ndarray, Any], np.ndarray]
"""Maps sums of shape (resamples, k) and the sample size n (an int, or one per resample when whole clusters
are resampled) to one value per resample."""


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


def resampled_sums(
    columns: np.ndarray, resamples: int, seed: int, clusters: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | int]:
    """Column sums for ``resamples`` bootstrap samples of the rows of ``columns`` (n, k) -> (resamples, k),
    and the sample size of each resample.

    With ``clusters`` (one label per row) whole clusters are resampled -- the independent draws when examples
    come in groups (questions of one article) -- so the size varies per resample and is returned per row.
    """
    columns = np.asarray(columns, dtype=np.float64)
    if columns.ndim == 1:
        columns = columns[:, None]
    rng = np.random.default_rng(seed)
    if clusters is not None:
        _, index = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
        units = np.zeros((int(index.max()) + 1 if len(index) else 0, columns.shape[1]))
        np.add.at(units, index, columns)
        sizes = np.bincount(index).astype(np.float64)
    else:
        units, sizes = columns, np.ones(columns.shape[0])
    g = units.shape[0]
    uniform = np.full(g, 1.0 / g)
    out = np.empty((resamples, columns.shape[1]))
    n_out = np.empty(resamples)
    for first in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - first)
        counts = rng.multinomial(g, uniform, size=size).astype(np.float64)
        out[first : first + size] = counts @ units
        n_out[first : first + size] = counts @ sizes
    return out, (n_out if clusters is not None else columns.shape[0])


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
    clusters: np.ndarray | None = None,
) -> Estimate:
    """``statistic`` on the full sample, with a percentile bootstrap interval.

    ``value`` overrides the point estimate when it must come from a reference implementation (SQuAD's
    official summation order), while the interval still comes from the resampled sums. ``clusters``
    resamples whole clusters; with few of them the percentile interval is too narrow, so its spread around
    the point is widened by sqrt(G / (G - 1)), the usual small-sample correction of a cluster variance.
    """
    columns = np.asarray(columns, dtype=np.float64)
    if columns.ndim == 1:
        columns = columns[:, None]
    n = columns.shape[0]
    point = float(statistic(columns.sum(axis=0, keepdims=True), n)[0]) if value is None else float(value)
    if n == 0 or resamples <= 0:
        return Estimate(point, float("nan"), float("nan"), confidence, 0)
    sums, sizes = resampled_sums(columns, resamples, seed, clusters)
    low, high = percentile_interval(statistic(sums, sizes), confidence)
    if clusters is not None:
        g = len(set(np.asarray(clusters, dtype=str).tolist()))
        if g > 1:
            stretch = float(np.sqrt(g / (g - 1)))
            low, high = point - stretch * (point - low), point + stretch * (high - point)
    return Estimate(point, low, high, confidence, resamples)


def scaled_mean(sums: np.ndarray, n: Any, *, scale: float) -> np.ndarray:
    """``scale`` x the mean of the first column (100 for accuracy, exact match and F1 in percent)."""
    mean: np.ndarray = scale * sums[:, 0] / n
    return mean


def scaled_ratio(sums: np.ndarray, n: Any, *, scale: float) -> np.ndarray:
    """``scale`` x first column sum / second column sum: a mean over a subset (column 2 is membership)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio: np.ndarray = scale * sums[:, 0] / sums[:, 1]
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
    scale: float = 1.0
    #: The cluster each row belongs to, by per-example column (``{"title": ...}``): the task's sampling units.
    groups: dict[str, np.ndarray] | None = None

    def clusters(self, column: str | None) -> np.ndarray | None:
        """The rows' cluster labels for the sampling unit stored in ``column`` (None: rows are independent)."""
        if column is None or not self.groups or column not in self.groups:
            return None
        return np.asarray(self.groups[column], dtype=str)

    def estimate(
        self,
        *,
        resamples: int,
        confidence: float,
        seed: int,
        value: float | None = None,
        clusters: np.ndarray | None = None,
    ) -> Estimate:
        return estimate(
            self.columns,
            self.statistic,
            resamples=resamples,
            confidence=confidence,
            seed=seed,
            value=value,
            clusters=clusters,
        )

    def value(self) -> float:
        """The statistic on all rows: the metric's point value on exactly these examples."""
        return float(self.statistic(self.columns.sum(axis=0)[None, :], self.columns.shape[0])[0])

    def resampled(self, resamples: int, seed: int, clusters: np.ndarray | None = None) -> np.ndarray:
        """The statistic on ``resamples`` bootstrap samples (of whole clusters when given)."""
        sums, sizes = resampled_sums(self.columns, resamples, seed, clusters)
        return self.statistic(sums, sizes)

    def resampled_change(
        self, other: MetricDef, resamples: int, seed: int, clusters: np.ndarray | None = None
    ) -> np.ndarray:
        """``other`` minus this metric on ``resamples`` *paired* bootstrap samples: one draw of rows (or whole
        clusters) serves both, since both models answered the same examples."""
        k = self.columns.shape[1]
        sums, sizes = resampled_sums(np.hstack([self.columns, other.columns]), resamples, seed, clusters)
        change: np.ndarray = other.statistic(sums[:, k:], sizes) - self.statistic(sums[:, :k], sizes)
        return change


def mean_def(
    values: np.ndarray,
    *,
    binary: bool = False,
    bounds: tuple[float, float] = (0.0, 1.0),
    scale: float = 1.0,
    groups: dict[str, np.ndarray] | None = None,
) -> MetricDef:
    """``scale`` x the mean of per-example values lying in ``bounds`` (``scale=100`` reports a share of 0/1
    outcomes in percent; the default keeps the values' own scale)."""
    values = np.asarray(values, dtype=np.float64)
    statistic = functools.partial(scaled_mean, scale=scale)
    return MetricDef(values[:, None], statistic, values if binary else None, values, bounds, scale, groups)


def subset_mean_def(
    values: np.ndarray,
    mask: np.ndarray,
    *,
    binary: bool = False,
    bounds: tuple[float, float] = (0.0, 1.0),
    scale: float = 1.0,
    groups: dict[str, np.ndarray] | None = None,
) -> MetricDef:
    """``scale`` x the mean over the examples where ``mask`` holds; resampling keeps the subset's size random."""
    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(mask, dtype=np.float64)
    inside = np.where(mask > 0, values, np.nan)
    statistic = functools.partial(scaled_ratio, scale=scale)
    return MetricDef(
        np.column_stack([values * mask, mask]), statistic, inside if binary else None, inside, bounds, scale, groups
    )
