"""Extractive QA (SQuAD v1.1 and v2.0): pipeline-exact answers, official metrics, slices.

SQuAD v2 mode (``handle_impossible_answer``) lets the empty answer compete. For threshold tuning the
task also records each question's real no-answer probability -- the null score relative to the best
span -- and reports evaluate-v2.0's best_exact/best_f1 over the best non-null spans, i.e. what the
model would score with the best possible abstention threshold.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from ..data.types import Dataset
from ..engine.qa import QASettings
from ..metrics import squad
from ..metrics.slices import grouped_means, question_type
from ..metrics.stats import MetricDef, mean_def, subset_mean_def
from ..models import Model
from ..schema import BootstrapSpec, StrictModel, TaskSpecBase
from ..engine.batching import ProgressSink
from .base import Predictions, Scores, Task


class QAParams(StrictModel):
    """The QA pipeline's settings (same names and defaults), plus which SQuAD metric to apply."""

    max_seq_len: int | None = Field(default=None, ge=16, description="window length in tokens (default min(model max, 384))")
    doc_stride: int | None = Field(default=None, ge=1, description="overlap between windows (default min(max_seq_len // 2, 128))")
    max_answer_len: int = Field(default=15, ge=1)
    handle_impossible_answer: bool | None = Field(default=None, description="let the empty answer win (default: on for SQuAD v2 data)")
    top_k: int = Field(default=1, ge=1)
    align_to_words: bool = True
    metric: Literal["auto", "squad", "squad_v2"] = "auto"

    @model_validator(mode="after")
    def _stride_fits(self) -> QAParams:
        if self.max_seq_len is not None and self.doc_stride is not None and self.doc_stride > self.max_seq_len:
            raise ValueError(f"doc_stride ({self.doc_stride}) must not exceed max_seq_len ({self.max_seq_len})")
        return self


class ExtractiveQASpec(TaskSpecBase):
    kind: Literal["extractive_qa"]
    params: QAParams = QAParams()


class ExtractiveQATask(Task):
    kind = "extractive_qa"
    data_kind = "qa"
    head = "question-answering"
    Spec = ExtractiveQASpec

    def metric(self, dataset: Dataset) -> str:
        return resolve_metric(self.spec.params.metric, dataset)

    def settings(self, dataset: Dataset) -> QASettings:
        p = self.spec.params
        impossible = p.handle_impossible_answer if p.handle_impossible_answer is not None else self.metric(dataset) == "squad_v2"
        return QASettings(max_seq_len=p.max_seq_len, doc_stride=p.doc_stride, max_answer_len=p.max_answer_len,
                          handle_impossible_answer=impossible, top_k=p.top_k, align_to_words=p.align_to_words)

    def predict(self, model: Model, dataset: Dataset, progress: ProgressSink | None = None) -> Predictions:
        engine = model.qa_engine(self.settings(dataset))
        started = time.perf_counter()
        answered = engine.predict([e.question for e in dataset.examples], [e.context for e in dataset.examples], [e.id for e in dataset.examples], progress)
        wall = time.perf_counter() - started
        examples = [e for e, p in zip(dataset.examples, answered) if p is not None]
        preds = [p for p in answered if p is not None]
        best = [p.best_span or {"answer": "", "score": 0.0} for p in preds]
        frame = pd.DataFrame({
            "id": [e.id for e in examples],
            "prediction": [p.answer for p in preds],
            "score": [p.score for p in preds],
            "start": [p.answers[0]["start"] if p.answers else 0 for p in preds],
            "end": [p.answers[0]["end"] if p.answers else 0 for p in preds],
            "null_score": [p.null_score for p in preds],
            "no_answer_probability": [p.no_answer_probability for p in preds],
            "best_span": [b["answer"] for b in best],
            "best_span_score": [b["score"] for b in best],
            "windows": [p.windows for p in preds],
            "answers": [json.dumps(p.answers, ensure_ascii=False) for p in preds],
        })
        n = len(dataset)
        timing = {"wall_seconds": wall, "examples": n, "examples_per_second": n / wall if wall > 0 else 0.0,
                  "windows": int(frame["windows"].sum()), "batch_size_used": engine.batch_size, **engine.timings.summary()}
        return Predictions(frame, timing, failures=engine.failures)

    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        return score_qa(predictions, dataset, self.metric(dataset), bootstrap, seed)

    @staticmethod
    def metric_defs(frame: pd.DataFrame, job: dict[str, Any]) -> dict[str, MetricDef]:
        return qa_metric_defs(frame, job["details"]["metric"])


