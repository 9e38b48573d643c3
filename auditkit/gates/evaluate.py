"""Decide release gates from a finished run (and a baseline run): GO, NO_GO or INCONCLUSIVE, never a model.

Kinds of gate, by their expression (the tests are :mod:`auditkit.stats`, the same functions a notebook calls):

* threshold -- ``squad_v1.f1 >= 86.0``: the metric's per-example values against a number (exact binomial
  for 0/1 outcomes such as accuracy and exact match, betting for other bounded scores such as F1);
* non-inferiority / superiority -- ``squad_v1.f1 >= baseline - 0.5`` / ``>= baseline + 1``: the paired
  per-example differences from the baseline on the same examples, never the point estimates;
* agreement -- ``squad_v1.agreement >= 99`` with ``against: MODEL``: the share of examples on which two
  models of the same run give the identical answer (served vs released), exact binomial;
* latency -- ``squad_v1.latency.p95_ms <= 40 ms``: the distribution-free order-statistic test of the
  percentile of the raw timed samples (two samples for ``<= baseline + 5``);
* figures without a per-example definition (macro-F1, ECE, a latency mean): the bootstrap, marked as an
  asymptotic test that the run's error statement does not cover;
* figures without a sampling distribution (``official.*``, card audits, endpoint failure accounting)
  are decided on their value: GO or NO_GO, test "exact value".

Examples sampled in clusters (a task's ``cluster_units``; the job's sampling record) are tested on cluster
means. Jobs run with ``--until-decided`` are decided on anytime-valid betting evidence in the order they
were seen, which must be the data's canonical order (checked here). The family of tested gates gets Holm's
(or BH's) correction over its 2m one-sided tests (``decision:`` in the suite).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..core.errors import GateError
from ..metrics.latency import bootstrap_latency, bootstrap_latency_difference
from ..metrics.stats import MetricDef
from ..results import Job, Run, load_run
from ..spec.expressions import LATENCY_KEYS, GateExpr, holds, parse_gate
from ..spec.schema import DecisionSpec, GateSpec
from ..stats import (
    Correction,
    Decision,
    Verdict,
    adjust,
    decide_paired,
    decide_quantile,
    decide_quantile_difference,
    decide_threshold,
    mde,
    worst,
)
from ..tasks import task_class
from ..tasks.pairing import align, stopped_early
from ..tasks.sampling import canonical_order, clusters_for, defined_values, job_column

#: Bootstrap resamples behind a gate without a finite-sample test: p-values resolve to 1/(B+1).
GATE_RESAMPLES = 4000
#: Exit codes by run verdict (``on_inconclusive`` maps INCONCLUSIVE; 2 is an input error).
EXIT_CODES: dict[str, int] = {"GO": 0, "NO_GO": 1, "INCONCLUSIVE": 3}
BOOTSTRAP = "bootstrap percentile (asymptotic)"


@dataclass
class GateResult:
    """One gate applied to one model's job, with its verdict and the evidence behind it.

    ``low``/``high`` bound the *tested quantity* at ``confidence`` (the suite's ``1 - alpha``, 95% by default)
    from the same test as the verdict: the metric for a threshold gate, the difference (run - baseline) for
    a baseline gate, the percentile for latency. ``p_value`` is the Holm- or BH-adjusted p-value the verdict
    compares with alpha; ``p_raw`` the gate's own two-sided one. ``estimate`` is the tested quantity's value
    (with clusters: the mean of the cluster means, which weighs every cluster the same).
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
    confidence: float | None = None
    p_value: float | None = None
    p_raw: float | None = None
    mde: float | None = None
    baseline_value: float | None = None
    difference: float | None = None
    margin: float | None = None
    anytime_valid: bool = False
    finite_sample: bool = True
    estimate: float | None = None
    n_clusters: int | None = None
    cluster_unit: str | None = None
    design_effect: float | None = None
    samples_needed: int | None = None
    empty_interval: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "GO"

    @property
    def tested(self) -> bool:
        """Whether a statistical test decided it (not the exact value of a figure without sampling error)."""
        return self.p_value is not None


@dataclass
class GateReport:
    results: list[GateResult] = field(default_factory=list)
    baseline: str | None = None
    alpha: float = 0.05
    correction: Correction = "holm"
    on_inconclusive: Literal["fail", "pass", "inconclusive"] = "inconclusive"
    power: float = 0.8
    #: What a reader must know about how the gates were applied (a first release without a baseline).
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return worst([r.verdict for r in self.results])

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

    def guarantee(self) -> str | None:
        """The error statement the run can make, with its assumptions -- None when no gate was tested, or
        when a tested gate's test is only asymptotic (then no finite-sample statement holds for the family)."""
        tested = [r for r in self.results if r.tested]
        if not tested or not all(r.finite_sample for r in tested):
            return None
        units = sorted({f"{r.task}: {r.cluster_unit or 'example'}" for r in tested})
        what = (
            f"the chance of any wrong verdict is at most {self.alpha:g}"
            if self.correction == "holm"
            else f"the expected share of wrong verdicts among decided gates is at most {self.alpha:g}"
            if self.correction == "bh"
            else f"each gate's chance of a wrong verdict is at most {self.alpha:g}"
        )
        return (
            f"{what}, if each task's sampling units ({'; '.join(units)}) are independent draws from the"
            " population the gates are about"
        )

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
                "confidence": 1.0 - self.alpha,
                "multiple_comparisons": self.correction,
                "on_inconclusive": self.on_inconclusive,
                "power": self.power,
                "rule": VERDICT_RULE,
                "guarantee": self.guarantee(),
            },
            "baseline": self.baseline,
            "notes": self.notes,
            "results": [{**asdict(r), "passed": r.passed} for r in self.results],
        }


