"""The sampling unit of a task's examples: which column names each example's cluster, and what it costs.

SQuAD questions come many to an article and bias probes many to a template; treating them as independent
makes every interval too narrow. A task kind declares its units (``Task.cluster_units``, the first is the
default) and a suite may pick another or ``none`` (``tasks[].cluster``). Everything that judges
uncertainty -- metric intervals, gates, comparisons, plans and ``--until-decided`` -- reads the unit from
the job's :class:`~auditkit.results.SamplingRecord`, so a run is always re-decided the way it was run.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..core.errors import SuiteError
from ..metrics.stats import MetricDef
from ..results.model import Job, MetricEstimate, SamplingRecord
from ..spec.schema import BootstrapSpec
from ..stats import cluster_means, design_effect
from .base import Task

NONE = "none"
#: Fewer clusters than this get no bootstrap interval in the metric tables: resampling two or three clusters
#: has only a handful of outcomes, and its percentiles would pretend to a precision nobody has.
MIN_CLUSTERS = 5


def unit_column(task: type[Task[Any]], unit: str | None) -> tuple[str, str | None]:
    """(unit name, per-example column) for a suite's ``cluster:`` value (None: the task's default)."""
    units = task.cluster_units
    if unit is None:
        return next(iter(units.items()), ("example", None))
    if unit in (NONE, "example"):
        return "example", None
    if unit not in units:
        known = ", ".join([*units, NONE])
        raise SuiteError(
            f"cluster: {unit!r} is not a sampling unit of task kind {task.kind!r}",
            hint=f"use one of: {known}",
        )
    return unit, units[unit]


def job_column(job: Job, task: type[Task[Any]]) -> str | None:
    """The cluster column a job was run with (runs older than the record: the task's default unit)."""
    if job.sampling is not None:
        return job.sampling.column
    return unit_column(task, None)[1]


def clusters_for(defn: MetricDef, column: str | None, keep: np.ndarray | None = None) -> np.ndarray | None:
    """The cluster labels of ``defn``'s rows (only the rows where ``keep`` holds), or None when independent."""
    labels = defn.clusters(column)
    if labels is None:
        return None
    return labels if keep is None else labels[keep]


def defined_values(defn: MetricDef, column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """A mean metric's per-example values on the metric's scale (rows outside its subset dropped) and their
    clusters."""
    assert defn.values is not None
    values = np.asarray(defn.values, dtype=np.float64)
    keep = ~np.isnan(values)
    return values[keep] * defn.scale, clusters_for(defn, column, keep)


def sampling_record(
    task: type[Task[Any]], unit: str | None, defs: dict[str, MetricDef], headline: str | None, n: int
) -> SamplingRecord:
    """The job's sampling record: its unit, how many clusters, and the headline metric's design effect."""
    name, column = unit_column(task, unit)
    defn = defs.get(headline or "") or next((d for d in defs.values() if d.values is not None), None)
    if column is None or defn is None or defn.groups is None or column not in defn.groups:
        return SamplingRecord(unit="example", column=None, n=n)
    metric = headline if headline in defs else next(k for k, d in defs.items() if d is defn)
    labels = defn.clusters(column)
    assert labels is not None
    n_clusters = len(set(labels.tolist()))
    deff = None
    if defn.values is not None:
        values = np.asarray(defn.values, dtype=np.float64)
        keep = ~np.isnan(values)
        deff = design_effect(values[keep], cluster_means(values[keep], labels[keep])[0])
    return SamplingRecord(unit=name, column=column, n=n, n_clusters=n_clusters, design_effect=deff, metric=metric)


def clustered_intervals(
    job: Job, defs: dict[str, MetricDef], column: str | None, bootstrap: BootstrapSpec, seed: int
) -> dict[str, MetricEstimate]:
    """The job's metrics with intervals from resampling whole clusters (the value stays the task's own)."""
    out = dict(job.metrics)
    if column is None:
        return out
    for name, est in job.metrics.items():
        defn = defs.get(name)
        labels = None if defn is None else defn.clusters(column)
        if defn is None or labels is None or est.interval not in (None, "bootstrap percentile"):
            continue
        if len(set(labels.tolist())) < MIN_CLUSTERS:  # too few draws to say anything about other clusters
            out[name] = est.model_copy(update={"low": est.value, "high": est.value, "interval": "too few clusters"})
            continue
        redone = defn.estimate(**bootstrap.settings(seed), value=est.value, clusters=labels)
        floor, ceiling = defn.bounds[0] * defn.scale, defn.bounds[1] * defn.scale  # the widening stays in range
        out[name] = est.model_copy(
            update={
                "low": min(max(redone.low, floor), ceiling),
                "high": min(max(redone.high, floor), ceiling),
                "interval": "cluster bootstrap percentile",
            }
        )
    return out


def canonical_order(ids: list[str], clusters: list[str] | None, fingerprint: str) -> list[int]:
    """The order ``--until-decided`` sees examples in: a fixed function of the data, never a free choice.

    A run that may stop early could otherwise be repeated with other seeds until one order says GO (each
    try is a new chance to be wrong). Here every example and every cluster gets the SHA-256 of its id keyed
    by the dataset's fingerprint, and the order follows those keys: the same data always gives the same
    order, and ``auditkit gate`` re-derives it to check a sequential run. With clusters the order has two
    phases (see :func:`auditkit.stats.decide_threshold`): the first example of every cluster, clusters in key
    order, then the rest of each cluster, cluster by cluster. Returns positions into ``ids``.
    """

    def key(text: str) -> str:
        return hashlib.sha256(f"{fingerprint}\x00{text}".encode()).hexdigest()

    by_id = sorted(range(len(ids)), key=lambda i: key(ids[i]))
    if clusters is None:
        return by_id
    members: dict[str, list[int]] = {}
    for i in sorted(by_id, key=lambda i: key("cluster\x00" + clusters[i])):  # stable: ids in key order within
        members.setdefault(clusters[i], []).append(i)
    return [group[0] for group in members.values()] + [i for group in members.values() for i in group[1:]]


def order_digest(ids: list[str]) -> str:
    """``canonical:<sha256>`` of the ids in the order seen (recorded, and compared by ``auditkit gate``)."""
    return "canonical:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()
