"""GO, NO_GO or INCONCLUSIVE from per-example data, valid at every sample size: the tests behind every gate.

A gate ``value op bound`` is two one-sided tests of the same quantity: "the gate fails" (rejecting it says
GO) and "the gate holds" (rejecting it says NO_GO). At most one of the two nulls is true, so each gate has
one way to be wrong. The verdict rule, stated once: with one gate, GO when the two-sided ``1 - alpha``
interval (95% by default) lies wholly on the passing side of the bound, NO_GO when wholly on the failing
side, INCONCLUSIVE when it holds the bound; the interval is the inversion of the same tests, so the two
never disagree. Equivalently each direction is tested at ``alpha / 2``; ``p_value`` is
``min(1, 2 min(p_go, p_nogo))``. Several gates: :func:`adjust` applies Holm (or BH) to the 2m one-sided
p-values, which for one gate is exactly this rule.

Which test, by the data (every one exact or finite-sample valid; docs/explanation/decisions.md shows the simulation):

* 0/1 values, fixed n: the exact binomial test and Clopper-Pearson interval;
* other bounded values, or any stream watched while it runs (``sequential``): betting (hedged capital);
* paired 0/1 values with margin 0: the exact McNemar (sign) test on the discordant pairs;
* percentiles: the distribution-free order-statistic interval and its binomial test;
* ``clusters``: examples sampled in groups (SQuAD questions by article, probes by template) are not
  independent, so the independent draws are the clusters: each cluster's mean is one observation and the
  tests above run on those (each cluster weighs the same; the interval speaks about the population of
  clusters, e.g. articles like these). Results carry the number of clusters and the design effect.

Assumptions: the (cluster) observations are independent draws from the population the gate is about, and
the values lie in ``[low, high]``; for ``sequential`` they are in the order seen, which was fixed before
any of them was (auditkit derives it from the data, so it cannot be shopped for).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Literal

import numpy as np

from . import exact
from .betting import BettingTest

Verdict = Literal["GO", "NO_GO", "INCONCLUSIVE"]
Op = Literal[">=", ">", "<=", "<"]
Correction = Literal["holm", "bh", "none"]
OPS: tuple[str, ...] = (">=", ">", "<=", "<")
_NORMAL = NormalDist()

RANGE_NOTE = "the bound is at or beyond the end of the range, which decides the gate"


@dataclass(frozen=True)
class Decision:
    """A verdict with the evidence behind it.

    ``interval`` is the two-sided ``confidence`` interval of the tested quantity (the mean, the paired mean
    difference, the percentile) made by inverting the same tests as the verdict; ``(nan, nan)`` when an
    anytime confidence sequence came out empty (``empty``: the data drifted; no interval is claimed).
    ``p_go``/``p_nogo`` are the one-sided p-values of "the gate fails"/"the gate holds"; ``p_value`` the
    two-sided one the verdict compares with alpha. ``estimate`` is the tested quantity's point value: with
    clusters, the mean of cluster means. ``samples_needed``: for a percentile too few samples bound at
    this level, how many would. ``anytime_valid``: valid at any stopping time (a watched stream);
    ``finite_sample``: False only for an asymptotic stand-in (a bootstrap), which no error statement covers.
    """

    verdict: Verdict
    p_value: float
    interval: tuple[float, float]
    confidence: float
    n: int
    n_clusters: int | None
    method: str
    estimate: float
    p_go: float = field(repr=False, default=1.0)
    p_nogo: float = field(repr=False, default=1.0)
    design_effect: float | None = None
    samples_needed: int | None = None
    empty: bool = False
    notes: tuple[str, ...] = ()
    anytime_valid: bool = False
    finite_sample: bool = True

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]

    def at(self, alpha: float, level: float | None = None) -> Decision:
        """This evidence decided at ``alpha`` (or with its one-sided p-values judged at ``level`` each, the
        level a multiple-comparison step assigns): same interval, same p-values, verdict recomputed."""
        a = alpha / 2.0 if level is None else level
        return replace(self, verdict=verdict_at(self.p_go, self.p_nogo, a))


def verdict_at(p_go: float, p_nogo: float, level: float) -> Verdict:
    """GO / NO_GO when that direction's one-sided p-value is at most ``level`` (the smaller one wins)."""
    if min(p_go, p_nogo) > level:
        return "INCONCLUSIVE"
    return "GO" if p_go <= p_nogo else "NO_GO"


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be between 0 and 1 (got {alpha!r})")


