"""Evaluate release gates against a finished run (and a baseline run); results alone, never a model.

Kinds of gate, by their expression:

* threshold  -- ``squad_v1.f1 >= 86.0``: the measured value against a number;
* regression -- ``squad_v1.f1 >= baseline - 0.5``: against the same figure in a baseline run;
* significant regression -- a regression gate with ``significance: 0.95``: it fails only when the
  paired bootstrap interval of (run - baseline), on the same examples, lies entirely beyond the
  allowed change -- a drop that noise cannot explain;
* latency -- ``squad_v1.latency.p95_ms <= 40 ms``: a timing figure against a budget;
* endpoint failures -- added to every gate evaluation, one per endpoint job: the fraction of examples
  whose requests failed after retries must not exceed the model's ``max_failure_rate``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GateError
from ..expressions import LATENCY_KEYS, GateExpr, parse_gate
from ..pairing import paired_deltas
from ..results import Job, Run, load_run
from ..schema import GateSpec
from ..tasks import task_class


@dataclass
class GateResult:
    """One gate applied to one model's job."""

    gate: str
    check: str
    kind: str
    model: str
    task: str
    metric: str
    measured: float
    bound: float
    passed: bool
    message: str
    low: float | None = None
    high: float | None = None
    baseline_value: float | None = None
    delta_low: float | None = None
    delta_high: float | None = None
    significance: float | None = None


@dataclass
class GateReport:
    results: list[GateResult] = field(default_factory=list)
    baseline: str | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "total": len(self.results),
            "failed": len(self.failures),
            "baseline": self.baseline,
            "results": [asdict(r) for r in self.results],
        }


def _figure(job: Job, expr: GateExpr, run_label: str) -> tuple[float, float | None, float | None]:
    """(value, CI low, CI high) of the gate's figure in one job."""
    head = expr.path[0]
    if head == "latency":
        value = job.timing.get(LATENCY_KEYS[expr.path[1]])
        if value is None:
            raise GateError(
                f"{run_label}: job {job.model} · {job.task} recorded no {expr.path[1]}",
                hint="re-run the suite with this auditkit version",
            )
        return value, None, None
    if len(expr.path) == 1 and head in job.metrics:
        est = job.metrics[head]
        return float(est.value), est.low, est.high
    figures = task_class(job.kind).figures(job)
    key = ".".join(expr.path)
    if key in figures:
        return figures[key], None, None
    extra = ", ".join(f"{job.task}.{k}" for k in sorted(figures)) or "none"
    raise GateError(
        f"gate {expr.text!r}: {job.task} has no metric {expr.metric!r}",
        hint=f"metrics of {job.task}: {', '.join(job.metrics)}; other figures: {extra}; and {job.task}.latency.<key>",
    )


def _baseline_job(baseline: Run, job: Job, expr: GateExpr) -> Job:
    candidates = [j for j in baseline.results.jobs if j.task == job.task]
    same_model = [j for j in candidates if j.model == job.model]
    if same_model:
        return same_model[0]
    if len(candidates) == 1:
        return candidates[0]
    raise GateError(
        f"gate {expr.text!r}: the baseline run {baseline.results.run_id} has no job for model {job.model!r}"
        f" on task {job.task!r}",
        hint="point the gate at a baseline run of the same suite",
    )


def _significant_delta(
    run: Run,
    baseline: Run,
    job: Job,
    base_job: Job,
    expr: GateExpr,
    confidence: float,
) -> tuple[float, float]:
    """Paired-bootstrap interval of (run - baseline) for the gate's metric (the caller checked the examples match)."""
    if len(expr.path) != 1:
        raise GateError(f"gate {expr.text!r}: significance applies to headline metrics, not {expr.metric}")
    _, _, [delta] = paired_deltas(
        baseline,
        base_job,
        run,
        job,
        metrics=[expr.metric],
        resamples=max(int(run.results.suite.bootstrap["resamples"]), 1000),
        confidence=confidence,
        seed=run.results.suite.seed,
    )
    return delta.low, delta.high


