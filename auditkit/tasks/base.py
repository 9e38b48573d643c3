"""What every task kind provides: a suite spec, a model head, prediction, and scoring.

Prediction (model -> per-example outputs) and scoring (outputs + gold -> per-example scores and
metrics) are separate steps, so stored predictions can be re-scored, cached and compared without
running a model again.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from ..data.types import Dataset, Kind
from ..engine.batching import ProgressSink
from ..metrics.stats import Estimate, MetricDef
from ..models import Head, Model
from ..schema import BootstrapSpec, ModelSpec, TaskSpecBase

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


class Task(ABC):
    """Base class for task kinds; register subclasses in :data:`auditkit.tasks.TASKS`."""

    kind: ClassVar[str]
    data_kind: ClassVar[Kind]
    head: ClassVar[Head]
    Spec: ClassVar[type[TaskSpecBase]]
    single_requests: ClassVar[bool] = True  # whether one example alone is a meaningful request (see auditkit.latency)

    def __init__(self, spec: TaskSpecBase) -> None:
        self.spec = spec

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

    @abstractmethod
    def predict(self, model: Model, dataset: Dataset, progress: ProgressSink | None = None) -> Predictions:
        """Run the model over the dataset."""

    def excluded_ids(self, dataset: Dataset, failed: set[str]) -> set[str]:
        """Examples to leave out of scoring when ``failed`` ones got no prediction (tasks scoring groups widen it)."""
        return failed

    @abstractmethod
    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        """Score predictions against the dataset's gold labels."""

    @staticmethod
    @abstractmethod
    def metric_defs(frame: pd.DataFrame, job: dict[str, Any]) -> dict[str, MetricDef]:
        """The headline metrics rebuilt from a stored per-example table and its results.json job entry.

        Comparisons use this to pair two runs' metrics without re-running or re-scoring anything.
        """
