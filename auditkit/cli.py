"""The ``auditkit`` command. Subcommands are thin: each parses options and calls the public API.

Exit codes: 0 success (every gate GO); 1 a gate said NO_GO; 2 a usage or input error (bad suite,
dataset, model, results), printed as one message naming the file, the place and the fix -- never a
traceback; 3 the release decision is INCONCLUSIVE (``decision.on_inconclusive`` maps it to 1 or 0);
130 interrupted.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .errors import AuditkitError

if TYPE_CHECKING:
    from .gates import GateReport

EXIT_CODES_HELP = (
    "Exit codes: 0 GO (or success); 1 NO_GO (a gate failed); 2 input error; 3 INCONCLUSIVE"
    " (decision.on_inconclusive: fail -> 1, pass -> 0); 130 interrupted."
)
app = typer.Typer(
    name="auditkit",
    help="Evaluate and audit transformer models with declarative suites.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
#: Findings of a card audit printed on the console; the audit JSON holds them all.
LISTED_FINDINGS = 20
F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Turn input errors into a message and exit code 2, and Ctrl-C into exit code 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AuditkitError as exc:
            err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/yellow]: no results were written; earlier runs are untouched")
            raise typer.Exit(130) from None
        except OSError as exc:  # a file or folder auditkit was told to read or write
            err.print(f"[bold red]error:[/bold red] {escape(_os_error(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _os_error(exc: OSError) -> str:
    """One line naming the path, what went wrong and what to do; nothing half-written was published."""
    where = exc.filename or "a file"
    problem = exc.strerror or str(exc)
    hints = {
        errno.ENOSPC: "free some disk space (or choose another output folder) and run again",
        errno.EACCES: "choose a folder you can write to, or fix its permissions",
        errno.EROFS: "the file system is read-only: choose another output folder",
        errno.EISDIR: "a file was expected here: give a file name, not a folder",
        errno.ENOTDIR: "a folder was expected in this path",
        errno.ENOENT: "check the path",
    }
    hint = hints.get(exc.errno or 0, "check the path and the permissions")
    return f"{where}: {problem}\n  fix: {hint}; no partial result was published and earlier runs are untouched"


def _emit_json(data: Any, out: Path | None) -> None:
    """Machine-readable output: to ``out`` (written atomically) or to stdout."""
    if out is not None:
        from .results import atomic_write_json

        atomic_write_json(out, data)
    else:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"auditkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evaluate and audit transformer models with declarative suites."""