#: The verdict rule, stated once (gates.json, the report, the docs).
VERDICT_RULE = (
    "each gate's interval is at the run's confidence (1 - alpha); a gate is GO when its multiplicity-adjusted"
    " p-value is at most alpha and its interval lies on the passing side of the bound, NO_GO when it lies on"
    " the failing side, INCONCLUSIVE otherwise (with one gate: GO exactly when the interval lies wholly on the"
    " passing side)"
)


@dataclass
class _Pending:
    """A gate result waiting for the family's correction, and the test that decides it (None: its value)."""

    result: GateResult
    op: str
    bound: float
    decision: Decision | None


def bootstrap_decision(samples: np.ndarray, op: str, bound: float, n: int, alpha: float, test: str) -> Decision:
    """A decision from a bootstrap distribution of a statistic with no finite-sample test (macro-F1, ECE, a
    latency mean): the share of resamples past the bound (+1 corrected) as p-values, the percentile interval.
    Asymptotic: :attr:`GateResult.finite_sample` is False and the run's error statement says so."""
    finite = np.asarray(samples, dtype=np.float64)
    finite = np.sort(finite[np.isfinite(finite)])
    count = len(finite)
    if not count:
        return Decision(
            "INCONCLUSIVE", 1.0, (math.nan, math.nan), 1 - alpha, n, None, test, math.nan, finite_sample=False
        )
    above = float((np.sum(finite <= bound) + 1) / (count + 1))
    below = float((np.sum(finite >= bound) + 1) / (count + 1))
    p_go, p_nogo = (above, below) if op in (">=", ">") else (below, above)
    low, high = np.quantile(finite, [alpha / 2, 1.0 - alpha / 2])
    decision = Decision(
        "INCONCLUSIVE", min(1.0, 2 * min(p_go, p_nogo)), (float(low), float(high)), 1 - alpha, n, None, test,
        float(np.median(finite)), p_go=p_go, p_nogo=p_nogo, finite_sample=False,
    )  # fmt: skip
    return decision.at(alpha)


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


