"""Text classification (SST-2 and the like): pipeline-equal scores, label mapping, calibration.

A model's labels (``id2label``, e.g. NEGATIVE/POSITIVE) rarely share names with a dataset's (SST-2's
0/1, named negative/positive). They are matched by ``label_map`` when the suite gives one, else by
name ignoring case, else ``LABEL_i`` -> i when the label counts agree; anything else is an error that
asks for a ``label_map`` instead of guessing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..core.errors import ModelError
from ..data import DatasetRequest, Parsed, Rows, text
from ..data.types import Dataset, TextExample
from ..metrics import classification as cm
from ..metrics.info import MetricInfo, declare
from ..metrics.stats import MetricDef, mean_def
from ..results.model import DatasetRecord, Job
from ..spec.schema import BootstrapSpec, ModelSpec, StrictModel, TaskSpecBase
from ..views import JobView, WorstExample, chart, charts, fmt, slice_table
from . import TASKS
from .base import (
    Benchmark,
    ModelIndexEntry,
    Pairing,
    Predictions,
    Scores,
    Task,
    ViewContext,
    index_metrics,
)

if TYPE_CHECKING:
    from ..engine.types import ProgressSink
    from ..models import Model

WORST_EXAMPLES = 3


class ClassificationParams(StrictModel):
    """How a classifier's labels are matched to the data's and its scores computed, as the pipeline does."""

    label_map: dict[str, str | int] | None = Field(
        default=None, description="model label -> dataset label (name or index)"
    )
    function_to_apply: Literal["default", "softmax", "sigmoid", "none"] = Field(
        default="default", description="the pipeline's rule: default is softmax, or sigmoid for one-label models"
    )
    max_length: int | None = Field(
        default=None, ge=2, description="truncate longer inputs (default: the model's maximum)"
    )
    calibration_bins: int = Field(default=10, ge=2, le=100, description="bins of the calibration error (ECE)")


class ClassificationSpec(TaskSpecBase):
    """A task of kind ``classification``: texts with one gold label each."""

    kind: Literal["classification"] = Field(description="text classification (SST-2 and the like)")
    params: ClassificationParams = Field(default=ClassificationParams(), description="how labels are read and scored")


def map_labels(
    model_labels: list[str], dataset_labels: list[str], label_map: dict[str, str | int] | None, model_name: str
) -> np.ndarray:
    """Dataset label index for each model label id."""
    lowered = [name.lower() for name in dataset_labels]
    mapping = []
    for j, label in enumerate(model_labels):
        if label_map is not None:
            if label not in label_map:
                raise ModelError(
                    f"label_map has no entry for model label {label!r}",
                    source=model_name,
                    hint=f"map every model label: {model_labels} -> {dataset_labels}",
                )
            target = label_map[label]
            if isinstance(target, int) and 0 <= target < len(dataset_labels):
                mapping.append(target)
                continue
            if isinstance(target, str) and target.lower() in lowered:
                mapping.append(lowered.index(target.lower()))
                continue
            raise ModelError(
                f"label_map sends {label!r} to {target!r}, which is not a dataset label",
                source=model_name,
                hint=f"dataset labels: {dataset_labels}",
            )
        if label.lower() in lowered:
            mapping.append(lowered.index(label.lower()))
        elif label == f"LABEL_{j}" and len(model_labels) == len(dataset_labels):
            mapping.append(j)
        else:
            raise ModelError(
                f"cannot match model label {label!r} to the dataset labels {dataset_labels}",
                source=model_name,
                hint="add params.label_map to the task, e.g. {label_map: {" + f"{label}: {dataset_labels[0]}" + "}}",
            )
    return np.asarray(mapping, dtype=np.int64)


@TASKS.register("classification")
class ClassificationTask(Task[ClassificationSpec]):
    kind = "classification"
    headline = ("accuracy",)
    answer_column = "prediction"
    sequential = True
    head = "sequence-classification"
    Spec = ClassificationSpec
    metrics = declare(
        MetricInfo("accuracy", "Accuracy", "%", "higher", aliases=("acc",)),
        MetricInfo("macro_f1", "Macro-F1", "%", "higher"),
        MetricInfo("ece", "Expected calibration error", "%", "lower"),
    )
    intended_use = (
        "Sentence-level sentiment classification of English text (positive / negative), as in SST-2 movie-review"
        " sentences."
    )
    pairing = Pairing(score="correct", text="text", gold="gold")
    #: GLUE's SST-2 dev set (the TSV GLUE ships, or the Hub's copy); stanfordnlp/sst2 by its Hub id only.
    benchmarks = (
        Benchmark(
            "nyu-mll/glue", "sst2", "validation", "SST-2",
            "69746a31d33c45ba8ae4de48c77dfda1caedad69542a40e04dc927130df9af7d",
        ),
        Benchmark("stanfordnlp/sst2", "default", "validation", "SST-2", ""),
    )  # fmt: skip
    claim_patterns: ClassVar[dict[str, str]] = {"sst2": r"\bsst\s*2\b|\bsst2\b|stanford sentiment|glue.*\bsst"}
    #: Cards and the model-index call a classifier's macro-F1 "f1".
    claim_metrics: ClassVar[dict[str, tuple[str, ...]]] = {"f1": ("macro_f1",)}
    #: The model-index task and the dataset name, type and config it reports (SST-2 unless the data says otherwise).
    index_task: ClassVar[dict[str, str]] = {"type": "text-classification", "name": "Text Classification"}

    #: The task's own label set, read before the data's (NLI's three labels); None: the data's, else SST-2's.
    default_labels: ClassVar[list[str] | None] = None

    @classmethod
    def parse_rows(cls, rows: Rows, request: DatasetRequest) -> Parsed:
        """Rows with a text (``sentence``/``text``, or a ``premise``/``hypothesis`` pair) and a ``label`` (an index
        or a name). Label names: the suite's, else the data's own (a hub ClassLabel, or every label being a name),
        else SST-2's; a task with a label set of its own (NLI) reads indices and names in that."""
        names = (
            request.labels
            or cls.default_labels
            or rows.label_names
            or text.names_from_rows(rows.records)
            or text.SST2_LABELS
        )
        return Parsed(list(text.from_rows(rows.records, names, rows.source, rows.places)), label_names=names)

    def predict(self, model: Model, dataset: Dataset, progress: ProgressSink | None = None) -> Predictions:
        p = self.spec.params
        activation = None if p.function_to_apply == "default" else p.function_to_apply
        engine = model.classification_engine(activation, p.max_length)
        started = time.perf_counter()
        texts, pairs = self.texts(dataset)
        out = engine.predict(texts, progress, ids=[e.id for e in dataset.examples], pairs=pairs)
        wall = time.perf_counter() - started
        examples = [e for e, ok in zip(dataset.examples, out.answered, strict=True) if ok]
        scores = out.scores[out.answered]
        # Labels are matched after predicting: an endpoint names its labels only in its responses.
        mapping = map_labels(out.labels, dataset.label_names or [], p.label_map, model.name)
        best = scores.argmax(axis=1)
        frame = pd.DataFrame(
            {
                "id": [e.id for e in examples],
                "model_label": [out.labels[j] for j in best],
                "predicted_index": mapping[best],
                "confidence": scores.max(axis=1).astype(float),
                "label_scores": [row.tolist() for row in scores],
            }
        )
        if out.rechecked is not None:  # a re-checking fast mode: which decisions the exact model made again
            frame["rechecked"] = out.rechecked[out.answered]
        n = len(dataset)
        timing = {
            "wall_seconds": wall,
            "examples": n,
            "examples_per_second": n / wall if wall > 0 else 0.0,
            "batch_size_used": engine.batch_size,
            "activation": engine.activation,
            **engine.timings.summary(),
        }
        notes = (
            [f"{out.truncated} inputs longer than {engine.max_length} tokens were truncated"] if out.truncated else []
        )
        timing["model_labels"] = out.labels
        return Predictions(frame, timing, notes, failures=engine.failures)

    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        labels = dataset.label_names or []
        k = len(labels)
        examples = dataset.typed(TextExample)
        frame = pd.DataFrame(
            {
                "id": [e.id for e in examples],
                "text": [e.text for e in examples],
                "gold_index": [e.label for e in examples],
            }
        )
        frame = frame.merge(predictions, on="id", how="left")
        missing = int(frame["predicted_index"].isna().sum())
        if missing:
            raise ModelError(
                f"{missing} examples have no prediction", hint="re-run the task; predictions and dataset must match"
            )
        gold = frame["gold_index"].to_numpy(np.int64)
        pred = frame["predicted_index"].to_numpy(np.int64)
        correct = (gold == pred).astype(float)
        frame["gold"] = [labels[i] for i in gold]
        frame["prediction"] = [labels[i] for i in pred]
        frame["correct"] = correct.astype(bool)
        ci = bootstrap.settings(seed)
        bins = self.spec.params.calibration_bins
        confidence = frame["confidence"].to_numpy(float)
        metrics = {name: d.estimate(**ci) for name, d in classification_metric_defs(frame, k, bins).items()}
        details: dict[str, Any] = {
            "labels": labels,
            "per_class": cm.per_class_report(gold, pred, labels),
            "confusion_matrix": cm.confusion_matrix(gold, pred, k).tolist(),
            "reliability": cm.reliability_table(confidence, correct, bins),
        }
        return Scores(frame, metrics, details)

    def check_before_run(self, model_spec: ModelSpec, dataset: Dataset) -> None:
        """The label map must pair the checkpoint's labels with the data's (an endpoint names its labels only
        in its answers, so it is checked when they come)."""
        if model_spec.endpoint is not None:
            return
        from ..models.hf import model_labels

        labels = model_labels(model_spec)
        if labels:
            map_labels(labels, dataset.label_names or [], self.spec.params.label_map, model_spec.name)

    def texts(self, dataset: Dataset) -> tuple[list[str], list[str] | None]:
        """The model's inputs: single texts (pair tasks return the second text of each pair too)."""
        return [e.text for e in dataset.typed(TextExample)], None

    @classmethod
    def evaluate_inputs(cls, frame: pd.DataFrame) -> dict[str, list[Any]]:
        """Label indices, as evaluate's accuracy, f1, precision, recall, matthews_correlation take them."""
        return {
            "predictions": [int(x) for x in frame["predicted_index"]],
            "references": [int(x) for x in frame["gold_index"]],
        }

    @staticmethod
    def metric_defs(frame: pd.DataFrame, job: Job) -> dict[str, MetricDef]:
        return classification_metric_defs(frame, len(job.details["labels"]), job.params["calibration_bins"])

    @classmethod
    def job_view(cls, job: Job, frame: pd.DataFrame, context: ViewContext) -> JobView:
        details = job.details
        per_class = {
            label: {"n": v["support"], "precision": v["precision"], "recall": v["recall"], "f1": v["f1"]}
            for label, v in details["per_class"].items()
        }
        labels = details["labels"]
        wrong = frame[~frame["correct"]].sort_values("confidence", ascending=False, kind="stable").head(WORST_EXAMPLES)
        worst: list[WorstExample] = [
            {
                "id": str(r["id"]),
                "question": str(r["text"]),
                "title": "",
                "gold": str(r["gold"]),
                "prediction": str(r["prediction"]),
                "confidence": fmt(float(r["confidence"]), 4),
                "excerpt": [],
            }
            for r in wrong.to_dict("records")
        ]
        title = f"Reliability — {job.model} · {job.task}"
        diagram = charts.reliability_diagram(details["reliability"], title=title)
        return {
            "slices": [slice_table("Per class", per_class, ["precision", "recall", "f1"])],
            "confusion": {
                "labels": labels,
                "rows": [{"gold": labels[i], "cells": row} for i, row in enumerate(details["confusion_matrix"])],
            },
            "worst": worst,
            "worst_title": "Most confident mistakes",
            "charts": [chart("reliability", title, diagram, job.model, job.task)],
        }

    @classmethod
    def model_index_entry(cls, job: Job, dataset: DatasetRecord) -> ModelIndexEntry:
        names = {"accuracy": ("accuracy", "Accuracy"), "macro_f1": ("f1", "Macro F1")}
        return {
            "task": dict(cls.index_task),
            "dataset": cls.index_dataset(dataset),
            "metrics": index_metrics(job, names),
        }

    @classmethod
    def claim_dataset(cls, job: Job) -> str:
        return "sst2"

    @classmethod
    def card_claims(cls, job: Job, dataset: DatasetRecord) -> tuple[str, list[tuple[str, str]]]:
        return cls.index_dataset(dataset)["name"], [("accuracy", "an accuracy of")]


def classification_metric_defs(frame: pd.DataFrame, k: int, bins: int) -> dict[str, MetricDef]:
    """Accuracy, macro-F1 and ECE as statistics of per-example columns (gold, prediction, confidence)."""
    gold = frame["gold_index"].to_numpy(np.int64)
    pred = frame["predicted_index"].to_numpy(np.int64)
    correct = (gold == pred).astype(float)
    return {
        "accuracy": mean_def(correct, binary=True, scale=100.0),
        "macro_f1": MetricDef(cm.confusion_columns(gold, pred, k), cm.macro_f1_statistic(k)),
        "ece": MetricDef(
            cm.calibration_columns(frame["confidence"].to_numpy(float), correct, bins), cm.ece_statistic(bins)
        ),
    }
