"""Classification metrics as functions of per-example columns, so every one can be bootstrapped.

Accuracy is a mean; macro-F1 and per-class precision/recall come from the confusion matrix, whose
cells are sums of indicator columns; expected calibration error (ECE, equal-width confidence bins)
comes from per-bin counts, confidence sums and correctness sums.
"""

from __future__ import annotations

import numpy as np

from .stats import SumsStatistic


def confusion_columns(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(n, k*k) indicators: column ``g*k + p`` is 1 where gold is g and prediction is p."""
    cols = np.zeros((len(gold), k * k))
    cols[np.arange(len(gold)), np.asarray(gold) * k + np.asarray(pred)] = 1.0
    return cols


def confusion_matrix(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Rows: gold label, columns: predicted label."""
    matrix: np.ndarray = confusion_columns(gold, pred, k).sum(axis=0).reshape(k, k).astype(int)
    return matrix


def _per_class(sums: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 per class for each row of confusion sums (r, k*k); 0 where undefined."""
    cm = sums.reshape(-1, k, k)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    predicted = cm.sum(axis=1)
    actual = cm.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def macro_f1_statistic(k: int) -> SumsStatistic:
    """Sums statistic: macro-averaged F1 in percent, over classes present in gold or predictions."""

    def statistic(sums: np.ndarray, n: int) -> np.ndarray:
        cm = sums.reshape(-1, k, k)
        present = (cm.sum(axis=1) + cm.sum(axis=2)) > 0
        _, _, f1 = _per_class(sums, k)
        macro: np.ndarray = 100.0 * (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
        return macro

    return statistic


def per_class_report(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 (percent) and support for every class."""
    k = len(labels)
    sums = confusion_columns(gold, pred, k).sum(axis=0, keepdims=True)
    precision, recall, f1 = _per_class(sums, k)
    support = np.bincount(np.asarray(gold), minlength=k)
    return {
        label: {
            "precision": 100.0 * float(precision[0, j]),
            "recall": 100.0 * float(recall[0, j]),
            "f1": 100.0 * float(f1[0, j]),
            "support": int(support[j]),
        }
        for j, label in enumerate(labels)
    }


def calibration_columns(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> np.ndarray:
    """(n, 3*bins): per bin, membership, confidence and correctness of each example (bins are (lo, hi])."""
    confidence = np.asarray(confidence, dtype=np.float64)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    cols = np.zeros((len(confidence), 3 * bins))
    rows = np.arange(len(confidence))
    cols[rows, which] = 1.0
    cols[rows, bins + which] = confidence
    cols[rows, 2 * bins + which] = np.asarray(correct, dtype=np.float64)
    return cols


def ece_statistic(bins: int = 10) -> SumsStatistic:
    """Sums statistic: expected calibration error in percent points, sum over bins of |acc - conf| x share."""

    def statistic(sums: np.ndarray, n: int) -> np.ndarray:
        conf, correct = sums[:, bins : 2 * bins], sums[:, 2 * bins :]
        ece: np.ndarray = 100.0 * np.abs(correct - conf).sum(axis=1) / n
        return ece

    return statistic


def reliability_table(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict[str, float | None]]:
    """Per confidence bin: range, count, mean confidence and accuracy (for reliability diagrams)."""
    sums = calibration_columns(confidence, correct, bins).sum(axis=0)
    table = []
    for b in range(bins):
        count = sums[b]
        table.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "count": int(count),
                "confidence": float(sums[bins + b] / count) if count else None,
                "accuracy": float(sums[2 * bins + b] / count) if count else None,
            }
        )
    return table
