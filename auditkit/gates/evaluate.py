"""Decide release gates from a finished run (and a baseline run): GO, NO_GO or INCONCLUSIVE, never a model.

Kinds of gate, by their expression (the statistics are in :mod:`auditkit.metrics.decide`):

* threshold -- ``squad_v1.f1 >= 86.0``: the metric's interval against a number (Wilson's score test for
  proportions such as accuracy and exact match, the bootstrap percentile for the rest);
* non-inferiority / superiority -- ``squad_v1.f1 >= baseline - 0.5`` / ``>= baseline + 1``: the paired
  interval of (run - baseline) on the same examples against the margin, never the point estimates;
* agreement -- ``squad_v1.agreement >= 99`` with ``against: MODEL``: the share of examples on which two
  models of the same run give the identical answer (served vs released), Wilson's interval;
* latency -- ``squad_v1.latency.p95_ms <= 40 ms``: the percentile of the raw timed samples, with a
  bootstrap interval over them (and over both runs' samples for ``<= baseline + 5``);
* figures without a sampling distribution (``official.*``, card audits, endpoint failure accounting)
  are decided on their value: GO or NO_GO, test "exact value".

Jobs run with ``--until-decided`` are decided on anytime-valid betting evidence over the examples in
the order they were seen (:mod:`auditkit.metrics.sequential`), so stopping early costs no validity.
The family of tested gates gets Holm's or Benjamini-Hochberg's correction (``decision:`` in the suite).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import GateError
from ..expressions import LATENCY_KEYS, GateExpr, holds, parse_gate
from ..metrics.decide import (
    Correction,
    Evidence,
    Verdict,
    adjust,
    bootstrap_evidence,
    certain,
    decide,
    mde,
    wilson_evidence,
    worst,
)
from ..metrics.info import info_for
from ..metrics.latency import bootstrap_latency, bootstrap_latency_difference
from ..metrics.sequential import betting_evidence
from ..metrics.stats import MetricDef, resampled_sums
from ..results import Job, Run, load_run
from ..schema import DecisionSpec, GateSpec
from ..tasks import task_class

#: Bootstrap resamples behind a gate's test: p-values resolve to 1/(B+1), fine enough after a correction.
GATE_RESAMPLES = 4000
#: Exit codes by run verdict (``on_inconclusive`` maps INCONCLUSIVE; 2 is an input error).
EXIT_CODES: dict[str, int] = {"GO": 0, "NO_GO": 1, "INCONCLUSIVE": 3}
ANYTIME = "betting confidence sequence (anytime-valid)"


@dataclass
class GateResult:
    """One gate applied to one model's job, with its verdict and the evidence behind it.

    ``low``/``high`` bound the *tested quantity* at the gate's level: the metric itself for a threshold
    gate, the difference (run - baseline) for a baseline gate. ``alpha`` is the one-sided level it was
    judged at after the multiple-comparison correction (the interval is ``1 - 2 alpha`` two-sided).
    """

    gate: str
    check: str
    kind: str
    model: str
    task: str
    metric: str
    measured: float
    bound: float
    verdict: Verdict
    message: str
    test: str
    n: int | None = None
    quantity: Literal["value", "difference"] = "value"
    low: float | None = None
    high: float | None = None
    alpha: float | None = None
    p_value: float | None = None
    mde: float | None = None
    baseline_value: float | None = None
    difference: float | None = None
    margin: float | None = None
    anytime_valid: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict == "GO"


@dataclass
class GateReport:
    results: list[GateResult] = field(default_factory=list)
    baseline: str | None = None
    alpha: float = 0.05
    correction: Correction = "holm"
    on_inconclusive: Literal["fail", "pass", "inconclusive"] = "inconclusive"
    power: float = 0.8

    @property
    def verdict(self) -> Verdict:
        return worst(r.verdict for r in self.results)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    @property
    def exit_code(self) -> int:
        """0 GO, 1 NO_GO, 3 INCONCLUSIVE -- or 1 / 0 for INCONCLUSIVE under ``on_inconclusive: fail / pass``."""
        if self.verdict == "INCONCLUSIVE":
            return {"fail": 1, "pass": 0, "inconclusive": 3}[self.on_inconclusive]
        return EXIT_CODES[self.verdict]

    @property
    def failures(self) -> list[GateResult]:
        return [r for r in self.results if r.verdict == "NO_GO"]

    @property
    def inconclusive(self) -> list[GateResult]:
        return [r for r in self.results if r.verdict == "INCONCLUSIVE"]

    def counts(self) -> dict[str, int]:
        return {v: sum(r.verdict == v for r in self.results) for v in ("GO", "NO_GO", "INCONCLUSIVE")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "passed": self.passed,
            "total": len(self.results),
            "counts": self.counts(),
            "failed": len(self.failures),
            "decision": {
                "alpha": self.alpha,
                "multiple_comparisons": self.correction,
                "on_inconclusive": self.on_inconclusive,
                "power": self.power,
            },
            "baseline": self.baseline,
            "results": [{**asdict(r), "passed": r.passed} for r in self.results],
        }


@dataclass
class _Pending:
    """A gate result waiting for its level: the evidence to decide on, and the bound in its units."""

    result: GateResult
    op: str
    bound: float
    evidence: Evidence | None


def _figure(job: Job, expr: GateExpr, run_label: str) -> float:
    """The gate's figure in one job (a headline metric, a timing, or a task figure such as official.*)."""
    head = expr.path[0]
    if head == "latency":
        value = job.timing.get(LATENCY_KEYS[expr.path[1]])
        if value is None:
            raise GateError(
                f"{run_label}: job {job.model} · {job.task} recorded no {expr.path[1]}",
                hint="re-run the suite with this auditkit version",
            )
        return value
    if len(expr.path) == 1 and head in job.metrics:
        return float(job.metrics[head].value)
    figures = task_class(job.kind).figures(job)
    key = ".".join(expr.path)
    if key in figures:
        return figures[key]
    extra = ", ".join(f"{job.task}.{k}" for k in sorted(figures)) or "none"
    raise GateError(
        f"gate {expr.text!r}: {job.task} has no metric {expr.metric!r}",
        hint=f"metrics of {job.task}: {', '.join(job.metrics)}; other figures: {extra}; {job.task}.latency.<key>;"
        f" and {job.task}.agreement (with 'against:')",
    )


