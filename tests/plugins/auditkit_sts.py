"""A sentence-pair regression task (STS-B-like), added to auditkit as ONE module: the proof that a task of a new
shape needs no edit anywhere else.

Each example is two sentences with a float gold similarity in [0, 5]; the model's similarity is 5 x its
probability of the second label of a two-label sequence classifier (or its raw output, for a one-output
regression head). Metrics: Pearson and Spearman correlations (unitless, in [-1, 1]) with paired-bootstrap
intervals, and the mean absolute error (in the data's own unit, similarity points, in [0, 5]).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from auditkit.core.errors import DatasetError
from auditkit.data import DatasetRequest, Parsed, Rows
from auditkit.metrics.info import MetricInfo, declare
from auditkit.metrics.stats import MetricDef, mean_def
from auditkit.results.model import DatasetRecord, Job
from auditkit.spec.schema import BootstrapSpec, StrictModel, TaskSpecBase
from auditkit.tasks import TASKS, Predictions, Scores, Task
from auditkit.tasks.base import Benchmark, ModelIndexEntry, Pairing, ViewContext, index_metrics
from auditkit.views import JobView, WorstExample, fmt

if TYPE_CHECKING:
    from auditkit.data.types import Dataset
    from auditkit.engine.types import ProgressSink
    from auditkit.models import Model

TOP = 5.0  # STS-B's similarity scale: 0 (unrelated) to 5 (same meaning)


@dataclass(frozen=True)
class SentencePair:
    id: str
    sentence1: str
    sentence2: str
    score: float


class STSParams(StrictModel):
    max_length: int = 128


class STSSpec(TaskSpecBase):
    kind: Literal["sts"]
    params: STSParams = STSParams()


def _pearson(sums: np.ndarray, n: Any) -> np.ndarray:
    """Pearson's r from the sums of x, y, x^2, y^2 and xy: a function of column sums, so it bootstraps cheaply."""
    sx, sy, sxx, syy, sxy = (sums[:, k] for k in range(5))
    with np.errstate(divide="ignore", invalid="ignore"):
        r: np.ndarray = (n * sxy - sx * sy) / np.sqrt((n * sxx - sx**2) * (n * syy - sy**2))
    return r


def _correlation_def(x: np.ndarray, y: np.ndarray) -> MetricDef:
    return MetricDef(np.column_stack([x, y, x * x, y * y, x * y]), _pearson)


def _ranks(values: np.ndarray) -> np.ndarray:
    return pd.Series(values).rank(method="average").to_numpy(float)


def sts_metric_defs(frame: pd.DataFrame) -> dict[str, MetricDef]:
    pred, gold = frame["prediction"].to_numpy(float), frame["gold"].to_numpy(float)
    return {
        "pearson": _correlation_def(pred, gold),
        "spearman": _correlation_def(_ranks(pred), _ranks(gold)),
        "mae": mean_def(np.abs(pred - gold), bounds=(0.0, TOP)),
    }


