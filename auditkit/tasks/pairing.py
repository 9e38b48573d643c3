"""Pair two jobs that ran on the same examples and compare their metrics, from stored results alone.

Used by comparisons in reports and by significance-aware regression gates, so both read the same
per-example tables the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def stopped_early(job: Job) -> bool:
    """Whether ``job`` saw only a prefix of its examples (``--until-decided`` decided its gates first)."""
    return job.sequential is not None and job.sequential.n_used < job.sequential.n_available


def common_examples(
    job_a: Job, frame_a: pd.DataFrame, job_b: Job, frame_b: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Both per-example tables on the examples both jobs saw, in A's order, and a note when that is not all.

    Two jobs on the same dataset selection differ only when ``--until-decided`` stopped one (or both) early:
    both saw a prefix of the same canonical order, so the shorter prefix is what they share. Anything else
    (other files, samples or seeds) cannot be paired and is refused.
    """
    ids_a, ids_b = set(frame_a["id"].astype(str)), set(frame_b["id"].astype(str))
    if ids_a == ids_b:
        return frame_a, align(frame_b, frame_a["id"], f"{job_b.model} · {job_b.task}"), None
    same_selection = job_a.dataset_fingerprint == job_b.dataset_fingerprint
    if not same_selection or not (stopped_early(job_a) or stopped_early(job_b)) or not ids_a & ids_b:
        raise ResultsError(
            f"{job_a.model} · {job_a.task} and {job_b.model} · {job_b.task} were evaluated on different examples"
            f" ({len(ids_a - ids_b)} only in A, {len(ids_b - ids_a)} only in B): they cannot be paired",
            hint="evaluate both on the same dataset selection (the same file, limit or sample and seed)",
        )
    shared = frame_a[frame_a["id"].astype(str).isin(ids_b)].reset_index(drop=True)
    early = [f"{job.model} · {job.task}" for job in (job_a, job_b) if stopped_early(job)]
    note = (
        f"compared on the {len(shared)} examples both saw: {' and '.join(early)} stopped early with"
        " --until-decided; a descriptive comparison on a prefix chosen by that stop, not a release decision"
    )
    return shared, align(frame_b, shared["id"], f"{job_b.model} · {job_b.task}"), note


@dataclass(frozen=True)
class Paired:
    """Two jobs lined up example by example, their metric changes, and what was left out (``note``)."""

    frame_a: pd.DataFrame
    frame_b: pd.DataFrame
    deltas: list[Delta]
    note: str | None


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
) -> Paired:
    """Both jobs' per-example tables (B aligned to A's examples) and B - A for each shared metric (or ``metrics``),
    on the examples both saw (see :func:`common_examples`)."""
    frame_a, frame_b, note = common_examples(
        job_a, run_a.predictions(job_a.model, job_a.task), job_b, run_b.predictions(job_b.model, job_b.task)
    )
    task = task_class(job_a.kind)
    defs_a, defs_b = task.metric_defs(frame_a, job_a), task.metric_defs(frame_b, job_b)
    names = metrics if metrics is not None else [name for name in defs_a if name in defs_b]
    deltas = [
        paired_delta(
            name,
            defs_a[name],
            defs_b[name],
            value_a=job_a.metrics[name].value if note is None else defs_a[name].value(),
            value_b=job_b.metrics[name].value if note is None else defs_b[name].value(),
            resamples=resamples,
            confidence=confidence,
            seed=seed,
            column=job_column(job_a, task),
        )
        for name in names
    ]
    return Paired(frame_a, frame_b, deltas, note)
