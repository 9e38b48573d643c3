"""Running a suite's jobs: each model loaded once for all its tasks, each task's predictions computed through the
cache (here or on an executor), then scored -- with progress on the console and endpoint failures accounted
for. The typed job records it returns are what the run publishes."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..core.errors import ModelError
from ..data import Dataset
from ..metrics.external import compute
from ..models import Model, open_model
from ..results import Job, MetricEstimate, RunWriter, SequentialRecord
from ..results.model import ModelRecord
from ..spec.schema import EvaluateMetricSpec
from ..tasks import make_task
from ..tasks.base import Predictions, Scores, Task
from ..tasks.sampling import clustered_intervals, sampling_record
from .cache import in_order, predict_cached
from .executors import Executor
from .fast_modes import FastModeChoice, choose_fast_mode
from .single_request import single_request_latency
from .suite import LoadedSuite
from .until_decided import anytime_metrics, job_gates, not_sequential, run_until_decided


def show_progress(console: Console, quiet: bool) -> bool:
    """Progress bars only for a person at a terminal: not with --quiet, not into a file or pipe, not in CI."""
    return not quiet and console.is_terminal and not os.environ.get("CI")


class _RichSink:
    """Adapts a rich progress bar to the engine's ProgressSink (start with a total, then advance)."""

    def __init__(self, progress: Progress | None, label: str) -> None:
        self.progress = progress
        self.label = label
        self.task: TaskID | None = None

    def start(self, total: int) -> None:
        """Called once per chunk of a job: the bar's total grows as chunks begin."""
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task(self.label, total=total)
        else:
            self.progress.update(self.task, total=(self.progress.tasks[self.task].total or 0) + total)

    def advance(self, amount: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, amount)


def _score(
    task: Task[Any], model: Model, dataset: Dataset, predictions: Predictions, loaded: LoadedSuite, console: Console
) -> tuple[Scores, dict[str, Any] | None]:
    """Score a job; examples an endpoint failed (and those a task scores with them) are left out, counted and said."""
    suite = loaded.suite
    frame, scored = predictions.frame, dataset
    position = {example.id: i for i, example in enumerate(dataset.examples)}
    failed = sorted(
        predictions.failures, key=lambda f: position.get(f["id"], len(position))
    )  # dataset order, not completion order
    failures = failure_record(failed, len(dataset), model.max_failure_rate)
    if predictions.failures and failures is not None:
        excluded = task.excluded_ids(dataset, {f["id"] for f in predictions.failures})
        scored = dataset.without(excluded)
        frame = frame[~frame["id"].isin(excluded)].reset_index(drop=True)
        failures["excluded_from_scoring"] = len(excluded)
        console.log(
            escape(
                f"{model.name} · {task.name}: {len(predictions.failures)} of {len(dataset)} examples failed at the"
                " endpoint "
                f"({failures['rate']:.1%}; allowed {failures['max_rate']:.1%}); metrics cover the other {len(scored)}"
            )
        )
    if len(scored) == 0:
        raise ModelError(
            f"every request for {task.name} failed: {predictions.failures[0]['error']}",
            source=model.name,
            hint="check that the endpoint is up and reachable; no results were written",
        )
    return task.score(frame, scored, suite.bootstrap, suite.seed), failures


def failure_record(failures: list[dict[str, Any]], total: int, max_rate: float | None) -> dict[str, Any] | None:
    """A job's failure accounting for results.json (endpoints only: ``max_rate`` is None for local models)."""
    if max_rate is None:
        return None
    return {
        "count": len(failures),
        "total": total,
        "rate": len(failures) / total if total else 0.0,
        "max_rate": max_rate,
        "examples": failures,
    }


