"""auditkit's statistics: release decisions that are valid at every sample size, for clustered data too.

The gates of ``auditkit run`` and ``auditkit gate`` call exactly these functions; a notebook can too::

    from .. import stats

    d = stats.decide_threshold(f1_per_question, ">=", 0.75, clusters=article_titles)
    d.verdict, d.interval, d.p_value, d.n_clusters, d.method

    stats.decide_paired(candidate_em, baseline_em, ">=", -0.01)     # non-inferiority, margin one point
    stats.decide_quantile(latencies_ms, 0.95, "<=", 40.0)             # p95 latency, distribution-free

See :mod:`auditkit.stats.decision` for the verdict rule and the choice of test, and the docs' "How auditkit
decides" (docs/explanation/decisions.md) for the simulation that shows each one keeps its error rate.
"""

from __future__ import annotations

from .decision import (
    OPS,
    Correction,
    Decision,
    Op,
    Verdict,
    adjust,
    cluster_means,
    decide_paired,
    decide_quantile,
    decide_quantile_difference,
    decide_threshold,
    design_effect,
    mde,
    verdict_at,
    worst,
    z,
)

__all__ = [
    "OPS",
    "Correction",
    "Decision",
    "Op",
    "Verdict",
    "adjust",
    "cluster_means",
    "decide_paired",
    "decide_quantile",
    "decide_quantile_difference",
    "decide_threshold",
    "design_effect",
    "mde",
    "verdict_at",
    "worst",
    "z",
]