def latency_samples(job: Job, key: str) -> np.ndarray | None:
    """The raw samples (ms) behind a latency figure, merged over every chunk and worker; None when not kept."""
    field_name = LATENCY_KEYS[key]
    source = (
        job.timing.batch_seconds
        if field_name.startswith("batch_")
        else job.timing.request_seconds
        if field_name.startswith("request_")
        else job.timing.single_request_seconds
        if field_name.startswith("single_")
        else None
    )
    return None if not source else 1000.0 * np.asarray(source, dtype=np.float64)


def _sequential_values(defn: MetricDef) -> np.ndarray | None:
    if defn.values is None:
        return None
    values = np.asarray(defn.values, dtype=np.float64)
    return values[~np.isnan(values)]


def metric_evidence(defn: MetricDef, op: str, bound: float, *, sequential: bool, seed: int) -> Evidence:
    """Evidence for ``metric op bound`` from one job's per-example definition of the metric."""
    values = _sequential_values(defn)
    n = defn.columns.shape[0] if values is None else len(values)
    settled = certain(op, bound, defn.scale * defn.bounds[0], defn.scale * defn.bounds[1], n)
    if settled is not None and (defn.binary is not None or defn.values is not None):
        return settled
    if sequential and values is not None:
        lo, hi = defn.bounds
        return betting_evidence(values, op, bound / defn.scale, lo=lo, hi=hi, scale=defn.scale, test=ANYTIME)
    if defn.binary is not None:
        outcomes = np.asarray(defn.binary, dtype=np.float64)
        outcomes = outcomes[~np.isnan(outcomes)]
        return wilson_evidence(int(outcomes.sum()), len(outcomes), op, bound, defn.scale)
    return bootstrap_evidence(defn.resampled(GATE_RESAMPLES, seed), op, bound, n, "bootstrap percentile")


