"""What every task kind provides, from the suite spec to the report.

A task kind is one module with a :class:`Task` subclass registered in :data:`auditkit.tasks.TASKS`.
It owns its behaviour end to end:

* running: its suite spec (``Spec``), the model head it needs, prediction and scoring;
* meaning: its metrics' names, units, ranges and directions (``metrics``), and the figures gates can
  read beyond them (:meth:`figures`);
* reading results: its report section (:meth:`job_view`, plus an optional template partial), its
  Hugging Face model-index entry (:meth:`model_index_entry`), the dataset names model-card claims
  use for it (:meth:`claim_dataset`), and how comparisons pair its examples (``pairing``).

Prediction (model -> per-example outputs) and scoring (outputs + gold -> per-example scores and
metrics) are separate steps, so stored predictions can be re-scored, cached and compared without
running a model again. Everything that reads results works from the typed job record and the stored
per-example table alone, and never imports torch: the model and engine types are for type checking.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar

import pandas as pd

from ..data import DatasetRequest, Parsed, Rows
from ..data.types import Dataset
from ..metrics.info import MetricInfo
from ..metrics.stats import Estimate, MetricDef
from ..results.model import DatasetRecord, Job
from ..spec.schema import BootstrapSpec, ModelSpec, TaskSpecBase
from ..views import JobView, md_escape, missing_interval

if TYPE_CHECKING:
    from ..engine.types import ProgressSink
    from ..models import Head, Model


@dataclass
class Predictions:
    """A model's per-example outputs for one task, plus how long producing them took.

    ``failures`` lists examples an endpoint could not answer after its retries (``id``, ``error``,
    ``attempts``); they have no row in ``frame``.
    """

    frame: pd.DataFrame
    timing: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Scores:
    """Per-example scores joined to predictions and gold, headline metrics with CIs, and details for reports."""

    per_example: pd.DataFrame
    metrics: dict[str, Estimate]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pairing:
    """How two models' per-example tables of this task are compared example by example."""

    score: str  # per-example score column (higher is better): wins, ties and disagreements
    text: str  # the input to show for a disagreement
    gold: str  # the gold column to show


class ViewContext(TypedDict):
    """What a task's report view may use besides its job: the bootstrap settings of the run."""

    seed: int
    resamples: int


class ModelIndexEntry(TypedDict):
    """One ``model-index`` result: the Hub's task, dataset and metrics for a job."""

    task: dict[str, str]
    dataset: dict[str, Any]
    metrics: list[dict[str, Any]]


SpecT = TypeVar("SpecT", bound=TaskSpecBase)