def metric_decision(
    defn: MetricDef,
    op: str,
    bound: float,
    *,
    alpha: float,
    column: str | None,
    sequential: bool,
    seed: int,
    horizon: int | None = None,
) -> Decision:
    """The test of ``metric op bound`` on one job's per-example definition of the metric (its own scale)."""
    if defn.values is None:
        n = defn.columns.shape[0]
        boot = defn.resampled(GATE_RESAMPLES, seed, defn.clusters(column))
        return bootstrap_decision(boot, op, bound, n, alpha, BOOTSTRAP)
    values, labels = defined_values(defn, column)
    if not len(values):
        raise GateError(f"no examples to test '{op} {bound:g}' on (n = 0)", hint="check the task's data selection")
    lo, hi = defn.bounds
    return decide_threshold(
        values, op, bound, alpha=alpha, low=lo * defn.scale, high=hi * defn.scale, clusters=labels,
        sequential=sequential, binary=defn.binary is not None, horizon=horizon if sequential else None,
        complete=True,  # --until-decided looks only between clusters
    )  # fmt: skip


def paired_decision(
    base: MetricDef,
    cand: MetricDef,
    op: str,
    margin: float,
    *,
    alpha: float,
    column: str | None,
    sequential: bool,
    seed: int,
    horizon: int | None = None,
) -> Decision:
    """The test of ``(candidate - baseline) op margin`` on the same examples (rows aligned)."""
    if base.values is None or cand.values is None:
        deltas = base.resampled_change(cand, GATE_RESAMPLES, seed, cand.clusters(column))
        return bootstrap_decision(deltas, op, margin, base.columns.shape[0], alpha, "paired " + BOOTSTRAP)
    c, b = np.asarray(cand.values, dtype=np.float64), np.asarray(base.values, dtype=np.float64)
    keep = ~(np.isnan(c) | np.isnan(b))
    if not keep.any():
        raise GateError("no examples both models were scored on (n = 0)", hint="evaluate both on the same data")
    lo, hi = cand.bounds
    return decide_paired(
        c[keep] * cand.scale, b[keep] * cand.scale, op, margin, alpha=alpha, low=lo * cand.scale,
        high=hi * cand.scale, clusters=clusters_for(cand, column, keep), sequential=sequential,
        binary=cand.binary is not None and base.binary is not None, horizon=horizon if sequential else None,
        complete=True,  # --until-decided looks only between clusters
    )  # fmt: skip


def check_canonical_order(job: Job, frame: pd.DataFrame, column: str | None) -> None:
    """A sequential job's examples must be in the data's canonical order: any other order could have been
    chosen to stop on a lucky streak, and its anytime p-values would not mean what they say."""
    ids = frame["id"].astype(str).tolist()
    labels = frame[column].astype(str).tolist() if column is not None and column in frame else None
    expected = canonical_order(ids, labels, job.dataset_fingerprint)
    if expected != list(range(len(ids))):
        raise GateError(
            f"job {job.model} · {job.task} ran with --until-decided, but its {len(ids)} examples were not seen in"
            " the data's canonical order: its early stop cannot be trusted",
            hint="re-run it with this auditkit version (the order is derived from the data, not a seed)",
        )


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


@dataclass
class _Context:
    run: Run
    baseline_dir: str | Path | None
    seed: int
    alpha: float
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


def _attach(result: GateResult, decision: Decision, unit: str | None) -> None:
    """Copy what the test says onto the gate's result (the verdict comes after the family's correction)."""
    result.test, result.n, result.estimate = decision.method, decision.n, decision.estimate
    result.anytime_valid, result.finite_sample = decision.anytime_valid, decision.finite_sample
    result.n_clusters = decision.n_clusters if unit is not None else None
    result.cluster_unit = unit if decision.n_clusters is not None else None
    result.design_effect, result.samples_needed = decision.design_effect, decision.samples_needed
    result.empty_interval = decision.empty
    result.notes.extend(decision.notes)


