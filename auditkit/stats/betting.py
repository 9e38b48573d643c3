"""Tests of the mean of bounded values by betting: valid at every sample size, with no distributional assumption.

Why betting: F1-like scores pile up at 0 and 1, paired differences are mostly ties, and release gates sit
near the ends of the range with small n -- exactly where normal approximations and the bootstrap are
wrong far more often than they say (the validity table in docs/explanation/decisions.md). A betting test
needs only that the values lie in a known range and are independent draws (Waudby-Smith & Ramdas 2023, JRSS-B).

The test of "mean <= m" bets on each next value being above m: capital
``K_t(m) = prod_i (1 + lambda_i (y_i - m))`` with the bet ``lambda_i`` fixed before ``y_i`` is seen. Under
the null, K is a nonnegative supermartingale with ``E K <= 1``, so ``P(K_n >= 1/a) <= a`` (Markov, for a
fixed n) and ``P(sup_t K_t >= 1/a) <= a`` (Ville, for a run watched after every example and stopped
whenever it likes). The mirror-image bet tests "mean >= m". Everything works on values rescaled to [0, 1].

Two choices make the verdict and the printed interval one and the same test:

* the bet is capped at ``c / m`` for every null ``mean <= m'`` with ``m' <= m`` at once, so the capital
  falls as the tested bound rises and the p-value of the *composite* null "mean <= m" is the one at m;
* the interval's ends are found by bisection on those same monotone p-values, so a bound lies outside
  the interval exactly when its test rejects.

Bet sizes are Waudby-Smith & Ramdas' predictable plug-in: ``sqrt(2 log(1/a) / (n sigma_(t-1)^2))`` for a
fixed n, ``sqrt(2 log(1/a) / (sigma_(t-1)^2 t log(1 + t)))`` for anytime validity. Capitals are averaged
over a few strategies (an average of test supermartingales is one, at a cost of at most log of their
number): for a fixed n, a few fixed orders of the (exchangeable) data, so the verdict does not hinge on one
arbitrary order, each with a cautious and a bold cap; for anytime validity, the anytime bets and, when the
stream's horizon is known, bets tuned to it.
"""

from __future__ import annotations

import math

import numpy as np

#: Largest bet as a fraction of what keeps the capital nonnegative (Waudby-Smith & Ramdas' c).
TRUNCATION = 0.5
#: The cap of the second half of a test's bets (tuned to the horizon, or to n for a fixed n): with few
#: observations of small spread (two dozen article means) the usual cap, not the data, limits the evidence,
#: and a bold cap is what lets a clear effect show; averaged with the usual one it costs little elsewhere.
HORIZON_TRUNCATION = 0.9
#: Fixed orders the fixed-n capital is averaged over.
ORDERS = 8
_BISECTIONS = 48


def _orders(n: int) -> np.ndarray:
    """``ORDERS`` fixed pseudo-random permutations of n items (the first is the identity)."""
    rng = np.random.default_rng(20260101 + n)
    perms = [np.arange(n)] + [rng.permutation(n) for _ in range(ORDERS - 1)]
    return np.stack(perms)


def raw_bets(y: np.ndarray, a: float, *, horizon: int | None) -> np.ndarray:
    """Predictable plug-in bet sizes (before the cap) for streams ``y`` in [0, 1], along the last axis: tuned to
    decide by ``horizon`` observations, or (None) for every t at once."""
    n = y.shape[-1]
    t = np.arange(1, n + 1, dtype=np.float64)
    mu = (0.5 + np.cumsum(y, axis=-1)) / (t + 1)
    sigma2 = (0.25 + np.cumsum((y - mu) ** 2, axis=-1)) / (t + 1)
    prev = np.concatenate([np.full((*y.shape[:-1], 1), 0.25), sigma2[..., :-1]], axis=-1)[..., :n]
    if horizon is None:
        return np.asarray(np.sqrt(2.0 * math.log(1.0 / a) / (prev * t * np.log1p(t))))
    return np.asarray(np.sqrt(2.0 * math.log(1.0 / a) / (max(horizon, 1) * prev)))