def run_jobs(
    loaded: LoadedSuite,
    datasets: dict[str, Dataset],
    writer: RunWriter,
    console: Console,
    quiet: bool,
    use_cache: bool,
    executor: Executor | None,
    baseline: str | Path | None = None,
    until_decided: bool = False,
    plugins: dict[str, list[tuple[EvaluateMetricSpec, Any]]] | None = None,
) -> tuple[list[Job], dict[str, ModelRecord]]:
    """Every job, model by model (each model loaded once, for all its tasks), results in suite order."""
    suite = loaded.suite
    order = suite.jobs()
    by_model = sorted(range(len(order)), key=lambda i: [m.name for m in suite.models].index(order[i][0].name))
    jobs_out: dict[int, Job] = {}
    models_info: dict[str, ModelRecord] = {}
    cache: dict[tuple[str, str], Model] = {}
    fast: dict[tuple[str, str], FastModeChoice] = {}  # fast_mode: auto's choice per model
    handed: dict[tuple[str, str], Model] = {}  # the calibration's loaded model of the mode that runs, until used
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    try:
        with Progress(
            *columns, console=console, disable=not show_progress(console, quiet), transient=False
        ) as progress:
            for index in by_model:
                model_spec, task_spec = order[index]
                task = make_task(task_spec)
                head = task.head_for(model_spec)
                key = (model_spec.name, head)
                if model_spec.fast_mode == "auto" and key not in fast:
                    console.log(escape(f"fast_mode auto: measuring {model_spec.name}'s fast modes on {task.name}"))
                    examples = sum(  # the choice holds for all this model's jobs with this head
                        len(datasets[other.name])
                        for spec, other in order
                        if spec.name == model_spec.name and make_task(other).head_for(spec) == head
                    )
                    choice = fast[key] = choose_fast_mode(task, model_spec, head, datasets[task.name], examples)
                    if choice.model is not None:  # the calibration's model of the mode that runs: loaded and warm
                        handed[key] = choice.model
                    record = choice.record
                    console.log(escape(f"{model_spec.name}: {record['chosen']} ({record['reason']})"))
                calibrated = None
                if key in fast:
                    model_spec = fast[key].spec
                    if fast[key].record["calibration_task"] == task.name:  # its predictions are of this task's examples
                        calibrated = fast[key].done
                if key not in cache:
                    for other in [k for k in cache if k[0] != model_spec.name]:  # keep one model in memory at a time
                        cache.pop(other).close()
                    warm = handed.pop(key, None)
                    if warm is None:
                        console.log(
                            f"loading model [bold]{escape(model_spec.name)}[/bold] ({escape(model_spec.source)})"
                        )
                        warm = open_model(model_spec, head)
                    cache[key] = warm
                model = cache[key]
                dataset = datasets[task.name]
                shards = executor.shards(model_spec, head) if executor is not None and model.cacheable else None
                # Local QA counts windows; endpoints and cluster chunks count examples.
                unit = "windows" if head == "question-answering" and model.cacheable and shards is None else "examples"
                sink = _RichSink(progress, f"{model.name} · {task.name} ({unit})")
                sequential: SequentialRecord | None = None
                gates_here, blocked = (
                    job_gates(suite, model.name, task.name, str(baseline or suite.baseline or "") or None)
                    if until_decided and task.sequential
                    else ([], f"{task.kind} tasks are not screened sequentially" if until_decided else None)
                )
                if until_decided and not gates_here and blocked is None:
                    blocked = "no gate on a metric applies to this job"
                if gates_here:
                    predictions, dataset, sequential = run_until_decided(
                        task,
                        model,
                        dataset,
                        gates_here,
                        suite=suite,
                        make_job=functools.partial(_provisional_job, task, model),
                        progress=sink,
                        use_cache=use_cache,
                        precomputed=calibrated,
                    )
                    console.log(escape(f"{model.name} · {task.name}: {sequential.reason}"))
                else:
                    predictions = predict_cached(
                        task, model, dataset, sink, use_cache=use_cache, shards=shards, precomputed=calibrated
                    )
                    if blocked is not None:
                        sequential = not_sequential(dataset, blocked, suite)
                if model_spec.single_request_latency and task.single_requests:
                    predictions.timing.update(
                        single_request_latency(task, model, dataset, model_spec.single_request_latency)
                    )
                # Recorded after the job: an endpoint learns which checkpoint serves it from its responses.
                info = {**model.info, "fast_mode": fast[key].record} if key in fast else model.info
                models_info[model.name] = ModelRecord(
                    source=model.source, fingerprint=model.fingerprint, info=info
                )  # the runner makes local paths relative to the suite's folder
                scores, failures = _score(task, model, dataset, predictions, loaded, console)
                per_example = in_order(scores.per_example, dataset) if gates_here else scores.per_example
                relative = writer.write_predictions(model.name, task.name, per_example)
                job = _job(task, model, datasets[task.name], scores, relative, failures, predictions)
                if sequential is not None:
                    job.sequential = sequential
                defs = task.metric_defs(per_example, job)
                headline = next((h for h in task.headline if h in job.metrics), None)
                job.sampling = sampling_record(type(task), task.spec.cluster, defs, headline, len(per_example))
                if sequential is not None and sequential.stopped != "not sequential":
                    job.metrics = anytime_metrics(job, defs, job.sampling.column, suite.bootstrap.confidence)
                else:
                    job.metrics = clustered_intervals(job, defs, job.sampling.column, suite.bootstrap, suite.seed)
                for spec, module in (plugins or {}).get(task.name, []):
                    for name, value in compute(spec, module, task.evaluate_inputs(per_example)).items():
                        job.metrics[name] = MetricEstimate(
                            value=value, low=value, high=value, confidence=suite.bootstrap.confidence,
                            resamples=0, n=len(per_example), interval="none",
                        )  # fmt: skip
                        job.notes.append(f"{name} comes from the evaluate module {Path(spec.module).name}")
                jobs_out[index] = job
                summary = ", ".join(f"{name} {est.value:.2f}" for name, est in list(scores.metrics.items())[:3])
                origin = (
                    " (cached)"
                    if predictions.timing.get("cached")
                    else (
                        f" (resumed {predictions.timing['resumed_chunks']} chunks)"
                        if predictions.timing.get("resumed_chunks")
                        else ""
                    )
                )
                speed = predictions.timing["examples_per_second"]
                console.log(escape(f"{model.name} · {task.name}: {summary} ({speed:.1f} ex/s){origin}"))
    finally:
        for loaded_model in [*cache.values(), *handed.values()]:
            loaded_model.close()
    return [jobs_out[i] for i in range(len(order))], models_info


