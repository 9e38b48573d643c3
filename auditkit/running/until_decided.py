"""``auditkit run --until-decided``: see examples in the data's canonical order and stop once every gate is decided.

Why it is valid: each gated quantity is a mean of bounded per-example values (or of paired differences
against the baseline run's answers on the same examples), tested with betting confidence sequences
(:mod:`auditkit.stats`). Those are valid at every sample size at once, so looking after every chunk and
stopping at the first look where all of a job's gates are decided keeps each wrong verdict's probability
under its level. Each one-sided test stops at ``alpha / (2m)`` for the run's m tested (gate, job) pairs
(Bonferroni over the 2m one-sided tests: Holm's ordering is unknown until the end); the gates evaluated on
the finished run apply Holm or BH to the same anytime-valid p-values, whose levels are never smaller.

Why the order is not a seed: a run that may stop early could be repeated with other orders until one
says GO. The order is derived from the data alone (:func:`auditkit.tasks.sampling.canonical_order`) and
``auditkit gate`` checks it. With clusters (SQuAD articles) whole clusters are revealed, in that order,
and looks fall between clusters, so every look sees complete independent draws.

A job is not stopped early when one of its gates is on a figure that is not such a mean (macro-F1,
``official.*``): it then runs on every example and says why. Latency gates never hold a job back; they
are decided afterwards on the requests that ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from ..data import Dataset
from ..engine.types import ProgressSink
from ..gates.evaluate import baseline_job, metric_decision, paired_decision
from ..metrics.stats import MetricDef
from ..models import Model
from ..results import Job, MetricEstimate, SequentialRecord, load_run
from ..spec.expressions import GateExpr, parse_gate
from ..spec.schema import GateSpec
from ..stats import decide_threshold
from ..tasks import task_class
from ..tasks.base import Predictions, Scores, Task
from ..tasks.pairing import align, stopped_early
from ..tasks.sampling import canonical_order, defined_values, order_digest, unit_column
from .cache import in_order, join_predictions, predict_cached
from .suite import Suite


@dataclass(frozen=True)
class JobGate:
    """A gate as it applies to one job while the job runs."""

    expr: GateExpr
    baseline: Job | None
    baseline_frame: pd.DataFrame | None  # the baseline job's per-example table, read once for every look


def gates_of(suite: Suite, model: str, task: str) -> list[tuple[GateSpec, GateExpr]]:
    """The gates that test job (``model``, ``task``): on its task, naming its model (or every model), and not the
    reference model of an ``against:`` gate."""
    out = []
    for gate in suite.gates:
        expr = parse_gate(gate.check)
        if expr.task == task and (gate.models is None or model in gate.models) and model != gate.against:
            out.append((gate, expr))
    return out


def tested_pairs(suite: Suite) -> int:
    """How many (gate, job) tests the run makes: the Bonferroni denominator of the sequential level."""
    tests = [expr for model, task in suite.jobs() for _, expr in gates_of(suite, model.name, task.name)]
    return max(sum(expr.task != "card" for expr in tests), 1)


def screening_warnings(suite: Suite) -> list[str]:
    """What ``--until-decided`` cannot do for this suite, said before any model loads."""
    if not any(parse_gate(gate.check).task != "card" for gate in suite.gates):
        return ["--until-decided has nothing to decide: the suite has no gates on its tasks, so every job runs"
                " on all its examples (add gates, or run without --until-decided)"]  # fmt: skip
    out = []
    for model, task in suite.jobs():
        if all(expr.path[0] == "latency" for _, expr in gates_of(suite, model.name, task.name)):
            out.append(
                f"--until-decided: no gate on a metric applies to {model.name} · {task.name}:"
                " it runs on all its examples"
            )
        elif not task_class(task.kind).sequential:
            out.append(
                f"--until-decided: {task.kind} tasks ({task.name}) are not screened sequentially:"
                f" {model.name} runs on all its examples"
            )
    return out


def job_gates(suite: Suite, model: str, task: str, baseline: str | None) -> tuple[list[JobGate], str | None]:
    """The gates that apply to (model, task) and can stop it early, or ``[]`` and why it cannot (None: no gates)."""
    out: list[JobGate] = []
    for gate, expr in gates_of(suite, model, task):
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


def baseline_limit(gates: list[JobGate]) -> set[str] | None:
    """The examples every early-stopped baseline saw (None: no gate's baseline stopped early)."""
    limit: set[str] | None = None
    for gate in gates:
        if gate.baseline is not None and gate.baseline_frame is not None and stopped_early(gate.baseline):
            seen = set(gate.baseline_frame["id"].astype(str))
            limit = seen if limit is None else limit & seen
    return limit


def _undecided(
    task: Task[Any], job: Job, frame: pd.DataFrame, gates: list[JobGate], level: float, suite: Suite, horizon: int
) -> list[str]:
    """The gates of ``job`` not yet decided at one-sided ``level`` on the examples seen (``frame``, in order)."""
    defs = task.metric_defs(frame, job)
    column = unit_column(type(task), task.spec.cluster)[1]
    alpha, seed = suite.decision.alpha, suite.seed
    open_gates = []
    for gate in gates:
        expr = gate.expr
        defn = defs.get(expr.metric)
        if defn is None or defn.values is None:
            open_gates.append(f"{expr.metric} (not a mean of per-example values)")
            continue
        if gate.baseline is None or gate.baseline_frame is None:
            decision = metric_decision(
                defn, expr.op, expr.threshold, alpha=alpha, column=column, sequential=True, seed=seed, horizon=horizon
            )
        else:
            base = align(gate.baseline_frame, frame["id"], "the baseline run")
            base_def = task_class(gate.baseline.kind).metric_defs(base, gate.baseline)[expr.metric]
            decision = paired_decision(
                base_def, defn, expr.op, expr.offset, alpha=alpha, column=column, sequential=True, seed=seed,
                horizon=horizon,
            )  # fmt: skip
        if min(decision.p_go, decision.p_nogo) > level:
            open_gates.append(expr.text)
    return open_gates


def _chunks(dataset: Dataset, column: str | None, step: int) -> list[list[int]]:
    """The canonical order cut into looks of about ``step`` examples.

    With clusters the order has two phases: one example of every cluster, looked at every ``step / 8``
    examples (a far-off truth is decided here, after a handful of independent draws), then the rest cluster
    by cluster, with looks only between clusters, so every look sees complete clusters.
    """
    ids = [example.id for example in dataset.examples]
    labels = [str(getattr(example, column)) for example in dataset.examples] if column is not None else None
    order = canonical_order(ids, labels, dataset.fingerprint)
    if labels is None:
        return [order[i : i + step] for i in range(0, len(order), step)]
    clusters = len(set(labels))
    small = max(4, step // 8)
    chunks = [order[i : min(i + small, clusters)] for i in range(0, clusters, small)]
    current: list[int] = []
    for position in range(clusters, len(order)):
        current.append(order[position])
        last_of_cluster = position + 1 == len(order) or labels[order[position + 1]] != labels[order[position]]
        if len(current) >= step and last_of_cluster:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


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
    precomputed: Predictions | None = None,
) -> tuple[Predictions, Dataset, SequentialRecord]:
    """Predict ``dataset`` look by look in its canonical order until ``gates`` are decided.

    ``make_job(scores, dataset)`` builds the provisional :class:`Job` the task's metric definitions read.
    ``precomputed``: predictions this model already made for some examples (``fast_mode: auto``'s calibration),
    taken when a look reaches them instead of predicted again.
    Returns the predictions in the order seen, the examples used (same order) and how it stopped.
    """
    level = suite.decision.alpha / (2 * tested_pairs(suite))
    step = suite.decision.look_every
    column = unit_column(type(task), task.spec.cluster)[1]
    chunks = _chunks(dataset, column, step)
    limit = baseline_limit(gates)
    if limit is not None:  # a baseline stopped early: only the examples it saw can be paired
        chunks = [kept for chunk in chunks if (kept := [p for p in chunk if dataset.examples[p].id in limit])]
    horizon = len({str(getattr(e, column)) for e in dataset.examples}) if column is not None else len(dataset)
    parts: list[Predictions] = []
    looks: list[int] = []
    per_example = pd.DataFrame()
    seen_positions: list[int] = []
    stopped: Literal["decided", "exhausted"] = "exhausted"
    reason = "every example was used before all gates were decided"
    if limit is not None:
        reason = f"the baseline stopped early: its {len(limit)} examples were used before all gates were decided"
    quick = suite.bootstrap.model_copy(update={"resamples": 1})
    for chunk_positions in chunks:
        chunk = dataset.take(chunk_positions)
        part = predict_cached(task, model, chunk, progress, use_cache=use_cache, precomputed=precomputed)
        parts.append(part)
        seen_positions.extend(chunk_positions)
        looks.append(len(seen_positions))
        # Per-example scores do not depend on the other examples: each look scores only its new chunk.
        failed = {f["id"] for f in part.failures}
        answered = chunk.without(failed) if failed else chunk
        latest: Scores = task.score(
            part.frame[~part.frame["id"].isin(failed)].reset_index(drop=True), answered, quick, suite.seed
        )
        per_example = pd.concat([per_example, in_order(latest.per_example, answered)], ignore_index=True)
        scores = Scores(per_example, latest.metrics, latest.details)
        still = _undecided(task, make_job(scores, answered), per_example, gates, level, suite, horizon)
        if not still:
            seen = len(seen_positions)
            stopped, reason = "decided", f"every gate was decided after {seen} of {len(dataset)} examples"
            break
        ran_out = "the baseline's examples" if limit is not None else "the examples"
        reason = f"undecided when {ran_out} ran out: {', '.join(still)}"
    used = dataset.take(seen_positions)
    joined = join_predictions(parts)
    record = SequentialRecord(
        n_used=len(seen_positions),
        n_available=len(dataset),
        look_every=step,
        order_seed=suite.seed,
        order=order_digest([example.id for example in used.examples]),
        horizon=horizon,
        looks=looks,
        stopped=stopped,
        reason=reason,
        alpha=level,
    )
    return joined, used, record


def anytime_metrics(
    job: Job, defs: dict[str, MetricDef], column: str | None, confidence: float
) -> dict[str, MetricEstimate]:
    """The job's metrics with anytime-valid intervals where the metric is a mean of bounded values: a
    bootstrap interval computed after a data-dependent stop would claim more than it knows."""
    out = dict(job.metrics)
    for name, est in job.metrics.items():
        defn = defs.get(name)
        if defn is None or defn.values is None:
            continue
        values, labels = defined_values(defn, column)
        if not len(values):
            continue
        lo, hi = defn.bounds
        d = decide_threshold(
            values, ">=", lo * defn.scale, alpha=1.0 - confidence, low=lo * defn.scale, high=hi * defn.scale,
            clusters=labels, sequential=True, horizon=job.sequential.horizon if job.sequential else None, complete=True,
        )  # fmt: skip
        out[name] = est.model_copy(
            update={"low": d.low, "high": d.high, "interval": "anytime-valid confidence sequence", "n": len(values)}
        )
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
        alpha=suite.decision.alpha / (2 * tested_pairs(suite)),
    )
