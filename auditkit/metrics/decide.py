"""Release decisions from data: GO, NO_GO or INCONCLUSIVE, with the test, the interval and the error rate stated.

A gate ``value op bound`` is two one-sided tests on the same quantity (a metric, or the paired
difference from a baseline):

* ``p_go``   tests "the gate fails" (for ``>=``: the true value is below the bound); rejecting it says GO;
* ``p_nogo`` tests "the gate holds"; rejecting it says NO_GO.

At most one of the two null hypotheses is true, so a gate decided at level ``alpha`` in each direction
is wrong with probability at most ``alpha``. Neither rejected is INCONCLUSIVE: the interval straddles
the bound, and the data cannot tell which side the truth is on. The interval reported with a
decision is the two one-sided ``1 - alpha`` bounds, i.e. a two-sided ``1 - 2 alpha`` interval (90% at
alpha = 0.05, as in non-inferiority trials): GO exactly when it lies on the holding side of the bound.

Many gates at once raise the chance that *some* verdict is wrong; :func:`adjust` applies Holm's
step-down (family-wise error) or Benjamini-Hochberg (false discovery rate) to the decision p-values.

Everything here is pure numpy on per-example values or resampled statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

Verdict = Literal["GO", "NO_GO", "INCONCLUSIVE"]
Correction = Literal["holm", "bh", "none"]
_NORMAL = NormalDist()


def worst(verdicts: Iterable[str]) -> Verdict:
    """The verdict of several gates: NO_GO if any says so, else INCONCLUSIVE if any is undecided, else GO."""
    verdicts = set(verdicts)
    if "NO_GO" in verdicts:
        return "NO_GO"
    if "INCONCLUSIVE" in verdicts:
        return "INCONCLUSIVE"
    return "GO"


@dataclass(frozen=True)
class Evidence:
    """What a test says about one gate before the multiple-comparison step fixes its level.

    ``interval(alpha)`` gives the one-sided ``1 - alpha`` lower and upper bounds at any level, so the
    reported interval matches the level the correction assigns; ``p_go``/``p_nogo`` are the one-sided
    p-values described in the module docstring; ``se`` is the estimate's standard error (for the MDE).
    """

    test: str
    n: int
    p_go: float
    p_nogo: float
    se: float | None
    interval: Callable[[float], tuple[float, float]]

    @property
    def p_decision(self) -> float:
        return min(self.p_go, self.p_nogo)


def _sides(op: str) -> int:
    """+1 when the gate wants the value high (``>=``, ``>``), -1 when low; 0 for (in)equality gates."""
    return 1 if op in (">=", ">") else (-1 if op in ("<=", "<") else 0)


def _no_interval(alpha: float) -> tuple[float, float]:
    return math.nan, math.nan


#: The "test" of a gate the metric's range decides (``accuracy >= 0``, ``f1 <= 100``, ``accuracy >= 101``).
RANGE_TEST = "bound at or beyond the end of the metric's range"


def certain(op: str, bound: float, low: float, high: float, n: int) -> Evidence | None:
    """Evidence for a gate whose answer the metric's range [low, high] settles (``accuracy >= 0``: always
    holds; ``f1 <= 100``: always holds; ``f1 > 120``: never), else None."""
    side = _sides(op)
    if side == 0:
        return None
    always = bound <= low if side > 0 else bound >= high
    never = bound > high if side > 0 else bound < low
    if not (always or never):
        return None

    def interval(alpha: float) -> tuple[float, float]:
        return low, high

    return Evidence(RANGE_TEST, n, 0.0 if always else 1.0, 0.0 if never else 1.0, None, interval)


def bootstrap_evidence(samples: np.ndarray, op: str, bound: float, n: int, test: str) -> Evidence:
    """Evidence from a bootstrap distribution of the gated quantity (percentile method).

    p-values are the share of resamples on the far side of the bound, with the +1 correction that keeps
    a finite bootstrap from ever claiming p = 0.
    """
    finite = np.asarray(samples, dtype=np.float64)
    finite = np.sort(finite[np.isfinite(finite)])
    count = len(finite)
    if not count:
        return Evidence(test, n, 1.0, 1.0, None, _no_interval)
    above = (np.sum(finite <= bound) + 1) / (count + 1)  # evidence against "value <= bound"
    below = (np.sum(finite >= bound) + 1) / (count + 1)
    p_go, p_nogo = (above, below) if _sides(op) >= 0 else (below, above)

    def interval(alpha: float) -> tuple[float, float]:
        low, high = np.quantile(finite, [alpha, 1.0 - alpha])
        return float(low), float(high)

    se = float(np.std(finite, ddof=1)) if count > 1 else None
    return Evidence(test, n, float(p_go), float(p_nogo), se, interval)


def wilson_evidence(successes: int, n: int, op: str, bound: float, scale: float = 100.0) -> Evidence:
    """Evidence for a proportion (accuracy, exact match, identical answers) from the score test.

    The Wilson interval is the inversion of this test, so the reported interval and the verdict agree.
    ``bound`` and the interval are on the metric's scale (``scale`` 100 for percent).
    """
    if n == 0:
        return Evidence("Wilson score", 0, 1.0, 1.0, None, _no_interval)
    settled = certain(op, bound, 0.0, scale, n)
    if settled is not None:
        return settled
    p_hat, b = successes / n, bound / scale
    if 0.0 < b < 1.0:
        zs = (p_hat - b) / math.sqrt(b * (1.0 - b) / n)
        p_above, p_below = 1.0 - _NORMAL.cdf(zs), _NORMAL.cdf(zs)
    else:  # a bound at 0% or 100%: one observed success (failure) proves the rate is above 0 (below 100%)
        p_above = 0.0 if p_hat > b else 1.0
        p_below = 0.0 if p_hat < b else 1.0
    p_go, p_nogo = (p_above, p_below) if _sides(op) >= 0 else (p_below, p_above)

    def interval(alpha: float) -> tuple[float, float]:
        low, high = wilson_interval(successes, n, 1.0 - 2.0 * alpha)
        return scale * low, scale * high

    se = scale * math.sqrt(max(p_hat * (1 - p_hat), 1.0 / (4 * n)) / n)
    return Evidence("Wilson score", n, p_go, p_nogo, se, interval)


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (Wilson 1927): good coverage even near 0 and 1."""
    if n == 0:
        return math.nan, math.nan
    z = _NORMAL.inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def adjust(p_values: list[float], alpha: float, method: Correction) -> list[float]:
    """The level each test is judged at so the family keeps ``alpha`` (Holm: FWER; BH: FDR; none).

    Holm (1979): sort the p-values; the k-th smallest (0-based) is compared with alpha / (m - k), and
    the first one that misses stops the procedure -- every later test gets that last level too.
    Benjamini & Hochberg (1995): the largest k with p_(k) <= k alpha / m; all tests are judged at
    k alpha / m (those below it are rejected, the rest are not).
    """
    m = len(p_values)
    if m == 0 or method == "none":
        return [alpha] * m
    order = sorted(range(m), key=lambda i: p_values[i])
    levels = [0.0] * m
    if method == "holm":
        stopped: float | None = None
        for rank, i in enumerate(order):
            level = alpha / (m - rank)
            if stopped is None and p_values[i] > level:
                stopped = level
            levels[i] = stopped if stopped is not None else level
        return levels
    largest = 0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank * alpha / m:
            largest = rank
    level = max(largest, 1) * alpha / m
    return [level] * m


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    alpha: float
    low: float | None
    high: float | None


