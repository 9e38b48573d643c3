"""Pair two jobs that ran on the same examples and compare their metrics, from stored results alone.

Used by comparisons in reports and by significance-aware regression gates, so both read the same
per-example tables the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .metrics.compare import Delta, paired_delta
from .results import load_predictions
from .tasks import TASKS


def paired_deltas(run_a: dict[str, Any], job_a: dict[str, Any], run_b: dict[str, Any], job_b: dict[str, Any], *, resamples: int,
                  confidence: float, seed: int, metrics: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[Delta]]:
    """Both jobs' per-example tables (B aligned to A's examples) and B - A for each shared metric (or ``metrics``)."""
    frame_a = load_predictions(run_a["_dir"], job_a["model"], job_a["task"])
    frame_b = load_predictions(run_b["_dir"], job_b["model"], job_b["task"]).set_index("id").loc[frame_a["id"]].reset_index()
    task = TASKS[job_a["kind"]]
    defs_a, defs_b = task.metric_defs(frame_a, job_a), task.metric_defs(frame_b, job_b)
    names = metrics if metrics is not None else [name for name in defs_a if name in defs_b]
    deltas = [paired_delta(name, defs_a[name], defs_b[name], value_a=job_a["metrics"][name]["value"], value_b=job_b["metrics"][name]["value"],
                           resamples=resamples, confidence=confidence, seed=seed) for name in names]
    return frame_a, frame_b, deltas
