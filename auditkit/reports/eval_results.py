"""Hub-ready evaluation results: ``.eval_results/*.yaml`` entries in the Hub's own format.

The Hub shows a model's scores on benchmark datasets from ``.eval_results/*.yaml`` files in its repo.
auditkit writes them with huggingface_hub's ``EvalResultEntry`` and ``eval_result_entries_to_yaml``, so the
format is the library's, not a copy of it. One entry per headline metric of each job whose data is a Hub
benchmark (each task kind names its own: ``Task.hub_datasets``); bias probes are auditkit's own probe sets,
not Hub datasets, and are left out (and named as such). ``notes`` say how many examples were used and the
interval, since the Hub entry itself has no field for either.
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
        hub_id = task.hub_datasets.get(str(entry["dataset"].get("type", "")))
        if hub_id is None:
            out.skipped[job.task] = f"{entry['dataset'].get('type')} is not a Hub benchmark dataset"
            continue
        used = f"{dataset.examples} of {dataset.total_available} examples ({dataset.selection})"
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
                    task_id=f"{entry['dataset'].get('config', 'default')}-{metric['type']}",
                    value=metric["value"],
                    date=results.created,
                    notes=f"{metric['name']} on {used}{interval}; auditkit {results.auditkit_version},"
                    f" run {results.run_id}",
                )
            )
        out.entries[job.task] = metrics
    return out


def write_eval_results(run: Run, model: str, out_dir: str | Path) -> tuple[list[Path], dict[str, str]]:
    """Write ``<out_dir>/.eval_results/<task>.yaml`` for each benchmark job; return the files and what was skipped."""
    found = eval_results(run, model)
    eval_result_entries_to_yaml = _hub().eval_result_entries_to_yaml
    written = []
    for task, entries in found.entries.items():
        target = Path(out_dir) / ".eval_results" / f"{task}.yaml"
        text = yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True)
        atomic_write_text(target, text)
        written.append(target)
    return written, found.skipped
