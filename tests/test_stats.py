"""auditkit.stats, the tests behind every gate: finite-sample validity by simulation with the truth on the bound,
edge cases, the verdict/interval agreement, clusters, percentiles and the multiple-comparison step.

Each simulation puts the truth exactly on the bound (the hardest case for a one-sided error) and asserts
the wrong-verdict rate is at most alpha plus three Monte-Carlo standard errors, in the regimes where the
tests auditkit used before failed (README, "How auditkit decides"). ``benchmarks/decision_validity.py``
runs the full grid; these are its fast subset.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from auditkit import stats
from auditkit.stats.decision import RANGE_NOTE

ALPHA = 0.05


def _limit(runs: int) -> float:
    """alpha plus three Monte-Carlo standard errors: the most a valid test's observed error rate may show."""
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


def _wrong(decisions: list[stats.Decision], holds: bool) -> float:
    """Share of wrong verdicts: NO_GO when the gate holds (truth on a non-strict bound), GO when it does not."""
    wrong = "NO_GO" if holds else "GO"
    return sum(d.verdict == wrong for d in decisions) / len(decisions)


def test_proportion_gates_near_100_percent_keep_alpha_at_small_n() -> None:
    """agreement >= 99.9 at n = 200 and >= 99 at n = 50: the cases where one disagreement made Wilson say NO_GO."""
    rng = np.random.default_rng(11)
    runs = 600
    for bound, n in ((0.999, 200), (0.99, 50), (0.9, 10)):
        draws = rng.binomial(1, bound, size=(runs, n)).astype(float)
        decisions = [stats.decide_threshold(x, ">=", bound) for x in draws]
        assert _wrong(decisions, holds=True) <= _limit(runs), (bound, n)


def test_skewed_scores_near_the_top_keep_alpha() -> None:
    """F1-like scores (mass at 0 and 1, some partial credit) with mean 0.99 at n = 50: the percentile bootstrap
    said GO 38% of the time when the mean was just below the bound."""
    rng = np.random.default_rng(12)
    runs, n, mean = 400, 50, 0.99
    partial = 0.1

    def draw() -> np.ndarray:
        part = rng.random(n) < partial
        x = (rng.random(n) < (mean - partial * 0.5) / (1 - partial)).astype(float)
        x[part] = rng.random(int(part.sum()))  # uniform partial credit, mean 0.5
        return x

    truth = (1 - partial) * (mean - partial * 0.5) / (1 - partial) + partial * 0.5
    decisions = [stats.decide_threshold(draw(), ">", truth, binary=False) for _ in range(runs)]
    assert _wrong(decisions, holds=False) <= _limit(runs)  # "> truth" fails: GO would be wrong


def test_rare_one_sided_losses_keep_alpha_on_the_margin() -> None:
    """A candidate that only ever loses, on 1% of examples, against margin -1 point: at n = 50 the paired
    bootstrap said GO 61% of the time."""
    rng = np.random.default_rng(13)
    runs = 400
    for n in (50, 200):
        wrong = 0
        for _ in range(runs):
            baseline = np.ones(n)
            candidate = 1.0 - (rng.random(n) < 0.01)
            wrong += stats.decide_paired(candidate, baseline, ">", -0.01).verdict == "GO"
        assert wrong / runs <= _limit(runs), n


def test_clustered_data_keep_alpha_where_independent_tests_do_not() -> None:
    """48 articles drawn from a wider population, 30 questions each, a between-article spread like
    minilm-squad's: testing the questions as independent is wrong far more often than alpha; by cluster it is not."""
    rng = np.random.default_rng(14)
    runs, articles, per, bound = 300, 48, 30, 0.5
    labels = np.repeat(np.arange(articles), per)
    clustered, naive = [], []
    for _ in range(runs):
        means = np.clip(bound + rng.normal(0, 0.15, articles), 0, 1)
        scores = rng.binomial(1, np.repeat(means, per)).astype(float)
        truth_shift = np.mean(np.clip(bound + rng.normal(0, 0.15, 20000), 0, 1)) - bound  # clipping is symmetric
        assert abs(truth_shift) < 0.01
        clustered.append(stats.decide_threshold(scores, ">=", bound, clusters=labels, binary=False))
        naive.append(stats.decide_threshold(scores, ">=", bound))
    assert _wrong(clustered, holds=True) <= _limit(runs)
    assert _wrong(naive, holds=True) > 2 * ALPHA  # why clusters matter
    d = clustered[0]
    assert d.n == articles * per and d.n_clusters == articles and d.design_effect is not None and d.design_effect > 3


def test_sequential_tests_keep_alpha_when_watched_after_every_example() -> None:
    """Anytime validity: a stream looked at after every example (the worst schedule) and stopped at the
    first verdict is wrong at most alpha of the time; a fixed-n test used that way is not."""
    rng = np.random.default_rng(15)
    runs, n, bound = 200, 300, 0.7
    wrong_seq = wrong_fixed = 0
    for _ in range(runs):
        x = rng.binomial(1, bound, n).astype(float)
        looks = range(10, n + 1, 10)
        wrong_seq += any(stats.decide_threshold(x[:k], ">=", bound, sequential=True).verdict == "NO_GO" for k in looks)
        wrong_fixed += any(stats.decide_threshold(x[:k], ">=", bound).verdict == "NO_GO" for k in looks)
    assert wrong_seq / runs <= _limit(runs)
    assert wrong_fixed / runs > ALPHA  # peeking at a fixed-n test inflates its error


