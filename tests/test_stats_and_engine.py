"""Bootstrap intervals, classification metrics from sums, and the batching engine's mechanics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditkit.core.errors import ModelError
from auditkit.engine.batching import BatchTimings, Ragged, run_batches
from auditkit.metrics import classification as cm
from auditkit.metrics.stats import estimate, mean_def, resampled_sums


def test_bootstrap_is_seeded_and_matches_the_normal_approximation() -> None:
    values = np.random.default_rng(0).integers(0, 2, size=2000).astype(float)
    a = mean_def(values, scale=100.0).estimate(resamples=2000, confidence=0.95, seed=1)
    b = mean_def(values, scale=100.0).estimate(resamples=2000, confidence=0.95, seed=1)
    c = mean_def(values, scale=100.0).estimate(resamples=2000, confidence=0.95, seed=2)
    assert a == b and a != c
    p = values.mean()
    half_width = 1.96 * np.sqrt(p * (1 - p) / len(values)) * 100
    assert a.value == pytest.approx(100 * p)
    assert (a.high - a.low) / 2 == pytest.approx(half_width, rel=0.1)
    assert a.low < a.value < a.high


def test_resampled_sums_are_sums_of_resampled_rows() -> None:
    columns = np.arange(12, dtype=float).reshape(6, 2)
    sums, n = resampled_sums(columns, resamples=500, seed=0)
    # Each resample draws 6 rows, so column 1 minus column 0 always sums to 6 x 1.
    assert n == 6 and np.allclose(sums[:, 1] - sums[:, 0], 6.0)
    assert sums[:, 0].mean() == pytest.approx(6 * columns[:, 0].mean(), rel=0.05)
    # Whole clusters: rows 0-2 and 3-5 are two clusters; each resample draws two clusters of three rows.
    sums, sizes = resampled_sums(columns, resamples=500, seed=0, clusters=np.array(["a"] * 3 + ["b"] * 3))
    assert np.allclose(sizes, 6.0) and np.allclose(sums[:, 1] - sums[:, 0], 6.0)
    assert set(np.round(sums[:, 0]).tolist()) == {12.0, 30.0, 48.0}  # aa, ab, bb (column 0 sums 6 and 24)


def test_macro_f1_and_ece_from_sums_equal_direct_computation() -> None:
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 300)
    pred = np.where(rng.random(300) < 0.7, gold, rng.integers(0, 3, 300))
    f1s = []
    for c in range(3):
        tp = np.sum((pred == c) & (gold == c))
        precision, recall = tp / np.sum(pred == c), tp / np.sum(gold == c)
        f1s.append(2 * precision * recall / (precision + recall))
    macro = estimate(
        cm.confusion_columns(gold, pred, 3), cm.macro_f1_statistic(3), resamples=200, confidence=0.95, seed=0
    )
    assert macro.value == pytest.approx(100 * np.mean(f1s))
    assert macro.low < macro.value < macro.high

    confidence = rng.uniform(0.5, 1.0, 300)
    correct = (gold == pred).astype(float)
    direct = 0.0
    for b in range(10):
        in_bin = (confidence > b / 10) & (confidence <= (b + 1) / 10)
        if in_bin.any():
            direct += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    ece = estimate(
        cm.calibration_columns(confidence, correct, 10), cm.ece_statistic(10), resamples=100, confidence=0.95, seed=0
    )
    assert ece.value == pytest.approx(100 * direct)
    assert cm.per_class_report(gold, pred, ["a", "b", "c"])["b"]["f1"] == pytest.approx(100 * f1s[1])


def test_ragged_padding() -> None:
    rows = Ragged.from_rows([[1, 2, 3], [4], [5, 6]])
    padded, mask = rows.padded(np.array([2, 0, 1]), pad_value=0)
    assert padded.tolist() == [[5, 6, 0], [1, 2, 3], [4, 0, 0]]
    assert mask.tolist() == [[True, True, False], [True, True, True], [True, False, False]]


def test_out_of_memory_halves_the_batch_and_loses_nothing() -> None:
    seen: list[int] = []

    def step(rows: np.ndarray) -> None:
        if len(rows) > 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        seen.extend(rows.tolist())

    order = np.arange(50)
    timings = BatchTimings()
    final = run_batches(order, np.full(50, 10), 32, step, device=torch.device("cpu"), timings=timings)
    assert final == 2  # 32 -> 16 -> 8 -> 4 -> 2
    assert seen[0] == 0 and sorted(seen[1:]) == list(range(50))  # warm-up row, then every row exactly once
    assert sum(timings.items) == 50


def test_out_of_memory_at_batch_size_one_is_a_model_error() -> None:
    def step(rows: np.ndarray) -> None:
        raise RuntimeError("out of memory")

    with pytest.raises(ModelError, match="out of memory even at batch size 1"):
        run_batches(np.arange(3), np.ones(3), 4, step, device=torch.device("cpu"), timings=BatchTimings())


def test_other_errors_are_not_swallowed() -> None:
    def step(rows: np.ndarray) -> None:
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):
        run_batches(np.arange(3), np.ones(3), 4, step, device=torch.device("cpu"), timings=BatchTimings())