class Task(ABC, Generic[SpecT]):
    """Base class for task kinds (generic in their suite spec); register subclasses with ``@TASKS.register(kind)``."""

    kind: ClassVar[str]
    head: ClassVar[Head]
    Spec: ClassVar[type[TaskSpecBase]]
    #: Every headline metric the task produces, by key.
    metrics: ClassVar[dict[str, MetricInfo]]
    #: Groups of figures beyond the headline metrics that gates address as ``<task>.<group>.<key>``
    #: (:meth:`figures`; ``official`` for SQuAD's official script): a gate on anything else is refused at load.
    figure_groups: ClassVar[tuple[str, ...]] = ()
    #: What a model that does this task is for (the report's "Intended uses").
    intended_use: ClassVar[str | None] = None
    #: Uses these figures do not support, beyond the general ones (the report's and card's "Out-of-scope use").
    out_of_scope: ClassVar[str | None] = None
    #: What readers should know about how the task's figures are computed (one sentence each, under the table).
    metric_notes: ClassVar[tuple[str, ...]] = ()
    #: The heading the task's own report sections go under (``report_partial``), e.g. "Bias probes".
    section_title: ClassVar[str] = "Task details"
    #: Where a generated model card states the job: "evaluation" (its figures as claims) or "risks" (the
    #: "Bias, Risks, and Limitations" section, through :meth:`risk_lines`), with ``risk_intro`` before them.
    card_section: ClassVar[str] = "evaluation"
    risk_intro: ClassVar[str | None] = None
    #: What one item of the per-batch latency is ("window" for QA, "example" otherwise).
    latency_unit: ClassVar[str] = "example"
    #: Whether one example alone is a meaningful request (see :mod:`auditkit.running.single_request`).
    single_requests: ClassVar[bool] = True
    #: Per-example comparison columns, or None when the task compares aggregates only.
    pairing: ClassVar[Pairing | None] = None
    #: A template partial of its own (``<partial>.html.j2`` / ``.md.j2``) and the folder holding it.
    report_partial: ClassVar[str | None] = None
    template_dir: ClassVar[Path | None] = None
    #: Dataset keys model-card claims may name for this task, each with the regex that recognises it in
    #: lower-cased card text (checked in registry order; the first match wins).
    claim_patterns: ClassVar[dict[str, str]] = {}
    #: The Hub benchmarks whose data this task reads, each with the content fingerprint of its official split
    #: as auditkit reads it (:attr:`Benchmark.fingerprint`): a job is on a benchmark only when its source is
    #: that split (:meth:`benchmark`), never because of a file's name.
    benchmarks: ClassVar[tuple[Benchmark, ...]] = ()
    #: The job's metric keys a claimed metric (f1, exact_match, accuracy) may refer to, first match wins.
    claim_metrics: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: The per-example column holding the model's answer: two models agree on an example when it is equal
    #: (``<task>.agreement`` gates: served vs released). None: the task has no single answer per row.
    answer_column: ClassVar[str | None] = None
    #: The figure that answers "how good is it?" for this task, first found wins (the report opens with it).
    headline: ClassVar[tuple[str, ...]] = ()
    #: Whether rows are independent examples that may be seen one by one (canonical order) and stopped early
    #: (``--until-decided``); bias probes are not, their variants only mean something together.
    sequential: ClassVar[bool] = False
    #: How the examples were sampled, when not one by one: unit name -> the per-example column naming each
    #: example's cluster (SQuAD: {"article": "title", "paragraph": "context"}; probes: {"template": ...}).
    #: The first is the default; a suite picks another or "none" with ``cluster:``. Intervals, gates,
    #: comparisons and sequential runs treat the clusters, not the examples, as the independent draws.
    cluster_units: ClassVar[dict[str, str]] = {}

    def __init__(self, spec: SpecT) -> None:
        self.spec: SpecT = spec

    @property
    def name(self) -> str:
        return self.spec.name

    def head_for(self, model_spec: ModelSpec) -> Head:
        """The model head this task needs from ``model_spec`` (fixed per task kind, unless a task accepts several)."""
        return self.head

    def params_fingerprint(self) -> str:
        """Hash of the task kind and parameters: predictions depend on them, so caches key on it."""
        params = self.spec.params.model_dump(mode="json")
        return hashlib.sha256(json.dumps({"kind": self.kind, "params": params}, sort_keys=True).encode()).hexdigest()

    # -- data ------------------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def parse_rows(cls, rows: Rows, request: DatasetRequest) -> Parsed:
        """This task's examples from a dataset format's rows (any registered format: JSON Lines, tables, the
        hub, an in-memory DataFrame...), each error naming its row's place; plus what the data means."""

    # -- running ---------------------------------------------------------------------------------

    @abstractmethod
    def predict(self, model: Model, dataset: Dataset, progress: ProgressSink | None = None) -> Predictions:
        """Run the model over the dataset."""

    def check_before_run(self, model_spec: ModelSpec, dataset: Dataset) -> None:
        """Raise an AuditkitError now for a pairing of model and data that would fail only after running.

        Called for every (model, task) job before any model loads; cheap checks only (configs, not weights).
        """

    def excluded_ids(self, dataset: Dataset, failed: set[str]) -> set[str]:
        """Examples to leave out of scoring when ``failed`` ones got no prediction (tasks scoring groups widen it)."""
        return failed

    @abstractmethod
    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        """Score predictions against the dataset's gold labels."""

    # -- reading results (no model, no torch) ----------------------------------------------------

    @classmethod
    def metric_info(cls, key: str) -> MetricInfo:
        return cls.metrics.get(key) or MetricInfo(key, key, "count", "higher", None, None)

    @classmethod
    def evaluate_inputs(cls, frame: pd.DataFrame) -> dict[str, list[Any]]:
        """The per-example predictions as ``evaluate``'s ``compute(predictions=..., references=...)`` wants
        them for this kind of task; a task without a convention says so."""
        from ..core.errors import SuiteError

        raise SuiteError(f"task kind {cls.kind!r} has no evaluate input convention, so it takes no evaluate metrics")

    @staticmethod
    @abstractmethod
    def metric_defs(frame: pd.DataFrame, job: Job) -> dict[str, MetricDef]:
        """The headline metrics rebuilt from a stored per-example table and its job record.

        Comparisons and significance gates use this to pair two runs' metrics without re-running or
        re-scoring anything.
        """

    @classmethod
    def figures(cls, job: Job) -> dict[str, float]:
        """Figures beyond the headline metrics that gates address as ``<task>.<key>`` (``official.best_f1``)."""
        return {}

    @classmethod
    @abstractmethod
    def job_view(cls, job: Job, frame: pd.DataFrame, context: ViewContext) -> JobView:
        """The job's quantitative analyses and worst errors for the report."""

    @classmethod
    def section_view(cls, job: Job, dataset: DatasetRecord, view: JobView) -> dict[str, Any] | None:
        """The data of the task's own report section (rendered by ``report_partial``), if it has one."""
        return None

    @classmethod
    @abstractmethod
    def model_index_entry(cls, job: Job, dataset: DatasetRecord) -> ModelIndexEntry | None:
        """The Hugging Face ``model-index`` result for this job (None: the Hub has no place for it)."""

    @classmethod
    def benchmark(cls, dataset: DatasetRecord) -> tuple[Benchmark | None, str]:
        """The Hub benchmark split ``dataset`` is (or was drawn from), or None and why not."""
        return identify(cls.benchmarks, dataset)

    @classmethod
    def index_dataset(cls, dataset: DatasetRecord) -> dict[str, str]:
        """The model-index ``dataset`` entry: the benchmark's id, config and split when the data is one, else
        the data's own name with split ``custom`` -- never a benchmark's name for data that is not it."""
        benchmark, _ = cls.benchmark(dataset)
        if benchmark is not None:
            return {
                "name": benchmark.name,
                "type": benchmark.hub_id,
                "config": benchmark.config,
                "split": split_label(dataset, benchmark),
            }
        hub = dataset.details.get("hub")
        own = str(hub.get("id")) if isinstance(hub, dict) else _local_name(dataset.source)
        return {"name": own, "type": own, "config": "default", "split": split_label(dataset, None)}

    @classmethod
    def claim_dataset(cls, job: Job) -> str | None:
        """The dataset key model-card claims use for this job's data (``squad``, ``squad_v2``, ``sst2``)."""
        return None

    @classmethod
    def card_claims(cls, job: Job, dataset: DatasetRecord) -> tuple[str, list[tuple[str, str]]] | None:
        """How a generated model card states this job's headline figures: the dataset's name as card readers
        know it, and (metric key, phrase) pairs such as ("f1", "an F1 score of"); None to state none."""
        return None

    @classmethod
    def dataset_detail(cls, dataset: DatasetRecord) -> str:
        """What the report's data table says about the data beyond its size (labels; SQuAD's version)."""
        return ", ".join(dataset.label_names or [])

    @classmethod
    def risk_lines(cls, job: Job, dataset: DatasetRecord) -> list[str]:
        """A "risks" job's lines in a generated model card: each figure with its interval."""
        lines = [f"### {md_escape(job.task)}", ""]
        for metric, est in job.metrics.items():
            info = cls.metric_info(metric)
            missing = missing_interval(est, job.sampling)
            interval = (
                f" (95% interval {est.low:.2f} to {est.high:.2f})" if missing is None else f" (interval: {missing})"
            )
            lines.append(f"- {info.name}: {info.format(est.value)}{interval}")
        return [*lines, ""]

    @classmethod
    def caveats(cls, job: Job) -> list[str]:
        """Task-specific caveats about a job's figures, for the report."""
        return []


