"""A Hugging Face model card generated from a run: every figure in it comes from the run, and reads back.

The card has the Hub template's sections, ``model-index`` front matter, the intended use of each task
the model ran, a bias section from its probes, and the evaluation results with their intervals. Its
claims are written the way :mod:`auditkit.audit` reads claims -- one sentence per dataset, naming the
dataset, with the figure outside parentheses and the interval inside them -- so ``auditkit audit-card``
on the card against the same run verifies every claim, and flags any figure edited afterwards.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..results import Job, Run
from ..tasks import task_class
from .model import OUT_OF_SCOPE, _caveats, model_index

#: How each task's headline metrics are said in prose, by the dataset key claims use.
_SENTENCES = {
    "squad": ("SQuAD v1.1", [("f1", "an F1 score of"), ("exact_match", "an exact match of")]),
    "squad_v2": ("SQuAD 2.0", [("f1", "an F1 score of"), ("exact", "an exact match of")]),
    "sst2": ("SST-2", [("accuracy", "an accuracy of")]),
    "nli": ("MNLI", [("accuracy", "an accuracy of")]),
}


def _evaluation_lines(run: Run, job: Job) -> list[str]:
    task = task_class(job.kind)
    dataset = run.results.datasets[job.task]
    key = task.claim_dataset(job)
    lines = [f"### {job.task}", "", f"Data: `{dataset.source}`, {dataset.selection}."]
    said = _SENTENCES.get(key or "")
    if said is not None:
        name, parts = said
        figures = [(text, job.metrics[metric]) for metric, text in parts if metric in job.metrics]
        if figures:
            claims = " and ".join(f"{text} {est.value:.2f}" for text, est in figures)
            intervals = "; ".join(f"95% interval {est.low:.2f} to {est.high:.2f}" for _, est in figures)
            lines.append(f"On {name} it reaches {claims} ({intervals}; n = {figures[0][1].n}).")
    # Every figure of the job, for readers; in parentheses, which claim readers (and auditkit's audit) pass over.
    every = "; ".join(
        f"{task.metric_info(metric).name} {est.value:.2f} [{est.low:.2f}, {est.high:.2f}]"
        for metric, est in job.metrics.items()
    )
    return [*lines, "", f"All figures, with 95% intervals: ({every}).", ""]


def _bias_lines(run: Run, jobs: list[Job]) -> list[str]:
    lines = []
    for job in jobs:
        if job.kind != "bias_probe":
            continue
        probe_set = run.results.datasets[job.task].probe_set or {}
        task = task_class(job.kind)
        lines += [f"### Probe set `{probe_set.get('name', job.task)}` ({job.details.get('probes')} probes)", ""]
        if probe_set.get("intent"):
            lines += [str(probe_set["intent"]), ""]
        for metric, est in job.metrics.items():
            info = task.metric_info(metric)
            lines.append(f"- {info.name}: {est.value:.2f} {info.unit} (95% interval {est.low:.2f} to {est.high:.2f})")
        lines.append("")
    if not lines:
        return ["No bias probes were run for this model: its behaviour toward groups of people is not measured.", ""]
    return [
        "Probes ask questions a fair model cannot answer from the text (who is the CEO when the text does not say),"
        " with the subjects swapped and the question negated as controls. A stereotype-consistent rate near 50%"
        " and a bias near 0 points are what an unbiased model shows; see auditkit's README for the formulas.",
        "",
        *lines,
    ]


def model_card(run: Run, model: str) -> str:
    """The Markdown card (with YAML front matter) for ``model`` of ``run``."""
    results = run.results
    if model not in results.models:
        from ..errors import ResultsError

        raise ResultsError(
            f"model {model!r} is not in run {results.run_id}", hint=f"the run's models: {', '.join(results.models)}"
        )
    record = results.models[model]
    jobs = results.jobs_of(model)
    index: dict[str, Any] = yaml.safe_load(model_index(run, model))
    front = yaml.safe_dump({"tags": ["auditkit"], **index}, sort_keys=False, allow_unicode=True)
    uses = list(dict.fromkeys(use for use in (task_class(j.kind).intended_use for j in jobs) if use))
    caveats = [c for c in _caveats(run) if c.startswith((f"{model} ", f"Model {model}:", "Task ", "Performance"))]
    info = record.info
    lines = [
        "---",
        front.rstrip(),
        "---",
        "",
        f"# {model}",
        "",
        "## Model Details",
        "",
        f"- Source: `{record.source}`"
        + (f" (revision {info['resolved_revision']})" if info.get("resolved_revision") else ""),
        f"- Architecture: {info.get('architecture')}, {info.get('parameters')} parameters",
        f"- Fingerprint (config, weights and tokenizer): `{record.fingerprint.get('model_sha256', '')}`",
        "",
        "## Uses",
        "",
        *(uses or ["The tasks this model was evaluated on do not state an intended use."]),
        "",
        "## Out-of-Scope Use",
        "",
        OUT_OF_SCOPE,
        "",
        "## Bias, Risks, and Limitations",
        "",
        *_bias_lines(run, jobs),
        *[f"- {c}" for c in caveats],
        "",
        "## Training Data",
        "",
        "This card was generated by auditkit from an evaluation run; it describes what was measured, not how"
        " the model was trained. Add the training data from the model's own documentation.",
        "",
        "## Evaluation",
        "",
        f"Measured by auditkit {results.auditkit_version} in run `{results.run_id}` (suite `{results.suite.name}`,"
        f" sha256 `{results.suite.sha256[:12]}`), with {int(results.suite.bootstrap['confidence'] * 100)}% bootstrap"
        " intervals over the examples.",
        "",
    ]
    for job in jobs:
        if job.kind != "bias_probe":
            lines += _evaluation_lines(run, job)
    lines += [
        "## Environmental Impact",
        "",
        f"The evaluation ran for {results.wall_seconds:.0f} s on {results.environment.cpu_count} CPU cores"
        f" ({results.environment.machine}, {results.environment.gpu or 'no GPU'}). Training is not covered here.",
        "",
        "## Citation",
        "",
        "Cite the model's authors for the model. The figures above can be reproduced with"
        f" `auditkit run {results.suite.path}` (auditkit {results.auditkit_version}).",
        "",
    ]
    return "\n".join(lines)