@TASKS.register("sts")
class STSTask(Task[STSSpec]):
    kind = "sts"
    head = "sequence-classification"
    Spec = STSSpec
    metrics = declare(
        MetricInfo("pearson", "Pearson correlation", "", "higher", -1.0, 1.0, aliases=("pearsonr", "pearson r")),
        MetricInfo("spearman", "Spearman correlation", "", "higher", -1.0, 1.0, aliases=("spearmanr",)),
        MetricInfo("mae", "Mean absolute error", "similarity points", "lower", 0.0, TOP),
    )
    headline = ("pearson",)
    intended_use = "Scoring how similar in meaning two English sentences are, on STS-B's 0-5 scale."
    out_of_scope = "Judging paraphrase or entailment: similarity is not equivalence."
    pairing = Pairing(score="closeness", text="sentence1", gold="gold")
    claim_patterns: ClassVar[dict[str, str]] = {"stsb": r"\bsts ?b\b|semantic textual similarity"}
    benchmarks = (Benchmark("nyu-mll/glue", "stsb", "validation", "STS-B", ""),)  # known by its Hub id

    @classmethod
    def parse_rows(cls, rows: Rows, request: DatasetRequest) -> Parsed:
        pairs = []
        for i, (row, where) in enumerate(zip(rows.records, rows.places, strict=True)):
            gold = row.get("score", row.get("label"))
            if not (isinstance(row.get("sentence1"), str) and isinstance(row.get("sentence2"), str)):
                raise DatasetError("needs 'sentence1' and 'sentence2' strings", source=rows.source, location=where)
            if isinstance(gold, bool) or not isinstance(gold, (int, float)) or not 0.0 <= float(gold) <= TOP:
                raise DatasetError(
                    f"the gold similarity {gold!r} is not a number in [0, {TOP:g}]",
                    source=rows.source,
                    location=where,
                    hint="give 'score' (or 'label') as a number from 0 to 5",
                )
            pairs.append(SentencePair(str(row.get("id", i)), row["sentence1"], row["sentence2"], float(gold)))
        return Parsed(pairs)  # type: ignore[arg-type]

    def predict(self, model: Model, dataset: Dataset, progress: ProgressSink | None = None) -> Predictions:
        engine = model.classification_engine("none", self.spec.params.max_length)
        pairs = dataset.typed(SentencePair)
        started = time.perf_counter()
        out = engine.predict(
            [p.sentence1 for p in pairs], progress, ids=[p.id for p in pairs], pairs=[p.sentence2 for p in pairs]
        )
        logits = out.scores
        if logits.shape[1] == 1:
            similarity = logits[:, 0]
        else:
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            similarity = TOP * shifted[:, -1] / shifted.sum(axis=1)
        wall = time.perf_counter() - started
        frame = pd.DataFrame({"id": [p.id for p in pairs], "prediction": similarity.astype(float)})
        timing = {"wall_seconds": wall, "examples": len(pairs), "examples_per_second": len(pairs) / wall}
        return Predictions(frame, {**timing, **engine.timings.summary()})

    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        pairs = dataset.typed(SentencePair)
        frame = pd.DataFrame(
            {
                "id": [p.id for p in pairs],
                "sentence1": [p.sentence1 for p in pairs],
                "sentence2": [p.sentence2 for p in pairs],
                "gold": [p.score for p in pairs],
            }
        ).merge(predictions, on="id")
        frame["closeness"] = -(frame["prediction"] - frame["gold"]).abs()
        metrics = {k: d.estimate(**bootstrap.settings(seed)) for k, d in sts_metric_defs(frame).items()}
        return Scores(frame, metrics, {"pairs": len(frame)})

    @staticmethod
    def metric_defs(frame: pd.DataFrame, job: Job) -> dict[str, MetricDef]:
        return sts_metric_defs(frame)

    @classmethod
    def job_view(cls, job: Job, frame: pd.DataFrame, context: ViewContext) -> JobView:
        worst = frame.assign(error=-frame["closeness"]).sort_values("error", ascending=False).head(5)
        rows: list[WorstExample] = [
            {
                "id": str(r["id"]),
                "question": f"{r['sentence1']} / {r['sentence2']}",
                "title": "",
                "gold": fmt(float(r["gold"])),
                "prediction": fmt(float(r["prediction"])),
                "confidence": "–",
                "excerpt": [],
            }
            for _, r in worst.iterrows()
        ]
        return {"slices": [], "worst": rows, "worst_title": "largest errors", "confusion": None, "charts": []}

    @classmethod
    def model_index_entry(cls, job: Job, dataset: DatasetRecord) -> ModelIndexEntry | None:
        return {
            "task": {"type": "text-classification", "name": "Semantic Textual Similarity"},
            "dataset": cls.index_dataset(dataset),
            "metrics": index_metrics(job, {"pearson": ("pearsonr", "Pearson"), "spearman": ("spearmanr", "Spearman")}),
        }

    @classmethod
    def claim_dataset(cls, job: Job) -> str | None:
        return "stsb"

    @classmethod
    def card_claims(cls, job: Job, dataset: DatasetRecord) -> tuple[str, list[tuple[str, str]]] | None:
        return cls.index_dataset(dataset)["name"], [
            ("pearson", "a Pearson correlation of"),
            ("spearman", "a Spearman correlation of"),
        ]