def _provisional_job(task: Task[Any], model: Model, scores: Scores, scored: Dataset) -> Job:
    """The job record the task's metric definitions read while ``--until-decided`` is still looking."""
    return _job(task, model, scored, scores, "", None, None)


def _job(
    task: Task[Any],
    model: Model,
    dataset: Dataset,
    scores: Scores,
    predictions_file: str,
    failures: dict[str, Any] | None,
    predictions: Predictions | None,
) -> Job:
    """A job's typed record; ``dataset`` is the selection the suite asked for (its fingerprint pairs runs)."""
    n_scored = len(scores.per_example)
    timing = dict(predictions.timing) if predictions is not None else {}
    if predictions is not None and "rechecked" in predictions.frame:  # a re-checking mode marks each example
        timing["rechecked"] = int(predictions.frame["rechecked"].sum())
    return Job.model_validate(
        {
            "model": model.name,
            "task": task.name,
            "kind": task.kind,
            "dataset_fingerprint": dataset.fingerprint,
            "model_fingerprint": model.fingerprint["model_sha256"],
            "params_fingerprint": task.params_fingerprint(),
            "params": task.spec.params.model_dump(mode="json"),
            "metrics": {name: {**est.to_dict(), "n": n_scored} for name, est in scores.metrics.items()},
            "details": scores.details,
            "timing": timing,
            "notes": predictions.notes if predictions is not None else [],
            "predictions": predictions_file,
            "failures": failures,
        }
    )
