"""Anytime-valid tests and confidence sequences for the mean of bounded per-example scores (betting).

Why betting: an evaluation that stops as soon as the answer is known looks at the data many times,
and a fixed-n interval checked after every chunk is wrong far more often than it says. A confidence
sequence is valid at *every* n at once (Howard, Ramdas, McAuliffe & Sekhon 2021), so stopping at any
data-dependent time keeps the error rate. Among the known constructions for bounded data, the betting
(capital process) ones of Waudby-Smith & Ramdas (2023, JRSS-B) are the tightest in practice.

The test of "mean <= m" bets on the next example being above m: capital
``K_t(m) = prod_i (1 + lambda_i (x_i - m))`` with ``0 <= lambda_i <= c / (m - lo)`` chosen from the
examples *before* i only (predictable). Under the null, K is a nonnegative supermartingale, so by
Ville's inequality ``P(sup_t K_t >= 1 / alpha) <= alpha``: rejecting the first time the capital reaches
1/alpha is valid however long one watches and whenever one stops. The mirror-image bet tests
"mean >= m". The bet size is Waudby-Smith & Ramdas' predictable plug-in,
``lambda_t = sqrt(2 log(1/alpha) / (sigma_(t-1)^2 t log(1 + t)))``, truncated at ``c = 1/2``.

Assumption (stated in the README): the examples are independent draws from the population the gate is
about, seen in a random order (auditkit shuffles them with the suite's seed). The paired difference of
two models on the same example is one bounded draw, so baseline gates use the same machinery.

The confidence sequence for reporting is the set of m that neither one-sided test rejects, on a grid,
intersected over time (a running intersection stays valid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .decide import Evidence

#: Largest bet as a fraction of what keeps the capital nonnegative.
TRUNCATION = 0.5
#: The level the bet sizes are tuned for when a p-value (not a fixed-level test) is wanted. Any
#: predictable bet keeps validity; this only trades power between small and large samples.
ALPHA_FOR_BETS = 0.025


def _predictable_lambdas(x: np.ndarray, alpha: float) -> np.ndarray:
    """Predictable plug-in bet sizes for observations in [0, 1] (before truncation), shape of ``x``.

    Works on the last axis, so a batch of independent streams (simulations) is one call.
    """
    t = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    cum = np.cumsum(x, axis=-1)
    mu = (0.5 + cum) / (t + 1)  # mu_hat_t, using x_1..x_t
    sq = np.cumsum((x - mu) ** 2, axis=-1)
    sigma2 = (0.25 + sq) / (t + 1)
    prev = np.concatenate([np.full((*x.shape[:-1], 1), 0.25), sigma2[..., :-1]], axis=-1)  # sigma_(t-1)^2
    return np.sqrt(2.0 * math.log(1.0 / alpha) / (prev * t * np.log1p(t)))


def log_capital(x: np.ndarray, m: float, alpha: float, upward: bool) -> np.ndarray:
    """Log capital after each observation of the bet against "mean <= m" (``upward``) or "mean >= m".

    ``x`` and ``m`` are on [0, 1]. Returns an array shaped like ``x`` (running log K_t).
    """
    lam = _predictable_lambdas(x, alpha)
    if upward:
        cap = TRUNCATION / m if m > 0 else np.inf
        steps = 1.0 + np.minimum(lam, cap) * (x - m)
    else:
        cap = TRUNCATION / (1.0 - m) if m < 1 else np.inf
        steps = 1.0 - np.minimum(lam, cap) * (x - m)
    return np.cumsum(np.log(np.maximum(steps, 1e-300)), axis=-1)


@dataclass(frozen=True)
class SequentialTest:
    """Where each one-sided betting test at the bound first reached 1/alpha (None: not yet), and the
    examples seen."""

    n: int
    above_at: int | None  # the mean is shown above the bound after this many examples
    below_at: int | None

    @property
    def first(self) -> str | None:
        """ "above" or "below", whichever was shown first (both can, only if the stream drifts)."""
        if self.above_at is None and self.below_at is None:
            return None
        if self.below_at is None or (self.above_at is not None and self.above_at <= self.below_at):
            return "above"
        return "below"


def _normalise(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        raise ValueError(f"bounds [{lo}, {hi}] are empty")
    y = (np.asarray(x, dtype=np.float64) - lo) / (hi - lo)
    if np.any(y < -1e-9) or np.any(y > 1 + 1e-9):
        raise ValueError(f"per-example values fall outside their declared range [{lo}, {hi}]")
    return np.clip(y, 0.0, 1.0)


def _first_crossing(log_k: np.ndarray, threshold: float) -> int | None:
    hits = np.flatnonzero(log_k >= threshold)
    return int(hits[0]) + 1 if len(hits) else None


def bet_against_bound(x: np.ndarray, bound: float, alpha: float, lo: float = 0.0, hi: float = 1.0) -> SequentialTest:
    """Both one-sided betting tests of the stream ``x`` (values in [lo, hi]) against ``bound``, each at ``alpha``."""
    y = _normalise(x, lo, hi)
    m = (bound - lo) / (hi - lo)
    n = len(y)
    if m <= 0.0:  # every value is at or above the bound
        return SequentialTest(n, 1 if n and m < 0 else None, None)
    if m >= 1.0:
        return SequentialTest(n, None, 1 if n and m > 1 else None)
    threshold = math.log(1.0 / alpha)
    above = _first_crossing(log_capital(y, m, alpha, upward=True), threshold) if n else None
    below = _first_crossing(log_capital(y, m, alpha, upward=False), threshold) if n else None
    return SequentialTest(n, above, below)


def confidence_sequence(
    x: np.ndarray, alpha: float, lo: float = 0.0, hi: float = 1.0, grid: int = 2001
) -> tuple[float, float]:
    """The running-intersection betting confidence sequence at the end of ``x``: each side at ``alpha``
    (a two-sided ``1 - 2 alpha`` sequence), on a grid of ``grid`` points over [lo, hi]."""
    y = _normalise(x, lo, hi)
    if not len(y):
        return lo, hi
    threshold = math.log(1.0 / alpha)
    ms = np.linspace(0.0, 1.0, grid)
    lam = _predictable_lambdas(y, alpha)
    keep = np.ones(grid, dtype=bool)
    for j, m in enumerate(ms):
        up = np.minimum(lam, TRUNCATION / m if m > 0 else np.inf)
        down = np.minimum(lam, TRUNCATION / (1.0 - m) if m < 1 else np.inf)
        k_up = np.cumsum(np.log(np.maximum(1.0 + up * (y - m), 1e-300)))
        k_down = np.cumsum(np.log(np.maximum(1.0 - down * (y - m), 1e-300)))
        keep[j] = k_up.max() < threshold and k_down.max() < threshold
    inside = np.flatnonzero(keep)
    if not len(inside):  # numerically empty: report the sample mean as a degenerate interval
        centre = float(np.mean(y))
        return lo + centre * (hi - lo), lo + centre * (hi - lo)
    low = ms[max(inside[0] - 1, 0)] if inside[0] > 0 else 0.0  # grid step outward: conservative
    high = ms[min(inside[-1] + 1, grid - 1)]
    return lo + float(low) * (hi - lo), lo + float(high) * (hi - lo)


def betting_evidence(
    x: np.ndarray, op: str, bound: float, *, lo: float, hi: float, scale: float, test: str
) -> Evidence:
    """Anytime-valid evidence about the mean of ``x`` (values in [lo, hi]) against ``bound`` (same units).

    p-values are ``1 / sup_t K_t`` -- valid at any stopping time (Ville) -- and the interval at level
    alpha is the running-intersection confidence sequence; both are reported on the metric's ``scale``.
    """
    y = _normalise(x, lo, hi)
    n = len(y)
    m = (bound - lo) / (hi - lo)

    def p_of(upward: bool) -> float:
        if not n:
            return 1.0
        if m <= 0.0 or m >= 1.0:  # the bound is at or beyond the range: one side is certain, the other impossible
            return 0.0 if (upward and m < 0.0) or (not upward and m > 1.0) else 1.0
        return float(min(1.0, math.exp(-float(np.max(log_capital(y, m, ALPHA_FOR_BETS, upward))))))

    p_above, p_below = p_of(True), p_of(False)
    side = 1 if op in (">=", ">") else -1
    p_go, p_nogo = (p_above, p_below) if side > 0 else (p_below, p_above)

    def interval(alpha: float) -> tuple[float, float]:
        low, high = confidence_sequence(x, alpha, lo, hi)
        return scale * low, scale * high

    se = scale * float(np.std(x, ddof=1)) / math.sqrt(n) if n > 1 else None
    return Evidence(test, n, p_go, p_nogo, se, interval)
