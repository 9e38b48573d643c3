"""SQuAD metrics, equal to the official evaluation scripts (evaluate-v1.1.py, evaluate-v2.0.py) digit for digit.

The two scripts differ in small ways that change figures, so both are reproduced separately:

* v1.1 scores every dataset question (a missing prediction scores 0) against *all* gold answers; an
  empty prediction or gold answer gets F1 0.
* v2.0 drops gold answers that normalise to nothing (falling back to ``[""]``), scores an empty
  prediction against an empty gold answer as 1, and reports HasAns/NoAns splits and, given
  no-answer probabilities, the best achievable exact/F1 with their thresholds.

Headline figures are summed in dataset order the way each script sums them (v1.1 with a running
``+=``, v2.0 with ``sum()``, which Python 3.12 made compensated), so the last printed digit agrees;
per-example scores come back as arrays for bootstrapping and slicing.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, and collapse white space (both scripts)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_tokens)
    recall = 1.0 * num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def v1_exact(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


def v1_f1(prediction: str, gold: str) -> float:
    return _token_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def v2_exact(prediction: str, gold: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def _v2_tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def v2_f1(prediction: str, gold: str) -> float:
    gold_tokens, pred_tokens = _v2_tokens(gold), _v2_tokens(prediction)
    if not gold_tokens or not pred_tokens:
        return int(gold_tokens == pred_tokens)
    return _token_f1(pred_tokens, gold_tokens)


def v2_gold_answers(answers: Sequence[str]) -> list[str]:
    """Gold answers as evaluate-v2.0 uses them: those that normalise to something, else ``[""]``."""
    return [a for a in answers if normalize_answer(a)] or [""]


def _per_example(
    predictions: Sequence[str | None],
    golds: Sequence[Sequence[str]],
    exact_fn: Callable[[str, str], float],
    f1_fn: Callable[[str, str], float],
    gold_fn: Callable[[Sequence[str]], list[str]],
) -> tuple[np.ndarray, np.ndarray]:
    exact = np.zeros(len(golds), dtype=np.float64)
    f1 = np.zeros(len(golds), dtype=np.float64)
    for i, (pred, answers) in enumerate(zip(predictions, golds, strict=True)):
        if pred is None:
            continue  # a missing prediction scores 0
        gold = gold_fn(answers)
        exact[i] = max(exact_fn(pred, a) for a in gold)
        f1[i] = max(f1_fn(pred, a) for a in gold)
    return exact, f1


def per_example_v1(predictions: Sequence[str | None], golds: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Exact match (0/1) and F1 (0..1) per question under evaluate-v1.1's rules; ``None`` is a missing prediction
    (scores 0).
    """
    return _per_example(predictions, golds, v1_exact, v1_f1, list)


def per_example_v2(predictions: Sequence[str | None], golds: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Raw exact and F1 per question under evaluate-v2.0's rules; ``None`` is a missing prediction (scores 0)."""
    return _per_example(predictions, golds, v2_exact, v2_f1, v2_gold_answers)


def _percent_v1(values: np.ndarray) -> float:
    """100 * mean as evaluate-v1.1 computes it: a running ``+=`` in dataset order."""
    total = 0.0
    for value in values.tolist():
        total += value
    return 100.0 * total / len(values)


def _percent_v2(values: np.ndarray) -> float:
    """100 * mean as evaluate-v2.0 computes it: the built-in ``sum()`` (compensated from Python 3.12 on)."""
    total: float = sum(values.tolist())
    return 100.0 * total / len(values)


def squad_v1(exact: np.ndarray, f1: np.ndarray) -> dict[str, float]:
    """evaluate-v1.1's output: ``{"exact_match", "f1"}`` over all questions."""
    return {"exact_match": _percent_v1(exact), "f1": _percent_v1(f1)}


def best_threshold(
    scores: np.ndarray, na_probs: np.ndarray, has_answer: np.ndarray, pred_is_empty: np.ndarray
) -> tuple[float, float]:
    """evaluate-v2.0's ``find_best_thresh``: the best score reachable by predicting "no answer" above a threshold.

    Questions are visited by ascending no-answer probability (stable, dataset order on ties); each one
    moved from "no answer" to "answered" gains its score if answerable, loses 1 if not and the prediction
    is non-empty. The running total starts at the number of unanswerable questions.
    """
    order = np.argsort(na_probs, kind="stable")
    diffs = np.where(has_answer, scores, np.where(pred_is_empty, 0.0, -1.0))[order]
    running = np.cumsum(np.concatenate([[float((~has_answer).sum())], diffs]))[1:]
    best_score = float((~has_answer).sum())
    best_thresh = 0.0
    if len(running):
        i = int(np.argmax(running))
        if running[i] > best_score:
            best_score, best_thresh = float(running[i]), float(na_probs[order][i])
    return 100.0 * best_score / len(scores), best_thresh


def squad_v2(
    exact: np.ndarray,
    f1: np.ndarray,
    has_answer: np.ndarray,
    *,
    na_probs: np.ndarray | None = None,
    pred_is_empty: np.ndarray | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float]:
    """evaluate-v2.0's output dictionary (without the optional plots)."""
    has_answer = np.asarray(has_answer, dtype=bool)
    probs = np.zeros(len(exact)) if na_probs is None else np.asarray(na_probs, dtype=np.float64)
    predicted_na = probs > na_prob_thresh
    exact_t = np.where(predicted_na, (~has_answer).astype(float), exact)
    f1_t = np.where(predicted_na, (~has_answer).astype(float), f1)
    out: dict[str, float] = {"exact": _percent_v2(exact_t), "f1": _percent_v2(f1_t), "total": len(exact)}
    for name, subset in (("HasAns", has_answer), ("NoAns", ~has_answer)):
        if subset.any():
            out.update(
                {
                    f"{name}_exact": _percent_v2(exact_t[subset]),
                    f"{name}_f1": _percent_v2(f1_t[subset]),
                    f"{name}_total": int(subset.sum()),
                }
            )
    if na_probs is not None:
        empty = np.zeros(len(exact), dtype=bool) if pred_is_empty is None else np.asarray(pred_is_empty, dtype=bool)
        out["best_exact"], out["best_exact_thresh"] = best_threshold(exact, probs, has_answer, empty)
        out["best_f1"], out["best_f1_thresh"] = best_threshold(f1, probs, has_answer, empty)
    return out


def align_predictions(ids: Sequence[str], predictions: Mapping[str, str]) -> tuple[list[str | None], int, int]:
    """Predictions in dataset order (``None`` where missing), the missing count and the count of unknown ids."""
    aligned = [predictions.get(qid) for qid in ids]
    missing = sum(p is None for p in aligned)
    unknown = len(set(predictions) - set(ids))
    return aligned, missing, unknown