def paired_evidence(
    base: MetricDef, cand: MetricDef, op: str, margin: float, *, sequential: bool, seed: int
) -> Evidence:
    """Evidence for ``(candidate - baseline) op margin`` on the same examples (rows aligned)."""
    if sequential and base.values is not None and cand.values is not None:
        both = ~(np.isnan(base.values) | np.isnan(cand.values))
        diffs = np.asarray(cand.values)[both] - np.asarray(base.values)[both]
        lo, hi = cand.bounds
        return betting_evidence(
            diffs, op, margin / cand.scale, lo=lo - hi, hi=hi - lo, scale=cand.scale, test="paired " + ANYTIME
        )
    k, n = base.columns.shape[1], base.columns.shape[0]
    sums = resampled_sums(np.hstack([base.columns, cand.columns]), GATE_RESAMPLES, seed)
    deltas = cand.statistic(sums[:, k:], n) - base.statistic(sums[:, :k], n)
    return bootstrap_evidence(deltas, op, margin, n, "paired bootstrap")


def baseline_job(baseline: Run, model: str, task: str, expr: GateExpr) -> Job:
    """The baseline run's job for (model, task): the same model's, else the only one on the task."""
    candidates = [j for j in baseline.results.jobs if j.task == task]
    same_model = [j for j in candidates if j.model == model]
    if same_model:
        return same_model[0]
    if len(candidates) == 1:
        return candidates[0]
    raise GateError(
        f"gate {expr.text!r}: the baseline run {baseline.results.run_id} has no job for model {model!r}"
        f" on task {task!r} (it has {', '.join(sorted(j.model for j in candidates)) or 'none'})",
        hint="point the gate at a baseline run of the same suite, or name the baseline's model with 'baseline_model:'",
    )


def check_same_data(base_job: Job, job: Job, expr: GateExpr, where: str) -> None:
    if base_job.dataset_fingerprint != job.dataset_fingerprint:
        raise GateError(
            f"gate {expr.text!r}: {where} evaluated {job.task} on other examples (data fingerprints"
            f" {base_job.dataset_fingerprint[:12]} vs {job.dataset_fingerprint[:12]}): a difference would mix the"
            " models' change with the data's",
            hint="evaluate the baseline and the candidate on the same dataset selection",
        )


def aligned(frame: pd.DataFrame, ids: pd.Series, what: str) -> pd.DataFrame:
    """``frame``'s rows in the order of ``ids`` (a job stopped early uses a prefix of the baseline's examples)."""
    indexed = frame.set_index(frame["id"].astype(str))
    missing = [i for i in ids.astype(str) if i not in indexed.index]
    if missing:
        raise GateError(
            f"{what} has no prediction for {len(missing)} of the examples (e.g. {missing[0]!r})",
            hint="evaluate both on the same dataset selection",
        )
    return indexed.loc[ids.astype(str)].reset_index(drop=True)


@dataclass
class _Context:
    run: Run
    baseline_dir: str | Path | None
    seed: int
    baselines: dict[str, Run] = field(default_factory=dict)

    def baseline(self, path: str | Path) -> Run:
        key = str(path)
        if key not in self.baselines:
            self.baselines[key] = load_run(key)
        return self.baselines[key]


def _job_of(run: Run, model: str, task: str, expr: GateExpr) -> Job:
    for job in run.results.jobs:
        if job.model == model and job.task == task:
            return job
    raise GateError(f"gate {expr.text!r}: model {model!r} did not run task {task!r} in run {run.results.run_id}")


