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

    value: float = Field(description="the metric over every example used, on the metric's own scale")
    low: float = Field(description="lower end of the interval")
    high: float = Field(description="upper end of the interval")
    confidence: float = Field(description="the interval's level (0.95)")
    resamples: int = Field(description="bootstrap resamples behind the interval (0 when it was not bootstrapped)")
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
    id: str = Field(description="the example's id")
    error: str = Field(description="what went wrong, redacted (no secrets)")
    attempts: int = Field(description="requests made for it, retries included")


class FailureRecord(Record):
    """An endpoint job's failure accounting: failed examples are counted, listed and excluded from metrics."""

    count: int = Field(description="examples that failed after their retries")
    total: int = Field(description="examples the job tried")
    rate: float = Field(description="count / total")
    max_rate: float = Field(description="the model's max_failure_rate: more fails the endpoint-failures gate")
    examples: list[Failure] = Field(description="every failed example")
    excluded_from_scoring: int | None = Field(
        default=None, description="examples left out of the metrics because they failed"
    )


class Timing(Record):
    """How long a job took and how it was batched; which fields exist depends on the model kind."""

    wall_seconds: float | None = Field(default=None, description="the job's wall time, model load excluded")
    examples: int | None = Field(default=None, description="examples predicted")
    examples_per_second: float | None = Field(default=None, description="examples / wall_seconds")
    windows: int | None = Field(default=None, description="QA: windows the contexts were cut into")
    rechecked: int | None = Field(
        default=None,
        description="under a re-checking fast mode (recheck_margin): close calls predicted again in float32",
    )
    chunks: int | None = Field(default=None, description="chunks of examples the job ran in (the cache's unit)")
    cached: bool | None = Field(default=None, description="every chunk came from the prediction cache")
    resumed_chunks: int | None = Field(
        default=None, description="chunks taken from the cache of an interrupted earlier run"
    )
    calibration_examples: int | None = Field(
        default=None,
        description="examples fast_mode: auto's calibration had already predicted in the mode that ran (taken, not"
        " predicted again; their share of the calibration's time is in wall_seconds)",
    )
    batch_size_used: int | None = Field(default=None, description="the batch size that held (halved on out-of-memory)")
    activation: str | None = Field(
        default=None, description="classification: the function applied to the logits (softmax, sigmoid, none)"
    )
    model_labels: list[str] | None = Field(default=None, description="classification: the model's labels, in id order")
    target_label: str | None = Field(
        default=None, description="bias probes on a classifier: the label whose score is compared"
    )
    batches: int | None = Field(default=None, description="timed batches (after one untimed warm-up batch)")
    batch_latency_ms_p50: float | None = Field(default=None, description="median batch latency")
    batch_latency_ms_p95: float | None = Field(default=None, description="95th percentile of batch latency")
    batch_latency_ms_p99: float | None = Field(default=None, description="99th percentile of batch latency")
    batch_latency_ms_mean: float | None = Field(default=None, description="mean batch latency")
    model_seconds: float | None = Field(default=None, description="time inside the model's forward passes")
    items_per_second: float | None = Field(
        default=None, description="windows (QA) or texts per second through the model"
    )
    tokens_per_second: float | None = Field(
        default=None, description="real (unpadded) tokens per second through the model"
    )
    warmup_seconds: float | None = Field(default=None, description="the untimed warm-up batch")
    partial_batches_dropped: int | None = Field(
        default=None, description="chunk-final partial batches left out of the batch latencies (run in looks)"
    )
    batch_seconds: list[float] | None = Field(default=None, description="every timed batch's latency, in order")
    batch_items: list[int] | None = Field(default=None, description="items in each timed batch")
    batch_tokens: list[int] | None = Field(default=None, description="real tokens in each timed batch")
    single_request_examples: int | None = Field(
        default=None, description="examples timed one at a time (single_request_latency)"
    )
    single_request_ms_p50: float | None = Field(default=None, description="median single-request latency")
    single_request_ms_p95: float | None = Field(default=None, description="95th percentile of single-request latency")
    single_request_ms_p99: float | None = Field(default=None, description="99th percentile of single-request latency")
    single_request_ms_mean: float | None = Field(default=None, description="mean single-request latency")
    single_request_seconds: list[float] | None = Field(
        default=None, description="every single request's latency, in order"
    )
    requests: int | None = Field(default=None, description="endpoints: HTTP requests that got an answer")
    attempts: int | None = Field(default=None, description="endpoints: HTTP requests made, retries included")
    retries: int | None = Field(default=None, description="endpoints: retried requests")
    retry_waits: list[float] | None = Field(default=None, description="endpoints: seconds waited before each retry")
    latency_scope: Literal["request"] | None = Field(
        default=None, description="'request': latencies are client-side, end to end, per request (endpoints)"
    )
    request_latency_ms_p50: float | None = Field(default=None, description="endpoints: median request latency")
    request_latency_ms_p95: float | None = Field(
        default=None, description="endpoints: 95th percentile of request latency"
    )
    request_latency_ms_p99: float | None = Field(
        default=None, description="endpoints: 99th percentile of request latency"
    )
    request_latency_ms_mean: float | None = Field(default=None, description="endpoints: mean request latency")
    request_seconds: list[float] | None = Field(
        default=None, description="endpoints: every request's latency, in order"
    )

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
    n: int = Field(description="examples")
    n_clusters: int | None = Field(
        default=None, description="clusters the examples came from (None: examples are the unit)"
    )
    design_effect: float | None = Field(
        default=None,
        description="the headline metric's variance under clustering over its variance as if examples were independent",
    )
    metric: str | None = Field(default=None, description="the metric the design effect was measured on")


