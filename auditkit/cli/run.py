"""Commands that run suites and size them: ``auditkit run`` and ``auditkit plan``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .app import (
    REPORT_FORMAT_NAMES,
    BaselineKeyOpt,
    BaselineOpt,
    TemplateDirOpt,
    app,
    emit_json,
    err,
    guarded,
    parse_formats,
    print_gates,
)


@app.command()
@guarded
def run(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", "-o", help="Where runs land (default: the suite's output_dir).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or logs (CI).")] = False,
    report_formats: Annotated[
        str,
        typer.Option("--report", help=f"Report formats to write at the end ({REPORT_FORMAT_NAMES}), or 'none'."),
    ] = "html,md",
    template_dir: TemplateDirOpt = None,
    baseline: BaselineOpt = None,
    baseline_optional: Annotated[
        bool,
        typer.Option(
            "--baseline-optional",
            help="First release: when the baseline holds no run yet, apply only the other gates (and say so).",
        ),
    ] = False,
    baseline_key: BaselineKeyOpt = None,
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
            help="Go through the examples in the canonical order (derived from the data) and stop each job once all"
            " its gates are decided (anytime-valid confidence sequences).",
        ),
    ] = False,
    allow_suite_code: Annotated[
        bool,
        typer.Option(
            "--allow-suite-code",
            help="Run the code a suite names (its tasks' evaluate: metrics); without it such a suite stops before"
            " anything runs. Also AUDITKIT_ALLOW_SUITE_CODE=1.",
        ),
    ] = False,
) -> None:
    """Run every (model x task) job of a suite, audit its cards, apply its gates, and publish the run with its report.

    Exit codes: 0 GO; 1 NO_GO; 2 input error; 3 INCONCLUSIVE (see decision.on_inconclusive).
    """
    from ..running.runner import run_suite

    formats = parse_formats(report_formats)
    from ..running.executors import RUNNERS

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
        allow_suite_code=allow_suite_code,
        baseline_optional=baseline_optional,
        baseline_key=baseline_key,
    )
    if outcome.report_dir is not None and not quiet:
        err.print(escape(f"report: {outcome.report_dir}"), highlight=False, soft_wrap=True)
    if outcome.report_error is not None:
        err.print(f"[red]error:[/red] {escape(outcome.report_error)}", highlight=False, soft_wrap=True)
    typer.echo(str(outcome.run_dir))
    if outcome.gates is not None:
        print_gates(outcome.gates, quiet)
        if outcome.gates.exit_code:
            raise typer.Exit(outcome.gates.exit_code)
    if outcome.report_error is not None:
        raise typer.Exit(1)


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
    baseline: BaselineOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Estimate, before any model runs, how many examples each gate needs to be decided at its margin.

    Exit codes: 0 every planned gate is decidable at the configured n (or could not be planned); 1 some gate
    is not; 2 input error.
    """
    from ..running.plan import plan

    plans = plan(suite, pilot=pilot, sd=sd, baseline=baseline)
    if as_json:
        emit_json([p.to_dict() for p in plans], None)
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
