"""The report's one data model, built from a results directory alone.

HTML and Markdown templates render the same dictionary, so the two formats never disagree. Nothing
here runs a model: figures come from results.json, examples and slices from the stored per-example
tables. Each job's analyses, its own section, its metric names and directions, and its model-index
entry come from its task kind through the task registry: this module never switches on a kind.
Text from datasets, models and suites is kept raw here; the templates escape it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from ..results import Job, Run
from ..tasks import task_class
from ..views import fmt
from .comparison_view import comparisons
from .decision_view import decision_view, summary
from .formatting import human_count, metric_rows, precision_text, short_digest
from .latency_view import latency_section, per_item_ms, request_latency_section

WORST_EXAMPLES = 5
FAILED_LISTED = 20
AUDIT_ROWS = 50

#: What no evaluation here supports, whatever the task; each task kind adds its own (``Task.out_of_scope``).
OUT_OF_SCOPE = (
    "Decisions about people (hiring, credit, policing) without reading the caveats; languages and domains far"
    " from the evaluation data."
)


def out_of_scope(kinds: list[str]) -> str:
    """The out-of-scope uses of a run's task kinds, then the general ones."""
    own = [text for text in dict.fromkeys(task_class(k).out_of_scope for k in kinds) if text]
    return " ".join([*own, OUT_OF_SCOPE])


def _failures(run: Run) -> list[dict[str, Any]]:
    """Endpoint jobs that lost examples: how many, against the allowed rate, and which (the first FAILED_LISTED)."""
    out = []
    for job in run.results.jobs:
        f = job.failures
        if not f or not f.count:
            continue
        out.append(
            {
                "model": job.model,
                "task": job.task,
                "count": f.count,
                "total": f.total,
                "rate": fmt(100 * f.rate, 1),
                "max_rate": fmt(100 * f.max_rate, 1),
                "over": f.rate > f.max_rate,
                "excluded": f.excluded_from_scoring if f.excluded_from_scoring is not None else f.count,
                "examples": [e.model_dump() for e in f.examples[:FAILED_LISTED]],
                "more": max(0, len(f.examples) - FAILED_LISTED),
            }
        )
    return out


def model_index(run: Run, model: str) -> str:
    """The Hugging Face model-card ``model-index`` front matter for one model's measured results."""
    results = run.results
    entries = []
    for job in results.jobs_of(model):
        entry = task_class(job.kind).model_index_entry(job, results.datasets[job.task])
        if entry is not None:
            entries.append(dict(entry))
    source = results.models[model].source
    hub_id = re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", source) is not None and not source.startswith(".")
    name = source if hub_id else model  # a hub id names the model on the Hub; a local path or recipe does not
    return yaml.safe_dump(
        {"model-index": [{"name": name, "results": entries}]},
        sort_keys=False,
        allow_unicode=True,
    )


def _caveats(run: Run) -> list[str]:
    results = run.results
    notes = []
    built = [name for name, m in results.models.items() if m.source.startswith("build:")]
    if built:
        notes.append(
            f"Models {', '.join(built)} were built offline with deterministic random weights: their scores are near"
            " chance and say nothing about the published checkpoints. They exercise the evaluation machinery."
        )
    for name, model in results.models.items():
        notes.extend(f"Model {name}: {warning}." for warning in model.warnings)
    for task, data in results.datasets.items():
        notes.extend(f"Task {task}: {warning}." for warning in data.warnings)
        if data.selection != "all":
            notes.append(
                f"Task {task} used {data.examples} of {data.total_available} examples ({data.selection}); "
                "intervals describe uncertainty from that sample only."
            )
    for f in _failures(run):
        notes.append(
            f"{f['model']} · {f['task']}: {f['count']} of {f['total']} examples failed at the endpoint; its metrics"
            f" cover the {f['total'] - f['excluded']} answered examples only."
        )
    for job in results.jobs:
        seq = job.sequential
        if seq is not None and seq.stopped != "not sequential":
            order = (
                "the data's canonical order (derived from its content, not chosen)"
                if seq.order and seq.order.startswith("canonical:")
                else f"a random order (seed {seq.order_seed})"  # runs made before the canonical order
            )
            notes.append(
                f"{job.model} · {job.task}: run with --until-decided, it used {seq.n_used} of {seq.n_available}"
                f" examples in {order} and {seq.reason}; its intervals for mean metrics are anytime-valid confidence"
                " sequences, valid despite the data-dependent stop."
            )
        elif seq is not None:
            notes.append(f"{job.model} · {job.task}: --until-decided {seq.reason}.")
        for note in [*job.notes, *task_class(job.kind).caveats(job)]:
            notes.append(f"{job.model} · {job.task}: {note.rstrip('.')}.")
        wide = _widest_interval(job)
        if wide is not None:
            notes.append(
                f"{job.model} · {job.task}: some 95% intervals are wide ({wide}); smaller differences are not resolved."
            )
    sources = sorted({d.source for d in results.datasets.values()})
    notes.append(
        "Performance is measured only on the evaluation data named above ("
        + ", ".join(Path(s).name for s in sources)
        + "); data from other domains and languages is not measured here."
    )
    return notes


