"""The typed results of a run: what ``results.json`` holds, as pydantic models with a schema version.

Every writer builds these models and every reader consumes them, so a renamed field fails at the
type checker or at validation, never silently in a report. The JSON Schema of :class:`Results` ships
with the package (``auditkit/results/results.schema.json``, regenerate it with
``python -m auditkit.results.schema``) for tools outside Python.

This module imports only pydantic: reading a finished run needs neither torch nor transformers.

Task-specific figures (``Job.details``) stay free-form JSON here: each task owns their shape and is
the only reader (through the task registry).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Bumped whenever a field changes meaning or disappears; readers migrate older versions (see ``migrate``).
SCHEMA_VERSION: Literal[2] = 2

JSONDict = dict[str, Any]


class Record(BaseModel):
    """Strict: an unknown field is an error, so writers and readers cannot drift apart."""

    model_config = ConfigDict(extra="forbid")


class MetricEstimate(Record):
    """A metric's point value with its bootstrap interval, on the metric's own scale (see the task's metric info)."""

    value: float
    low: float
    high: float
    confidence: float
    resamples: int
    n: int | None = Field(default=None, description="examples the value is computed over")
    interval: (
        Literal[
            "bootstrap percentile",
            "cluster bootstrap percentile",
            "anytime-valid confidence sequence",
            "too few clusters",
            "none",
        ]
        | None
    ) = Field(
        default=None,
        description="how low/high were made (None: bootstrap percentile, the default; cluster bootstrap: whole"
        " clusters resampled; too few clusters: the examples come from fewer clusters than an interval needs;"
        " none: a plug-in metric computed once, without an interval; in both, low and high equal the value)",
    )

    @property
    def has_interval(self) -> bool:
        """Whether low/high are an interval worth showing (not a plug-in's point value, not NaN)."""
        return (
            self.interval not in ("none", "too few clusters") and math.isfinite(self.low) and math.isfinite(self.high)
        )


class Failure(Record):
    id: str
    error: str
    attempts: int


class FailureRecord(Record):
    """An endpoint job's failure accounting: failed examples are counted, listed and excluded from metrics."""

    count: int
    total: int
    rate: float
    max_rate: float
    examples: list[Failure]
    excluded_from_scoring: int | None = None


class Timing(Record):
    """How long a job took and how it was batched; which fields exist depends on the model kind."""

    wall_seconds: float | None = None
    examples: int | None = None
    examples_per_second: float | None = None
    windows: int | None = None
    chunks: int | None = None
    cached: bool | None = None
    resumed_chunks: int | None = None
    batch_size_used: int | None = None
    activation: str | None = None
    model_labels: list[str] | None = None
    target_label: str | None = None
    batches: int | None = None
    batch_latency_ms_p50: float | None = None
    batch_latency_ms_p95: float | None = None
    batch_latency_ms_p99: float | None = None
    batch_latency_ms_mean: float | None = None
    model_seconds: float | None = None
    items_per_second: float | None = None
    tokens_per_second: float | None = None
    warmup_seconds: float | None = None
    partial_batches_dropped: int | None = Field(
        default=None, description="chunk-final partial batches left out of the batch latencies (run in looks)"
    )
    batch_seconds: list[float] | None = None
    batch_items: list[int] | None = None
    batch_tokens: list[int] | None = None
    single_request_examples: int | None = None
    single_request_ms_p50: float | None = None
    single_request_ms_p95: float | None = None
    single_request_ms_p99: float | None = None
    single_request_ms_mean: float | None = None
    single_request_seconds: list[float] | None = None
    requests: int | None = None
    attempts: int | None = None
    retries: int | None = None
    retry_waits: list[float] | None = None
    latency_scope: Literal["request"] | None = None
    request_latency_ms_p50: float | None = None
    request_latency_ms_p95: float | None = None
    request_latency_ms_p99: float | None = None
    request_latency_ms_mean: float | None = None
    request_seconds: list[float] | None = None

    def get(self, key: str) -> float | None:
        """A scalar timing figure by name (gates address them as ``latency.<key>``); None when absent."""
        value = getattr(self, key, None)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class SamplingRecord(Record):
    """How a job's examples were sampled: the unit that counts as one independent draw, and its cost.

    With clusters (SQuAD questions by article, probes by template) the intervals, gates and comparisons
    treat the clusters as the draws, so they speak about the population of clusters (articles like these),
    not only the examples at hand. ``design_effect`` is the headline metric's variance under clustering over
    its variance as if every example were independent (1: no cost; 3: the examples are worth a third).
    """

    unit: str = Field(description="'example' (independent) or the task's unit: article, paragraph, template")
    column: str | None = Field(default=None, description="the per-example column naming each example's cluster")
    n: int
    n_clusters: int | None = None
    design_effect: float | None = None
    metric: str | None = Field(default=None, description="the metric the design effect was measured on")


class SequentialRecord(Record):
    """How a job run with ``--until-decided`` stopped: its predictions are stored in the order they were seen."""

    n_used: int
    n_available: int
    look_every: int
    order_seed: int = Field(description="the suite's seed; the order no longer depends on it (see 'order')")
    order: str | None = Field(
        default=None,
        description="the order the examples were seen in: 'canonical:<sha256>' is derived from the data alone,"
        " so it cannot be chosen (auditkit gate checks it)",
    )
    horizon: int | None = Field(
        default=None,
        description="the most observations the run could reach, fixed before it started (examples, or clusters"
        " when clustered): half of each anytime test's bets aim to decide by then",
    )
    looks: list[int] = Field(description="examples seen at each look")
    stopped: Literal["decided", "exhausted", "not sequential"]
    reason: str
    alpha: float = Field(
        description="the one-sided level each gate's test stopped at (alpha / (2 x tested gates), Bonferroni)"
    )


class Job(Record):
    """One (model, task) evaluation: its fingerprints, parameters, metrics, task details and timing."""

    model: str
    task: str
    kind: str
    dataset_fingerprint: str
    model_fingerprint: str
    params_fingerprint: str
    params: JSONDict
    metrics: dict[str, MetricEstimate]
    details: JSONDict = Field(description="task-specific figures; the task kind owns their shape")
    timing: Timing
    notes: list[str] = Field(default_factory=list)
    predictions: str = Field(description="per-example table, relative to the run directory")
    failures: FailureRecord | None = None
    sequential: SequentialRecord | None = None
    sampling: SamplingRecord | None = None


class ModelRecord(Record):
    """Where a model came from, its fingerprints and how it ran."""

    source: str
    fingerprint: dict[str, str]
    info: JSONDict
    warnings: list[str] = Field(default_factory=list, description="what the checkpoint says that the run did not do")


class DatasetRecord(Record):
    """A job's data: where it came from, its content fingerprint, which examples were used, what it says of itself."""

    @model_validator(mode="before")
    @classmethod
    def _details_of_earlier_runs(cls, data: Any) -> Any:
        """Runs before 0.3 kept two kinds' details as fields of their own; they are details now."""
        if isinstance(data, dict) and ("squad_version" in data or "probe_set" in data):
            data = dict(data)
            legacy = {k: data.pop(k) for k in ("squad_version", "probe_set") if k in data}
            data["details"] = {**{k: v for k, v in legacy.items() if v is not None}, **data.get("details", {})}
        return data

    source: str
    fingerprint: str
    source_fingerprint: str | None = Field(
        default=None,
        description="content fingerprint of every example the source holds, before any selection: identifies a"
        " benchmark's official split (older runs lack it)",
    )
    examples: int
    total_available: int
    selection: str
    kind: str
    label_names: list[str] | None = None
    details: JSONDict = Field(
        default_factory=dict,
        description="what the data says of itself, as its task reads it (SQuAD's version, a probe set's description)",
    )
    warnings: list[str] = Field(default_factory=list, description="what the data said that the suite did not expect")


class SuiteRecord(Record):
    name: str
    description: str | None = None
    path: str = Field(
        description="the suite file, relative to the run directory ('<in-memory suite>' for one made in Python)"
    )
    base: str | None = Field(
        default=None,
        description="the folder the spec's paths (data, models, cards, baseline) are relative to, relative to the run"
        " directory: the suite file's folder, or the working directory for a suite made in Python (older runs: none,"
        " their paths were relative to the working directory)",
    )
    sha256: str
    seed: int
    bootstrap: JSONDict
    spec: JSONDict


class Environment(Record):
    python: str
    platform: str
    machine: str
    cpu_count: int | None
    cpu_features: list[str] = Field(default_factory=list)
    torch_threads: int
    packages: dict[str, str | None]
    cuda: str | None
    gpu: str | None


class RunnerRecord(Record):
    kind: Literal["local", "ray"]
    ray_version: str | None = None
    workers: int | None = None
    address: str | None = None


class Results(Record):
    """Everything a run measured. Reports, gates, audits and exports are made from this and the predictions."""

    schema_version: Literal[2] = 2
    status: Literal["complete"] = "complete"
    run_id: str
    created: str
    command: str
    auditkit_version: str
    suite: SuiteRecord
    environment: Environment
    models: dict[str, ModelRecord]
    datasets: dict[str, DatasetRecord]
    jobs: list[Job]
    runner: RunnerRecord
    wall_seconds: float

    def jobs_of(self, model: str) -> list[Job]:
        return [job for job in self.jobs if job.model == model]


def migrate(data: JSONDict) -> JSONDict:
    """Bring an older results.json up to :data:`SCHEMA_VERSION` (version 1: auditkit 0.1's first format).

    Version 1 kept gate verdicts and card audits inside results.json; they now live in their own files
    beside it, so they are dropped here (re-run ``auditkit gate`` / ``audit-card`` to remake them).
    """
    if data.get("auditkit_results_version") == 1 and "schema_version" not in data:
        data = {k: v for k, v in data.items() if k not in ("auditkit_results_version", "gates", "card_audits")}
        data["schema_version"] = SCHEMA_VERSION
    return data
