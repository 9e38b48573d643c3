"""Hub-ready evaluation results: ``.eval_results/*.yaml`` entries in the Hub's own format.

The Hub shows a model's scores on benchmark datasets from ``.eval_results/*.yaml`` files in its repo.
auditkit writes them with huggingface_hub's ``EvalResultEntry`` and ``eval_result_entries_to_yaml``, so the
format is the library's, not a copy of it. Those entries appear on the benchmark's leaderboard, so one is
written only for a job whose data *is* a Hub benchmark's whole split: loaded from the Hub by that id and
split, or a file whose content fingerprint is the official split's (``Task.benchmarks``) -- never because
of a file's name or the folder auditkit runs in -- and with every example of it used. Every other job is
named with the reason it was left out. ``notes`` give the interval, since the entry has no field for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import ReportError
from ..results import Run, atomic_write_text
from ..tasks import task_class


@dataclass
class EvalResults:
    """The entries of one model (by task), and the jobs left out with the reason."""

    entries: dict[str, list[Any]] = field(default_factory=dict)  # task -> [EvalResultEntry]
    skipped: dict[str, str] = field(default_factory=dict)


def _hub() -> Any:
    """huggingface_hub with the ``.eval_results`` API (1.x and later); a clear error on older releases."""
    import huggingface_hub

    if not hasattr(huggingface_hub, "EvalResultEntry"):
        raise ReportError(
            f"huggingface_hub {huggingface_hub.__version__} cannot write .eval_results files",
            hint="pip install 'huggingface_hub>=1.0' (transformers 4.57 pins an older one; transformers 5 does not)",
        )
    return huggingface_hub


def eval_results(run: Run, model: str) -> EvalResults:
    """``EvalResultEntry`` objects for ``model``'s jobs on Hub benchmarks, from the stored run."""
    EvalResultEntry = _hub().EvalResultEntry

    results = run.results
    out = EvalResults()
    for job in results.jobs_of(model):
        dataset = results.datasets[job.task]
        task = task_class(job.kind)
        entry = task.model_index_entry(job, dataset)
        if entry is None:
            out.skipped[job.task] = "the task has no model-index entry"
            continue
        benchmark, why = task.benchmark(dataset)
        if benchmark is None:
            out.skipped[job.task] = f"not a Hub benchmark: {why}"
            continue
        if dataset.examples != dataset.total_available:
            out.skipped[job.task] = (
                f"used {dataset.examples} of the {dataset.total_available} examples of {benchmark.name}"
                f" ({dataset.selection}): a leaderboard entry is a score on the whole split"
            )
            continue
        hub_id = benchmark.hub_id
        hub = dataset.details.get("hub")
        revision = hub.get("revision") if isinstance(hub, dict) else None
        used = f"all {dataset.examples} examples"
        metrics = []
        for metric in entry["metrics"]:
            same_value = [k for k in job.metrics if round(float(job.metrics[k].value), 4) == metric["value"]]
            key = metric["type"] if metric["type"] in same_value else (same_value[0] if same_value else None)
            estimate = job.metrics[key] if key is not None else None
            interval = (
                f"; {estimate.confidence:.0%} CI [{estimate.low:.2f}, {estimate.high:.2f}]"
                if estimate is not None and estimate.has_interval
                else ""
            )
            metrics.append(
                EvalResultEntry(
                    dataset_id=hub_id,
                    dataset_revision=revision,
                    task_id=f"{benchmark.config}-{metric['type']}",
                    value=metric["value"],
                    date=results.created,
                    notes=f"{metric['name']} on {used} ({why}){interval}; auditkit {results.auditkit_version},"
                    f" run {results.run_id}",
                )
            )
        out.entries[job.task] = metrics
    return out


def eval_results_texts(run: Run, model: str) -> tuple[dict[str, str], dict[str, str]]:
    """The YAML text of ``.eval_results/<task>.yaml`` for each benchmark job, and what was left out and why:
    everything is made before anything is written, so a failure leaves no half-exported model."""
    found = eval_results(run, model)
    eval_result_entries_to_yaml = _hub().eval_result_entries_to_yaml
    texts = {
        task: yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True)
        for task, entries in found.entries.items()
    }
    return texts, found.skipped


def write_eval_results(out_dir: str | Path, texts: dict[str, str]) -> list[Path]:
    """Write ``<out_dir>/.eval_results/<task>.yaml`` for each of ``texts`` (from :func:`eval_results_texts`)."""
    written = []
    for task, text in texts.items():
        target = Path(out_dir) / ".eval_results" / f"{task}.yaml"
        atomic_write_text(target, text)
        written.append(target)
    return written
