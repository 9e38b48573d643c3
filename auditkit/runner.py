"""Run a suite: load and check every input first, then each (model x task) job, then publish the run.

All datasets are loaded and validated, and every model's config resolved and matched to its tasks,
*before* any model runs: a typo in the last task of a suite should fail in seconds, not after an hour
of inference. Models are
loaded once per (model, head) and reused across that model's tasks.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import __version__
from .data import Dataset, load_dataset
from .errors import ModelError
from .cache import predict_cached
from .latency import single_request_latency
from .models import Model, check_model, open_model
from .results import RunWriter, environment
from .suite import LoadedSuite, load_suite
from .tasks import make_task
from .tasks.base import Predictions, Scores, Task

if TYPE_CHECKING:
    from .scale.ray_runner import RayExecutor


@dataclass
class RunOutcome:
    run_dir: Path
    results: dict[str, Any]


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


def _score(task: Task, model: Model, dataset: Dataset, predictions: Predictions, loaded: LoadedSuite, console: Console) -> tuple[Scores, dict[str, Any] | None]:
    """Score a job; examples an endpoint failed (and those a task scores with them) are left out, counted and said."""
    suite = loaded.suite
    frame, scored = predictions.frame, dataset
    position = {example.id: i for i, example in enumerate(dataset.examples)}
    failed = sorted(predictions.failures, key=lambda f: position.get(f["id"], len(position)))  # dataset order, not completion order
    failures = failure_record(failed, len(dataset), model.max_failure_rate)
    if predictions.failures:
        excluded = task.excluded_ids(dataset, {f["id"] for f in predictions.failures})
        scored = dataset.without(excluded)
        frame = frame[~frame["id"].isin(excluded)].reset_index(drop=True)
        failures["excluded_from_scoring"] = len(excluded)
        console.log(escape(f"{model.name} · {task.name}: {len(predictions.failures)} of {len(dataset)} examples failed at the endpoint "
                           f"({failures['rate']:.1%}; allowed {failures['max_rate']:.1%}); metrics cover the other {len(scored)}"))
    if len(scored) == 0:
        raise ModelError(f"every request for {task.name} failed: {predictions.failures[0]['error']}", source=model.name,
                         hint="check that the endpoint is up and reachable; no results were written")
    return task.score(frame, scored, suite.bootstrap, suite.seed), failures


def failure_record(failures: list[dict[str, Any]], total: int, max_rate: float | None) -> dict[str, Any] | None:
    """A job's failure accounting for results.json (endpoints only: ``max_rate`` is None for local models)."""
    if max_rate is None:
        return None
    return {"count": len(failures), "total": total, "rate": len(failures) / total if total else 0.0, "max_rate": max_rate, "examples": failures}


def load_datasets(loaded: LoadedSuite) -> dict[str, Dataset]:
    """Every task's dataset, validated (raises DatasetError naming file and record)."""
    suite = loaded.suite
    datasets = {}
    for spec in suite.tasks:
        task = make_task(spec)
        datasets[spec.name] = load_dataset(spec.dataset, task.data_kind, name=spec.name, seed=suite.seed)
    return datasets