def _pending(ctx: _Context, gate: GateSpec, expr: GateExpr, job: Job) -> _Pending:
    run = ctx.run
    label = f"run {run.results.run_id}"
    task = task_class(job.kind)
    sequential = job.sequential is not None and job.sequential.stopped != "not sequential"

    def new(kind: str, measured: float, bound: float, **extra: Any) -> GateResult:
        return GateResult(
            gate=gate.label, check=expr.text, model=job.model, task=job.task, metric=expr.metric, kind=kind,
            measured=measured, bound=bound, verdict="INCONCLUSIVE", message="", **{"test": "exact value", **extra},
        )  # fmt: skip

    def versus(kind: str, measured: float, base_value: float) -> GateResult:
        """A gate on the difference from a reference figure: its bound, difference and margin follow from it."""
        return new(
            kind, measured, base_value + expr.offset, quantity="difference", baseline_value=base_value,
            difference=measured - base_value, margin=expr.offset,
        )  # fmt: skip

    if expr.metric == "agreement":
        assert gate.against is not None
        other = _job_of(run, gate.against, job.task, expr)
        check_same_data(other, job, expr, f"model {gate.against}")
        column = task.answer_column
        if column is None:
            raise GateError(f"gate {expr.text!r}: {job.task} ({job.kind}) has no single answer per example to compare")
        frame = run.predictions(job.model, job.task)
        ref = aligned(run.predictions(other.model, other.task), frame["id"], f"model {other.model}")
        same = (frame[column].astype(str).to_numpy() == ref[column].astype(str).to_numpy()).astype(float)
        evidence = wilson_evidence(int(same.sum()), len(same), expr.op, expr.threshold)
        result = new(
            "agreement",
            100.0 * float(same.mean()) if len(same) else math.nan,
            expr.threshold,
            test=evidence.test,
            n=len(same),
        )
        return _Pending(result, expr.op, expr.threshold, evidence)

    if expr.path[0] == "latency":
        measured = _figure(job, expr, label)
        samples = latency_samples(job, expr.path[1])
        kind = "latency"
        if not expr.uses_baseline:
            result = new(kind, measured, expr.threshold)
            if samples is None or len(samples) < 2:
                return _Pending(result, expr.op, expr.threshold, None)
            boot = bootstrap_latency(samples, expr.path[1], GATE_RESAMPLES, ctx.seed)
            evidence = bootstrap_evidence(boot, expr.op, expr.threshold, len(samples), "bootstrap over requests")
            result.test, result.n = evidence.test, len(samples)
            return _Pending(result, expr.op, expr.threshold, evidence)
        base_job, base_value, base_name = _reference(ctx, gate, expr, job)
        result = versus("latency regression", measured, base_value)
        base_samples = latency_samples(base_job, expr.path[1])
        if samples is None or base_samples is None or len(samples) < 2 or len(base_samples) < 2:
            return _Pending(result, expr.op, expr.offset, None)
        boot = bootstrap_latency_difference(samples, base_samples, expr.path[1], GATE_RESAMPLES, ctx.seed)
        evidence = bootstrap_evidence(boot, expr.op, expr.offset, len(samples), "two-sample bootstrap over requests")
        result.test, result.n = evidence.test, len(samples)
        return _Pending(result, expr.op, expr.offset, evidence)

    measured = _figure(job, expr, label)
    metric_info = info_for(expr.metric)
    frame = run.predictions(job.model, job.task) if len(expr.path) == 1 else None
    defs = task.metric_defs(frame, job) if frame is not None else {}
    defn = defs.get(expr.metric)
    if not expr.uses_baseline:
        result = new("threshold", measured, expr.threshold)
        if defn is None:
            return _Pending(result, expr.op, expr.threshold, None)
        evidence = metric_evidence(defn, expr.op, expr.threshold, sequential=sequential, seed=ctx.seed)
        result.test, result.n, result.anytime_valid = evidence.test, evidence.n, evidence.test.endswith(ANYTIME)
        return _Pending(result, expr.op, expr.threshold, evidence)

    base_job, base_value, base_name = _reference(ctx, gate, expr, job)
    kind = "non-inferiority" if (expr.offset < 0) == (expr.op in (">=", ">")) and expr.offset != 0 else "superiority"
    if expr.offset == 0:
        kind = "no regression"
    if (metric_info.direction == "lower" and expr.op in (">=", ">")) or (
        metric_info.direction == "higher" and (expr.op in ("<=", "<"))
    ):
        kind += f" (against {metric_info.key}'s direction: {metric_info.direction} is better)"
    result = versus(kind, measured, base_value)
    if defn is None or frame is None:
        return _Pending(result, expr.op, expr.offset, None)
    base_run = ctx.run if gate.against is not None else ctx.baseline(gate.baseline or ctx.baseline_dir or "")
    stored = base_run.predictions(base_job.model, base_job.task)
    base_frame = aligned(stored, frame["id"], base_name)
    base_defn = task_class(base_job.kind).metric_defs(base_frame, base_job).get(expr.metric)
    if base_defn is None:
        return _Pending(result, expr.op, expr.offset, None)
    evidence = paired_evidence(base_defn, defn, expr.op, expr.offset, sequential=sequential, seed=ctx.seed)
    result.test, result.n, result.anytime_valid = evidence.test, evidence.n, evidence.test.endswith(ANYTIME)
    if sequential or len(base_frame) != len(stored):
        # Measured on the examples both saw: the point difference must match the tested one.
        result.baseline_value = float(
            base_defn.statistic(base_defn.columns.sum(axis=0, keepdims=True), len(base_frame))[0]
        )
        result.difference = measured - result.baseline_value
        result.bound = result.baseline_value + expr.offset
    return _Pending(result, expr.op, expr.offset, evidence)


