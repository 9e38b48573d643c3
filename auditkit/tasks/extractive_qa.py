"""Extractive QA (SQuAD v1.1 and v2.0): pipeline-exact answers, official metrics, slices.

SQuAD v2 mode (``handle_impossible_answer``) lets the empty answer compete. For threshold tuning the
task also records each question's real no-answer probability -- the null score relative to the best
span -- and reports evaluate-v2.0's best_exact/best_f1 over the best non-null spans, i.e. what the
model would score with the best possible abstention threshold.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..data import DatasetRequest, Parsed, Rows
from ..data import squad as squad_data
from ..data.types import Dataset, QAExample
from ..engine.types import QASettings
from ..metrics import squad
from ..metrics.info import MetricInfo, declare
from ..metrics.slices import grouped_means, question_type
from ..metrics.stats import MetricDef, mean_def, subset_mean_def
from ..results.model import DatasetRecord, Job
from ..spec.schema import BootstrapSpec, QAPipelineParams, TaskSpecBase
from ..views import JobView, WorstExample, chart, charts, fmt, segments, slice_table
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


class QAParams(QAPipelineParams):
    """The QA pipeline's settings (same names and defaults), plus which SQuAD metric to apply."""

    metric: Literal["auto", "squad", "squad_v2"] = Field(
        default="auto",
        description="squad (v1.1 rules) or squad_v2; auto: squad_v2 when some question is unanswerable",
    )


class ExtractiveQASpec(TaskSpecBase):
    """A task of kind ``extractive_qa``: SQuAD-style questions answered by a span of their context."""

    kind: Literal["extractive_qa"] = Field(description="extractive question answering (SQuAD v1.1 / 2.0)")
    params: QAParams = Field(default=QAParams(), description="the QA pipeline's settings")


