"""Run a suite: load and check every input first, then each (model x task) job, then publish the run.

All datasets are loaded and validated, and every model's config resolved and matched to its tasks,
*before* any model runs: a typo in the last task of a suite should fail in seconds, not after an hour
of inference. Models are
loaded once per (model, head) and reused across that model's tasks.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

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

from .cache import RUNNERS, Executor, predict_cached
from .data import Dataset
from .environment import environment
from .errors import AuditkitError, ModelError, ReportError, SuiteError
from .expressions import parse_gate
from .inmemory import Materialized, materialize
from .latency import single_request_latency
from .metrics.external import compute, load_metric
from .models import Model, check_model, open_model
from .redact import redact_suite_spec
from .results import Job, MetricEstimate, Results, Run, RunWriter, SequentialRecord
from .results.model import DatasetRecord, ModelRecord, RunnerRecord, SuiteRecord
from .results.store import report_dir
from .schema import EvaluateMetricSpec
from .suite import LoadedSuite, Suite
from .tasks import load_task_data, make_task
from .tasks.base import Predictions, Scores, Task
from .tasks.sampling import clustered_intervals, sampling_record
from .until_decided import anytime_metrics, in_order, job_gates, not_sequential, run_until_decided
from .version import __version__


@dataclass
class RunOutcome:
    """A published run, and its gate decision when the suite has gates (or endpoint models).

    What a notebook needs next is a method away: the figures as pandas frames, the report, a
    re-decided gate (another baseline, other gates), a model card -- all from the stored run.
    """

    run_dir: Path
    results: Results
    gates: Any = None  # GateReport | None
    #: Where the run's report went (``<run_id>.report/``), and why it is missing when rendering failed: the run
    #: itself is published before any view is rendered, so a view never loses it.
    report_dir: Path | None = None
    report_error: str | None = None

    @property
    def passed(self) -> bool:
        return self.gates is None or bool(self.gates.passed)

    def to_pandas(self, per_example: bool = False) -> pd.DataFrame:
        """One row per (model, task, metric) with value, interval and n; or, with ``per_example``, every
        job's per-example table stacked, with ``model`` and ``task`` columns first."""
        import pandas as pd

        if per_example:
            frames = [
                Run(self.run_dir, self.results).predictions(j.model, j.task).assign(model=j.model, task=j.task)
                for j in self.results.jobs
            ]
            stacked = pd.concat(frames, ignore_index=True)
            return stacked[["model", "task", *[c for c in stacked.columns if c not in ("model", "task")]]]
        rows = [
            {"model": j.model, "task": j.task, "metric": name, "value": e.value, "low": e.low, "high": e.high,
             "confidence": e.confidence, "n": e.n}
            for j in self.results.jobs
            for name, e in j.metrics.items()
        ]  # fmt: skip
        return pd.DataFrame(rows)

    def report(self, out_dir: str | Path | None = None, formats: Sequence[str] = ("html", "md")) -> list[Path]:
        """Render the run's report again (default into ``<run_id>.report/`` beside the run); returns the files."""
        from .report import report

        return report(self.run_dir, out_dir=out_dir, formats=formats)

    def gate(self, **kwargs: Any) -> Any:
        """Re-decide gates on the stored run (``auditkit.gates.gate``'s keyword arguments); returns a GateReport."""
        from .gates import gate

        return gate(self.run_dir, **kwargs)

    def card(self, model: str) -> str:
        """A Hugging Face model card (README.md text) for ``model`` from this run."""
        from .report.card import model_card

        return model_card(Run(self.run_dir, self.results), model)


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


def load_datasets(loaded: LoadedSuite) -> dict[str, Dataset]:
    """Every task's dataset, validated (raises DatasetError naming file and record)."""
    suite = loaded.suite
    datasets = {}
    for spec in suite.tasks:
        datasets[spec.name] = load_task_data(spec, suite.seed)
    return datasets


def _relative(path: Path) -> str:
    """``path`` relative to the working directory: results and reports carry no absolute path of the machine."""
    try:
        return Path(os.path.relpath(path.resolve(), Path.cwd().resolve())).as_posix()
    except ValueError:  # another drive (Windows): the name alone
        return path.name