def evaluate_gates(
    run: Run,
    gates: list[GateSpec],
    baseline_dir: str | Path | None = None,
    card_audits: list[dict[str, Any]] | None = None,
) -> GateReport:
    """Apply every gate to every matching job of ``run``; raise :class:`GateError` on unusable gates.

    ``card_audits`` are the audits ``card.*`` gates read (by default none: such a gate then says so).
    """
    report = GateReport(baseline=str(baseline_dir) if baseline_dir else None)
    baselines: dict[str, Run] = {}
    for gate in gates:
        expr = parse_gate(gate.check)
        if expr.task == "card":
            report.results.extend(_card_gate(run, card_audits or [], gate, expr))
            continue
        jobs = [j for j in run.results.jobs if j.task == expr.task and (gate.models is None or j.model in gate.models)]
        if not jobs:
            raise GateError(
                f"gate {gate.label!r}: no job in run {run.results.run_id} ran task {expr.task!r}"
                + (f" with {gate.models}" if gate.models else ""),
                hint="check the gate's task and models against the suite",
            )
        base_dir = gate.baseline or baseline_dir
        if expr.uses_baseline and base_dir is None:
            raise GateError(
                f"gate {gate.label!r} compares with a baseline, but none was given",
                hint="set 'baseline:' in the suite or pass --baseline DIR",
            )
        for job in jobs:
            measured, low, high = _figure(job, expr, f"run {run.results.run_id}")
            result = GateResult(
                gate=gate.label,
                check=expr.text,
                kind="latency" if expr.path[0] == "latency" else "threshold",
                model=job.model,
                task=job.task,
                metric=expr.metric,
                measured=measured,
                bound=float("nan"),
                passed=False,
                message="",
                low=low,
                high=high,
            )
            if expr.uses_baseline:
                key = str(base_dir)
                if key not in baselines:
                    baselines[key] = load_run(key)
                baseline = baselines[key]
                base_job = _baseline_job(baseline, job, expr)
                if base_job.dataset_fingerprint != job.dataset_fingerprint:
                    raise GateError(
                        f"gate {expr.text!r}: the baseline run {baseline.results.run_id} evaluated {job.task} on"
                        f" other examples (data fingerprints {base_job.dataset_fingerprint[:12]} vs"
                        f" {job.dataset_fingerprint[:12]}): a difference would mix the models' change with the data's",
                        hint="evaluate the baseline and the candidate on the same dataset selection",
                    )
                base_value, _, _ = _figure(base_job, expr, f"baseline {baseline.results.run_id}")
                result.baseline_value = base_value
                result.bound = base_value + expr.offset
                result.kind = "regression"
                if gate.significance is not None:
                    result.kind = "significant regression"
                    result.significance = gate.significance
                    result.delta_low, result.delta_high = _significant_delta(
                        run, baseline, job, base_job, expr, gate.significance
                    )
            else:
                result.bound = expr.threshold
            result.passed, result.message = _verdict(expr, result)
            report.results.append(result)
    report.results.extend(failure_gates(run))
    return report


def failure_gates(run: Run) -> list[GateResult]:
    """One gate per endpoint job: its failed examples must stay within the model's ``max_failure_rate``."""
    out = []
    for job in run.results.jobs:
        f = job.failures
        if f is None:
            continue
        passed = f.rate <= f.max_rate
        message = (
            f"{f.count} of {f.total} examples failed at the endpoint ({f.rate:.2%}); allowed {f.max_rate:.2%}: "
            + ("holds" if passed else "fails")
        )
        out.append(
            GateResult(
                gate="endpoint failures",
                check=f"{job.task}.failure_rate <= {f.max_rate:g}",
                kind="endpoint failures",
                model=job.model,
                task=job.task,
                metric="failure_rate",
                measured=float(f.rate),
                bound=float(f.max_rate),
                passed=passed,
                message=message,
            )
        )
    return out


def _card_gate(run: Run, card_audits: list[dict[str, Any]], gate: GateSpec, expr: GateExpr) -> list[GateResult]:
    audits = [a for a in card_audits if gate.models is None or a["model"] in gate.models]
    if not audits:
        raise GateError(
            f"gate {gate.label!r} needs a model-card audit, but run {run.results.run_id} has none",
            hint="give the model a 'card:' in the suite, or run `auditkit audit-card CARD --results RUN` first",
        )
    if expr.uses_baseline:
        raise GateError(f"gate {gate.label!r}: card audit figures are compared with numbers, not a baseline")
    out = []
    for audit in audits:
        measured = float(audit["summary"][expr.path[0]])
        holds = expr.holds(measured, expr.threshold)
        out.append(
            GateResult(
                gate=gate.label,
                check=expr.text,
                kind="card audit",
                model=str(audit["model"]),
                task="card",
                metric=expr.metric,
                measured=measured,
                bound=expr.threshold,
                passed=holds,
                message=f"{Path(audit['card']).name}: {expr.path[0]} = {measured:g} {expr.op} {expr.threshold:g}: "
                + ("holds" if holds else "fails"),
            )
        )
    return out


def _verdict(expr: GateExpr, r: GateResult) -> tuple[bool, str]:
    ci = (
        f" (95% CI [{r.low:.2f}, {r.high:.2f}])"
        if r.low is not None and r.high is not None and math.isfinite(r.low)
        else ""
    )
    base = f"; baseline {r.baseline_value:.4g}{expr.offset:+g} = {r.bound:.4g}" if r.baseline_value is not None else ""
    holds = expr.holds(r.measured, r.bound)
    if r.kind == "significant regression":
        assert r.delta_low is not None and r.delta_high is not None and r.baseline_value is not None
        offset = expr.offset
        # Fail only if the whole interval of (run - baseline) is on the wrong side of the allowed change.
        if expr.op in (">=", ">"):
            real = r.delta_high < offset
        elif expr.op in ("<=", "<"):
            real = r.delta_low > offset
        else:
            real = not holds
        change = (
            f"; change {r.measured - r.baseline_value:+.3g}, {r.significance:.0%} paired CI"
            f" [{r.delta_low:+.3g}, {r.delta_high:+.3g}]"
        )
        if holds:
            return True, f"{r.metric} = {r.measured:.4g}{ci} {expr.op} {r.bound:.4g}{base}{change}: holds"
        if not real:
            return (
                True,
                f"{r.metric} = {r.measured:.4g}{ci} misses {expr.op} {r.bound:.4g}{base}{change}:"
                " not significant, passes",
            )
        return (
            False,
            f"{r.metric} = {r.measured:.4g}{ci} fails {expr.op} {r.bound:.4g}{base}{change}: a significant regression",
        )
    verdict = "holds" if holds else "fails"
    return holds, f"{r.metric} = {r.measured:.4g}{ci} {expr.op} {r.bound:.4g}{base}: {verdict}"