@TASKS.register("extractive_qa")
class ExtractiveQATask(Task[ExtractiveQASpec]):
    kind = "extractive_qa"
    headline = ("f1",)
    answer_column = "prediction"
    sequential = True
    cluster_units: ClassVar[dict[str, str]] = {"article": "title", "paragraph": "context"}
    head = "question-answering"
    Spec = ExtractiveQASpec
    metrics = declare(
        MetricInfo("exact_match", "Exact match", "%", "higher", aliases=("em", "exact match", "exact-match", "exact")),
        MetricInfo("exact", "Exact match", "%", "higher"),
        MetricInfo("f1", "F1", "%", "higher", aliases=("f1 score", "f1-score")),
        MetricInfo("HasAns_exact", "Exact match (answerable)", "%", "higher"),
        MetricInfo("HasAns_f1", "F1 (answerable)", "%", "higher"),
        MetricInfo("NoAns_exact", "Exact match (unanswerable)", "%", "higher"),
        MetricInfo("NoAns_f1", "F1 (unanswerable)", "%", "higher"),
    )
    intended_use = (
        "Extractive question answering: given a question and an English paragraph, select the span that answers it"
        " (and, for SQuAD v2-style models, abstain when the paragraph holds no answer)."
    )
    latency_unit = "window"
    out_of_scope = (
        "Generating text or answers not present in the given context; factual question answering without a context."
    )
    metric_notes = ("Exact match and F1 equal the official SQuAD evaluation scripts' figures, digit for digit.",)
    benchmarks = (
        Benchmark(
            "rajpurkar/squad", "plain_text", "validation", "SQuAD v1.1",
            "ea7be02eb48c8e4acac2cb717111121bf841561ab2310d75464232e06c9a99c5",
        ),
        Benchmark(
            "rajpurkar/squad_v2", "squad_v2", "validation", "SQuAD 2.0",
            "6128c554d920d961a933b02594a4f3650490524176449df93d6adfce53b233f9",
        ),
    )  # fmt: skip
    claim_patterns: ClassVar[dict[str, str]] = {"squad_v2": r"squad\s*v?\s*2|squad 2\.0|squad2", "squad": r"squad"}
    claim_metrics: ClassVar[dict[str, tuple[str, ...]]] = {"exact_match": ("exact_match", "exact")}
    figure_groups = ("official",)
    pairing = Pairing(score="f1", text="question", gold="gold_answers")

    @classmethod
    def parse_rows(cls, rows: Rows, request: DatasetRequest) -> Parsed:
        """SQuAD-shaped rows (``id, question, context, answers``, optional ``title``): the official file
        flattened, the hub's ``rajpurkar/squad[_v2]``, JSON Lines or a table. The version is the file's own, else
        2.0 when a question is unanswerable (or the hub id says v2)."""
        examples = squad_data.from_rows(rows.records, rows.source, rows.places)
        version = rows.info.get("squad_version")
        if version is None:
            v2 = any(e.is_impossible for e in examples) or (rows.format == "hub" and "v2" in rows.source.lower())
            version = "2.0" if v2 else "1.1"
        return Parsed(list(examples), info={"squad_version": version})

    @classmethod
    def dataset_detail(cls, dataset: DatasetRecord) -> str:
        version = dataset.details.get("squad_version")
        return f"SQuAD v{version}" if version else ""

    def metric(self, dataset: Dataset) -> str:
        return resolve_metric(self.spec.params.metric, dataset)

    def settings(self, dataset: Dataset) -> QASettings:
        p = self.spec.params
        impossible = (
            p.handle_impossible_answer if p.handle_impossible_answer is not None else self.metric(dataset) == "squad_v2"
        )
        return QASettings(
            max_seq_len=p.max_seq_len,
            doc_stride=p.doc_stride,
            max_answer_len=p.max_answer_len,
            handle_impossible_answer=impossible,
            top_k=p.top_k,
            align_to_words=p.align_to_words,
        )

    def predict(self, model: Model, dataset: Dataset, progress: ProgressSink | None = None) -> Predictions:
        engine = model.qa_engine(self.settings(dataset))
        questions = dataset.typed(QAExample)
        started = time.perf_counter()
        answered = engine.predict(
            [e.question for e in questions],
            [e.context for e in questions],
            [e.id for e in questions],
            progress,
        )
        wall = time.perf_counter() - started
        examples = [e for e, p in zip(questions, answered, strict=True) if p is not None]
        preds = [p for p in answered if p is not None]
        best = [p.best_span or {"answer": "", "score": 0.0} for p in preds]
        frame = pd.DataFrame(
            {
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
                "margin": [p.margin for p in preds],
            }
        )
        if model.info.get("recheck_margin") is not None:  # a re-checking fast mode: which answers exact gave again
            frame["rechecked"] = [p.rechecked for p in preds]
        n = len(dataset)
        timing = {
            "wall_seconds": wall,
            "examples": n,
            "examples_per_second": n / wall if wall > 0 else 0.0,
            "windows": int(frame["windows"].sum()),
            "batch_size_used": engine.batch_size,
            **engine.timings.summary(),
        }
        return Predictions(frame, timing, failures=engine.failures)

    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        return score_qa(predictions, dataset, self.metric(dataset), bootstrap, seed)

    @classmethod
    def evaluate_inputs(cls, frame: pd.DataFrame) -> dict[str, list[Any]]:
        """evaluate's SQuAD layout: ``{"id", "prediction_text"}`` and ``{"id", "answers": {"text", "answer_start"}}``
        (what its squad and squad_v2 metrics take)."""
        return {
            "predictions": [
                {"id": str(r["id"]), "prediction_text": str(r["prediction"])} for r in frame.to_dict("records")
            ],
            "references": [
                {
                    "id": str(r["id"]),
                    "answers": {
                        "text": [str(t) for t in r["gold_answers"]],
                        "answer_start": [int(x) for x in r["gold_starts"]],
                    },
                }
                for r in frame.to_dict("records")
            ],
        }

    @staticmethod
    def metric_defs(frame: pd.DataFrame, job: Job) -> dict[str, MetricDef]:
        return qa_metric_defs(frame, job.details["metric"])

    @classmethod
    def figures(cls, job: Job) -> dict[str, float]:
        return {f"official.{key}": float(value) for key, value in job.details.get("official", {}).items()}

    @classmethod
    def job_view(cls, job: Job, frame: pd.DataFrame, context: ViewContext) -> JobView:
        details = job.details
        slices = [slice_table("By question type", details["by_question_type"], ["exact", "f1"])]
        if "by_answerability" in details:
            slices.append(slice_table("By answerability (SQuAD v2)", details["by_answerability"], ["exact", "f1"]))
        articles = dict(sorted(details["by_article"].items(), key=lambda kv: kv[1]["f1"]))
        slices.append(slice_table("By article (weakest first)", articles, ["exact", "f1"], limit=8))
        wrong = (
            frame[(frame["f1"] == 0) & ~frame["missing"].astype(bool)]
            .sort_values("score", ascending=False, kind="stable")
            .head(WORST_EXAMPLES)
        )
        worst: list[WorstExample] = []
        for row in wrong.to_dict("records"):
            golds = [str(a) for a in row["gold_answers"]]
            gold = list(zip([int(x) for x in row["gold_starts"]][:1], golds[:1], strict=True))
            spans = [(start, start + len(text), "gold") for start, text in gold]
            if row["prediction"]:
                spans.append((int(row["start"]), int(row["end"]), "pred"))
            worst.append(
                {
                    "id": str(row["id"]),
                    "question": str(row["question"]),
                    "title": str(row["title"]),
                    "gold": " | ".join(dict.fromkeys(golds)) or "(no answer)",
                    "prediction": str(row["prediction"]) or "(no answer)",
                    "confidence": fmt(float(row["score"]), 4),
                    "excerpt": segments(str(row["context"]), spans),
                }
            )
        groups = []
        for qtype, n in frame["question_type"].value_counts().items():
            mask = (frame["question_type"] == qtype).to_numpy()
            est = subset_mean_def(frame["f1"].to_numpy(float), mask, scale=100.0).estimate(
                resamples=min(context["resamples"], 500), confidence=0.95, seed=context["seed"]
            )
            groups.append((f"{qtype} (n={n})", [("F1", est.value, est.low, est.high)]))
        title = f"F1 by question type — {job.model} · {job.task}"
        bars = charts.bar_chart(groups, title=title, max_value=100.0)
        return {
            "slices": slices,
            "worst": worst,
            "worst_title": "Confident wrong answers (F1 = 0, highest score first)",
            "confusion": None,
            "charts": [chart("question-types", title, bars, job.model, job.task)],
        }

    @classmethod
    def model_index_entry(cls, job: Job, dataset: DatasetRecord) -> ModelIndexEntry:
        names = {
            "exact_match": ("exact_match", "Exact Match"),
            "exact": ("exact_match", "Exact Match"),
            "f1": ("f1", "F1"),
        }
        return {
            "task": {"type": "question-answering", "name": "Question Answering"},
            "dataset": cls.index_dataset(dataset),
            "metrics": index_metrics(job, names),
        }

    @classmethod
    def claim_dataset(cls, job: Job) -> str:
        return str(job.details["metric"])

    @classmethod
    def card_claims(cls, job: Job, dataset: DatasetRecord) -> tuple[str, list[tuple[str, str]]]:
        v2 = job.details["metric"] == "squad_v2"
        exact = "exact" if v2 else "exact_match"
        return cls.index_dataset(dataset)["name"], [("f1", "an F1 score of"), (exact, "an exact match of")]

    @classmethod
    def caveats(cls, job: Job) -> list[str]:
        missing = job.details.get("missing_predictions")
        return [f"{missing} questions had no prediction and score 0."] if missing else []


