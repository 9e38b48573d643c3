"""``auditkit run --until-decided``: see examples in a seeded random order and stop once every gate is decided.

Why it is valid: each gated quantity is a mean of bounded per-example values (or of paired differences
against the baseline run's answers on the same examples), tested with betting confidence sequences
(:mod:`auditkit.metrics.sequential`). Those are valid at every sample size at once, so looking after
every chunk and stopping at the first look where all of a job's gates are decided keeps each wrong
verdict's probability under its level. The level per test is ``alpha / m`` for the run's m tested
(gate, job) pairs (Bonferroni: Holm's ordering is unknown until the end); the gates evaluated on the
finished run use Holm or BH on the same anytime-valid p-values, whose levels are never smaller.

A job is not stopped early when one of its gates is on a figure that is not such a mean (macro-F1,
``official.*``): it then runs on every example, in the same random order, and says why. Latency gates
never hold a job back; they are decided afterwards on the requests that ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .cache import merge_timings, predict_cached
from .data import Dataset
from .engine.types import ProgressSink
from .expressions import GateExpr, parse_gate
from .gates.evaluate import aligned, baseline_job, metric_evidence, paired_evidence
from .metrics.sequential import confidence_sequence
from .models import Model
from .results import Job, SequentialRecord, load_run
from .suite import Suite
from .tasks import task_class
from .tasks.base import Predictions, Scores, Task


@dataclass(frozen=True)
class JobGate:
    """A gate as it applies to one job while the job runs."""

    expr: GateExpr
    baseline: Job | None
    baseline_frame: pd.DataFrame | None  # the baseline job's per-example table, read once for every look


def tested_pairs(suite: Suite) -> int:
    """How many (gate, job) tests the run makes: the Bonferroni denominator of the sequential level."""
    count = 0
    for gate in suite.gates:
        expr = parse_gate(gate.check)
        if expr.task == "card":
            continue
        for model, task in suite.jobs():
            if (
                task.name == expr.task
                and (gate.models is None or model.name in gate.models)
                and (model.name != gate.against)
            ):
                count += 1
    return max(count, 1)


def job_gates(suite: Suite, model: str, task: str, baseline: str | None) -> tuple[list[JobGate], str | None]:
    """The gates that apply to (model, task) and can stop it early, or ``[]`` and why it cannot (None: no gates)."""
    out: list[JobGate] = []
    for gate in suite.gates:
        expr = parse_gate(gate.check)
        if expr.task != task or (gate.models is not None and model not in gate.models) or model == gate.against:
            continue
        if expr.path[0] == "latency":
            continue  # decided afterwards, on the requests that ran
        if gate.against is not None or len(expr.path) != 1:
            return [], f"gate {gate.label!r} ({expr.metric}) is not a mean of per-example values"
        base_job = base_frame = None
        if expr.uses_baseline:
            base_run = load_run(str(gate.baseline or baseline or ""))
            base_job = baseline_job(base_run, gate.baseline_model or model, task, expr)
            base_frame = base_run.predictions(base_job.model, base_job.task)
        out.append(JobGate(expr, base_job, base_frame))
    return out, None


def _undecided(
    task: Task[Any], job: Job, frame: pd.DataFrame, gates: list[JobGate], level: float, seed: int
) -> list[str]:
    """The gates of ``job`` not yet decided at ``level`` on the examples seen (``frame``, in order seen)."""
    defs = task.metric_defs(frame, job)
    open_gates = []
    for gate in gates:
        expr = gate.expr
        defn = defs.get(expr.metric)
        if defn is None or defn.values is None:
            open_gates.append(f"{expr.metric} (not a mean of per-example values)")
            continue
        if gate.baseline is None or gate.baseline_frame is None:
            evidence = metric_evidence(defn, expr.op, expr.threshold, sequential=True, seed=seed)
        else:
            base = aligned(gate.baseline_frame, frame["id"], "the baseline run")
            base_def = task_class(gate.baseline.kind).metric_defs(base, gate.baseline)[expr.metric]
            evidence = paired_evidence(base_def, defn, expr.op, expr.offset, sequential=True, seed=seed)
        if evidence.p_decision > level:
            open_gates.append(expr.text)
    return open_gates


def run_until_decided(
    task: Task[Any],
    model: Model,
    dataset: Dataset,
    gates: list[JobGate],
    *,
    suite: Suite,
    make_job: Any,
    progress: ProgressSink | None,
    use_cache: bool,
) -> tuple[Predictions, Dataset, SequentialRecord]:
    """Predict ``dataset`` chunk by chunk in a seeded random order until ``gates`` are decided.

    ``make_job(scores, dataset)`` builds the provisional :class:`Job` the task's metric definitions read.
    Returns the predictions in the order seen, the examples used (same order) and how it stopped.
    """
    alpha = suite.decision.alpha / tested_pairs(suite)
    step = suite.decision.look_every
    order = np.random.default_rng(suite.seed).permutation(len(dataset)).tolist()
    frames: list[pd.DataFrame] = []
    timings: list[dict[str, Any]] = []
    notes: list[str] = []
    failures: list[dict[str, Any]] = []
    looks: list[int] = []
    stopped: Literal["decided", "exhausted"] = "exhausted"
    reason = "every example was used before all gates were decided"
    quick = suite.bootstrap.model_copy(update={"resamples": 1})
    seen = 0
    while seen < len(order):
        chunk = dataset.take(order[seen : seen + step])
        part = predict_cached(task, model, chunk, progress, use_cache=use_cache)
        frames.append(part.frame)
        timings.append(part.timing)
        notes.extend(part.notes)
        failures.extend(part.failures)
        seen += len(chunk)
        looks.append(seen)
        used = dataset.take(order[:seen])
        frame = pd.concat(frames, ignore_index=True)
        failed = {f["id"] for f in failures}
        scored = used.without(failed) if failed else used
        scores: Scores = task.score(frame[~frame["id"].isin(failed)].reset_index(drop=True), scored, quick, suite.seed)
        per_example = in_order(scores.per_example, scored)
        still = _undecided(task, make_job(scores, scored), per_example, gates, alpha, suite.seed)
        if not still:
            stopped, reason = "decided", f"every gate was decided after {seen} of {len(order)} examples"
            break
        reason = f"undecided when the examples ran out: {', '.join(still)}"
    used = dataset.take(order[:seen])
    frame = pd.concat(frames, ignore_index=True)
    timing = merge_timings(timings)
    record = SequentialRecord(
        n_used=seen,
        n_available=len(dataset),
        look_every=step,
        order_seed=suite.seed,
        looks=looks,
        stopped=stopped,
        reason=reason,
        alpha=alpha,
    )
    return Predictions(frame, timing, list(dict.fromkeys(notes)), failures), used, record


def in_order(per_example: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Per-example rows in the dataset's order (the order seen): sequential tests depend on it."""
    position = {example.id: i for i, example in enumerate(dataset.examples)}
    keys = per_example["id"].astype(str).map(position)
    return (
        per_example.assign(_order=keys)
        .sort_values("_order", kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def anytime_metrics(task: Task[Any], job: Job, frame: pd.DataFrame, confidence: float) -> dict[str, dict[str, Any]]:
    """The job's metrics with anytime-valid intervals where the metric is a mean of bounded values: a
    bootstrap interval computed after a data-dependent stop would claim more than it knows."""
    defs = task.metric_defs(frame, job)
    out: dict[str, dict[str, Any]] = {}
    for name, est in job.metrics.items():
        record = est.model_dump()
        defn = defs.get(name)
        values = None if defn is None or defn.values is None else np.asarray(defn.values, dtype=np.float64)
        if values is not None and defn is not None:
            values = values[~np.isnan(values)]
            lo, hi = defn.bounds
            low, high = confidence_sequence(values, (1.0 - confidence) / 2.0, lo, hi)
            record.update(low=defn.scale * low, high=defn.scale * high, interval="anytime-valid confidence sequence")
            record["n"] = len(values)
        out[name] = record
    return out


def not_sequential(dataset: Dataset, reason: str, suite: Suite) -> SequentialRecord:
    """The record of a job ``--until-decided`` had to run in full (its intervals are ordinary fixed-n ones)."""
    n = len(dataset)
    return SequentialRecord(
        n_used=n,
        n_available=n,
        look_every=suite.decision.look_every,
        order_seed=suite.seed,
        looks=[n],
        stopped="not sequential",
        reason=f"ran every example: {reason}",
        alpha=suite.decision.alpha / tested_pairs(suite),
    )