#: An interval wider than this share of its metric's range (5 points of a percentage) earns a caveat.
WIDE_INTERVAL = 0.05


def _widest_interval(job: Job) -> str | None:
    """The widest interval of a job's metrics, measured against each metric's own range, when it is wide."""
    task = task_class(job.kind)
    worst: tuple[float, str] | None = None
    for key, est in job.metrics.items():
        info = task.metric_info(key)
        span = info.span
        if span is None or not (math.isfinite(est.high) and math.isfinite(est.low)):
            continue
        share = (est.high - est.low) / span
        if share > WIDE_INTERVAL and (worst is None or share > worst[0]):
            width = info.format(est.high - est.low, info.digits(coarse=True))
            worst = (share, f"{info.name}: {width} wide, {share:.0%} of its range {info.range_text()}")
    return None if worst is None else worst[1]


def _audit_view(audit: dict[str, Any]) -> dict[str, Any]:
    """A card audit for the report: every count, but at most AUDIT_ROWS rows per list (failures first).

    A hostile card can make tens of thousands of claims; the audit JSON keeps them all.
    """
    claims = sorted(audit["claims"], key=lambda c: {"does not hold": 0, "not measured": 1}.get(c["verdict"], 2))
    lists = {"claims": claims, "inconsistencies": audit["inconsistencies"], "stale_code": audit["stale_code"]}
    hidden = sum(max(0, len(rows) - AUDIT_ROWS) for rows in lists.values())
    return {**audit, **{key: rows[:AUDIT_ROWS] for key, rows in lists.items()}, "hidden": hidden}


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def build_report(
    run: Run, *, gates: dict[str, Any] | None = None, card_audits: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The view model for one run: model-card sections, per-job analyses, within-run comparisons.

    ``gates`` and ``card_audits`` are the run's gate verdicts and card audits, when it has them.
    """
    results = run.results
    legacy_gates = gates is not None and "verdict" not in gates
    if legacy_gates:  # gates.json from before verdicts (pass/fail only): not shown as a decision
        gates = None
    seed = results.suite.seed
    resamples = int(results.suite.bootstrap["resamples"])
    models = []
    for name, m in results.models.items():
        info, fp = m.info, m.fingerprint
        endpoint = info.get("kind") == "endpoint"
        models.append(
            {
                "name": name,
                "source": m.source,
                "revision": info.get("revision") or "–",
                "architecture": f"{info['architecture']}, {info['contract']} contract"
                if endpoint
                else info.get("architecture"),
                "parameters": human_count(info.get("parameters")),
                "device": info.get("device"),
                "dtype": precision_text(info),
                "fast_mode": fast_mode_text(info.get("fast_mode")),
                "fingerprint": short_digest(fp["model_sha256"]),
                "weights": short_digest(fp.get("weights_sha256")),
                "config": short_digest(fp.get("config_sha256")),
                "tokenizer": short_digest(fp.get("tokenizer_sha256")),
                "served": short_digest(info.get("served_model_sha256")) if info.get("served_model_sha256") else None,
                "built": info.get("built") is not None,
            }
        )
    kind_of = {
        job.task: job.kind for job in results.jobs
    }  # a dataset's task kind: its jobs' (older runs named data kinds)
    datasets = [
        {
            "task": task,
            "source": d.source,
            "examples": d.examples,
            "total": d.total_available,
            "selection": d.selection,
            "fingerprint": short_digest(d.fingerprint),
            "kind": d.kind,
            "detail": task_class(kind_of[task]).dataset_detail(d)
            if task in kind_of
            else ", ".join(d.label_names or []),
        }
        for task, d in results.datasets.items()
    ]
    jobs, latency, request_latency, metric_table = [], [], [], []
    sections: list[dict[str, Any]] = []
    shared_axis: dict[str, float] = {}  # one latency scale per task, so its models' charts compare by eye
    for job in results.jobs:
        values = per_item_ms(job)
        if values:
            shared_axis[job.task] = max(shared_axis.get(job.task, 0.0), max(values))
    for job in results.jobs:
        task = task_class(job.kind)
        frame = run.predictions(job.model, job.task)
        view = task.job_view(job, frame, {"seed": seed, "resamples": resamples})
        rows = metric_rows(job)
        metric_table.append({"model": job.model, "task": job.task, "metrics": rows})
        jobs.append(
            {
                "model": job.model,
                "task": job.task,
                "kind": job.kind,
                "metrics": rows,
                **view,
                "params": job.params,
            }
        )
        section = task.section_view(job, results.datasets[job.task], view)
        if section is not None and task.report_partial is not None:
            group = next((g for g in sections if g["title"] == task.section_title), None)
            if group is None:
                group = {"title": task.section_title, "anchor": _anchor(task.section_title), "sections": []}
                sections.append(group)
            group["sections"].append({"partial": task.report_partial, "data": {**section, "metrics": rows}})
        if job.timing.latency_scope == "request":
            request_latency.append(request_latency_section(job))
        else:
            latency.append(latency_section(job, results.models[job.model].info, shared_axis.get(job.task)))
    by_task: dict[str, list[Job]] = {}
    for job in results.jobs:
        by_task.setdefault(job.task, []).append(job)
    pairs = [(group[0], other) for group in by_task.values() for other in group[1:]]
    kinds = list(dict.fromkeys(j.kind for j in results.jobs))
    env = results.environment
    return {
        "kind": "run",
        "title": f"Evaluation report — {results.suite.name}",
        "run": {
            "id": results.run_id,
            "created": results.created,
            "wall_seconds": fmt(results.wall_seconds, 1),
            "status": results.status,
        },
        "suite": results.suite.model_dump(),
        "models": models,
        "intended_uses": [use for use in (task_class(k).intended_use for k in kinds) if use],
        "out_of_scope": out_of_scope(kinds),
        "metric_notes": list(dict.fromkeys(note for k in kinds for note in task_class(k).metric_notes)),
        "datasets": datasets,
        "metric_table": metric_table,
        "jobs": jobs,
        "latency": latency,
        "request_latency": request_latency,
        "failures": _failures(run),
        "comparisons": comparisons(run, run, pairs, "", ""),
        "sections": sections,
        "gates": gates,
        "decision": decision_view(gates),
        "summary": summary(run, gates),
        "card_audits": [_audit_view(audit) for audit in card_audits or []],
        "caveats": _caveats(run)
        + (
            [
                "This run's gates.json predates release verdicts (GO / NO_GO / INCONCLUSIVE): run"
                " `auditkit gate RUN_DIR` to decide its gates, then `auditkit report` again."
            ]
            if legacy_gates
            else []
        ),
        "model_index": {name: model_index(run, name) for name in results.models},
        "reproducibility": {
            "auditkit": results.auditkit_version,
            "python": env.python,
            "platform": env.platform,
            "packages": env.packages,
            "gpu": env.gpu,
            "cpu_features": env.cpu_features,
            "suite_sha256": results.suite.sha256,
            "command": results.command,
            "seed": seed,
            "bootstrap": results.suite.bootstrap,
            "run_id": results.run_id,
        },
    }


def _rounds_text(candidate: dict[str, Any]) -> str:
    """A candidate's speed-up spread: one timing round has none (a mode out on its first answers is timed once)."""
    low, high = candidate["speedup_range"]
    if candidate.get("rounds") == 1:
        return "one round"
    return f"range {low:.2f}–{high:.2f}" + (f" over {candidate['rounds']} rounds" if "rounds" in candidate else "")


def fast_mode_text(record: Any) -> str | None:
    """What ``fast_mode: auto`` measured and chose, in one sentence (None when the model did not ask for it)."""
    if not isinstance(record, dict):
        return None
    measured = [
        f"{c['mode']} {c['speedup_median']:.2f}× ({_rounds_text(c)}), {c['agreement']:g}% identical answers"
        + (f" of {c['agreement_examples']}" if "agreement_examples" in c else "")
        + ("" if c["kept"] else f" — not kept: {c['why_not']}")
        for c in record.get("candidates", [])
    ]
    text = f"fast_mode auto ran {record.get('chosen')}: {record.get('reason')}."
    if measured:
        timed = record.get("timing_examples", record.get("calibration_examples"))
        sampled = f" drawn at random from {record.get('calibration_task')}" if record.get("calibration_sample") else ""
        text += (
            f" Speed measured against exact in rounds of {timed} examples, agreement on up to"
            f" {record.get('calibration_examples')}{sampled}: " + "; ".join(measured) + "."
        )
    if record.get("calibration_seconds") is not None:
        text += f" Measuring took {record['calibration_seconds']:g} s"
        reused = record.get("reused_examples") or 0
        text += (
            f"; the job took {reused} of its predictions from it (made in the mode that ran) instead of predicting"
            " them again."
            if reused
            else "."
        )
    if record.get("not_measured"):
        text += " Not measured: " + "; ".join(record["not_measured"]) + "."
    return text