def _pending(ctx: _Context, gate: GateSpec, expr: GateExpr, job: Job) -> _Pending:
    run, alpha = ctx.run, ctx.alpha
    label = f"run {run.results.run_id}"
    task = task_class(job.kind)
    sequential = job.sequential is not None and job.sequential.stopped != "not sequential"
    horizon = job.sequential.horizon if job.sequential is not None else None
    column = job_column(job, task)
    unit = (
        None if column is None else (job.sampling.unit if job.sampling is not None else next(iter(task.cluster_units)))
    )

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

    def tested(result: GateResult, bound: float, decision: Decision) -> _Pending:
        _attach(result, decision, unit)
        return _Pending(result, expr.op, bound, decision)

    if expr.metric == "agreement":
        assert gate.against is not None
        other = _job_of(run, gate.against, job.task, expr)
        check_same_data(other, job, expr, f"model {gate.against}")
        answer = task.answer_column
        if answer is None:
            raise GateError(f"gate {expr.text!r}: {job.task} ({job.kind}) has no single answer per example to compare")
        frame = run.predictions(job.model, job.task)
        ref = align(run.predictions(other.model, other.task), frame["id"], f"model {other.model}")
        if not len(frame):
            raise GateError(f"gate {expr.text!r}: {job.model} · {job.task} has no examples (n = 0)")
        same = (frame[answer].astype(str).to_numpy() == ref[answer].astype(str).to_numpy()).astype(float)
        labels = frame[column].astype(str).to_numpy() if column is not None and column in frame else None
        decision = decide_threshold(
            100.0 * same, expr.op, expr.threshold, alpha=alpha, low=0.0, high=100.0, clusters=labels, binary=True
        )
        return tested(new("agreement", 100.0 * float(same.mean()), expr.threshold), expr.threshold, decision)

    if expr.path[0] == "latency":
        measured = _figure(job, expr, label)
        samples = latency_samples(job, expr.path[1])
        quantile = _percentile_of(expr.path[1])
        if not expr.uses_baseline:
            result = new("latency", measured, expr.threshold)
            if samples is None or not len(samples):
                return _Pending(result, expr.op, expr.threshold, None)
            if quantile is not None:
                decision = decide_quantile(samples, quantile, expr.op, expr.threshold, alpha=alpha)
            else:
                boot = bootstrap_latency(samples, expr.path[1], GATE_RESAMPLES, ctx.seed)
                decision = bootstrap_decision(boot, expr.op, expr.threshold, len(samples), alpha, BOOTSTRAP)
            return tested(result, expr.threshold, decision)
        base_job, base_value, _ = _reference(ctx, gate, expr, job)
        result = versus("latency regression", measured, base_value)
        base_samples = latency_samples(base_job, expr.path[1])
        if samples is None or base_samples is None or not len(samples) or not len(base_samples):
            return _Pending(result, expr.op, expr.offset, None)
        if quantile is not None:
            decision = decide_quantile_difference(samples, base_samples, quantile, expr.op, expr.offset, alpha=alpha)
        else:
            boot = bootstrap_latency_difference(samples, base_samples, expr.path[1], GATE_RESAMPLES, ctx.seed)
            decision = bootstrap_decision(boot, expr.op, expr.offset, len(samples), alpha, "two-sample " + BOOTSTRAP)
        return tested(result, expr.offset, decision)

    measured = _figure(job, expr, label)
    metric_info = task.metric_info(expr.metric)
    frame = run.predictions(job.model, job.task) if len(expr.path) == 1 else None
    defs = task.metric_defs(frame, job) if frame is not None else {}
    defn = defs.get(expr.metric)
    if sequential and frame is not None:
        check_canonical_order(job, frame, column)
    if not expr.uses_baseline:
        result = new("threshold", measured, expr.threshold)
        if defn is None:
            return _Pending(result, expr.op, expr.threshold, None)
        decision = metric_decision(
            defn, expr.op, expr.threshold, alpha=alpha, column=column, sequential=sequential, seed=ctx.seed,
            horizon=horizon,
        )  # fmt: skip
        return tested(result, expr.threshold, decision)

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
    if stopped_early(base_job):
        # The baseline saw a prefix of the canonical order, its length chosen by its own stop: test on that
        # prefix, in that order, with the anytime-valid test (valid at any stopping time of the pairs' order).
        both = stored["id"][stored["id"].astype(str).isin(set(frame["id"].astype(str)))]
        frame = align(frame, both, f"{job.model} · {job.task}")
        defn = task.metric_defs(frame, job).get(expr.metric)
        sequential = True
        horizon = base_job.sequential.horizon if base_job.sequential is not None else None
        result.measured = defn.value() if defn is not None else result.measured
        result.notes.append(
            f"{base_name} stopped early with --until-decided after {len(stored)} examples: tested on the"
            f" {len(frame)} examples both saw, in the baseline's order, with its anytime-valid test"
        )
        if defn is None:
            return _Pending(result, expr.op, expr.offset, None)
    base_frame = align(stored, frame["id"], base_name)
    base_defn = task_class(base_job.kind).metric_defs(base_frame, base_job).get(expr.metric)
    if base_defn is None:
        return _Pending(result, expr.op, expr.offset, None)
    decision = paired_decision(
        base_defn, defn, expr.op, expr.offset, alpha=alpha, column=column, sequential=sequential, seed=ctx.seed,
        horizon=horizon,
    )  # fmt: skip
    if sequential or len(base_frame) != len(stored):
        # Measured on the examples both saw: the point difference must match the tested one.
        result.baseline_value = base_defn.value()
        result.difference = result.measured - result.baseline_value
        result.bound = result.baseline_value + expr.offset
    return tested(result, expr.offset, decision)


