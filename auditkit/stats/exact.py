"""Exact binomial tests and Clopper-Pearson bounds: proportions, paired wins and losses, and percentiles; and the
exact hypergeometric bound for a sample drawn from a finite population (fast_mode: auto's agreement).

For 0/1 outcomes (accuracy, exact match, identical answers) the count of successes is binomial, so its
tail probabilities are the exact p-values -- no normal approximation, which is what fails near 0% and
100% and at small n. Clopper & Pearson's (1934) interval is the inversion of the same tails, so a bound
lies outside it exactly when the test rejects.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _scipy


def p_above(successes: int, n: int, m: float) -> float:
    """p-value of "rate <= m": P(X >= successes) for X ~ Bin(n, m) (the worst case of the composite null)."""
    return float(_scipy.binom.sf(successes - 1, n, min(max(m, 0.0), 1.0)))


def p_below(successes: int, n: int, m: float) -> float:
    """p-value of "rate >= m": P(X <= successes) for X ~ Bin(n, m)."""
    return float(_scipy.binom.cdf(successes, n, min(max(m, 0.0), 1.0)))


def clopper_pearson(successes: int, n: int, a: float) -> tuple[float, float]:
    """The rates no one-sided exact test at level ``a`` rejects (a two-sided ``1 - 2a`` interval)."""
    low = 0.0 if successes == 0 else float(_scipy.beta.ppf(a, successes, n - successes + 1))
    high = 1.0 if successes == n else float(_scipy.beta.ppf(1.0 - a, successes + 1, n - successes))
    return low, high


def order_statistic_ranks(n: int, q: float, a: float) -> tuple[int | None, int | None]:
    """1-based ranks (r, s) of the order statistics that bound the q-quantile at one-sided level ``a`` each:
    P(X_(r) <= xi_q) >= 1 - a and P(X_(s) >= xi_q) >= 1 - a, distribution-free. None: n is too small for
    that side (the bound is the end of the range)."""
    ranks = np.arange(1, n + 1)
    # X_(r) <= xi_q when at least r samples are <= xi_q; that count is Bin(n, F(xi_q)) with F(xi_q) >= q.
    lower = ranks[_scipy.binom.sf(ranks - 1, n, q) >= 1.0 - a]
    # X_(s) >= xi_q when at most s - 1 samples are < xi_q; that count is Bin(n, F(xi_q-)) with F(xi_q-) <= q.
    upper = ranks[_scipy.binom.cdf(ranks - 1, n, q) >= 1.0 - a]
    return (int(lower[-1]) if len(lower) else None), (int(upper[0]) if len(upper) else None)


def samples_needed(q: float, a: float) -> int:
    """The fewest samples for which both order-statistic bounds of the q-quantile exist at level ``a``:
    the upper needs q^n <= a (not every sample below the quantile), the lower (1 - q)^n <= a."""
    return max(1, math.ceil(max(math.log(a) / math.log(q), math.log(a) / math.log(1.0 - q)) - 1e-9))


def hypergeometric_lower(successes: int, n: int, population: int, a: float) -> int:
    """The fewest successes a finite population can hold that no one-sided exact test at level ``a`` rejects,
    given ``successes`` in a sample of ``n`` drawn from it uniformly without replacement.

    Why not Clopper-Pearson: a sample drawn from a job's own examples speaks about those examples, and the count
    in it is hypergeometric, not binomial. Inverting the hypergeometric tail P(X >= successes | M) (increasing
    in the population's count M) is exact at every n and knows the population is finite: a sample of the whole
    population gives its count exactly.
    """
    if successes <= 0:
        return 0
    low, high = successes, population - (n - successes)  # the counts the sample leaves possible
    while low < high:  # the smallest M with P(X >= successes) > a; at M = high the sample forces it (P = 1)
        middle = (low + high) // 2
        if float(_scipy.hypergeom.sf(successes - 1, population, middle, n)) > a:
            high = middle
        else:
            low = middle + 1
    return low