def test_latency_percentile_gates_keep_alpha_and_say_how_many_samples_they_need() -> None:
    rng = np.random.default_rng(16)
    runs = 600
    true_p95 = -math.log(0.05) * 20.0  # exponential latencies with mean 20 ms
    for n in (10, 50, 200):
        decisions = [stats.decide_quantile(rng.exponential(20.0, n), 0.95, "<=", true_p95) for _ in range(runs)]
        assert _wrong(decisions, holds=True) <= _limit(runs), n
    few = stats.decide_quantile(rng.exponential(20.0, 10), 95, "<=", 10_000.0)
    assert few.verdict == "INCONCLUSIVE" and few.samples_needed == 72 and math.isinf(few.high)
    assert "at least 72" in few.notes[0]
    enough = stats.decide_quantile(rng.exponential(20.0, 400), 0.95, "<=", 10_000.0)
    assert enough.verdict == "GO" and enough.samples_needed is None


def test_edge_cases() -> None:
    with pytest.raises(ValueError, match="n = 0"):
        stats.decide_threshold([], ">=", 0.5)
    with pytest.raises(ValueError, match="outside the declared range"):
        stats.decide_threshold([0.2, 1.5], ">=", 0.5)
    with pytest.raises(ValueError, match="tolerance"):
        stats.decide_threshold([0.2], "==", 0.5)
    # Constant data: the interval its method gives, never zero width from a handful of examples.
    one = stats.decide_threshold([0.7], ">=", 0.75)
    assert one.verdict == "INCONCLUSIVE" and one.high - one.low > 0.5
    perfect = stats.decide_threshold(np.ones(20), ">=", 0.99)
    assert perfect.verdict == "INCONCLUSIVE" and perfect.low < 0.9
    # Strict inequalities at the ends of the range: 0 of 50 does not show accuracy > 0, one success does.
    assert stats.decide_threshold(np.zeros(50), ">", 0.0).verdict == "INCONCLUSIVE"
    assert stats.decide_threshold(np.r_[np.zeros(49), 1.0], ">", 0.0).verdict == "GO"
    assert stats.decide_threshold(np.zeros(5), ">=", 0.0).verdict == "GO"  # always holds
    assert RANGE_NOTE in stats.decide_threshold(np.zeros(5), ">=", 0.0).notes
    assert stats.decide_threshold(np.ones(5), ">", 1.0).verdict == "NO_GO"  # never holds
    # A single miss proves a rate is below 100%; a run of successes never proves it is 100%.
    assert stats.decide_threshold(np.r_[np.ones(9), 0.0], ">=", 1.0).verdict == "NO_GO"
    assert stats.decide_threshold(np.ones(1000), ">=", 1.0).verdict == "INCONCLUSIVE"
    # On another scale (percent) and with strict operators the same test.
    pct = stats.decide_threshold(100 * np.r_[np.ones(90), np.zeros(10)], "<", 95.0, low=0.0, high=100.0)
    assert pct.verdict == "INCONCLUSIVE" and 80 < pct.low < 90 < pct.high <= 100


def test_verdict_and_interval_are_one_test() -> None:
    """GO exactly when the interval lies on the passing side; NO_GO exactly when on the failing side."""
    rng = np.random.default_rng(17)
    cases = 0
    for _ in range(60):
        n = int(rng.integers(5, 120))
        x = np.clip(rng.beta(0.6, 0.6, n), 0, 1)
        for bound in (0.3, 0.5, 0.7):
            for op in (">=", "<"):
                for sequential in (False, True):
                    d = stats.decide_threshold(x, op, bound, sequential=sequential)
                    above, below = d.low > bound, d.high < bound
                    expected = ("GO" if op == ">=" else "NO_GO") if above else None
                    expected = ("NO_GO" if op == ">=" else "GO") if below else expected
                    assert d.verdict == (expected or "INCONCLUSIVE"), (d, bound, op)
                    assert (d.p_value <= ALPHA) == (d.verdict != "INCONCLUSIVE")
                    cases += 1
    assert cases == 720


def test_paired_tests_mcnemar_and_margins() -> None:
    rng = np.random.default_rng(18)
    base = rng.binomial(1, 0.6, 400).astype(float)
    better = np.where(rng.random(400) < 0.15, 1.0, base)
    d = stats.decide_paired(better, base, ">", 0.0)
    assert d.verdict == "GO" and d.method.startswith("exact McNemar") and d.low > 0
    ni = stats.decide_paired(better, base, ">=", -0.02)
    assert ni.verdict == "GO" and ni.method.startswith("paired betting")
    with pytest.raises(ValueError, match="pair them"):
        stats.decide_paired(better, base[:10], ">=", 0.0)


