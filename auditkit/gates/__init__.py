"""Release gates: thresholds, regressions (optionally significance-aware) and latency budgets, from results alone."""

from __future__ import annotations

from pathlib import Path

from ..results import load_results
from ..schema import GateSpec
from .evaluate import GateReport, GateResult, evaluate_gates
from .outputs import junit_xml, markdown_summary, publish

__all__ = ["gate", "GateReport", "GateResult", "evaluate_gates", "junit_xml", "markdown_summary"]


def gate(results_dir: str | Path, *, baseline: str | Path | None = None, suite: str | Path | None = None,
         junit: str | Path | None = None) -> GateReport:
    """Evaluate a run's gates (from its suite, or from ``suite``), record the verdict and write JUnit XML.

    ``baseline`` overrides the suite's baseline run for regression gates.
    """
    results = load_results(results_dir)
    if suite is not None:
        from ..suite import load_suite

        loaded = load_suite(suite).suite
        gates, default_baseline = loaded.gates, loaded.baseline
    else:
        spec = results["suite"]["spec"]
        gates = [GateSpec.model_validate(g) for g in spec.get("gates", [])]
        default_baseline = spec.get("baseline")
    report = evaluate_gates(results, gates, baseline or default_baseline)
    publish(report, results, Path(junit) if junit else None)
    return report