def _reference(ctx: _Context, gate: GateSpec, expr: GateExpr, job: Job) -> tuple[Job, float, str]:
    """The job a baseline gate compares with (another model of this run, or a baseline run's) and its figure."""
    if gate.against is not None:
        other = _job_of(ctx.run, gate.against, job.task, expr)
        check_same_data(other, job, expr, f"model {gate.against}")
        return other, _figure(other, expr, f"model {gate.against}"), f"model {gate.against}"
    base_dir = gate.baseline or ctx.baseline_dir
    if base_dir is None:
        raise GateError(
            f"gate {gate.label!r} compares with a baseline, but none was given",
            hint="set 'baseline:' in the suite or pass --baseline DIR",
        )
    baseline = ctx.baseline(base_dir)
    base_job = baseline_job(baseline, gate.baseline_model or job.model, job.task, expr)
    check_same_data(base_job, job, expr, f"the baseline run {baseline.results.run_id}")
    name = f"baseline run {baseline.results.run_id}"
    return base_job, _figure(base_job, expr, name), name


def evaluate_gates(
    run: Run,
    gates: list[GateSpec],
    baseline_dir: str | Path | None = None,
    card_audits: list[dict[str, Any]] | None = None,
    decision: DecisionSpec | None = None,
) -> GateReport:
    """Apply every gate to every matching job of ``run``; raise :class:`GateError` on unusable gates.

    ``decision`` sets the level, the multiple-comparison correction and the INCONCLUSIVE policy
    (default: the run's suite's ``decision:``). ``card_audits`` are the audits ``card.*`` gates read.
    """
    if decision is None:
        decision = DecisionSpec.model_validate(run.results.suite.spec.get("decision") or {})
    ctx = _Context(run, baseline_dir, run.results.suite.seed)
    pending: list[_Pending] = []
    for gate in gates:
        expr = parse_gate(gate.check)
        if expr.task == "card":
            pending.extend(_card_gate(run, card_audits or [], gate, expr))
            continue
        jobs = [j for j in run.results.jobs if j.task == expr.task and (gate.models is None or j.model in gate.models)]
        if gate.against is not None:
            jobs = [j for j in jobs if j.model != gate.against]
        if not jobs:
            raise GateError(
                f"gate {gate.label!r}: no job in run {run.results.run_id} ran task {expr.task!r}"
                + (f" with {gate.models}" if gate.models else ""),
                hint="check the gate's task and models against the suite",
            )
        pending.extend(_pending(ctx, gate, expr, job) for job in jobs)
    pending.extend(failure_gates(run))
    tested = [p for p in pending if p.evidence is not None]
    levels = adjust(
        [p.evidence.p_decision for p in tested if p.evidence], decision.alpha, decision.multiple_comparisons
    )
    level_of = {id(p): level for p, level in zip(tested, levels, strict=True)}
    report = GateReport(
        baseline=str(baseline_dir) if baseline_dir else None,
        alpha=decision.alpha,
        correction=decision.multiple_comparisons,
        on_inconclusive=decision.on_inconclusive,
        power=decision.power,
    )
    for p in pending:
        r = p.result
        if p.evidence is None:
            value = r.difference if r.quantity == "difference" and r.difference is not None else r.measured
            r.verdict = "GO" if holds(p.op, value, p.bound) else "NO_GO"
        else:
            d = decide(p.evidence, p.op, p.bound, level_of[id(p)])
            r.verdict, r.alpha, r.low, r.high = d.verdict, d.alpha, d.low, d.high
            r.p_value = p.evidence.p_decision
            r.mde = mde(p.evidence.se, d.alpha, decision.power)
        r.message = r.message or explain(r)
        report.results.append(r)
    return report