def preflight(loaded: LoadedSuite, *, baseline: str | Path | None, template_dir: str | Path | None) -> None:
    """Check everything that can be checked before the first model loads: gates' baselines, credentials,
    the template folder. A mistake found here costs seconds, not the hours of a full run."""
    suite = loaded.suite
    problems: list[str] = []
    if template_dir is not None and not Path(template_dir).is_dir():
        problems.append(f"template folder not found: {template_dir}")
    base = baseline or suite.baseline
    from .results import load_run

    for gate in suite.gates:
        expr = parse_gate(gate.check)
        gate_base = gate.baseline or base
        if expr.uses_baseline and gate.against is None:  # `against:` compares with a model of this run
            if gate_base is None:
                problems.append(
                    f"gate {gate.label!r} compares with a baseline, but none is set (baseline: or --baseline)"
                )
                continue
            try:
                load_run(gate_base)
            except AuditkitError as exc:
                problems.append(f"gate {gate.label!r}: baseline {gate_base}: {exc}")
    for model in suite.models:
        env = model.endpoint.auth_env if model.endpoint is not None else None
        if env and not os.environ.get(env):
            problems.append(f"model {model.name!r}: its token variable {env} is not set")
    if problems:
        raise SuiteError(
            "the suite cannot run as configured:\n    " + "\n    ".join(problems),
            source=str(loaded.path),
            hint="fix these before any model runs; nothing was computed or written",
        )


def _undecidable_gates(loaded: LoadedSuite, datasets: dict[str, Dataset], baseline: str | Path | None) -> list[str]:
    """Gates the configured examples cannot decide, judged from the baseline run before any model runs."""
    from .plan import plan_suite

    if not any(parse_gate(g.check).uses_baseline for g in loaded.suite.gates):
        return []
    out = []
    for p in plan_suite(loaded, baseline=baseline, datasets=datasets):
        if p.decidable is False or (p.n_needed is None and p.sd is not None):
            out.append(f"gate {p.gate!r} [{p.model}]: {p.advice} (sd: {p.sd_source}); `auditkit plan` says more")
    return out


def check_baselines(loaded: LoadedSuite, datasets: dict[str, Dataset], baseline: str | Path | None) -> None:
    """Every baseline gate's baseline run has the job it needs, on the same examples: said before any model loads."""
    from .gates.evaluate import baseline_job
    from .results import load_run

    suite = loaded.suite
    problems: list[str] = []
    for gate in suite.gates:
        expr = parse_gate(gate.check)
        base = gate.baseline or baseline or suite.baseline
        if not expr.uses_baseline or gate.against is not None or base is None or expr.task not in datasets:
            continue
        run = load_run(base)
        models = [
            m.name for m, t in suite.jobs() if t.name == expr.task and (gate.models is None or m.name in gate.models)
        ]
        for model in models:
            try:
                job = baseline_job(run, gate.baseline_model or model, expr.task, expr)
            except AuditkitError as exc:
                problems.append(str(exc))
                break
            if job.dataset_fingerprint != datasets[expr.task].fingerprint:
                problems.append(
                    f"gate {gate.label!r}: the baseline run {run.results.run_id} evaluated {expr.task} on other"
                    f" examples (data fingerprint {job.dataset_fingerprint[:12]}, this suite's"
                    f" {datasets[expr.task].fingerprint[:12]})"
                )
                break
    if problems:
        raise SuiteError(
            "the baseline cannot be compared with this suite:\n    " + "\n    ".join(problems),
            source=str(loaded.path),
            hint="point baseline: (or --baseline) at a run of the same tasks on the same dataset selection;"
            " nothing was computed or written",
        )


def run_suite(
    path: str | Path | Mapping[str, Any] | Suite,
    *,
    output_dir: str | Path | None = None,
    quiet: bool = False,
    console: Console | None = None,
    use_cache: bool = True,
    runner: str = "local",
    address: str | None = None,
    workers: int | None = None,
    baseline: str | Path | None = None,
    report_formats: Sequence[str] = ("html", "md"),
    template_dir: str | Path | None = None,
    junit: str | Path | None = None,
    until_decided: bool = False,
) -> RunOutcome:
    """Run every job of the suite at ``path``, audit its cards, apply its gates, render its report, and publish.

    ``path`` may also be a dict with the YAML's structure or a :class:`Suite`, with Python objects where
    paths and ids go (a DataFrame, ``datasets.Dataset`` or list of dicts as a task's ``dataset``; a model
    with its ``tokenizer``, or a pipeline, as a model's ``id``): see :mod:`auditkit.inmemory`.

    Everything that can be checked is checked before any model loads (:func:`preflight`). The run is
    assembled out of sight and published in one rename, with gates.json, card_audits.json and the
    report inside it; a run that fails its own configuration is never published. A failing *gate*
    does not stop publishing (the verdict is the point): ``RunOutcome.passed`` says how it went.

    With ``use_cache`` (the default), predictions come from and go to the prediction cache, chunk by
    chunk: a repeated run recomputes nothing and an interrupted one resumes where it stopped.
    ``runner="ray"`` computes the chunks on a Ray cluster (``address``; default: a new local one) with
    ``workers`` model copies (default: one per CPU of the cluster); everything else stays here.

    ``until_decided`` sees each gated job's examples in a seeded random order and stops it as soon as
    all its gates are decided (:mod:`auditkit.until_decided`); the job records ``sequential``.
    """
    started = time.perf_counter()
    console = console or Console(stderr=True, quiet=quiet, log_path=False)
    materialized = materialize(path)
    try:
        return _run_suite(
            materialized, output_dir=output_dir, quiet=quiet, console=console, use_cache=use_cache, runner=runner,
            address=address, workers=workers, baseline=baseline, report_formats=report_formats,
            template_dir=template_dir, junit=junit, until_decided=until_decided, started=started,
        )  # fmt: skip
    finally:
        materialized.cleanup()