def qa_metric_defs(frame: pd.DataFrame, metric: str) -> dict[str, MetricDef]:
    """The headline metrics as statistics of the per-example ``exact``/``f1`` (and ``has_answer``) columns."""
    exact, f1 = frame["exact"].to_numpy(float), frame["f1"].to_numpy(float)
    groups = {c: frame[c].astype(str).to_numpy() for c in ExtractiveQATask.cluster_units.values() if c in frame}
    if metric == "squad":
        return {
            "exact_match": mean_def(exact, binary=True, groups=groups, scale=100.0),
            "f1": mean_def(f1, groups=groups, scale=100.0),
        }
    has_answer = frame["has_answer"].to_numpy(bool)
    defs = {
        "exact": mean_def(exact, binary=True, groups=groups, scale=100.0),
        "f1": mean_def(f1, groups=groups, scale=100.0),
    }
    for name, subset in (("HasAns", has_answer), ("NoAns", ~has_answer)):
        if subset.any():
            defs[f"{name}_exact"] = subset_mean_def(exact, subset, binary=True, groups=groups, scale=100.0)
            defs[f"{name}_f1"] = subset_mean_def(f1, subset, groups=groups, scale=100.0)
    return defs


def resolve_metric(choice: str, dataset: Dataset) -> str:
    """``auto`` means SQuAD v2 rules for v2.0 data (or any unanswerable question), else v1.1 rules."""
    if choice != "auto":
        return choice
    return "squad_v2" if dataset.info.get("squad_version") == "2.0" or dataset.has_unanswerable else "squad"


def score_qa(predictions: pd.DataFrame, dataset: Dataset, metric: str, bootstrap: BootstrapSpec, seed: int) -> Scores:
    """Official SQuAD scores of ``predictions`` (columns ``id``, ``prediction``; for v2 threshold tuning
    also ``best_span`` and ``no_answer_probability``), with CIs and slices."""
    examples = dataset.typed(QAExample)
    by_id = dict(zip(predictions["id"].astype(str), predictions["prediction"].fillna(""), strict=True))
    aligned, missing, _ = squad.align_predictions([e.id for e in examples], by_id)
    golds = [list(e.answers) for e in examples]
    ci = bootstrap.settings(seed)

    frame = pd.DataFrame(
        {
            "id": [e.id for e in examples],
            "title": [e.title for e in examples],
            "question": [e.question for e in examples],
            "question_type": [question_type(e.question) for e in examples],
            "context": [e.context for e in examples],
            "gold_answers": golds,
            "gold_starts": [list(e.answer_starts) for e in examples],
            "has_answer": [not e.is_impossible for e in examples],
            "missing": [p is None for p in aligned],
        }
    ).merge(predictions, on="id", how="left")
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
            official["best_exact"], official["best_exact_thresh"] = squad.best_threshold(
                span_exact, probs, has_answer, empty
            )
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