def run_suite(path: str | Path, *, output_dir: str | Path | None = None, quiet: bool = False, console: Console | None = None,
              use_cache: bool = True, runner: Literal["local", "ray"] = "local", address: str | None = None, workers: int | None = None) -> RunOutcome:
    """Run every job of the suite at ``path`` and publish a results directory; return where it is.

    With ``use_cache`` (the default), predictions come from and go to the prediction cache, chunk by
    chunk: a repeated run recomputes nothing and an interrupted one resumes where it stopped.
    ``runner="ray"`` computes the chunks on a Ray cluster (``address``; default: a new local one) with
    ``workers`` model copies (default: one per CPU of the cluster); everything else stays here.
    """
    started = time.perf_counter()
    console = console or Console(stderr=True, quiet=quiet, log_path=False)
    loaded = load_suite(path)
    suite = loaded.suite
    datasets = load_datasets(loaded)
    for model_spec, task_spec in suite.jobs():
        check_model(model_spec, make_task(task_spec).head_for(model_spec))
    out_root = (Path(output_dir) if output_dir is not None else suite.output_dir).resolve()
    writer = RunWriter(out_root, suite.name)
    executor = None
    if runner == "ray":
        from .scale.ray_runner import RayExecutor

        executor = RayExecutor(address, workers)
    try:
        jobs, models_info = _run_jobs(loaded, datasets, writer, console, quiet, use_cache, executor)
        results = {
            "auditkit_results_version": 1,
            "status": "complete",
            "run_id": writer.run_id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "auditkit_version": __version__,
            "suite": {
                "name": suite.name,
                "description": suite.description,
                "path": str(Path(path).resolve()),
                "sha256": loaded.sha256,
                "seed": suite.seed,
                "bootstrap": suite.bootstrap.model_dump(),
                "spec": suite.model_dump(mode="json"),
            },
            "environment": environment(),
            "models": models_info,
            "datasets": {
                name: {
                    "source": ds.source, "fingerprint": ds.fingerprint, "examples": len(ds), "total_available": ds.total_available,
                    "selection": ds.selection, "kind": ds.kind, "squad_version": ds.squad_version, "label_names": ds.label_names, **ds.info,
                }
                for name, ds in datasets.items()
            },
            "jobs": jobs,
            "runner": executor.describe() if executor is not None else {"kind": "local"},
            "wall_seconds": time.perf_counter() - started,
        }
        run_dir = writer.publish(results)
    except BaseException:
        writer.discard()
        raise
    finally:
        if executor is not None:
            executor.close()
    console.print(f"[green]results:[/green] {escape(str(run_dir))}")
    return RunOutcome(run_dir, results)


def _run_jobs(loaded: LoadedSuite, datasets: dict[str, Dataset], writer: RunWriter, console: Console, quiet: bool,
              use_cache: bool, executor: RayExecutor | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    suite = loaded.suite
    jobs_out: list[dict[str, Any]] = []
    models_info: dict[str, Any] = {}
    cache: dict[tuple[str, str], Model] = {}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=console, disable=quiet, transient=False) as progress:
            for model_spec, task_spec in suite.jobs():
                task = make_task(task_spec)
                head = task.head_for(model_spec)
                key = (model_spec.name, head)
                if key not in cache:
                    console.log(f"loading model [bold]{escape(model_spec.name)}[/bold] ({escape(model_spec.source)})")
                    for other in [k for k in cache if k[0] != model_spec.name]:  # keep one model in memory at a time
                        cache.pop(other).close()
                    cache[key] = open_model(model_spec, head)
                model = cache[key]
                models_info.setdefault(model.name, {"source": model.source, "fingerprint": model.fingerprint, "info": model.info})
                dataset = datasets[task.name]
                shards = executor.shards(model_spec, head) if executor is not None and model.cacheable else None
                # Local QA counts windows; endpoints and cluster chunks count examples.
                unit = "windows" if head == "question-answering" and model.cacheable and shards is None else "examples"
                sink = _RichSink(progress, f"{model.name} · {task.name} ({unit})")
                predictions = predict_cached(task, model, dataset, sink, use_cache=use_cache, shards=shards)
                if model_spec.single_request_latency and task.single_requests:
                    predictions.timing.update(single_request_latency(task, model, dataset, model_spec.single_request_latency))
                scores, failures = _score(task, model, dataset, predictions, loaded, console)
                relative = writer.write_predictions(model.name, task.name, scores.per_example)
                jobs_out.append({
                    "model": model.name,
                    "task": task.name,
                    "kind": task.kind,
                    "dataset_fingerprint": dataset.fingerprint,
                    "model_fingerprint": model.fingerprint["model_sha256"],
                    "params_fingerprint": task.params_fingerprint(),
                    "params": task_spec.params.model_dump(mode="json"),
                    "metrics": {name: est.to_dict() for name, est in scores.metrics.items()},
                    "details": scores.details,
                    "timing": predictions.timing,
                    "notes": predictions.notes,
                    "predictions": relative,
                    **({"failures": failures} if failures is not None else {}),
                })
                summary = ", ".join(f"{name} {est.value:.2f}" for name, est in list(scores.metrics.items())[:3])
                origin = " (cached)" if predictions.timing.get("cached") else (f" (resumed {predictions.timing['resumed_chunks']} chunks)" if predictions.timing.get("resumed_chunks") else "")
                console.log(escape(f"{model.name} · {task.name}: {summary} ({predictions.timing['examples_per_second']:.1f} ex/s){origin}"))
    finally:
        for loaded_model in cache.values():
            loaded_model.close()
    return jobs_out, models_info
