"""Length-sorted, dynamically padded batches, per-batch timing, and out-of-memory back-off.

Why length-sorted: padding is wasted compute. Sorting all inputs (all windows of all examples, for QA)
by token count and padding each batch only to its own longest member removes nearly all of it.
Longest batches go first, so an out-of-memory error surfaces on the first batch, where backing off
costs least.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..core.errors import ModelError
from .types import ProgressSink


@dataclass
class Ragged:
    """Variable-length integer rows stored flat (one array + offsets), so batches gather without Python loops."""

    values: np.ndarray
    offsets: np.ndarray  # len(rows) + 1

    @classmethod
    def from_rows(cls, rows: list[list[int]]) -> Ragged:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        return cls(values, offsets)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def padded(self, rows: np.ndarray, pad_value: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``rows`` as a (len(rows), longest) matrix padded with ``pad_value``, and the validity mask."""
        lengths = self.lengths[rows]
        width = int(lengths.max())
        cols = np.arange(width)
        mask = cols[None, :] < lengths[:, None]
        positions = np.where(mask, self.offsets[rows][:, None] + cols[None, :], 0)
        return np.where(mask, self.values[positions], pad_value), mask


def latency_percentiles(ms: np.ndarray, prefix: str) -> dict[str, float]:
    """``{prefix}_p50/_p95/_p99/_mean`` of latencies in milliseconds: what every timing reports and gates read."""
    out = {f"{prefix}_p{q}": float(np.percentile(ms, q)) for q in (50, 95, 99)}
    out[f"{prefix}_mean"] = float(ms.mean())
    return out


@dataclass
class BatchTimings:
    """Wall time of every timed batch (after the warm-up), with its size in examples-equivalents and tokens."""

    seconds: list[float] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    warmup_seconds: float = 0.0

    def record(self, seconds: float, items: int, tokens: int) -> None:
        self.seconds.append(seconds)
        self.items.append(items)
        self.tokens.append(tokens)

    def summary(self) -> dict[str, Any]:
        """Percentiles of per-batch latency (ms) and throughput over the timed batches."""
        if not self.seconds:
            return {"batches": 0}
        secs = np.asarray(self.seconds)
        total = float(secs.sum())
        return {
            "batches": len(secs),
            **latency_percentiles(secs * 1000, "batch_latency_ms"),
            "model_seconds": total,
            "items_per_second": float(sum(self.items) / total) if total > 0 else 0.0,
            "tokens_per_second": float(sum(self.tokens) / total) if total > 0 else 0.0,
            "warmup_seconds": self.warmup_seconds,
            "batch_seconds": [round(x, 6) for x in self.seconds],
            "batch_items": list(self.items),
            "batch_tokens": list(self.tokens),
        }


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures, which shrinking the batch can cure."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def run_batches(
    order: np.ndarray,
    lengths: np.ndarray,
    batch_size: int,
    step: Callable[[np.ndarray], None],
    *,
    device: torch.device,
    timings: BatchTimings,
    progress: ProgressSink | None = None,
) -> int:
    """Call ``step`` on consecutive slices of ``order`` (indices, longest first); return the batch size that held.

    The first slice runs once untimed as a warm-up (allocator, kernels, thread pools) and again timed.
    On out-of-memory the batch size is halved and the same slice retried, down to 1.
    """
    position = 0
    warmed = False
    while position < len(order):
        rows = order[position : position + batch_size]
        try:
            if not warmed:
                started = time.perf_counter()
                step(rows[:1])
                _synchronize(device)
                timings.warmup_seconds = time.perf_counter() - started
                warmed = True
            started = time.perf_counter()
            step(rows)
            _synchronize(device)
            timings.record(time.perf_counter() - started, len(rows), int(lengths[rows].sum()))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if batch_size == 1:
                raise ModelError(
                    "out of memory even at batch size 1", hint="use a smaller max_seq_len, another device or dtype"
                ) from None
            batch_size = max(1, batch_size // 2)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        position += len(rows)
        if progress is not None:
            progress.advance(len(rows))
    return batch_size