class SequentialRecord(Record):
    """How a job run with ``--until-decided`` stopped: its predictions are stored in the order they were seen."""

    n_used: int = Field(description="examples seen before the job stopped")
    n_available: int = Field(description="examples the job could have seen")
    look_every: int = Field(description="examples between two looks")
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
    stopped: Literal["decided", "exhausted", "not sequential"] = Field(
        description="decided: every gate decided early; exhausted: every example was seen; not sequential: the job"
        " ran in full"
    )
    reason: str = Field(description="why the job stopped, or ran in full, in words")
    alpha: float = Field(
        description="the one-sided level each gate's test stopped at (alpha / (2 x tested gates), Bonferroni)"
    )


class Job(Record):
    """One (model, task) evaluation: its fingerprints, parameters, metrics, task details and timing."""

    model: str = Field(description="the model's name in the suite")
    task: str = Field(description="the task's name in the suite")
    kind: str = Field(description="the task kind (extractive_qa, classification, bias_probe, nli, or a plug-in's)")
    dataset_fingerprint: str = Field(description="content fingerprint of the examples used")
    model_fingerprint: str = Field(description="fingerprint of the model (config, weights, tokenizer)")
    params_fingerprint: str = Field(description="fingerprint of the task parameters")
    params: JSONDict = Field(description="the task parameters, as run")
    metrics: dict[str, MetricEstimate] = Field(description="every metric with its interval, by name")
    details: JSONDict = Field(description="task-specific figures; the task kind owns their shape")
    timing: Timing = Field(description="how long the job took and how it was batched")
    notes: list[str] = Field(default_factory=list, description="what the reader should know about this job")
    predictions: str = Field(description="per-example table, relative to the run directory")
    failures: FailureRecord | None = Field(default=None, description="endpoints: the examples that failed")
    sequential: SequentialRecord | None = Field(default=None, description="--until-decided: how the job stopped")
    sampling: SamplingRecord | None = Field(default=None, description="the sampling unit and its cost")