def _run_suite(
    materialized: Materialized,
    *,
    output_dir: str | Path | None,
    quiet: bool,
    console: Console,
    use_cache: bool,
    runner: str,
    address: str | None,
    workers: int | None,
    baseline: str | Path | None,
    report_formats: Sequence[str],
    template_dir: str | Path | None,
    junit: str | Path | None,
    until_decided: bool,
    started: float,
) -> RunOutcome:
    from .audit import audit_card
    from .gates import evaluate_gates, write_outputs
    from .report import AUDITS_FILE, FORMATS, render_run

    loaded = materialized.loaded
    suite = loaded.suite
    unknown = [f for f in report_formats if f not in FORMATS]
    if unknown:
        raise ReportError(f"unknown report format(s) {unknown}", hint=f"use {', '.join(FORMATS.names())}")
    preflight(loaded, baseline=baseline, template_dir=template_dir)
    datasets = load_datasets(loaded)
    for name, what in materialized.dataset_sources.items():
        datasets[name].source = what
    check_baselines(loaded, datasets, baseline)
    undecidable = _undecidable_gates(loaded, datasets, baseline)
    # Warnings are said even with --quiet: they are what the suite did not expect.
    warn = Console(stderr=True, log_path=False)
    plugins = {
        spec.name: [(metric, load_metric(metric)) for metric in spec.evaluate] for spec in suite.tasks
    }  # loaded before any model: a missing metric module fails in seconds
    for line in undecidable:
        warn.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False)
    for name, dataset in datasets.items():
        for warning in dataset.warnings:
            warn.print(f"[yellow]warning:[/yellow] {escape(f'task {name}: {warning}')}", highlight=False)
    model_warnings: dict[str, list[str]] = {}
    for model_spec, task_spec in suite.jobs():
        task = make_task(task_spec)
        found = check_model(model_spec, task.head_for(model_spec))
        task.check_before_run(model_spec, datasets[task_spec.name])
        model_warnings[model_spec.name] = list(dict.fromkeys([*model_warnings.get(model_spec.name, []), *found]))
    for name, warnings in model_warnings.items():
        for warning in warnings:
            warn.print(f"[yellow]warning:[/yellow] {escape(f'model {name}: {warning}')}", highlight=False)
    out_root = (Path(output_dir) if output_dir is not None else suite.output_dir).resolve()
    try:
        writer = RunWriter(out_root, suite.name)
    except OSError as exc:
        raise SuiteError(
            f"cannot create the run folder under {out_root}: {exc.strerror or exc}",
            hint="choose a writable output directory (-o DIR or output_dir: in the suite)",
        ) from None
    factory = RUNNERS.get(runner)
    if factory is None and (address or workers):
        raise SuiteError(f"address and workers apply to a cluster runner, not {runner!r}", hint="use --runner ray")
    executor = factory(address, workers) if factory is not None else None
    try:
        jobs, models_info = _run_jobs(
            loaded, datasets, writer, console, quiet, use_cache, executor, baseline, until_decided, plugins
        )
        for name, record in models_info.items():
            record.warnings = model_warnings.get(name, [])
            record.source = materialized.model_sources.get(name, record.source)
        results = Results(
            run_id=writer.run_id,
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            command=" ".join(["auditkit", *sys.argv[1:]]) if Path(sys.argv[0]).name == "auditkit" else "run_suite()",
            auditkit_version=__version__,
            suite=SuiteRecord(
                name=suite.name,
                description=suite.description,
                path=_relative(loaded.path) if loaded.path.is_file() else str(loaded.path),
                sha256=loaded.sha256,
                seed=suite.seed,
                bootstrap=suite.bootstrap.model_dump(),
                spec=materialized.describe(redact_suite_spec(suite.model_dump(mode="json"))),
            ),
            environment=environment(),
            models=models_info,
            datasets={
                name: DatasetRecord(
                    source=_display_source(ds.source),
                    fingerprint=ds.fingerprint,
                    examples=len(ds),
                    total_available=ds.total_available,
                    selection=ds.selection,
                    kind=ds.kind,
                    label_names=ds.label_names,
                    details=ds.info,
                    warnings=ds.warnings,
                )
                for name, ds in datasets.items()
            },
            jobs=jobs,
            runner=RunnerRecord.model_validate(executor.describe())
            if executor is not None
            else RunnerRecord(kind="local"),
            wall_seconds=time.perf_counter() - started,
        )
        writer.write_json("results.json", results)
        staged = Run(writer.staging_dir, results)
        audits = [
            audit_card(model.card, run=staged, model=model.name, model_spec=model)
            for model in suite.models
            if model.card is not None
        ]
        if audits:
            writer.write_json(AUDITS_FILE, audits)
            for audit in audits:
                _print_audit(audit, console, quiet)
        verdict = None
        if suite.gates or any(job.failures is not None for job in results.jobs):
            verdict = evaluate_gates(staged, suite.gates, baseline or suite.baseline, audits)
            write_outputs(verdict, results, writer.staging_dir, Path(junit) if junit else None)
        run_dir = writer.publish(results)
    except BaseException:
        writer.discard()
        raise
    finally:
        if executor is not None:
            executor.close()
    console.print(f"[green]results:[/green] {escape(str(run_dir))}")
    outcome = RunOutcome(run_dir, results, verdict)
    if report_formats:
        outcome.report_dir, outcome.report_error = _render_view(
            Run(run_dir, results), report_formats, template_dir, render_run
        )
    return outcome


