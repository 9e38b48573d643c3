"""Prediction cache and resume: a job's predictions keyed by everything that determines them.

Key = model fingerprint (config, weights, tokenizer) + dataset fingerprint (content) + task parameters
+ device, dtype and the torch/transformers versions. A job runs in chunks of examples; each finished
chunk is written atomically under ``$AUDITKIT_CACHE/predictions/<key>/``, so a run that is interrupted
(Ctrl-C, a killed process) resumes from the last completed chunk -- no example lost, none done twice --
and a finished job is a cache hit: re-running a suite recomputes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from .data.types import Dataset
from .engine.batching import BatchTimings, ProgressSink
from .models import Model
from .models.hf import LoadedModel, cache_dir
from .results import atomic_write_json, atomic_write_parquet
from .tasks.base import Predictions, Task

CACHE_FORMAT = 1


def chunk_size() -> int:
    """Examples per chunk (``$AUDITKIT_CHUNK``, default 256), a multiple of 4 so bias-probe instances stay whole."""
    size = int(os.environ.get("AUDITKIT_CHUNK", "256"))
    return max(4, (size + 3) // 4 * 4)


def cache_key(model: LoadedModel, dataset: Dataset, task: Task) -> str:
    import torch
    import transformers

    parts = {
        "format": CACHE_FORMAT, "model": model.fingerprint["model_sha256"], "dataset": dataset.fingerprint, "task": task.params_fingerprint(),
        "device": str(model.device.type), "dtype": model.info.get("dtype"), "torch": torch.__version__, "transformers": transformers.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def merge_timings(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One job's timing from its chunks': totals summed, batch statistics recomputed over all batches."""
    merged = dict(parts[0])
    timings = BatchTimings()
    for part in parts:
        for seconds, items, tokens in zip(part.get("batch_seconds", []), part.get("batch_items", []), part.get("batch_tokens", [])):
            timings.record(seconds, items, tokens)
    merged.update(timings.summary())
    merged["warmup_seconds"] = sum(p.get("warmup_seconds", 0.0) for p in parts)
    for key in ("wall_seconds", "examples", "windows"):
        if key in parts[0]:
            merged[key] = sum(p.get(key, 0) for p in parts)
    merged["examples_per_second"] = merged["examples"] / merged["wall_seconds"] if merged.get("wall_seconds") else 0.0
    merged["chunks"] = len(parts)
    return merged


class PredictionCache:
    """The cached predictions of one (model, dataset, task) job."""

    def __init__(self, key: str, root: Path | None = None) -> None:
        self.dir = (root or cache_dir()) / "predictions" / key
        self.chunks = self.dir / "chunks"

    def complete(self) -> Predictions | None:
        frame, meta = self.dir / "predictions.parquet", self.dir / "meta.json"
        if not (frame.is_file() and meta.is_file()):
            return None
        info = json.loads(meta.read_text())
        return Predictions(pd.read_parquet(frame), {**info["timing"], "cached": True}, info["notes"])

    def load_chunk(self, index: int, size: int) -> Predictions | None:
        frame, meta = self.chunks / f"{size}-{index:06d}.parquet", self.chunks / f"{size}-{index:06d}.json"
        if not (frame.is_file() and meta.is_file()):
            return None
        info = json.loads(meta.read_text())
        return Predictions(pd.read_parquet(frame), info["timing"], info["notes"])

    def save_chunk(self, index: int, size: int, part: Predictions) -> None:
        atomic_write_parquet(self.chunks / f"{size}-{index:06d}.parquet", part.frame)
        atomic_write_json(self.chunks / f"{size}-{index:06d}.json", {"timing": part.timing, "notes": part.notes})  # written last: marks the chunk done

    def finish(self, predictions: Predictions) -> None:
        atomic_write_parquet(self.dir / "predictions.parquet", predictions.frame)
        atomic_write_json(self.dir / "meta.json", {"timing": predictions.timing, "notes": predictions.notes})
        shutil.rmtree(self.chunks, ignore_errors=True)


def predict_cached(task: Task, model: Model, dataset: Dataset, progress: ProgressSink | None = None, *, use_cache: bool = True) -> Predictions:
    """``task.predict`` the dataset chunk by chunk through the cache; reuse whatever is already there.

    Endpoints bypass the cache: the deployment behind a URL can change between runs, and a release
    gate must ask the one serving users now.
    """
    if not use_cache or not model.cacheable:
        return task.predict(model, dataset, progress)
    cache = PredictionCache(cache_key(model, dataset, task))
    done = cache.complete()
    if done is not None:
        return done
    size = chunk_size()
    parts = []
    resumed = 0
    for index, start in enumerate(range(0, len(dataset), size)):
        part = cache.load_chunk(index, size)
        if part is None:
            part = task.predict(model, dataset.subset(start, start + size), progress)
            cache.save_chunk(index, size, part)
        else:
            resumed += 1
        parts.append(part)
    notes = list(dict.fromkeys(note for part in parts for note in part.notes))
    merged = Predictions(pd.concat([p.frame for p in parts], ignore_index=True), {**merge_timings([p.timing for p in parts]), "resumed_chunks": resumed}, notes)
    cache.finish(merged)
    return merged