class ModelRecord(Record):
    """Where a model came from, its fingerprints and how it ran."""

    source: str = Field(description="hub id, local directory or build recipe, as the suite names it")
    fingerprint: dict[str, str] = Field(description="sha256 of the config, weights and tokenizer")
    info: JSONDict = Field(
        description="how the model ran: device, dtype, fast mode, resolved hub revision, parameters, ..."
    )
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

    source: str = Field(description="the file or hub id the examples came from")
    fingerprint: str = Field(description="content fingerprint of the examples used")
    source_fingerprint: str | None = Field(
        default=None,
        description="content fingerprint of every example the source holds, before any selection: identifies a"
        " benchmark's official split (older runs lack it)",
    )
    examples: int = Field(description="examples used")
    total_available: int = Field(description="examples the source holds")
    selection: str = Field(description="which examples were used (all, the first N, a seeded sample, some articles)")
    kind: str = Field(description="the task kind the data was read for")
    label_names: list[str] | None = Field(default=None, description="classification: label names in index order")
    details: JSONDict = Field(
        default_factory=dict,
        description="what the data says of itself, as its task reads it (SQuAD's version, a probe set's description)",
    )
    warnings: list[str] = Field(default_factory=list, description="what the data said that the suite did not expect")


class SuiteRecord(Record):
    name: str = Field(description="the suite's name")
    description: str | None = Field(default=None, description="the suite's description")
    path: str = Field(
        description="the suite file, relative to the run directory ('<in-memory suite>' for one made in Python)"
    )
    base: str | None = Field(
        default=None,
        description="the folder the spec's paths (data, models, cards, baseline) are relative to, relative to the run"
        " directory: the suite file's folder, or the working directory for a suite made in Python (older runs: none,"
        " their paths were relative to the working directory)",
    )
    sha256: str = Field(description="sha256 of the suite file's bytes")
    seed: int = Field(description="the suite's seed")
    bootstrap: JSONDict = Field(description="the bootstrap settings of the metric tables")
    spec: JSONDict = Field(description="the validated suite, as run")


class Environment(Record):
    python: str = Field(description="Python version")
    platform: str = Field(description="operating system")
    machine: str = Field(description="CPU architecture")
    cpu_count: int | None = Field(description="logical CPUs")
    cpu_features: list[str] = Field(
        default_factory=list, description="CPU features that change speed or exactness (avx512_bf16, amx_bf16, ...)"
    )
    torch_threads: int = Field(description="torch's intra-op threads")
    packages: dict[str, str | None] = Field(
        description="versions of torch, transformers and the other packages that change results"
    )
    cuda: str | None = Field(description="CUDA version, when a GPU was used")
    gpu: str | None = Field(description="the GPU's name, when one was used")


class RunnerRecord(Record):
    kind: Literal["local", "ray"] = Field(description="local or ray")
    ray_version: str | None = Field(default=None, description="Ray's version (ray runner)")
    workers: int | None = Field(default=None, description="model copies per model (ray runner)")
    address: str | None = Field(default=None, description="the Ray cluster's address (ray runner)")


class Results(Record):
    """Everything a run measured. Reports, gates, audits and exports are made from this and the predictions."""

    schema_version: Literal[2] = Field(default=2, description="this file's schema version; readers migrate older ones")
    status: Literal["complete"] = Field(
        default="complete", description="always complete: an incomplete run is never published"
    )
    run_id: str = Field(description="the run's id (its folder's name)")
    created: str = Field(description="when the run started (ISO 8601, UTC offset)")
    command: str = Field(description="the command line that made the run")
    auditkit_version: str = Field(description="auditkit's version")
    suite: SuiteRecord = Field(description="the suite that was run")
    environment: Environment = Field(description="the machine and the package versions")
    models: dict[str, ModelRecord] = Field(description="every model, by name")
    datasets: dict[str, DatasetRecord] = Field(description="every task's data, by task name")
    jobs: list[Job] = Field(description="every (model, task) evaluation")
    runner: RunnerRecord = Field(description="where the jobs ran")
    wall_seconds: float = Field(description="the whole run's wall time")

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
