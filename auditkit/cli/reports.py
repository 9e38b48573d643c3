"""Commands that render views and exports of published runs: ``report``, ``compare``, ``card``, ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .app import (
    FormatsOpt,
    RunDirArg,
    TemplateDirOpt,
    app,
    err,
    guarded,
    parse_formats,
    read_audits,
)


@app.command("report")
@guarded
def report_cmd(
    results_dir: RunDirArg,
    formats: FormatsOpt = "html,md",
    template_dir: TemplateDirOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: <run_id>.report/ beside the run).")
    ] = None,
    audit: Annotated[
        list[Path] | None, typer.Option("--audit", help="Card audit JSON (from audit-card --out) to show; repeatable.")
    ] = None,
) -> None:
    """Render a run's model-card report from its results alone (no model is run; the run is not modified)."""
    from ..reports import report

    audits = read_audits(audit)
    for path in report(
        results_dir, formats=parse_formats(formats), template_dir=template_dir, out_dir=out, card_audits=audits
    ):
        typer.echo(str(path))


@app.command()
@guarded
def compare(
    results_a: Annotated[Path, typer.Argument(help="Baseline run (A).")],
    results_b: Annotated[Path, typer.Argument(help="Candidate run (B).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: reports/comparisons/<A run>-vs-<B run>).")
    ] = None,
    formats: FormatsOpt = "html,md",
    template_dir: TemplateDirOpt = None,
) -> None:
    """Compare two runs on the tasks they share: deltas with paired CIs, McNemar p-values, wins, disagreements."""
    from ..reports import compare as compare_runs
    from ..results import resolve_run_dir

    if out is None:
        out = Path("reports/comparisons") / f"{resolve_run_dir(results_a).name}-vs-{resolve_run_dir(results_b).name}"
    for path in compare_runs(
        results_a, results_b, out_dir=out, formats=parse_formats(formats), template_dir=template_dir
    ):
        typer.echo(str(path))


@app.command()
@guarded
def card(
    results_dir: RunDirArg,
    model: Annotated[str, typer.Option("--model", help="Which of the run's models the card is for.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the card here (default: stdout).")] = None,
    eval_results: Annotated[
        Path | None,
        typer.Option("--eval-results", help="Also write the Hub's .eval_results/<task>.yaml files into this folder."),
    ] = None,
) -> None:
    """Write a Hugging Face model card for a model from a run: model-index, uses, bias, results with intervals.

    Every figure comes from the run; `auditkit audit-card CARD --results RUN` verifies them all.
    """
    from ..reports.model_card import model_card
    from ..results import atomic_write_text, load_run
    from ..results.store import refuse_inside_run

    run = load_run(results_dir)
    for place, what in ((out, "the card file"), (eval_results, "the .eval_results folder")):
        if place is not None:
            refuse_inside_run(place, what)
    text = model_card(run, model)
    # Everything is made before anything is written: a failing export leaves no card behind it either.
    exported: tuple[dict[str, str], dict[str, str]] | None = None
    if eval_results is not None:
        from ..reports.eval_results import eval_results_texts

        exported = eval_results_texts(run, model)
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        err.print(escape(f"card: {out}"), highlight=False)
    if eval_results is not None and exported is not None:
        from ..reports.eval_results import write_eval_results

        texts, skipped = exported
        for path in write_eval_results(eval_results, texts):
            err.print(escape(f"eval results: {path}"), highlight=False)
        for task, why in skipped.items():
            err.print(escape(f"not exported: {task} ({why})"), highlight=False)


@app.command("export")
@guarded
def export_cmd(
    results_dir: RunDirArg,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for file formats (never inside a run).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="File format: eee (Every Eval Ever 0.3.0).")] = "eee",
    to: Annotated[
        str | None, typer.Option("--to", help="A service instead of files: mlflow (pip install 'auditkit[mlflow]').")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow store: sqlite:///mlflow.db, a folder, or a server URL.")
    ] = None,
    organization: Annotated[
        str, typer.Option("--organization", help="Who ran the evaluation (the records' source organisation).")
    ] = "unknown",
    relationship: Annotated[
        str,
        typer.Option(
            "--relationship",
            help="The evaluator's relation to the model: first_party, third_party, collaborative, other.",
        ),
    ] = "other",
) -> None:
    """Export a run in a format other tools read, or into a tool (no model runs; the run is not modified)."""
    from ..exports import ExportOptions, export_run

    if relationship not in ("first_party", "third_party", "collaborative", "other"):
        raise typer.BadParameter("use first_party, third_party, collaborative or other", param_hint="--relationship")
    chosen = to or fmt
    options = ExportOptions(organization, relationship, tracking_uri)  # type: ignore[arg-type]
    files = export_run(results_dir, chosen, out, options)
    for path in files:
        typer.echo(str(path))
    where = f"into {out}" if out is not None else f"to {chosen}" + (f" ({tracking_uri})" if tracking_uri else "")
    err.print(
        escape(f"exported {len(files) or 'every job'} {'files ' if files else ''}as {chosen} {where}"), highlight=False
    )


@app.command("history")
@guarded
def history_cmd(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories, or folders holding them (e.g. reports/releases/<suite>/).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html and report.md.")] = Path("history"),
    formats: FormatsOpt = "html,md",
) -> None:
    """One page of a model across releases: verdict timeline, metrics with intervals, latency, significant changes."""
    from ..reports.history import render_history

    for path in render_history(list(runs), out, tuple(parse_formats(formats))):
        typer.echo(str(path))
