"""Sequence classification, score-for-score equal to ``pipeline("text-classification", top_k=None)``.

The pipeline runs one text at a time (or pads a whole batch to its longest member). Here all texts
are tokenised at once, sorted by length, and padded per batch. Scores use the pipeline's rule: no
activation for regression, sigmoid for multi-label or single-logit models, softmax otherwise, in float32.

One deliberate difference: texts longer than the model's maximum length are truncated (the pipeline
raises on them by default), and the number truncated is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .batching import BatchTimings, Ragged, run_batches
from .types import ProgressSink, Recheck

Activation = Literal["softmax", "sigmoid", "none"]


def default_activation(config: Any) -> Activation:
    """The text-classification pipeline's ``function_to_apply="default"`` rule."""
    problem = getattr(config, "problem_type", None)
    if problem == "regression":
        return "none"
    if problem == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


@dataclass
class ClassificationOutput:
    """Per text: a score for every model label (in the model's id order)."""

    scores: np.ndarray  # (n, num_labels) float32
    labels: list[str]  # model label names by id
    truncated: int
    rechecked: np.ndarray | None = None  # per text, under a re-checking fast mode: scored again by the exact model

    @property
    def answered(self) -> np.ndarray:
        """Rows with scores; an endpoint leaves NaN rows for the texts whose requests failed."""
        rows: np.ndarray = ~np.isnan(self.scores).any(axis=1)
        return rows

    def ranked(self, row: int) -> list[dict[str, Any]]:
        """The pipeline's ``top_k=None`` output for one text: every label, best first."""
        order = sorted(range(len(self.labels)), key=lambda j: float(self.scores[row, j]), reverse=True)
        return [{"label": self.labels[j], "score": float(self.scores[row, j])} for j in order]


def decision_margins(scores: np.ndarray, activation: Activation) -> np.ndarray:
    """Per text, how far its decision was from changing: log(top / runner-up probability) after a softmax; the
    smallest |logit| of any label after a sigmoid (each label's decision is p > 0.5); inf for regression, which
    has no decision to change."""
    if activation == "none" or scores.shape[1] == 0:
        return np.full(len(scores), np.inf)
    with np.errstate(divide="ignore"):
        if activation == "sigmoid":
            p = scores.astype(np.float64)
            smallest: np.ndarray = np.abs(np.log(p) - np.log1p(-p)).min(axis=1)
            return smallest
        if scores.shape[1] < 2:
            return np.full(len(scores), np.inf)
        top = -np.sort(-scores.astype(np.float64), axis=1)
        margins: np.ndarray = np.log(top[:, 0]) - np.log(top[:, 1])
        return margins


class ClassificationEngine:
    """Scores texts with an AutoModelForSequenceClassification.

    With ``recheck`` (a fast mode's close calls), the texts whose decision margin is below ``recheck.margin``
    are scored again by ``recheck.model``, the exact float32 forward pass, and take its scores.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        batch_size: int = 32,
        activation: Activation | None = None,
        max_length: int | None = None,
        recheck: Recheck | None = None,
    ) -> None:
        self.model = model
        self.recheck = recheck
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.activation = activation or default_activation(model.config)
        limit = int(getattr(tokenizer, "model_max_length", 512) or 512)
        self.max_length = max_length or min(
            limit, int(getattr(model.config, "max_position_embeddings", limit) or limit)
        )
        self.device = next(model.parameters()).device
        self.timings = BatchTimings()
        self.failures: list[
            dict[str, Any]
        ] = []  # local inference never fails per example; endpoint engines fill theirs

    @property
    def labels(self) -> list[str]:
        id2label = self.model.config.id2label
        return [str(id2label[i]) for i in range(self.model.config.num_labels)]

    def predict(
        self,
        texts: Sequence[str],
        progress: ProgressSink | None = None,
        ids: Sequence[str] | None = None,
        pairs: Sequence[str] | None = None,
    ) -> ClassificationOutput:
        """Scores for every text, or every (text, pair) for sequence-pair tasks such as NLI.

        ``ids`` name examples in errors; local inference raises none per example.
        """
        if progress is not None:
            progress.start(len(texts))
        if not texts:
            return ClassificationOutput(np.zeros((0, self.model.config.num_labels), dtype=np.float32), self.labels, 0)
        second = list(pairs) if pairs is not None else None
        encoded = self.tokenizer(list(texts), second, truncation=False, padding=False, return_token_type_ids=True)
        full_lengths = np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))
        truncated = int((full_lengths > self.max_length).sum())
        if truncated:
            encoded = self.tokenizer(
                list(texts),
                second,
                truncation=True,
                max_length=self.max_length,
                padding=False,
                return_token_type_ids=True,
            )
        input_ids = Ragged.from_rows(encoded["input_ids"])
        type_ids = Ragged.from_rows(encoded["token_type_ids"])
        input_names = set(self.tokenizer.model_input_names)
        pad_id = self.tokenizer.pad_token_id or 0
        scores = np.zeros((len(texts), self.model.config.num_labels), dtype=np.float32)

        def step(rows: np.ndarray) -> None:
            ids, mask = input_ids.padded(rows, pad_id)
            inputs = {"input_ids": torch.from_numpy(ids).to(self.device)}
            if "attention_mask" in input_names:
                inputs["attention_mask"] = torch.from_numpy(mask.astype(np.int64)).to(self.device)
            if "token_type_ids" in input_names:
                inputs["token_type_ids"] = torch.from_numpy(type_ids.padded(rows, 0)[0]).to(self.device)
            with torch.inference_mode():
                logits = self.model(**inputs).logits.float()
                if self.activation == "softmax":
                    probs = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
                    probs = probs / probs.sum(dim=-1, keepdim=True)
                elif self.activation == "sigmoid":
                    probs = 1.0 / (1.0 + torch.exp(-logits))
                else:
                    probs = logits
            scores[rows] = probs.cpu().numpy()

        lengths = input_ids.lengths
        order = np.argsort(-lengths, kind="stable")
        self.batch_size = run_batches(
            order, lengths, self.batch_size, step, device=self.device, timings=self.timings, progress=progress
        )
        rechecked = None
        if self.recheck is not None:
            rechecked = decision_margins(scores, self.activation) < self.recheck.margin
            rows = np.flatnonzero(rechecked).tolist()
            if rows:
                exact = ClassificationEngine(
                    self.recheck.model,
                    self.tokenizer,
                    batch_size=self.batch_size,
                    activation=self.activation,
                    max_length=self.max_length,
                )
                exact.timings = self.timings
                again = exact.predict(
                    [texts[i] for i in rows],
                    ids=[ids[i] for i in rows] if ids is not None else None,
                    pairs=[second[i] for i in rows] if second is not None else None,
                )
                scores[rows] = again.scores
        return ClassificationOutput(scores=scores, labels=self.labels, truncated=truncated, rechecked=rechecked)