@app.command()
@guarded
def run(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", "-o", help="Where runs land (default: the suite's output_dir).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or logs (CI).")] = False,
    report_formats: Annotated[
        str, typer.Option("--report", help="Report formats to write at the end (html,md), or 'none'.")
    ] = "html,md",
    template_dir: Annotated[
        Path | None, typer.Option("--template-dir", help="Folder with report templates overriding the defaults.")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Baseline run for regression gates (overrides the suite's).")
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Where to write the gates' JUnit XML (default: <run>/gates.junit.xml)."),
    ] = None,
    cache: Annotated[
        bool,
        typer.Option("--cache/--no-cache", help="Reuse cached predictions and resume interrupted runs (default on)."),
    ] = True,
    runner: Annotated[
        str, typer.Option("--runner", help="Where jobs run: local, or ray (job chunks on a Ray cluster).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster address (ray://HOST:10001, auto); default: start a local one."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Ray: model copies per model (default: one per cluster CPU)."),
    ] = None,
    until_decided: Annotated[
        bool,
        typer.Option(
            "--until-decided",
            help="Go through the examples in a seeded random order and stop each job once all its gates are"
            " decided (anytime-valid confidence sequences).",
        ),
    ] = False,
) -> None:
    """Run every (model x task) job of a suite, audit its cards, apply its gates, and publish the run with its report.

    Exit codes: 0 GO; 1 NO_GO; 2 input error; 3 INCONCLUSIVE (see decision.on_inconclusive).
    """
    from .runner import run_suite

    formats = _formats(report_formats)
    from .cache import RUNNERS

    if runner not in RUNNERS:
        raise typer.BadParameter(f"must be one of {', '.join(RUNNERS.names())}", param_hint="--runner")
    if RUNNERS.get(runner) is None and (address or workers):
        raise typer.BadParameter("--address and --workers apply to --runner ray", param_hint="--runner")
    outcome = run_suite(
        suite,
        output_dir=output_dir,
        quiet=quiet,
        use_cache=cache,
        runner=runner,
        address=address,
        workers=workers,
        baseline=baseline,
        report_formats=formats,
        template_dir=template_dir,
        junit=junit,
        until_decided=until_decided,
    )
    if outcome.report_dir is not None and not quiet:
        err.print(escape(f"report: {outcome.report_dir}"), highlight=False, soft_wrap=True)
    if outcome.report_error is not None:
        err.print(f"[red]error:[/red] {escape(outcome.report_error)}", highlight=False, soft_wrap=True)
    typer.echo(str(outcome.run_dir))
    if outcome.gates is not None:
        _print_gates(outcome.gates, quiet)
        if outcome.gates.exit_code:
            raise typer.Exit(outcome.gates.exit_code)
    if outcome.report_error is not None:
        raise typer.Exit(1)


_MARKS = {
    "GO": "[green]GO[/green]",
    "NO_GO": "[bold red]NO_GO[/bold red]",
    "INCONCLUSIVE": "[yellow]INCONCLUSIVE[/yellow]",
}


def _print_gates(verdict: GateReport, quiet: bool) -> None:
    for r in verdict.results:
        if quiet and r.passed:
            continue
        err.print(
            f"{_MARKS[r.verdict]} {escape(f'{r.gate} [{r.model}]: {r.message}')}", highlight=False, soft_wrap=True
        )
    c = verdict.counts()
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg"}.get(verdict.correction, "no")
    if verdict.results:
        from .gates.outputs import guarantee_sentence

        err.print(escape(guarantee_sentence(verdict)), highlight=False, soft_wrap=True)
    err.print(
        f"decision: {_MARKS[verdict.verdict]} ({c['GO']} GO, {c['NO_GO']} NO_GO, {c['INCONCLUSIVE']} INCONCLUSIVE;"
        f" alpha {verdict.alpha:g}, {correction} correction)",
        highlight=False,
    )


def _print_audit(audit: dict[str, Any], quiet: bool) -> None:
    if quiet:
        return
    s = audit["summary"]
    err.print(
        escape(
            f"card audit of {audit['card']} ({audit['model'] or 'no run'}): claims {s['claims_held']} hold,"
            f" {s['claims_failed']} do not, "
            f"{s['claims_not_measured']} not measured; {s['inconsistencies']} inconsistencies; sections missing"
            f" {s['missing_sections']}, "
            f"empty {s['empty_sections']}; {s['placeholders']} placeholders; {s['stale_snippets']} stale snippets; "
            f"examples failing {s['examples_failed']} of {len(audit['examples'])}"
        ),
        highlight=False,
        soft_wrap=True,
    )
    lines = [
        f"  line {c['line']} ({c['source']}): {c['text']}: {c['verdict']} -- {c['reason']}"
        for c in audit["claims"]
        if c["verdict"] != "holds"
    ]
    lines += [f"  inconsistent: {i['message']}" for i in audit["inconsistencies"]]
    lines += [
        f"  line {st['line']}: {st['code']} -- {st['problem']}; use {st['replacement']}" for st in audit["stale_code"]
    ]
    for line in lines[:LISTED_FINDINGS]:
        err.print(escape(line), highlight=False, soft_wrap=True)
    if len(lines) > LISTED_FINDINGS:
        err.print(f"  ... and {len(lines) - LISTED_FINDINGS} more findings (all of them are in the audit JSON)")


@app.command("audit-card")
@guarded
def audit_card_cmd(
    card: Annotated[Path, typer.Argument(help="The model card (README.md with YAML front matter).")],
    results: Annotated[
        Path | None, typer.Option("--results", help="Run to check the claims against (the run is not modified).")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Which of the run's models the card describes.")] = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="Hub id or local directory to re-run the card's examples with.")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="Points a claim may differ from the measured value and still hold.")
    ] = 0.5,
    rerun: Annotated[
        bool, typer.Option("--rerun/--no-rerun", help="Re-run the card's example outputs on the model.")
    ] = True,
    out: Annotated[Path | None, typer.Option("--out", help="Write the audit JSON here (default: stdout).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
) -> None:
    """Audit a model card: claims vs measured, internal consistency, completeness, stale usage code, example outputs."""
    from .audit import audit_card
    from .schema import ModelSpec

    spec = ModelSpec.model_validate({"name": "card-model", "id": model_id}) if model_id else None
    audit = audit_card(card, results_dir=results, model=model, model_spec=spec, tolerance=tolerance, rerun=rerun)
    _emit_json(audit, out)
    _print_audit(audit, quiet)


@app.command("plan")
@guarded
def plan_cmd(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file (its data is loaded; no model runs).")],
    pilot: Annotated[
        Path | None, typer.Option("--pilot", help="A finished run of the same tasks to take variances from.")
    ] = None,
    sd: Annotated[
        float | None, typer.Option("--sd", help="Per-example standard deviation to assume (metric units).")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Baseline run for regression gates (overrides the suite's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Estimate, before any model runs, how many examples each gate needs to be decided at its margin.

    Exit codes: 0 every planned gate is decidable at the configured n (or could not be planned); 1 some gate
    is not; 2 input error.
    """
    from .plan import plan

    plans = plan(suite, pilot=pilot, sd=sd, baseline=baseline)
    if as_json:
        _emit_json([p.to_dict() for p in plans], None)
    else:
        table = Table(
            "Gate", "Model", "n configured", "SD (source)", "n needed (fixed)", "--until-decided (mean; 80%, 95%)",
            "MDE at n", "Advice",
        )  # fmt: skip
        for p in plans:
            table.add_row(
                escape(p.gate),
                escape(p.model),
                str(p.configured_n) + (f" ({p.n_clusters} {p.cluster_unit}s)" if p.n_clusters else ""),
                "–" if p.sd is None else f"{p.sd:.3g} ({escape(p.sd_source)})",
                "–" if p.n_needed is None else str(p.n_needed),
                "–"
                if p.sequential_expected is None
                else f"{p.sequential_expected:.0f}; {p.sequential_q80}, {p.sequential_q95}",
                "–" if p.mde_at_n is None else f"{p.mde_at_n:.3g}",
                escape(p.advice),
            )
        Console().print(table)
    if any(p.decidable is False for p in plans):
        raise typer.Exit(1)


@app.command("gate")
@guarded
def gate_cmd(
    results_dir: Annotated[Path, typer.Argument(help="A run directory (or a suite's output folder: its LATEST run).")],
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Baseline run for regression gates (overrides the suite's).")
    ] = None,
    suite: Annotated[
        Path | None,
        typer.Option("--suite", help="Take the gates from this suite file instead of the run's own suite."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Where to write JUnit XML (default: <out>/gates.junit.xml).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for gates.json and JUnit (default: <run_id>.gate/ beside the run)."),
    ] = None,
    audit: Annotated[
        list[Path] | None,
        typer.Option("--audit", help="Card audit JSON (from audit-card --out) for card.* gates; repeatable."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only failures.")] = False,
) -> None:
    """Re-apply release gates to a finished run (no model runs; the run is not modified).

    Exit codes: 0 GO; 1 NO_GO; 2 input error; 3 INCONCLUSIVE (see decision.on_inconclusive).
    """
    from .gates import gate

    gates, decision = None, None
    if suite is not None:
        from .suite import load_suite

        loaded = load_suite(suite).suite
        gates, baseline, decision = loaded.gates, baseline or loaded.baseline, loaded.decision
    verdict = gate(
        results_dir,
        baseline=baseline,
        gates=gates,
        junit=junit,
        out_dir=out,
        card_audits=_read_audits(audit),
        decision=decision,
    )
    if not verdict.results:
        err.print("no gates defined (add 'gates:' to the suite, or pass --suite)")
    _print_gates(verdict, quiet)
    if verdict.exit_code:
        raise typer.Exit(verdict.exit_code)


def _read_audits(paths: list[Path] | None) -> list[dict[str, Any]] | None:
    """Card audits from ``audit-card --out`` files (each one audit, or a list of them)."""
    if not paths:
        return None
    audits: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AuditkitError(
                f"cannot read the card audit {path}: {exc}", hint="pass a file written by audit-card --out"
            ) from None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(a, dict) and "summary" in a and "model" in a for a in items):
            raise AuditkitError(f"{path} is not a card audit", hint="pass a file written by audit-card --out")
        audits.extend(items)
    return audits


def _formats(value: str) -> list[str]:
    from .report import FORMATS

    if value.strip().lower() == "none":
        return []
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise typer.BadParameter(
            f"unknown format(s) {', '.join(unknown)}; use {', '.join(FORMATS.names())} or none", param_hint="--format"
        )
    return formats


@app.command("report")
@guarded
def report_cmd(
    results_dir: Annotated[Path, typer.Argument(help="A run directory (or a suite's output folder: its LATEST run).")],
    formats: Annotated[str, typer.Option("--format", "-f", help="Comma-separated: html, md.")] = "html,md",
    template_dir: Annotated[
        Path | None, typer.Option("--template-dir", help="Folder with report templates overriding the defaults.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: <run_id>.report/ beside the run).")
    ] = None,
    audit: Annotated[
        list[Path] | None, typer.Option("--audit", help="Card audit JSON (from audit-card --out) to show; repeatable.")
    ] = None,
) -> None:
    """Render a run's model-card report from its results alone (no model is run; the run is not modified)."""
    from .report import report

    audits = _read_audits(audit)
    for path in report(
        results_dir, formats=_formats(formats), template_dir=template_dir, out_dir=out, card_audits=audits
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
    formats: Annotated[str, typer.Option("--format", "-f", help="Comma-separated: html, md.")] = "html,md",
    template_dir: Annotated[
        Path | None, typer.Option("--template-dir", help="Folder with report templates overriding the defaults.")
    ] = None,
) -> None:
    """Compare two runs on the tasks they share: deltas with paired CIs, McNemar p-values, wins, disagreements."""
    from .report import compare as compare_runs
    from .results import resolve_run_dir

    if out is None:
        out = Path("reports/comparisons") / f"{resolve_run_dir(results_a).name}-vs-{resolve_run_dir(results_b).name}"
    for path in compare_runs(results_a, results_b, out_dir=out, formats=_formats(formats), template_dir=template_dir):
        typer.echo(str(path))


@app.command()
@guarded
def card(
    results_dir: Annotated[Path, typer.Argument(help="A run directory (or a suite's output folder: its LATEST run).")],
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
    from .report.card import model_card
    from .results import atomic_write_text, load_run

    run = load_run(results_dir)
    text = model_card(run, model)
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        err.print(escape(f"card: {out}"), highlight=False)
    if eval_results is not None:
        from .report.hub import write_eval_results

        files, skipped = write_eval_results(run, model, eval_results)
        for path in files:
            err.print(escape(f"eval results: {path}"), highlight=False)
        for task, why in skipped.items():
            err.print(escape(f"not exported: {task} ({why})"), highlight=False)


@app.command()
@guarded
def validate(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    data: Annotated[
        bool, typer.Option("--data/--no-data", help="Also read and check every local dataset file.")
    ] = True,
) -> None:
    """Check a suite (schema, paths and, by default, local dataset files) without running models."""
    from .suite import load_suite
    from .tasks import load_task_data

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
    from .scoring import score_predictions

    if task not in ("squad", "squad_v2"):
        raise typer.BadParameter("must be squad or squad_v2", param_hint="--task")
    metric: Literal["squad", "squad_v2"] = "squad" if task == "squad" else "squad_v2"
    report = score_predictions(
        metric, dataset, predictions, na_probs=na_probs, resamples=resamples, confidence=confidence, seed=seed
    )
    _emit_json(report, out)
    figures = ", ".join(
        f"{k} {v['value']:.4f} [{v['low']:.2f}, {v['high']:.2f}]"
        for k, v in report["metrics"].items()
        if k in ("exact_match", "exact", "f1")
    )
    coverage = report["predictions"]
    err.print(f"{figures}; {coverage['missing']} questions without prediction, {coverage['unknown_ids']} unknown ids")


@app.command("build-model")
@guarded
def build_model_cmd(
    config: Annotated[str | None, typer.Argument(help="Shipped config name or path to a config.json.")] = None,
    vocab: Annotated[Path | None, typer.Option("--vocab", help="WordPiece vocab.txt.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Directory to write the model to.")] = None,
    seed: Annotated[int, typer.Option(help="Weight seed.")] = 0,
    null_bias: Annotated[
        float, typer.Option(help="QA only: make the empty answer win more often (0.14: ~60% on SQuAD v2).")
    ] = 0.0,
    list_configs: Annotated[bool, typer.Option("--list", help="List the shipped configs and exit.")] = False,
) -> None:
    """Build a real-architecture model with deterministic random weights (offline tests and demos)."""
    from .models.hf import silence_transformers
    from .models.synthetic import BuildRecipe, build_model
    from .schema import shipped_configs

    silence_transformers()
    if list_configs or config is None:
        typer.echo("\n".join(shipped_configs()))
        return
    if vocab is None or out is None:
        raise typer.BadParameter("--vocab and --out are required to build a model")
    if not vocab.is_file():
        raise AuditkitError(
            f"vocabulary file not found: {vocab}",
            hint="pass a BERT vocab.txt, e.g. ../shared/data/vocab/bert-base-cased-vocab.txt",
        )
    if not config.endswith(".json") and config not in shipped_configs():
        raise AuditkitError(
            f"unknown config {config!r}", hint=f"use one of: {', '.join(shipped_configs())}, or a path to a config.json"
        )
    typer.echo(str(build_model(BuildRecipe(config, vocab, seed=seed, null_bias=null_bias), out)))


@app.command()
@guarded
def serve(
    model: Annotated[
        str, typer.Argument(help="Hub id or local model directory (e.g. one written by `auditkit build-model`).")
    ],
    contract: Annotated[str, typer.Option("--contract", help="azureml-qa or hf-inference.")],
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port; the URL is printed).")] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind; the default keeps it on this machine.")
    ] = "127.0.0.1",
    auth_env: Annotated[
        str | None,
        typer.Option("--auth-env", help="Require 'Authorization: Bearer <token>' with the token in this variable."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Model batch size within a request.")] = 32,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not log requests.")] = False,
) -> None:
    """Serve a local model behind an endpoint contract (POST /score, GET /health, GET /openapi.json) on uvicorn.

    Use it to check a deployment wrapper, or to test a suite against a served model.

    Prints the scoring URL on stdout once it is listening; stops on Ctrl-C.
    """
    from .endpoints.contracts import CONTRACTS, make_contract
    from .endpoints.serve import Limits, ModelService, bind, make_app
    from .endpoints.serve import run as run_server
    from .models import LoadedModel, head_of, open_model
    from .schema import HEAD_TASKS, ModelSpec

    servable = [name for name, c in CONTRACTS.items() if c.servable]
    if contract not in servable:
        raise typer.BadParameter(f"must be one of {', '.join(servable)}", param_hint="--contract")
    token = None
    if auth_env is not None:
        token = os.environ.get(auth_env)
        if not token:
            raise AuditkitError(f"--auth-env {auth_env}: the variable is not set", hint=f"export {auth_env}=<token>")
    spec = ModelSpec.model_validate({"name": "served", "id": model, "batch_size": batch_size, "device": device})
    head = head_of(spec)
    chosen = make_contract(contract)
    task = HEAD_TASKS[head]
    if task not in chosen.tasks:
        raise AuditkitError(
            f"{model} is a {task} model, but the {contract} contract serves {', '.join(chosen.tasks)}",
            hint="pick a contract that serves this model's task",
        )
    served = open_model(spec, head)
    if not isinstance(served, LoadedModel):
        raise AuditkitError(f"{model} is an endpoint; serve puts a local checkpoint behind a contract")
    service = ModelService(served, chosen)
    limits = Limits(
        max_queue=_env_int("AUDITKIT_SERVE_MAX_QUEUE", Limits.max_queue),
        request_timeout=float(_env_int("AUDITKIT_SERVE_TIMEOUT", int(Limits.request_timeout))),
    )
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise AuditkitError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="pick another --port (0 picks a free one)"
        ) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(
            f"[yellow]warning:[/yellow] listening on {escape(host)}: reachable from other machines"
            + ("" if token else ", without a token")
        )
    bound_host, bound_port = sock.getsockname()[:2]
    err.print(
        escape(
            f"serving {model} ({task}, model_sha256 {service.model.fingerprint['model_sha256'][:12]})"
            f" with the {contract} contract; queue {limits.max_queue}, timeout {limits.request_timeout:g} s"
        )
    )
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    typer.echo(f"http://{shown}:{bound_port}/score")
    sys.stdout.flush()
    run_server(make_app(service, token=token, limits=limits), sock, log=not quiet)


def _env_int(name: str, default: int) -> int:
    """A serve limit from the environment (operators tune these without a new command-line flag each)."""
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise AuditkitError(f"{name}={value!r} is not a positive whole number", hint=f"unset {name} or fix it")
    return int(value)


def command() -> Any:
    """The click command behind :data:`app`, with flags shown as flags: typer's help gives boolean flags a
    ``<bool>`` metavar, which reads as if ``--quiet`` took a value."""
    cmd = typer.main.get_command(app)
    commands = [cmd, *getattr(cmd, "commands", {}).values()]
    for each in commands:
        for param in each.params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
    return cmd


def main() -> None:
    """Console-script entry point."""
    sys.exit(command()(prog_name="auditkit"))


if __name__ == "__main__":
    main()