def _percentile_of(key: str) -> float | None:
    """The quantile a latency key names (``p95_ms`` -> 0.95), None for means and rates."""
    name = LATENCY_KEYS[key]
    if name.endswith(("_p50", "_p95", "_p99")):
        return int(name[-2:]) / 100.0
    return None


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
    notes: list[str] | None = None,
) -> GateReport:
    """Apply every gate to every matching job of ``run``; raise :class:`GateError` on unusable gates.

    ``decision`` sets the level, the multiple-comparison correction and the INCONCLUSIVE policy
    (default: the run's suite's ``decision:``). ``card_audits`` are the audits ``card.*`` gates read.
    """
    if decision is None:
        decision = DecisionSpec.model_validate(run.results.suite.spec.get("decision") or {})
    ctx = _Context(run, baseline_dir, run.results.suite.seed, decision.alpha)
    pending: list[_Pending] = []
    for gate in gates:
        expr = parse_gate(gate.check)
        if expr.task == "card":
            pending.extend(_card_gate(run, card_audits or [], gate, expr))
            continue
        if expr.op not in (">=", ">", "<=", "<"):
            raise GateError(
                f"gate {gate.label!r}: {expr.op} cannot be decided from data with error control (a measured value"
                " is never exactly equal to a bound)",
                hint=f"write two gates for a tolerance, e.g. '{expr.task}.{expr.metric} >= LOW' and"
                f" '{expr.task}.{expr.metric} <= HIGH'",
            )
        jobs = [j for j in run.results.jobs if j.task == expr.task and (gate.models is None or j.model in gate.models)]
        if gate.against is not None:
            jobs = [j for j in jobs if j.model != gate.against]
        if not jobs:
            raise GateError(
                f"gate {gate.label!r}: no job in run {run.results.run_id} ran task {expr.task!r}"
                + (f" with {gate.models}" if gate.models else ""),
                hint="check the gate's task and models against the suite",
            )
        for job in jobs:
            try:
                pending.append(_pending(ctx, gate, expr, job))
            except ValueError as exc:  # the statistics refused the data (out of range, misaligned): say which gate
                raise GateError(
                    f"gate {gate.label!r} on {job.model} · {job.task}: {exc}",
                    hint="check the stored predictions against the task's metric ranges, or re-run the job",
                ) from None
    pending.extend(failure_gates(run))
    tested = [p for p in pending if p.decision is not None]
    adjusted = adjust(
        [p.decision.p_go for p in tested if p.decision],
        [p.decision.p_nogo for p in tested if p.decision],
        decision.multiple_comparisons,
    )
    adjusted_of = {id(p): value for p, value in zip(tested, adjusted, strict=True)}
    report = GateReport(
        baseline=str(baseline_dir) if baseline_dir else None,
        alpha=decision.alpha,
        correction=decision.multiple_comparisons,
        on_inconclusive=decision.on_inconclusive,
        power=decision.power,
        notes=list(notes or []),
    )
    for p in pending:
        r = p.result
        if p.decision is None:
            value = r.difference if r.quantity == "difference" and r.difference is not None else r.measured
            r.verdict = "GO" if holds(p.op, value, p.bound) else "NO_GO"
        else:
            d = p.decision
            r.p_value, r.p_raw = adjusted_of[id(p)], d.p_value
            r.verdict = "INCONCLUSIVE" if r.p_value > decision.alpha else ("GO" if d.p_go <= d.p_nogo else "NO_GO")
            r.confidence = d.confidence
            r.low, r.high = (None, None) if d.empty else (_finite(d.low), _finite(d.high))
            r.mde = mde(d, decision.power)
        r.message = r.message or explain(r)
        report.results.append(r)
    return report


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


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