@dataclass(frozen=True)
class Benchmark:
    """A Hub benchmark split: where it lives, what it is called, and the fingerprint that identifies its content."""

    hub_id: str  # rajpurkar/squad
    config: str  # plain_text
    split: str  # validation
    name: str  # SQuAD
    fingerprint: str  # of every example of the split, as auditkit reads it (DatasetRecord.source_fingerprint)


def identify(benchmarks: Sequence[Benchmark], dataset: DatasetRecord) -> tuple[Benchmark | None, str]:
    """The benchmark ``dataset`` came from, or None and why not: the suite named its Hub id, config and split,
    or its source's content is the official split's (whatever the file is called, wherever it is)."""
    hub = dataset.details.get("hub")
    if isinstance(hub, dict):
        for benchmark in benchmarks:
            if (
                hub.get("id") == benchmark.hub_id
                and hub.get("split") == benchmark.split
                and (hub.get("config") in (None, benchmark.config))
            ):
                return benchmark, f"loaded from the Hub as {benchmark.hub_id} ({benchmark.split})"
        where = f"{hub.get('id')} ({hub.get('config') or 'default'}, {hub.get('split')})"
        return None, f"{where} is not a benchmark split this task knows"
    if dataset.source_fingerprint is None:
        return None, "the run predates source fingerprints, so its data cannot be matched to a benchmark"
    for benchmark in benchmarks:
        if dataset.source_fingerprint == benchmark.fingerprint:
            return benchmark, f"its content is the official {benchmark.name} {benchmark.split} split"
    return None, (
        f"its content (fingerprint {dataset.source_fingerprint[:12]}) is not the official split of"
        f" {', '.join(dict.fromkeys(b.name for b in benchmarks)) or 'any benchmark this task knows'}"
    )


def index_metrics(job: Job, names: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """model-index metric entries for the job's metrics named in ``names`` (key -> (type, display name))."""
    return [
        {"type": names[key][0], "value": round(float(est.value), 4), "name": names[key][1], "verified": False}
        for key, est in job.metrics.items()
        if key in names
    ]


def _local_name(source: str) -> str:
    """A name for data that is no benchmark: the file's stem, made safe as a model-index dataset type."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem).strip("-.") or "custom"


def split_label(dataset: DatasetRecord, benchmark: Benchmark | None) -> str:
    """The split (``custom`` for data that is no benchmark's), saying how much of it was used when a subset."""
    split = benchmark.split if benchmark is not None else "custom"
    if dataset.selection == "all":
        return split
    return f"{split} ({dataset.examples} of {dataset.total_available} examples: {dataset.selection})"