def _check_op(op: str) -> None:
    if op not in OPS:
        hint = " -- an equality gate needs a tolerance: write two gates (>= and <=)" if op in ("==", "!=") else ""
        raise ValueError(f"op must be one of {', '.join(OPS)} (got {op!r}){hint}")


def _values(values: Sequence[float] | np.ndarray, low: float, high: float, what: str) -> np.ndarray:
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise ValueError(f"the range [{low}, {high}] is not a finite interval with low < high")
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError(f"{what}: no values (n = 0): nothing to decide on")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: {int(np.sum(~np.isfinite(x)))} values are NaN or infinite")
    tolerance = 1e-9 * (high - low)
    if np.any(x < low - tolerance) or np.any(x > high + tolerance):
        raise ValueError(
            f"{what}: values from {x.min():g} to {x.max():g} fall outside the declared range [{low:g}, {high:g}]"
        )
    return np.clip(x, low, high)


@dataclass(frozen=True)
class _Sample:
    """The independent observations a test runs on: the values themselves, or one mean per cluster."""

    obs: np.ndarray
    n: int
    n_clusters: int | None
    design_effect: float | None

    @property
    def clustered(self) -> bool:
        return self.n_clusters is not None and self.n_clusters < self.n


def cluster_means(values: np.ndarray, labels: Sequence[object] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's mean of ``values`` and its size, clusters in the order they first appear."""
    codes: dict[object, int] = {}
    index = np.fromiter(
        (codes.setdefault(label, len(codes)) for label in np.asarray(labels, dtype=object).ravel()),
        dtype=np.int64,
        count=len(values),
    )
    sizes = np.bincount(index, minlength=len(codes)).astype(np.float64)
    return np.bincount(index, weights=values, minlength=len(codes)) / sizes, sizes


def design_effect(values: np.ndarray, means: np.ndarray) -> float | None:
    """Var(mean of the cluster means) / Var(mean as if every value were independent): how much clustering
    widens an interval, squared (None with fewer than two clusters, one cluster per value, or constant data)."""
    g, n = len(means), len(values)
    if not 1 < g < n:
        return None
    item_var = float(np.var(values, ddof=1))
    return None if item_var <= 0 else float(np.var(means, ddof=1) / g) / (item_var / n)


def _sample(x: np.ndarray, clusters: Sequence[object] | np.ndarray | None) -> _Sample:
    if clusters is None:
        return _Sample(x, len(x), None, None)
    labels = np.asarray(clusters, dtype=object).ravel()
    if len(labels) != len(x):
        raise ValueError(f"clusters has {len(labels)} labels for {len(x)} values: give one label per value")
    means, _ = cluster_means(x, labels)
    return _Sample(means, len(x), len(means), design_effect(x, means))


#: With clusters, the share of alpha an anytime run spends on its screening phase (one example per cluster).
SCREENING_SHARE = 0.5
#: The screening phase bets boldly (up to 90% of its capital per example): it exists to stop a far-off truth
#: -- a broken release -- after a handful of clusters, and close calls are the second phase's job.
SCREENING_TRUNCATION = 0.9


def _whole_clusters(x: np.ndarray, labels: list[object], start: int, complete: bool) -> np.ndarray:
    """Means of the clusters of a watched stream from ``start`` on, in the order they come, each over all its
    examples (before ``start`` too): one fixed observation per cluster, so the capital is one process.

    The clusters must come one after the other (a cluster that reappears after another began is an error:
    its mean would change after it was bet on). The last cluster counts only when the stream is known to end
    with it whole (``complete``); otherwise it waits until the next one begins.
    """
    order = list(dict.fromkeys(labels[start:]))
    closed: set[object] = set()
    current: object = None
    for label in labels[start:]:
        if label != current:
            if label in closed:
                raise ValueError(
                    f"sequential scores with clusters must come cluster by cluster: cluster {label!r} reappears after"
                    " another began (reveal whole clusters, after at most one example of each)"
                )
            if current is not None:
                closed.add(current)
            current = label
    if not complete and order:
        order = order[:-1]
    sums = dict.fromkeys(order, 0.0)
    counts = dict.fromkeys(order, 0)
    for label, value in zip(labels, x.tolist(), strict=True):
        if label in sums:
            sums[label] += value
            counts[label] += 1
    return np.array([sums[label] / counts[label] for label in order], dtype=np.float64)


def _phases(
    x: np.ndarray, clusters: Sequence[object] | np.ndarray | None, complete: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """The two streams of a clustered anytime run, or None when it has no screening phase.

    Screening: the longest prefix in which every example comes from a new cluster (one example of each of
    several clusters, as ``--until-decided`` reveals them first); None when it holds fewer than two. Whole
    clusters: :func:`_whole_clusters` of what follows. A run stopped while screening has no second stream
    yet; it is judged as two phases all the same, so the rule is one and the same at every look.
    """
    if clusters is None:
        return None
    labels = np.asarray(clusters, dtype=object).ravel().tolist()
    first_seen: dict[object, int] = {}
    for i, label in enumerate(labels):
        first_seen.setdefault(label, i)
    repeats = [i for i, label in enumerate(labels) if first_seen[label] != i]
    prefix = repeats[0] if repeats else len(labels)
    if prefix < 2:
        return None
    return x[:prefix], _whole_clusters(x, labels, prefix, complete)


class _PhasedTest:
    """An anytime test of clustered data in two phases whose errors add up to the level (Bonferroni, valid
    however the phases depend on each other): a screening stream of one example per cluster -- independent
    draws that decide a far-off truth after a handful of examples -- and the stream of whole-cluster means,
    which decides close calls. p-values are ``min(p_screen / w, p_clusters / (1 - w))``; the interval is the
    intersection of the two confidence sequences at ``w a`` and ``(1 - w) a``, the same test inverted."""

    def __init__(self, screen: np.ndarray, clusters: np.ndarray, a: float, horizon: int | None) -> None:
        screen, clusters = np.clip(screen, 0.0, 1.0), np.clip(clusters, 0.0, 1.0)
        w = SCREENING_SHARE
        self.weights = (w, 1.0 - w)
        self.tests = (
            BettingTest(screen, a * w, anytime=True, truncation=SCREENING_TRUNCATION),
            BettingTest(clusters, a * (1 - w), anytime=True, horizon=horizon),
        )

    def p_above(self, m: float) -> float:
        return min(1.0, *(t.p_above(m) / w for t, w in zip(self.tests, self.weights, strict=True)))

    def p_below(self, m: float) -> float:
        return min(1.0, *(t.p_below(m) / w for t, w in zip(self.tests, self.weights, strict=True)))

    def interval(self, a: float) -> tuple[float, float] | None:
        parts = [t.interval(a * w) for t, w in zip(self.tests, self.weights, strict=True)]
        if any(part is None for part in parts):
            return None
        low = max(part[0] for part in parts if part is not None)
        high = min(part[1] for part in parts if part is not None)
        return None if low > high else (low, high)


def _settled(op: str, m: float) -> Literal["always", "never"] | None:
    """Whether the range [0, 1] alone decides ``mean op m`` (m on the unit scale)."""
    if op == ">=":
        return "always" if m <= 0.0 else ("never" if m > 1.0 else None)
    if op == ">":
        return "always" if m < 0.0 else ("never" if m >= 1.0 else None)
    if op == "<=":
        return "always" if m >= 1.0 else ("never" if m < 0.0 else None)
    return "always" if m > 1.0 else ("never" if m <= 0.0 else None)


def _finish(
    op: str,
    m: float,
    p_above: float,
    p_below: float,
    unit_interval: tuple[float, float] | None,
    alpha: float,
    sample: _Sample,
    method: str,
    estimate: float,
    to_scale: tuple[float, float],
    notes: tuple[str, ...] = (),
    anytime: bool = False,
) -> Decision:
    """The decision from the two one-sided p-values at ``m`` and the unit-scale interval (mapped back)."""
    higher = op in (">=", ">")
    p_go, p_nogo = (p_above, p_below) if higher else (p_below, p_above)
    settled = _settled(op, m)
    if settled is not None:
        p_go, p_nogo = (0.0, 1.0) if settled == "always" else (1.0, 0.0)
        notes = (*notes, RANGE_NOTE)
    origin, width = to_scale
    empty = unit_interval is None
    interval = (math.nan, math.nan) if unit_interval is None else tuple(origin + width * v for v in unit_interval)
    if empty:
        notes = (*notes, "the confidence sequence is empty: the data are not consistent with one fixed mean")
    return Decision(
        verdict=verdict_at(p_go, p_nogo, alpha / 2.0),
        p_value=min(1.0, 2.0 * min(p_go, p_nogo)),
        interval=(float(interval[0]), float(interval[1])),
        confidence=1.0 - alpha,
        n=sample.n,
        n_clusters=sample.n_clusters,
        method=method,
        estimate=estimate,
        p_go=p_go,
        p_nogo=p_nogo,
        design_effect=sample.design_effect,
        empty=empty,
        notes=notes,
        anytime_valid=anytime,
    )


def _is_binary(y: np.ndarray, declared: bool | None) -> bool:
    """Whether values in [0, 1] are 0/1 outcomes: as declared, else when every value is 0 or 1."""
    observed = bool(np.all((y == 0.0) | (y == 1.0)))
    if declared is None:
        return observed
    if declared and not observed:
        raise ValueError("binary=True, but some scores lie strictly between low and high")
    return declared


def _decide_mean(
    unit: np.ndarray,
    m: float,
    op: str,
    *,
    alpha: float,
    clusters: Sequence[object] | np.ndarray | None,
    sequential: bool,
    binary: bool,
    horizon: int | None,
    complete: bool,
    to_scale: tuple[float, float],
    prefix: str = "",
) -> Decision:
    """The test of the mean of per-example values ``unit`` (on [0, 1]) against ``m``: exact binomial for 0/1
    outcomes at a fixed n, betting otherwise; on cluster means with clusters, in two phases when watched."""
    sample = _sample(unit, clusters)
    a = alpha / 2.0
    phases = _phases(unit, clusters, complete) if sequential else None
    test: BettingTest | _PhasedTest
    if phases is not None:
        test = _PhasedTest(*phases, a, horizon)
        method = (
            f"betting confidence sequence (anytime-valid): {len(phases[0])} screening examples, then"
            f" {len(phases[1])} whole clusters"
        )
    elif binary and not sequential and not sample.clustered:
        k, n = int(unit.sum()), len(unit)
        return _finish(
            op, m, exact.p_above(k, n, m), exact.p_below(k, n, m), exact.clopper_pearson(k, n, a), alpha, sample,
            "exact binomial", to_scale[0] + to_scale[1] * float(np.mean(sample.obs)), to_scale,
        )  # fmt: skip
    else:
        obs = sample.obs
        if sequential and sample.clustered and clusters is not None:  # one fixed mean per cluster, as it closes
            obs = _whole_clusters(unit, np.asarray(clusters, dtype=object).ravel().tolist(), 0, complete)
        test = BettingTest(np.clip(obs, 0.0, 1.0), a, anytime=sequential, horizon=horizon)
        method = "betting confidence sequence (anytime-valid)" if sequential else "betting (hedged capital)"
        if sample.clustered:
            method += f" on {sample.n_clusters} cluster means"
    origin, width = to_scale
    return _finish(
        op, m, test.p_above(m), test.p_below(m), test.interval(a), alpha, sample, prefix + method,
        origin + width * float(np.mean(sample.obs)), to_scale, anytime=sequential,
    )  # fmt: skip


def decide_threshold(
    scores: Sequence[float] | np.ndarray,
    op: str,
    bound: float,
    *,
    alpha: float = 0.05,
    low: float = 0.0,
    high: float = 1.0,
    clusters: Sequence[object] | np.ndarray | None = None,
    sequential: bool = False,
    binary: bool | None = None,
    horizon: int | None = None,
    complete: bool = False,
) -> Decision:
    """Decide ``mean(scores) op bound`` for per-example ``scores`` in ``[low, high]``.

    ``clusters``: one label per score (article, template): the test then runs on cluster means.
    ``sequential``: ``scores`` are in the order they were seen and may have been watched after every one
    of them; the p-value and interval are then anytime-valid.
    ``binary``: whether the scores are 0/1 outcomes (at ``low``/``high`` only), which the exact binomial test
    needs; None infers it from the values. Say ``False`` for a score that *can* fall in between (F1) even if
    these happen not to: a sample of partial scores that came out all-or-nothing is not a binomial one.
    ``horizon`` (sequential only): the most observations the stream could reach, fixed before it started
    (examples, or clusters with ``clusters``); the bets then also aim to decide by its end.
    Sequential with clusters: reveal whole clusters one after the other, optionally after one example of
    each (the screening phase auditkit uses); ``complete`` says the scores end with a whole cluster (auditkit
    looks only between clusters), else the last cluster is left out until the next one begins.
    """
    _check_alpha(alpha)
    _check_op(op)
    x = _values(scores, low, high, "scores")
    width = high - low
    unit = (x - low) / width
    return _decide_mean(
        unit, (float(bound) - low) / width, op, alpha=alpha, clusters=clusters, sequential=sequential,
        binary=_is_binary(unit, binary), horizon=horizon, complete=complete, to_scale=(low, width),
    )  # fmt: skip


def decide_paired(
    candidate: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    op: str,
    margin: float,
    *,
    alpha: float = 0.05,
    low: float = 0.0,
    high: float = 1.0,
    clusters: Sequence[object] | np.ndarray | None = None,
    sequential: bool = False,
    binary: bool | None = None,
    horizon: int | None = None,
    complete: bool = False,
) -> Decision:
    """Decide ``mean(candidate - baseline) op margin``, the arrays aligned per example, scores in ``[low, high]``.

    Non-inferiority is ``op=">="`` with a negative margin, superiority a positive one. The differences lie
    in ``[low - high, high - low]``; with clusters, the test runs on each cluster's mean difference.
    0/1 scores (``binary``, inferred when None) at margin 0 get the exact McNemar test. ``sequential``,
    ``horizon`` and ``complete`` as in :func:`decide_threshold`.
    """
    _check_alpha(alpha)
    _check_op(op)
    c = _values(candidate, low, high, "candidate")
    b = _values(baseline, low, high, "baseline")
    if len(c) != len(b):
        raise ValueError(f"candidate has {len(c)} scores and baseline {len(b)}: pair them example by example")
    width = high - low
    d = c - b
    unit = (d + width) / (2.0 * width)
    m = (float(margin) + width) / (2.0 * width)
    to_scale = (-width, 2.0 * width)
    outcomes = _is_binary((c - low) / width, binary) and _is_binary((b - low) / width, binary)
    wins, losses = int(np.sum(d > 0)), int(np.sum(d < 0))
    unclustered = clusters is None or len(set(np.asarray(clusters, dtype=object).ravel().tolist())) == len(d)
    if outcomes and margin == 0 and not sequential and unclustered and wins + losses > 0:
        k = wins + losses
        theta_low, theta_high = exact.clopper_pearson(wins, k, alpha / 2.0)
        share = k / len(d)  # the difference is share x (2 theta - 1) x width, theta = P(win | discordant)
        interval = ((share * (2 * theta_low - 1) + 1) / 2, (share * (2 * theta_high - 1) + 1) / 2)
        return _finish(
            op, m, exact.p_above(wins, k, 0.5), exact.p_below(wins, k, 0.5), interval, alpha,
            _sample(unit, clusters), f"exact McNemar (sign test on {k} discordant pairs)", float(np.mean(d)),
            to_scale,
        )  # fmt: skip
    return _decide_mean(
        unit, m, op, alpha=alpha, clusters=clusters, sequential=sequential, binary=False, horizon=horizon,
        complete=complete, to_scale=to_scale, prefix="paired ",
    )  # fmt: skip


def _quantile_level(q: float) -> float:
    if not (isinstance(q, int | float) and math.isfinite(q)):
        raise ValueError(f"q must be a number (got {q!r})")
    if 1.0 < q < 100.0:
        q = q / 100.0  # a percentile given as 95
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must lie strictly between 0 and 1 (or be a percentile between 1 and 100; got {q!r})")
    return float(q)


def _quantile_bounds(x: np.ndarray, q: float, a: float) -> tuple[float, float]:
    r, s = exact.order_statistic_ranks(len(x), q, a)
    ordered = np.sort(x)
    return (float(ordered[r - 1]) if r else -math.inf), (float(ordered[s - 1]) if s else math.inf)


def _quantile_p(x: np.ndarray, q: float, op: str, bound: float) -> tuple[float, float]:
    """(p_go, p_nogo) of ``q-quantile op bound``: the quantile is <= b exactly when P(X <= b) >= q, so each
    gate is an exact binomial test on how many samples fall below the bound."""
    strict = op in ("<", ">=")
    below = int(np.sum(x < bound)) if strict else int(np.sum(x <= bound))
    n = len(x)
    holds_high = exact.p_above(below, n, q)  # evidence that P(X <= b) > q ... against "<= q"
    holds_low = exact.p_below(below, n, q)
    return (holds_high, holds_low) if op in ("<=", "<") else (holds_low, holds_high)


def decide_quantile(
    samples: Sequence[float] | np.ndarray, q: float, op: str, bound: float, *, alpha: float = 0.05
) -> Decision:
    """Decide ``q-quantile op bound`` (e.g. the 95th percentile of latency ``<= 40`` ms), distribution-free.

    The interval is the order-statistic interval at ``1 - alpha``; with too few samples one of its ends does
    not exist (it is infinite) and the verdict that needs it is INCONCLUSIVE, with ``samples_needed`` set.
    ``q`` is a probability (0.95) or a percentile (95). Assumes independent samples of one distribution.
    """
    _check_alpha(alpha)
    _check_op(op)
    level = _quantile_level(q)
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("samples: no values (n = 0): nothing to decide on")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"samples: {int(np.sum(~np.isfinite(x)))} values are NaN or infinite")
    a = alpha / 2.0
    p_go, p_nogo = _quantile_p(x, level, op, float(bound))
    interval = _quantile_bounds(x, level, a)
    needed = exact.samples_needed(level, a)
    notes: tuple[str, ...] = ()
    if len(x) < needed:
        notes = (f"{len(x)} samples are too few to bound the {100 * level:g}th percentile on both sides at"
                 f" {1 - alpha:.0%}: at least {needed} are needed",)  # fmt: skip
    return Decision(
        verdict=verdict_at(p_go, p_nogo, a),
        p_value=min(1.0, 2.0 * min(p_go, p_nogo)),
        interval=interval,
        confidence=1.0 - alpha,
        n=len(x),
        n_clusters=None,
        method="order statistics (distribution-free)",
        estimate=float(np.quantile(x, level)),
        p_go=p_go,
        p_nogo=p_nogo,
        samples_needed=needed if len(x) < needed else None,
        notes=notes,
    )


def decide_quantile_difference(
    candidate: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    q: float,
    op: str,
    margin: float,
    *,
    alpha: float = 0.05,
) -> Decision:
    """Decide ``q-quantile(candidate) - q-quantile(baseline) op margin`` for two independent samples (two runs
    time different requests): each one-sided bound of the difference combines an order-statistic bound of
    each sample at half the level (Bonferroni), so it holds with the stated confidence, distribution-free."""
    _check_alpha(alpha)
    _check_op(op)
    level = _quantile_level(q)
    c = np.asarray(candidate, dtype=np.float64).ravel()
    b = np.asarray(baseline, dtype=np.float64).ravel()
    if c.size == 0 or b.size == 0:
        raise ValueError("candidate and baseline each need at least one sample (n = 0): nothing to decide on")

    def bounds(a: float) -> tuple[float, float]:
        c_low, c_high = _quantile_bounds(c, level, a / 2.0)
        b_low, b_high = _quantile_bounds(b, level, a / 2.0)
        return c_low - b_high, c_high - b_low

    def p_of(rejects_at: object) -> float:
        """The smallest one-sided level at which the bound clears the margin (bisection in log level)."""
        assert callable(rejects_at)
        if not rejects_at(0.5):
            return 1.0
        lo, hi = math.log(1e-12), math.log(0.5)
        if rejects_at(1e-12):
            return 1e-12
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if rejects_at(math.exp(mid)) else (mid, hi)
        return math.exp(hi)

    above = p_of(lambda a: bounds(a)[0] > margin)  # against "difference <= margin"
    below = p_of(lambda a: bounds(a)[1] < margin)
    p_go, p_nogo = (above, below) if op in (">=", ">") else (below, above)
    a = alpha / 2.0
    needed = exact.samples_needed(level, a / 2.0)
    short = min(len(c), len(b)) < needed
    return Decision(
        verdict=verdict_at(p_go, p_nogo, a),
        p_value=min(1.0, 2.0 * min(p_go, p_nogo)),
        interval=bounds(a),
        confidence=1.0 - alpha,
        n=len(c),
        n_clusters=None,
        method="order statistics, two samples (distribution-free, Bonferroni)",
        estimate=float(np.quantile(c, level) - np.quantile(b, level)),
        p_go=p_go,
        p_nogo=p_nogo,
        samples_needed=needed if short else None,
        notes=(f"each run needs at least {needed} samples to bound this difference on both sides",) if short else (),
    )


def adjust(p_go: Sequence[float], p_nogo: Sequence[float], method: Correction) -> list[float]:
    """Multiplicity-adjusted p-values of m gates, from their 2m one-sided p-values.

    Each gate is two hypotheses ("it fails", "it holds"), exactly one of them true, so the family is the 2m
    one-sided tests: Holm's step-down (1979) keeps the chance of any wrong verdict at most alpha, BH (1995)
    the expected share of wrong verdicts among the decided. A gate's adjusted p-value is that of its more
    significant direction; it is decided (that way) when the adjusted p-value is at most alpha. With one
    gate Holm gives ``2 min(p_go, p_nogo)``: the two-sided rule of :class:`Decision`.
    """
    m = len(p_go)
    if len(p_nogo) != m:
        raise ValueError("p_go and p_nogo must have one value per gate")
    if m == 0:
        return []
    if method == "none":
        return [min(1.0, 2.0 * min(g, n)) for g, n in zip(p_go, p_nogo, strict=True)]
    flat = np.array([*p_go, *p_nogo], dtype=np.float64)
    total = len(flat)
    order = np.argsort(flat, kind="stable")
    adjusted = np.empty(total)
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (total - rank) * flat[i]))
            adjusted[i] = running
    else:
        running = 1.0
        for rank in range(total - 1, -1, -1):
            i = order[rank]
            running = min(running, min(1.0, total * flat[i] / (rank + 1)))
            adjusted[i] = running
    return [float(min(adjusted[i], adjusted[i + m])) for i in range(m)]


def worst(verdicts: Sequence[str] | set[str]) -> Verdict:
    """The verdict of several gates: NO_GO if any says so, else INCONCLUSIVE if any is undecided, else GO."""
    seen = set(verdicts)
    if "NO_GO" in seen:
        return "NO_GO"
    if "INCONCLUSIVE" in seen:
        return "INCONCLUSIVE"
    return "GO"


def z(level: float) -> float:
    """The one-sided standard normal quantile z_(1 - level)."""
    return _NORMAL.inv_cdf(1.0 - level)


def mde(decision: Decision, power: float) -> float | None:
    """Minimum detectable effect: about how far from the bound the truth must lie for this test, at this n,
    to decide with probability ``power``. Read off the test's own interval (so an anytime or a clustered
    test pays its own price): half its width, stretched from the interval's level to the wanted power
    (``(z_(1 - a) + z_power) / z_(1 - a)``, a normal approximation of the interval's shape)."""
    low, high = decision.interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    a = (1.0 - decision.confidence) / 2.0
    return (high - low) / 2.0 * (z(a) + z(1.0 - power)) / z(a)