def _p(p: float) -> str:
    return "p < 0.0001" if p < 0.0001 else f"p = {p:.2g}"


def explain(r: GateResult) -> str:
    """One sentence a release manager can read: the figure, the interval with its level and n, the verdict and why."""
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
    if not r.tested:
        return f"{head}; decided on the value itself (no sampling interval applies): {r.verdict}"
    assert r.p_value is not None and r.confidence is not None
    size = f"n={r.n}" + (f" in {r.n_clusters} {r.cluster_unit or 'cluster'}s" if r.n_clusters else "")
    level = (
        f"{r.confidence:.0%}" if round(r.confidence * 100, 6) == round(r.confidence * 100) else f"{r.confidence:.1%}"
    )
    tested = ""
    if r.n_clusters and r.estimate is not None:
        tested = f"; per-{r.cluster_unit or 'cluster'} mean {_num(r.estimate)}"
    if r.empty_interval:
        interval = f"the {level} {r.test} came out empty ({size}): the data are not consistent with one fixed value"
    elif r.low is None or r.high is None:
        side = "upper" if r.high is None else "lower"
        interval = f"{level} {r.test}: no {side} bound yet ({size})"
    else:
        interval = f"{level} {r.test} interval [{_num(r.low)}, {_num(r.high)}] ({size}{tested})"
    adjusted = f"adjusted {_p(r.p_value)}"
    why = {
        "GO": f"{interval} lies on the passing side of {target}, {adjusted}",
        "NO_GO": f"{interval} lies on the failing side of {target}, {adjusted}",
        "INCONCLUSIVE": f"{interval}, {adjusted}: the data cannot yet tell which side of {target} the truth is on",
    }[r.verdict]
    if r.verdict == "INCONCLUSIVE" and r.low is not None and r.high is not None:
        tested_bound = r.margin if r.quantity == "difference" and r.margin is not None else r.bound
        if r.low > tested_bound or r.high < tested_bound:
            why = (
                f"{interval} clears {target}, but not after the correction for the run's other gates"
                f" ({adjusted} > alpha)"
            )
    if r.samples_needed is not None and r.verdict == "INCONCLUSIVE":
        why += f"; at least {r.samples_needed} samples are needed"
    elif r.mde is not None and r.verdict == "INCONCLUSIVE":
        why += f" (detectable distance at this n: {r.mde:.3g})"
    if not r.finite_sample:
        why += "; an asymptotic test, outside the run's error guarantee"
    return f"{head}; {why}: {r.verdict}"
