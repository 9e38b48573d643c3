"""Everything checked before any model loads: datasets read and validated, model configs resolved, baselines
loaded and matched, gates that could never be decided named, report templates found. A suite that fails
here costs seconds, not the minutes of a run that would fail at its end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from ..core.errors import AuditkitError, SuiteError
from ..data import Dataset
from ..spec.expressions import parse_gate
from ..tasks import load_task_data
from .suite import LoadedSuite


def load_datasets(loaded: LoadedSuite) -> dict[str, Dataset]:
    """Every task's dataset, validated (raises DatasetError naming file and record)."""
    suite = loaded.suite
    datasets = {}
    for spec in suite.tasks:
        datasets[spec.name] = load_task_data(spec, suite.seed)
    return datasets


#: The environment variable that allows a suite's code to run (``evaluate:`` metrics), like ``--allow-suite-code``.
ALLOW_CODE_VARIABLE = "AUDITKIT_ALLOW_SUITE_CODE"


def suite_code(loaded: LoadedSuite) -> list[str]:
    """What in the suite would run code that auditkit does not ship: each task's ``evaluate:`` metrics (an
    installed module's class, a local script, or a metric script ``evaluate.load`` fetches)."""
    return [
        f"tasks[{i}].evaluate[{j}] ({metric.module!r})"
        for i, task in enumerate(loaded.suite.tasks)
        for j, metric in enumerate(task.evaluate)
    ]


def code_allowed(allow_suite_code: bool) -> bool:
    return allow_suite_code or os.environ.get(ALLOW_CODE_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def preflight(
    loaded: LoadedSuite,
    *,
    baseline: str | Path | None,
    template_dir: str | Path | None,
    allow_suite_code: bool = False,
) -> None:
    """Check everything that can be checked before the first model loads: that the suite runs no code without
    the opt-in, gates' baselines, credentials, the template folder. A mistake found here costs seconds, not the
    hours of a full run."""
    suite = loaded.suite
    code = suite_code(loaded)
    if code and not code_allowed(allow_suite_code):
        raise SuiteError(
            f"the suite would run code: {', '.join(code)}; nothing was run",
            source=str(loaded.path),
            hint=f"if you trust this suite, allow its code with --allow-suite-code (or {ALLOW_CODE_VARIABLE}=1); a"
            " suite file cannot allow itself",
        )
    problems: list[str] = []
    if template_dir is not None and not Path(template_dir).is_dir():
        problems.append(f"template folder not found: {template_dir}")
    base = baseline or suite.baseline
    from ..results import load_run

    audited = [m.name for m in suite.models if m.card is not None]
    for gate in suite.gates:
        expr = parse_gate(gate.check)
        if expr.task == "card" and not [name for name in (gate.models or audited) if name in audited]:
            problems.append(
                f"gate {gate.label!r} judges a model-card audit, but no model it applies to has a 'card:'"
                f" ({'models with one: ' + ', '.join(audited) if audited else 'no model has one'}); give the model"
                " its card, or judge an audit afterwards with `auditkit gate RUN --audit AUDIT`"
            )
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


def undecidable_gates(loaded: LoadedSuite, datasets: dict[str, Dataset], baseline: str | Path | None) -> list[str]:
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
    from ..gates.evaluate import baseline_job
    from ..results import load_run

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
