"""Pair two jobs that ran on the same examples and compare their metrics, from stored results alone.

Used by comparisons in reports and by significance-aware regression gates, so both read the same
per-example tables the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..core.errors import ResultsError
from ..metrics.compare import Delta, paired_delta
from ..results import Job, Run
from . import task_class
from .sampling import job_column


def align(frame: pd.DataFrame, ids: pd.Series, what: str) -> pd.DataFrame:
    """``frame``'s rows in the order of ``ids``: the one way two runs' examples are lined up (a job stopped early
    uses a prefix of the other's examples); ``what`` names the frame in the error when some are missing."""
    indexed = frame.set_index(frame["id"].astype(str))
    missing = [i for i in ids.astype(str) if i not in indexed.index]
    if missing:
        raise ResultsError(
            f"{what} has no prediction for {len(missing)} of the examples (e.g. {missing[0]!r})",
            hint="evaluate both on the same dataset selection",
        )
    return indexed.loc[ids.astype(str)].reset_index(drop=True)


def paired_deltas(
    run_a: Run,
    job_a: Job,
    run_b: Run,
    job_b: Job,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    metrics: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[Delta]]:
    """Both jobs' per-example tables (B aligned to A's examples) and B - A for each shared metric (or ``metrics``)."""
    frame_a = run_a.predictions(job_a.model, job_a.task)
    frame_b = run_b.predictions(job_b.model, job_b.task)
    ids_a, ids_b = set(frame_a["id"]), set(frame_b["id"])
    if ids_a != ids_b:
        raise ResultsError(
            f"{job_a.model} · {job_a.task} and {job_b.model} · {job_b.task} were evaluated on different examples"
            f" ({len(ids_a - ids_b)} only in A, {len(ids_b - ids_a)} only in B): they cannot be paired",
            hint="evaluate both on the same dataset selection (the same file, limit or sample and seed)",
        )
    frame_b = align(frame_b, frame_a["id"], f"{job_b.model} · {job_b.task}")
    task = task_class(job_a.kind)
    defs_a, defs_b = task.metric_defs(frame_a, job_a), task.metric_defs(frame_b, job_b)
    names = metrics if metrics is not None else [name for name in defs_a if name in defs_b]
    deltas = [
        paired_delta(
            name,
            defs_a[name],
            defs_b[name],
            value_a=job_a.metrics[name].value,
            value_b=job_b.metrics[name].value,
            resamples=resamples,
            confidence=confidence,
            seed=seed,
            column=job_column(job_a, task),
        )
        for name in names
    ]
    return frame_a, frame_b, deltas
