"""Slicing per-example scores: question types and grouped means, for quantitative analyses."""

from __future__ import annotations

import re

import pandas as pd

#: Checked in order, so "how many" wins over "how".
QUESTION_TYPES = ("how many", "how much", "what", "which", "who", "whom", "whose", "when", "where", "why", "how")
_WORDS = re.compile(r"[a-z]+")


def question_type(question: str) -> str:
    """The first wh-phrase in a question ("how many", "what", ...), or "other"."""
    text = " ".join(_WORDS.findall(question.lower()))
    padded = f" {text} "
    positions = [(padded.find(f" {t} "), -len(t), t) for t in QUESTION_TYPES if f" {t} " in padded]
    if not positions:
        return "other"
    return min(positions)[2]


def grouped_means(
    frame: pd.DataFrame, by: str, columns: list[str], scale: float = 100.0
) -> dict[str, dict[str, float]]:
    """Per group: count and the mean of each column (times ``scale``), groups in descending size."""
    grouped = frame.groupby(by, sort=False)[columns]
    means = grouped.mean() * scale
    counts = grouped.size()
    order = counts.sort_values(ascending=False, kind="stable").index
    return {str(g): {"n": int(counts[g]), **{c: float(means.loc[g, c]) for c in columns}} for g in order}
