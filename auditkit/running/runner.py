"""Run a suite: load and check every input first, then each (model x task) job, then publish the run.

All datasets are loaded and validated, and every model's config resolved and matched to its tasks,
*before* any model runs: a typo in the last task of a suite should fail in seconds, not after an hour
of inference. Models are
loaded once per (model, head) and reused across that model's tasks.
"""

from __future__ import annotations

import datetime as _dt
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from rich.console import Console
from rich.markup import escape

from ..audit.summary import summary_line
from ..core.errors import AuditkitError, ReportError, SuiteError
from ..core.redact import redact_suite_spec
from ..metrics.external import load_metric
from ..models import check_model
from ..results import Results, Run, RunWriter
from ..results.environment import environment
from ..results.model import DatasetRecord, RunnerRecord, SuiteRecord
from ..results.paths import display_model_source, display_source, portable, relative
from ..results.store import report_dir
from ..tasks import make_task
from ..version import __version__
from .executors import RUNNERS
from .inmemory import Materialized, materialize
from .jobs import run_jobs
from .preflight import check_baselines, load_datasets, preflight, undecidable_gates
from .suite import LoadedSuite, Suite
from .until_decided import screening_warnings


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
        from ..reports import report

        return report(self.run_dir, out_dir=out_dir, formats=formats)

    def gate(self, **kwargs: Any) -> Any:
        """Re-decide gates on the stored run (``auditkit.gates.gate``'s keyword arguments); returns a GateReport."""
        from ..gates import gate

        return gate(self.run_dir, **kwargs)

    def card(self, model: str) -> str:
        """A Hugging Face model card (README.md text) for ``model`` from this run."""
        from ..reports.model_card import model_card

        return model_card(Run(self.run_dir, self.results), model)


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
    allow_suite_code: bool = False,
    baseline_optional: bool = False,
    baseline_key: str | Path | None = None,
) -> RunOutcome:
    """Run every job of the suite at ``path``, audit its cards, apply its gates, publish, then render its report.

    ``path`` may also be a dict with the YAML's structure or a :class:`Suite`, with Python objects where
    paths and ids go (a DataFrame, ``datasets.Dataset`` or list of dicts as a task's ``dataset``; a model
    with its ``tokenizer``, or a pipeline, as a model's ``id``): see :mod:`auditkit.running.inmemory`.

    Everything that can be checked is checked before any model loads (:func:`preflight`). The run is
    assembled out of sight and published in one rename, with gates.json and card_audits.json inside it; a run
    that fails its own configuration is never published. Its report is rendered afterwards, from the
    published run, into ``<run_id>.report/`` (see :class:`RunOutcome`). A failing *gate*
    does not stop publishing (the verdict is the point): ``RunOutcome.passed`` says how it went.

    With ``use_cache`` (the default), predictions come from and go to the prediction cache, chunk by
    chunk: a repeated run recomputes nothing and an interrupted one resumes where it stopped.
    ``runner="ray"`` computes the chunks on a Ray cluster (``address``; default: a new local one) with
    ``workers`` model copies (default: one per CPU of the cluster); everything else stays here.

    ``until_decided`` sees each gated job's examples in the data's canonical order and stops it as soon as
    all its gates are decided (:mod:`auditkit.running.until_decided`); the job records ``sequential``.

    ``baseline_key`` requires every baseline run the gates compare with to carry a signed attestation that
    verifies with this public key (``auditkit attest``), checked before any model loads.

    ``baseline_optional`` is for a first release: when the baseline (``baseline`` or the suite's) holds no run
    yet, the gates that compare with it are not applied -- the floors decide -- and the gate report, the step
    summary and the report say so. A baseline that is there but broken is still an error.

    A suite whose tasks compute ``evaluate:`` metrics runs their code (a module, a script, a metric from the
    Hub): only with ``allow_suite_code`` (``--allow-suite-code``, or ``AUDITKIT_ALLOW_SUITE_CODE=1``), an
    opt-in the suite file cannot give itself.
    """
    started = time.perf_counter()
    console = console or Console(stderr=True, quiet=quiet, log_path=False)
    materialized = materialize(path)
    restore = _terminate_as_interrupt()
    try:
        return _run_suite(
            materialized, output_dir=output_dir, quiet=quiet, console=console, use_cache=use_cache, runner=runner,
            address=address, workers=workers, baseline=baseline, report_formats=report_formats,
            template_dir=template_dir, junit=junit, until_decided=until_decided, started=started,
            allow_suite_code=allow_suite_code, baseline_optional=baseline_optional, baseline_key=baseline_key,
        )  # fmt: skip
    finally:
        restore()
        materialized.cleanup()