class BettingTest:
    """Both one-sided betting tests of the mean of ``y`` (values in [0, 1]) at any bound, and their interval.

    ``anytime``: ``y`` is in the order seen and the p-values are valid at any stopping time (sup over t);
    otherwise the capital at the end, averaged over fixed orders. ``a`` is the one-sided level the bets
    are tuned for (any tuning keeps validity; it trades power between sample sizes). An anytime test with a
    known ``horizon`` (the most observations the stream can reach) bets half its capital the anytime way,
    which stops a far-off truth early, and half tuned to that horizon, which decides close calls by its end
    about as well as a fixed-n test (an average of test supermartingales is one).
    """

    def __init__(
        self,
        y: np.ndarray,
        a: float,
        *,
        anytime: bool,
        truncation: float = TRUNCATION,
        horizon: int | None = None,
    ) -> None:
        y = np.asarray(y, dtype=np.float64)
        self.n = len(y)
        self.anytime = anytime
        if anytime:
            self.streams = y[None, :] if horizon is None else np.stack([y, y])
            bets = [raw_bets(y[None, :], a, horizon=None)]
            caps = [truncation]
            if horizon is not None:
                bets.append(raw_bets(y[None, :], a, horizon=max(horizon, self.n)))
                caps.append(max(truncation, HORIZON_TRUNCATION))
            self.bets = np.concatenate(bets)
        else:  # every order twice: once with the usual cap, once with the bold one (see HORIZON_TRUNCATION)
            ordered = y[_orders(len(y))]
            self.streams = np.concatenate([ordered, ordered])
            self.bets = np.concatenate([raw_bets(ordered, a, horizon=self.n)] * 2)
            caps = [truncation] * len(ordered) + [max(truncation, HORIZON_TRUNCATION)] * len(ordered)
        self.c = np.asarray(caps, dtype=np.float64)[:, None]  # per row: bet strategy or order
        self.any_above_zero = bool(np.any(y > 0.0))
        self.any_below_one = bool(np.any(y < 1.0))

    def _mixture(self, log_k: np.ndarray) -> np.ndarray:
        """log of the capital averaged over the bet strategies (rows), at every t."""
        if log_k.shape[0] == 1:
            return np.asarray(log_k[0])
        return np.asarray(np.logaddexp.reduce(log_k, axis=0) - math.log(log_k.shape[0]))

    def _p(self, log_k: np.ndarray) -> float:
        if self.anytime:  # 1 / sup_t K_t, with K_0 = 1 (Ville)
            return math.exp(-max(float(np.max(self._mixture(log_k))), 0.0)) if log_k.shape[-1] else 1.0
        finals = log_k[:, -1]
        top = float(np.max(finals))
        log_mean = top + math.log(float(np.mean(np.exp(finals - top))))  # log of the averaged capital, no overflow
        return math.exp(-log_mean) if log_mean > 0 else 1.0

    def p_above(self, m: float) -> float:
        """p-value of the null "mean <= m" (small: the mean is above m)."""
        if not self.n:
            return 1.0
        if m <= 0.0:
            return 0.0 if self.any_above_zero and m == 0.0 else (0.0 if m < 0.0 else 1.0)
        if m >= 1.0:
            return 1.0
        steps = 1.0 + np.minimum(self.bets, self.c / m) * (self.streams - m)
        return self._p(np.cumsum(np.log(np.maximum(steps, 1e-300)), axis=-1))

    def p_below(self, m: float) -> float:
        """p-value of the null "mean >= m" (small: the mean is below m)."""
        if not self.n:
            return 1.0
        if m >= 1.0:
            return 0.0 if self.any_below_one and m == 1.0 else (0.0 if m > 1.0 else 1.0)
        if m <= 0.0:
            return 1.0
        steps = 1.0 - np.minimum(self.bets, self.c / (1.0 - m)) * (self.streams - m)
        return self._p(np.cumsum(np.log(np.maximum(steps, 1e-300)), axis=-1))

    def log_capital(self, m: float, *, above: bool) -> np.ndarray:
        """For an anytime test in (0, 1): the log capital after each value of the bet against "mean <= m"
        (``above``) or "mean >= m" -- what simulations of looks and stopping times read."""
        assert self.anytime and 0.0 < m < 1.0
        if above:
            steps = 1.0 + np.minimum(self.bets, self.c / m) * (self.streams - m)
        else:
            steps = 1.0 - np.minimum(self.bets, self.c / (1.0 - m)) * (self.streams - m)
        return self._mixture(np.cumsum(np.log(np.maximum(steps, 1e-300)), axis=-1))

    def first_crossing(self, m: float, a: float, *, above: bool) -> int | None:
        """For an anytime test: after how many values the test of "mean <= m" (``above``) or ">= m" first
        rejects at level ``a`` (None: not within the stream). Used to simulate when a sequential run stops."""
        hits = np.flatnonzero(self.log_capital(m, above=above) >= math.log(1.0 / a))
        return int(hits[0]) + 1 if len(hits) else None

    def interval(self, a: float) -> tuple[float, float] | None:
        """The bounds no one-sided test at level ``a`` rejects: [sup rejected "<= m", inf rejected ">= m"].

        None when the two sides cross (possible only for an anytime sequence whose data drift): an empty
        confidence sequence, which the caller reports as such.
        """
        low = _bisect(lambda m: self.p_above(m) <= a, rising=True)
        high = _bisect(lambda m: self.p_below(m) <= a, rising=False)
        return None if low > high else (low, high)


def _bisect(rejects: object, *, rising: bool) -> float:
    """For ``rising``: the sup of m in [0, 1] whose test rejects (rejections are a prefix [0, m*)); else the
    inf of m whose test rejects (a suffix (m*, 1])."""
    assert callable(rejects)
    lo, hi = 0.0, 1.0
    if rising:
        if not rejects(1e-12):
            return 0.0
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if rejects(mid) else (lo, mid)
        return lo
    if not rejects(1.0 - 1e-12):
        return 1.0
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if rejects(mid) else (mid, hi)
    return hi
