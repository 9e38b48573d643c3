"""Results: the typed model of what a run measured (:mod:`.model`) and the run directory holding it (:mod:`.store`)."""

from __future__ import annotations

from .model import SCHEMA_VERSION, Job, MetricEstimate, Results, SamplingRecord, SequentialRecord, Timing
from .store import (
    LATEST,
    MANIFEST_FILE,
    RESULTS_FILE,
    Run,
    RunWriter,
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
    load_predictions,
    load_results,
    load_run,
    resolve_run_dir,
    verify_run,
)

__all__ = [
    "LATEST",
    "MANIFEST_FILE",
    "RESULTS_FILE",
    "SCHEMA_VERSION",
    "Job",
    "MetricEstimate",
    "Results",
    "Run",
    "RunWriter",
    "SamplingRecord",
    "SequentialRecord",
    "Timing",
    "atomic_write_json",
    "atomic_write_parquet",
    "atomic_write_text",
    "load_predictions",
    "load_results",
    "load_run",
    "resolve_run_dir",
    "verify_run",
]