def _render_view(
    run: Run, formats: Sequence[str], template_dir: str | Path | None, render: Any
) -> tuple[Path | None, str | None]:
    """Render the published run's report beside it; a failure is reported, never raised: the run, its
    predictions and its verdict are already safe, and ``auditkit report RUN`` renders the view again."""
    target = report_dir(run.dir)
    try:
        render(run, target, formats=formats, template_dir=template_dir)
    except Exception as exc:  # any failure of a view (a template, a task's view code) must not lose the run
        what = str(exc) if isinstance(exc, AuditkitError) else f"{type(exc).__name__}: {exc}"
        return None, (
            f"the {', '.join(formats)} report of {run.dir.name} failed: {what}. The run, its predictions and its"
            f" gate verdict are published at {run.dir}; render the report again with `auditkit report {run.dir}`"
        )
    return target, None


def _display_model_source(source: str) -> str:
    """A model's source as results record it: local paths (also a build recipe's config file) relative."""
    recipe = source.removeprefix("build:")
    if not Path(recipe).is_absolute():
        return source
    return source[: len(source) - len(recipe)] + _relative(Path(recipe))


def _display_source(source: str) -> str:
    """A dataset's source as results record it: hub ids as they are, files relative to the working directory."""
    path = Path(source)
    return _relative(path) if path.is_absolute() and path.exists() else source


def _print_audit(audit: dict[str, Any], console: Console, quiet: bool) -> None:
    if quiet:
        return
    s = audit["summary"]
    console.print(
        escape(
            f"card audit of {Path(audit['card']).name} ({audit['model'] or 'no run'}): claims {s['claims_held']} hold,"
            f" {s['claims_failed']} do not, {s['claims_not_measured']} not measured; {s['inconsistencies']}"
            f" inconsistencies; sections missing {s['missing_sections']}, empty {s['empty_sections']};"
            f" {s['placeholders']} placeholders; {s['stale_snippets']} stale snippets;"
            f" examples failing {s['examples_failed']} of {len(audit['examples'])}"
        ),
        highlight=False,
        soft_wrap=True,
    )


def _run_jobs(
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
                if key not in cache:
                    console.log(f"loading model [bold]{escape(model_spec.name)}[/bold] ({escape(model_spec.source)})")
                    for other in [k for k in cache if k[0] != model_spec.name]:  # keep one model in memory at a time
                        cache.pop(other).close()
                    cache[key] = open_model(model_spec, head)
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
                    else ([], None)
                )
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
                    )
                    console.log(escape(f"{model.name} · {task.name}: {sequential.reason}"))
                else:
                    predictions = predict_cached(task, model, dataset, sink, use_cache=use_cache, shards=shards)
                    if blocked is not None:
                        sequential = not_sequential(dataset, blocked, suite)
                if model_spec.single_request_latency and task.single_requests:
                    predictions.timing.update(
                        single_request_latency(task, model, dataset, model_spec.single_request_latency)
                    )
                # Recorded after the job: an endpoint learns which checkpoint serves it from its responses.
                source = _display_model_source(model.source)
                models_info[model.name] = ModelRecord(source=source, fingerprint=model.fingerprint, info=model.info)
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
        for loaded_model in cache.values():
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
            "timing": predictions.timing if predictions is not None else {},
            "notes": predictions.notes if predictions is not None else [],
            "predictions": predictions_file,
            "failures": failures,
        }
    )
