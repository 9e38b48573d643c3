"""Natural-language inference: does a premise entail, contradict, or say nothing about a hypothesis?

A sequence-pair classification task: each example is a (premise, hypothesis) pair with one of three
labels (by default MNLI's ``entailment``, ``neutral``, ``contradiction``), read from JSON Lines with
``premise``, ``hypothesis`` and ``label`` fields. Scoring, calibration, per-class figures, the
confusion matrix, label mapping and the report view are classification's; what differs is the input
(pairs, tokenised as the model's two segments), the default labels, the metrics' meaning and the
model-index entry.

This module is the whole task: registering it makes ``kind: nli`` valid in suites, and the report,
gates, card audit and model-index pick it up through the task registry.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pandas as pd
from pydantic import Field

from ..core.errors import DatasetError
from ..data.types import Dataset, TextExample
from ..metrics.info import MetricInfo
from ..results.model import Job
from ..spec.schema import BootstrapSpec
from . import TASKS
from .base import Benchmark, Scores
from .classification import ClassificationParams, ClassificationSpec, ClassificationTask

#: MNLI's label order (glue/mnli on the Hub).
NLI_LABELS = ["entailment", "neutral", "contradiction"]


class NLISpec(ClassificationSpec):
    """A task of kind ``nli``: premise/hypothesis pairs, scored like classification."""

    kind: Literal["nli"] = Field(description="natural-language inference on premise/hypothesis pairs")  # type: ignore[assignment]
    params: ClassificationParams = Field(default=ClassificationParams(), description="as classification's")


@TASKS.register("nli")
class NLITask(ClassificationTask):
    kind = "nli"
    Spec = NLISpec  # type: ignore[assignment]  # a ClassificationSpec with its own kind
    metrics: ClassVar[dict[str, MetricInfo]] = {
        "accuracy": MetricInfo("accuracy", "Accuracy (3-way)", "%", "higher"),
        "macro_f1": MetricInfo("macro_f1", "Macro-F1 over the 3 labels", "%", "higher"),
        "ece": MetricInfo("ece", "Expected calibration error", "%", "lower"),
    }
    intended_use = (
        "Natural-language inference: decide whether an English premise entails, contradicts or is neutral toward a"
        " hypothesis."
    )
    index_task: ClassVar[dict[str, str]] = {"type": "text-classification", "name": "Natural Language Inference"}
    claim_patterns: ClassVar[dict[str, str]] = {"nli": r"\bm?nli\b|multi ?nli|\bsnli\b|natural language inference"}
    default_labels: ClassVar[list[str] | None] = NLI_LABELS
    #: MNLI's dev sets, known by their Hub id (no local copy here to fingerprint).
    benchmarks = (
        Benchmark("nyu-mll/glue", "mnli", "validation_matched", "MNLI (matched)", ""),
        Benchmark("nyu-mll/glue", "mnli", "validation_mismatched", "MNLI (mismatched)", ""),
    )

    def texts(self, dataset: Dataset) -> tuple[list[str], list[str] | None]:
        firsts, seconds = [], []
        for example in dataset.examples:
            if not isinstance(example, TextExample) or example.text_pair is None:
                raise DatasetError(
                    f"example {example.id!r} is not a premise/hypothesis pair",
                    source=dataset.source,
                    hint="nli data needs 'premise', 'hypothesis' and 'label' in every record",
                )
            firsts.append(example.text)
            seconds.append(example.text_pair)
        return firsts, seconds

    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        scores = super().score(predictions, dataset, bootstrap, seed)
        pairs = {e.id: e.text_pair for e in dataset.examples if isinstance(e, TextExample)}
        scores.per_example["hypothesis"] = scores.per_example["id"].map(pairs)
        return scores

    @classmethod
    def claim_dataset(cls, job: Job) -> str:
        return "nli"