def test_holm_and_bh_over_both_directions_of_every_gate() -> None:
    # One gate: Holm is the two-sided rule of Decision.
    assert stats.adjust([0.01], [0.9], "holm") == pytest.approx([0.02])
    # Three gates, six one-sided tests: sorted 0.001, 0.01, 0.02 -> 6 x, 5 x, 4 x (monotone).
    assert stats.adjust([0.001, 0.9, 0.02], [0.95, 0.01, 0.99], "holm") == pytest.approx([0.006, 0.05, 0.08])
    assert stats.adjust([0.001, 0.9, 0.02], [0.95, 0.01, 0.99], "bh") == pytest.approx([0.006, 0.03, 0.04])
    assert stats.adjust([0.01, 0.3], [0.9, 0.8], "none") == pytest.approx([0.02, 0.6])
    # Five gates with the truth on their bounds: Holm keeps the chance of any wrong verdict under alpha.
    rng = np.random.default_rng(19)
    runs, gates, n, bound = 400, 5, 300, 0.8
    any_wrong = {"holm": 0, "none": 0}
    for _ in range(runs):
        ds = [stats.decide_threshold(x, ">=", bound) for x in rng.binomial(1, bound, size=(gates, n)).astype(float)]
        for method in any_wrong:
            adjusted = stats.adjust([d.p_go for d in ds], [d.p_nogo for d in ds], method)  # type: ignore[arg-type]
            any_wrong[method] += any(p <= ALPHA and d.p_nogo < d.p_go for p, d in zip(adjusted, ds, strict=True))
    assert any_wrong["holm"] / runs <= _limit(runs)


def test_anytime_clustered_runs_screen_one_example_per_cluster_first() -> None:
    """--until-decided's clustered order: one example of every article, then whole articles. A broken model
    (F1 50 -> 8) is stopped within the screening examples; the interval names what was used."""
    rng = np.random.default_rng(20)
    articles = 24
    sizes = rng.integers(20, 40, articles)
    labels = np.concatenate([[f"a{g}"] * s for g, s in enumerate(sizes)])
    base = np.concatenate([rng.binomial(1, 0.5, s) for s in sizes]).astype(float)
    cand = np.concatenate([rng.binomial(1, 0.08, s) for s in sizes]).astype(float)
    first = [int(np.flatnonzero(labels == f"a{g}")[0]) for g in range(articles)]
    order = np.array(first + [i for i in range(len(labels)) if i not in set(first)])
    stop = next(
        k
        for k in [*range(4, 25, 4), len(order)]
        if stats.decide_paired(
            cand[order[:k]], base[order[:k]], ">=", -0.01, clusters=labels[order[:k]], sequential=True, horizon=24
        ).verdict
        == "NO_GO"
    )
    assert stop <= 24, stop


def test_watched_clusters_must_come_whole_and_the_open_one_waits() -> None:
    """A watched clustered stream bets once per cluster, on its final mean: clusters come one after another,
    and the last one counts only when the stream is known to end with it whole."""
    x = np.r_[np.ones(5), np.zeros(5), np.ones(3)]
    labels = ["a"] * 5 + ["b"] * 5 + ["c"] * 3
    open_end = stats.decide_threshold(x, ">=", 0.5, clusters=labels, sequential=True)
    closed = stats.decide_threshold(x, ">=", 0.5, clusters=labels, sequential=True, complete=True)
    assert open_end.p_go >= closed.p_go  # "c" waits, so it cannot have added evidence for GO yet
    with pytest.raises(ValueError, match="cluster by cluster"):
        stats.decide_threshold(x, ">=", 0.5, clusters=["a", "b"] * 6 + ["a"], sequential=True)


def test_the_finite_population_bound_covers_at_every_sample_size() -> None:
    """hypergeometric_lower (fast_mode: auto's certificate) is exact: simulated with a known population count, the
    bound lies above the truth at most ``a`` of the time, a census returns the count itself, and the bound is
    never below Clopper-Pearson's, which ignores that the population is finite."""
    from auditkit.stats.exact import clopper_pearson, hypergeometric_lower

    rng = np.random.default_rng(3)
    a = 0.05
    for population, good, n in ((50, 49, 20), (600, 594, 300), (6_375, 6_311, 512), (6_375, 6_000, 2_048)):
        drawn = rng.hypergeometric(good, population - good, n, size=4_000)
        bounds = {int(k): hypergeometric_lower(int(k), n, population, a) for k in np.unique(drawn)}
        too_high = float(np.mean([bounds[int(k)] > good for k in drawn]))
        assert too_high <= a + 3 * math.sqrt(a * (1 - a) / 4_000), (population, good, n, too_high)
        for k in bounds:
            assert bounds[k] / population >= clopper_pearson(k, n, a)[0] - 1e-12
    assert hypergeometric_lower(37, 40, 40, a) == 37 and hypergeometric_lower(0, 10, 100, a) == 0