def qa_metric_defs(frame: pd.DataFrame, metric: str) -> dict[str, MetricDef]:
    """The headline metrics as statistics of the per-example ``exact``/``f1`` (and ``has_answer``) columns."""
    exact, f1 = frame["exact"].to_numpy(float), frame["f1"].to_numpy(float)
    if metric == "squad":
        return {"exact_match": mean_def(exact, binary=True), "f1": mean_def(f1)}
    has_answer = frame["has_answer"].to_numpy(bool)
    defs = {"exact": mean_def(exact, binary=True), "f1": mean_def(f1)}
    for name, subset in (("HasAns", has_answer), ("NoAns", ~has_answer)):
        if subset.any():
            defs[f"{name}_exact"] = subset_mean_def(exact, subset, binary=True)
            defs[f"{name}_f1"] = subset_mean_def(f1, subset)
    return defs


def resolve_metric(choice: str, dataset: Dataset) -> str:
    """``auto`` means SQuAD v2 rules for v2.0 data (or any unanswerable question), else v1.1 rules."""
    if choice != "auto":
        return choice
    return "squad_v2" if dataset.squad_version == "2.0" or dataset.has_unanswerable else "squad"


def score_qa(predictions: pd.DataFrame, dataset: Dataset, metric: str, bootstrap: BootstrapSpec, seed: int) -> Scores:
    """Official SQuAD scores of ``predictions`` (columns ``id``, ``prediction``; for v2 threshold tuning
    also ``best_span`` and ``no_answer_probability``), with CIs and slices."""
    examples = dataset.examples
    by_id = dict(zip(predictions["id"].astype(str), predictions["prediction"].fillna("")))
    aligned, missing, _ = squad.align_predictions([e.id for e in examples], by_id)
    golds = [list(e.answers) for e in examples]
    ci = {"resamples": bootstrap.resamples, "confidence": bootstrap.confidence, "seed": seed}

    frame = pd.DataFrame({
        "id": [e.id for e in examples],
        "title": [e.title for e in examples],
        "question": [e.question for e in examples],
        "question_type": [question_type(e.question) for e in examples],
        "context": [e.context for e in examples],
        "gold_answers": golds,
        "gold_starts": [list(e.answer_starts) for e in examples],
        "has_answer": [not e.is_impossible for e in examples],
        "missing": [p is None for p in aligned],
    }).merge(predictions, on="id", how="left")
    frame["prediction"] = frame["prediction"].fillna("")

    details: dict[str, Any] = {"metric": metric, "missing_predictions": missing}
    if metric == "squad":
        exact, f1 = squad.per_example_v1(aligned, golds)
        official = squad.squad_v1(exact, f1)
    else:
        exact, f1 = squad.per_example_v2(aligned, golds)
        has_answer = frame["has_answer"].to_numpy(bool)
        official = squad.squad_v2(exact, f1, has_answer)
        if "no_answer_probability" in frame and frame["no_answer_probability"].notna().all():
            span_exact, span_f1 = squad.per_example_v2(frame["best_span"].fillna("").tolist(), golds)
            probs = frame["no_answer_probability"].to_numpy(float)
            empty = frame["best_span"].fillna("").eq("").to_numpy()
            official["best_exact"], official["best_exact_thresh"] = squad.best_threshold(span_exact, probs, has_answer, empty)
            official["best_f1"], official["best_f1_thresh"] = squad.best_threshold(span_f1, probs, has_answer, empty)
            details["abstention_rate"] = float((frame["prediction"] == "").mean() * 100.0)
    frame["exact"] = exact
    frame["f1"] = f1
    # Point values are the official figures (their summation order); intervals come from the resampled sums.
    metrics = {name: d.estimate(value=official[name], **ci) for name, d in qa_metric_defs(frame, metric).items()}
    details["official"] = official
    details["by_question_type"] = grouped_means(frame, "question_type", ["exact", "f1"])
    details["by_article"] = grouped_means(frame, "title", ["exact", "f1"])
    if metric == "squad_v2":
        frame["answerability"] = np.where(frame["has_answer"], "HasAns", "NoAns")
        details["by_answerability"] = grouped_means(frame, "answerability", ["exact", "f1"])
        frame = frame.drop(columns="answerability")
    return Scores(frame, metrics, details)