def decide(evidence: Evidence, op: str, bound: float, alpha: float) -> Decision:
    """The verdict at one-sided level ``alpha``, with the matching ``1 - 2 alpha`` interval."""
    low, high = evidence.interval(alpha)
    if _sides(op) == 0:  # == / != gates have no direction: decided on whether the interval holds the bound
        inside = low <= bound <= high
        verdict: Verdict = "INCONCLUSIVE" if inside else ("NO_GO" if op == "==" else "GO")
    elif evidence.p_go <= alpha:
        verdict = "GO"
    elif evidence.p_nogo <= alpha:
        verdict = "NO_GO"
    else:
        verdict = "INCONCLUSIVE"
    return Decision(verdict, alpha, _finite(low), _finite(high))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def z(alpha: float) -> float:
    """The one-sided standard normal quantile z_(1 - alpha)."""
    return _NORMAL.inv_cdf(1.0 - alpha)


def mde(se: float | None, alpha: float, power: float) -> float | None:
    """Minimum detectable effect: the smallest true distance from the bound that a one-sided test at
    ``alpha`` detects with probability ``power``, given the estimate's standard error (normal approximation):
    MDE = (z_(1-alpha) + z_power) x SE."""
    if se is None or not math.isfinite(se):
        return None
    return (z(alpha) + z(1.0 - power)) * se


def n_needed(sd: float, distance: float, alpha: float, power: float) -> int | None:
    """Examples needed so a true ``distance`` from the bound is decided with probability ``power``.

    ``sd`` is the per-example standard deviation of the gated quantity on the metric's scale (of the
    paired differences for a baseline gate): n = ((z_(1-alpha) + z_power) sd / distance)^2. None when the
    distance is zero (a value exactly on the bound is never decidable).
    """
    if distance <= 0 or not math.isfinite(sd):
        return None
    return max(1, math.ceil(((z(alpha) + z(1.0 - power)) * sd / distance) ** 2))