def failure_gates(run: Run) -> list[_Pending]:
    """One gate per endpoint job: its failed examples must stay within the model's ``max_failure_rate``."""
    out = []
    for job in run.results.jobs:
        f = job.failures
        if f is None:
            continue
        passed = f.rate <= f.max_rate
        message = (
            f"{f.count} of {f.total} examples failed at the endpoint ({f.rate:.2%}); allowed {f.max_rate:.2%}: "
            + ("GO" if passed else "NO_GO")
        )
        result = GateResult(
            gate="endpoint failures",
            check=f"{job.task}.failure_rate <= {f.max_rate:g}",
            kind="endpoint failures",
            model=job.model,
            task=job.task,
            metric="failure_rate",
            measured=float(f.rate),
            bound=float(f.max_rate),
            verdict="GO" if passed else "NO_GO",
            message=message,
            test="exact count",
            n=f.total,
        )
        out.append(_Pending(result, "<=", float(f.max_rate), None))
    return out


def _card_gate(run: Run, card_audits: list[dict[str, Any]], gate: GateSpec, expr: GateExpr) -> list[_Pending]:
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
        ok = holds(expr.op, measured, expr.threshold)
        result = GateResult(
            gate=gate.label,
            check=expr.text,
            kind="card audit",
            model=str(audit["model"]),
            task="card",
            metric=expr.metric,
            measured=measured,
            bound=expr.threshold,
            verdict="GO" if ok else "NO_GO",
            message=f"{Path(audit['card']).name}: {expr.path[0]} = {measured:g} {expr.op} {expr.threshold:g}: "
            + ("GO" if ok else "NO_GO"),
            test="exact count",
        )
        out.append(_Pending(result, expr.op, expr.threshold, None))
    return out


def _num(x: float) -> str:
    return f"{x:.4g}"


def explain(r: GateResult) -> str:
    """One sentence a release manager can read: the figure, the interval with its level and n, the verdict and why."""
    level = f"{1 - 2 * r.alpha:.1%}".replace(".0%", "%") if r.alpha is not None else None
    if r.quantity == "difference":
        assert r.baseline_value is not None and r.difference is not None and r.margin is not None
        head = (
            f"{r.metric} {_num(r.measured)} vs {_num(r.baseline_value)}: difference {r.difference:+.4g}"
            f" (margin {r.margin:+g})"
        )
        target = f"{r.margin:+g}"
    else:
        head = f"{r.metric} = {_num(r.measured)} (bound {r.check.split(' ', 1)[1] if ' ' in r.check else r.bound})"
        target = _num(r.bound)
    if r.low is None or r.high is None or level is None:
        why = "decided on the value itself (no sampling interval applies)"
    else:
        kind = "anytime-valid" if r.anytime_valid else r.test
        interval = f"{level} {kind} interval [{_num(r.low)}, {_num(r.high)}], n={r.n}"
        why = {
            "GO": f"{interval} lies on the passing side of {target}",
            "NO_GO": f"{interval} lies on the failing side of {target}",
            "INCONCLUSIVE": f"{interval} straddles {target}: more examples are needed to tell",
        }[r.verdict]
        if r.mde is not None and r.verdict == "INCONCLUSIVE":
            why += f" (detectable distance at this n: {r.mde:.3g})"
    return f"{head}; {why}: {r.verdict}"