def _terminate_as_interrupt() -> Callable[[], None]:
    """SIGTERM (what CI runners and container stops send) ends a run the way Ctrl-C does: the staging folder is
    removed, nothing is published, earlier runs and the prediction cache stay. Returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers belong to the main thread; a worker thread's run cannot install one

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


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
    allow_suite_code: bool,
    baseline_optional: bool = False,
    baseline_key: str | Path | None = None,
) -> RunOutcome:
    from ..audit import audit_card
    from ..gates import evaluate_gates, write_outputs
    from ..reports import AUDITS_FILE, REPORT_FORMATS, render_run

    loaded = materialized.loaded
    notes: list[str] = []
    if baseline_optional:
        loaded, baseline, notes = _first_release(loaded, baseline)
    suite = loaded.suite
    unknown = [f for f in report_formats if f not in REPORT_FORMATS]
    if unknown:
        raise ReportError(f"unknown report format(s) {unknown}", hint=f"use {', '.join(REPORT_FORMATS.names())}")
    preflight(loaded, baseline=baseline, template_dir=template_dir, allow_suite_code=allow_suite_code)
    if baseline_key is not None:
        from ..gates import require_verified_baselines

        require_verified_baselines(suite.gates, baseline or suite.baseline, baseline_key)
    datasets = load_datasets(loaded)
    for name, what in materialized.dataset_sources.items():
        datasets[name].source = what
    check_baselines(loaded, datasets, baseline)
    undecidable = undecidable_gates(loaded, datasets, baseline)
    # Warnings are said even with --quiet: they are what the suite did not expect.
    warn = Console(stderr=True, log_path=False)
    plugins = {
        spec.name: [(metric, load_metric(metric)) for metric in spec.evaluate] for spec in suite.tasks
    }  # loaded before any model: a missing metric module fails in seconds
    if until_decided:
        undecidable = [*screening_warnings(suite), *undecidable]
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
        jobs, models_info = run_jobs(
            loaded, datasets, writer, console, quiet, use_cache, executor, baseline, until_decided, plugins
        )
        # Paths relative to the suite's folder (as the suite writes them), that folder relative to the run.
        base_dir = loaded.path.parent if loaded.path.is_file() else Path.cwd()
        for name, record in models_info.items():
            record.warnings = model_warnings.get(name, [])
            record.source = materialized.model_sources.get(name, display_model_source(record.source, base_dir))
            record.info = portable(record.info, base_dir)
        results = Results(
            run_id=writer.run_id,
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            command=" ".join(["auditkit", *sys.argv[1:]]) if Path(sys.argv[0]).name == "auditkit" else "run_suite()",
            auditkit_version=__version__,
            suite=SuiteRecord(
                name=suite.name,
                description=suite.description,
                path=relative(loaded.path, writer.final_dir) if loaded.path.is_file() else str(loaded.path),
                base=relative(base_dir, writer.final_dir),
                sha256=loaded.sha256,
                seed=suite.seed,
                bootstrap=suite.bootstrap.model_dump(),
                spec=portable(
                    materialized.describe(redact_suite_spec(materialized.loaded.suite.model_dump(mode="json"))),
                    base_dir,
                ),  # the suite as written, every gate included (a first release applies fewer)
            ),
            environment=environment(),
            models=models_info,
            datasets={
                name: DatasetRecord(
                    source=display_source(ds.source, base_dir),
                    fingerprint=ds.fingerprint,
                    source_fingerprint=ds.source_fingerprint or None,
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
            verdict = evaluate_gates(staged, suite.gates, baseline or suite.baseline, audits, notes=notes)
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


def _first_release(
    loaded: LoadedSuite, baseline: str | Path | None
) -> tuple[LoadedSuite, str | Path | None, list[str]]:
    """The suite without its baseline gates when its baseline holds no run yet (a first release), and the note
    saying so; unchanged otherwise."""
    from ..results.store import has_run
    from ..spec.expressions import parse_gate

    base = baseline or loaded.suite.baseline
    if base is None or has_run(base):
        return loaded, baseline, []
    dropped = [
        g for g in loaded.suite.gates if parse_gate(g.check).uses_baseline and g.against is None and g.baseline is None
    ]
    kept = [g for g in loaded.suite.gates if g not in dropped]
    note = (
        f"first release: no baseline run at {display_source(str(base), Path.cwd())} yet, so"
        f" {len(dropped)} baseline gate(s) were not applied ({', '.join(g.label for g in dropped) or 'none'});"
        " the floors decide. After the release, make this run the baseline with"
        f" `auditkit promote RUN --to {display_source(str(base), Path.cwd())}`."
    )
    suite = loaded.suite.model_copy(update={"gates": kept, "baseline": None})
    return loaded._replace(suite=suite), None, [note]


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


def _print_audit(audit: dict[str, Any], console: Console, quiet: bool) -> None:
    if not quiet:
        console.print(escape(summary_line(audit, Path(audit["card"]).name)), highlight=False, soft_wrap=True)
