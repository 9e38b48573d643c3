"""Commands about data: ``auditkit validate`` (a suite and its datasets) and ``auditkit score`` (a SQuAD
predictions file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from .app import app, emit_json, err, guarded


@app.command()
@guarded
def validate(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    data: Annotated[
        bool, typer.Option("--data/--no-data", help="Also read and check every local dataset file.")
    ] = True,
) -> None:
    """Check a suite (schema, paths and, by default, local dataset files) without running models."""
    from ..running.suite import load_suite
    from ..tasks import load_task_data

    loaded = load_suite(suite)
    table = Table(title=f"suite {loaded.suite.name}: valid", title_justify="left")
    for column in ("task", "kind", "models", "dataset", "examples"):
        table.add_column(column)
    for spec in loaded.suite.tasks:
        models = ", ".join(spec.models or [m.name for m in loaded.suite.models])
        source = spec.dataset.hub or str(spec.dataset.path)
        if data and spec.dataset.path is not None:
            count = str(len(load_task_data(spec, loaded.suite.seed)))
        else:
            count = "not read (hub)" if spec.dataset.hub else "not read"
        table.add_row(spec.name, spec.kind, models, source, count)
    err.print(table)


@app.command()
@guarded
def score(
    task: Annotated[str, typer.Option("--task", help="squad (v1.1 rules) or squad_v2.")],
    dataset: Annotated[Path, typer.Option("--dataset", help="Official SQuAD dataset JSON.")],
    predictions: Annotated[Path, typer.Option("--predictions", help="JSON object: question id -> answer text.")],
    na_probs: Annotated[
        Path | None, typer.Option("--na-probs", help="JSON object: question id -> no-answer probability (v2).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here instead of stdout.")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the CIs.")] = 1000,
    confidence: Annotated[float, typer.Option(help="CI level.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
) -> None:
    """Score a SQuAD predictions file: official figures, bootstrap CIs, per-article and per-question-type breakdowns."""
    from ..running.score_file import score_predictions

    if task not in ("squad", "squad_v2"):
        raise typer.BadParameter("must be squad or squad_v2", param_hint="--task")
    metric: Literal["squad", "squad_v2"] = "squad" if task == "squad" else "squad_v2"
    report = score_predictions(
        metric, dataset, predictions, na_probs=na_probs, resamples=resamples, confidence=confidence, seed=seed
    )
    emit_json(report, out)
    figures = ", ".join(
        f"{k} {v['value']:.4f} [{v['low']:.2f}, {v['high']:.2f}]"
        for k, v in report["metrics"].items()
        if k in ("exact_match", "exact", "f1")
    )
    coverage = report["predictions"]
    err.print(f"{figures}; {coverage['missing']} questions without prediction, {coverage['unknown_ids']} unknown ids")
