"""Prediction cache and resume: a job's predictions keyed by everything that determines them.

Key = model fingerprint (config, weights, tokenizer) + dataset fingerprint (content) + task parameters
+ device, dtype, quantisation and the torch/transformers versions. A job runs in chunks of examples; each finished
chunk is written atomically under ``$AUDITKIT_CACHE/predictions/<key>/``, so a run that is interrupted
(Ctrl-C, a killed process) resumes from the last completed chunk -- no example lost, none done twice --
and a finished job is a cache hit: re-running a suite recomputes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.types import Dataset
from ..engine.batching import BatchTimings, latency_percentiles
from ..engine.types import ProgressSink
from ..models import Model
from ..models.hf import LoadedModel, cache_dir
from ..results import atomic_write_json, atomic_write_parquet
from ..tasks.base import Predictions, Task
from .executors import ShardRunner, local_shards

CACHE_FORMAT = 1


def chunk_size() -> int:
    """Examples per chunk (``$AUDITKIT_CHUNK``, default 256), a multiple of 4 so bias-probe instances stay whole."""
    size = int(os.environ.get("AUDITKIT_CHUNK", "256"))
    return max(4, (size + 3) // 4 * 4)


def cache_key(model: LoadedModel, dataset: Dataset, task: Task[Any]) -> str:
    import torch
    import transformers

    parts = {
        "format": CACHE_FORMAT,
        "model": model.fingerprint["model_sha256"],
        "dataset": dataset.fingerprint,
        "task": task.params_fingerprint(),
        "device": str(model.device.type),
        "dtype": model.info.get("dtype"),
        "quantize": model.info.get("quantize"),
        "head_dtype": model.info.get("head_dtype"),
        "autocast": model.info.get("autocast"),
        "recheck_margin": model.info.get("recheck_margin"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def merge_timings(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One job's timing from its chunks': totals summed, batch statistics recomputed over all batches.

    A chunk's last batch is often partial only because the chunk ended there (``--until-decided`` looks every
    64 examples): with several chunks those are left out of the batch latencies, so a job run in looks and
    one run in full time batches of the same size and their percentiles compare.
    """
    merged = dict(parts[0])
    timings = BatchTimings()
    dropped = sum(part.get("partial_batches_dropped", 0) for part in parts)  # parts that were merged themselves
    for part in parts:
        rows = list(
            zip(part.get("batch_seconds", []), part.get("batch_items", []), part.get("batch_tokens", []), strict=False)
        )
        if len(parts) > 1 and len(rows) > 1 and rows[-1][1] < max(items for _, items, _ in rows):
            rows, dropped = rows[:-1], dropped + 1
        for seconds, items, tokens in rows:
            timings.record(seconds, items, tokens)
    merged.update(timings.summary())
    merged.pop("partial_batches_dropped", None)
    if dropped:
        merged["partial_batches_dropped"] = dropped
    for key in ("request_seconds", "single_request_seconds", "retry_waits"):
        if any(p.get(key) for p in parts):
            merged[key] = [x for p in parts for x in p.get(key) or []]
    for key in ("requests", "attempts", "retries"):
        if key in parts[0]:
            merged[key] = sum(p.get(key, 0) for p in parts)
    if merged.get("request_seconds"):  # percentiles of every request of every chunk, not of the first chunk's
        merged.update(latency_percentiles(1000.0 * np.asarray(merged["request_seconds"]), "request_latency_ms"))
    merged["warmup_seconds"] = sum(p.get("warmup_seconds", 0.0) for p in parts)
    for key in ("wall_seconds", "examples", "windows"):
        if key in parts[0]:
            merged[key] = sum(p.get(key, 0) for p in parts)
    for key in ("calibration_examples", "resumed_chunks"):  # set on whole jobs: summed over --until-decided's looks
        if any(key in p for p in parts):
            merged[key] = sum(p.get(key, 0) for p in parts)
    merged["examples_per_second"] = merged["examples"] / merged["wall_seconds"] if merged.get("wall_seconds") else 0.0
    merged["chunks"] = len(parts)
    return merged


def join_predictions(parts: list[Predictions]) -> Predictions:
    """Consecutive parts of one job's predictions as one: rows in order, timings merged, notes once each."""
    return Predictions(
        pd.concat([p.frame for p in parts], ignore_index=True),
        merge_timings([p.timing for p in parts]),
        list(dict.fromkeys(note for p in parts for note in p.notes)),
        [f for p in parts for f in p.failures],
    )


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
        atomic_write_json(
            self.chunks / f"{size}-{index:06d}.json", {"timing": part.timing, "notes": part.notes}
        )  # written last: marks the chunk done

    def finish(self, predictions: Predictions) -> None:
        atomic_write_parquet(self.dir / "predictions.parquet", predictions.frame)
        atomic_write_json(self.dir / "meta.json", {"timing": predictions.timing, "notes": predictions.notes})
        shutil.rmtree(self.chunks, ignore_errors=True)


def take_rows(precomputed: Predictions, dataset: Dataset) -> tuple[Predictions | None, Dataset]:
    """The rows ``precomputed`` holds for ``dataset``'s examples (None: none), and the examples still to predict.

    The rows' time is their share of what making all of ``precomputed`` took (its wall seconds per example), so a
    job that takes them reports the time they cost, not zero; their batches were timed with the calibration's."""
    ids = {str(example.id) for example in dataset.examples}
    frame = precomputed.frame[precomputed.frame["id"].astype(str).isin(ids)].reset_index(drop=True)
    failures = [f for f in precomputed.failures if str(f["id"]) in ids]
    given = set(frame["id"].astype(str)) | {str(f["id"]) for f in failures}
    if not given:
        return None, dataset
    source = precomputed.timing
    share = (len(frame) + len(failures)) / max(1, source.get("examples") or len(precomputed.frame))
    timing: dict[str, Any] = {
        key: source[key] for key in ("batch_size_used", "activation", "model_labels") if key in source
    }
    timing["wall_seconds"] = share * float(source.get("wall_seconds") or 0.0)
    timing["examples"] = len(frame) + len(failures)
    if "windows" in frame:
        timing["windows"] = int(frame["windows"].sum())
    part = Predictions(frame, timing, list(precomputed.notes), failures)
    return part, dataset.without(given)


def in_order(per_example: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Per-example rows in the dataset's order (for ``--until-decided``, the order seen: sequential tests depend
    on it; for a chunk, calibration rows joined to predicted ones)."""
    position = {example.id: i for i, example in enumerate(dataset.examples)}
    keys = per_example["id"].astype(str).map(position)
    return (
        per_example.assign(_order=keys)
        .sort_values("_order", kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def predict_cached(
    task: Task[Any],
    model: Model,
    dataset: Dataset,
    progress: ProgressSink | None = None,
    *,
    use_cache: bool = True,
    shards: ShardRunner | None = None,
    precomputed: Predictions | None = None,
) -> Predictions:
    """``task.predict`` the dataset chunk by chunk through the cache; reuse whatever is already there.

    ``precomputed`` holds predictions this model already made for some of the examples (``fast_mode: auto``'s
    calibration, rows keyed by ``id``): they are taken, and cached with their chunks, as if this job had just
    predicted them; only the rest of each chunk is predicted.

    ``shards`` computes the missing chunks elsewhere (a Ray cluster); chunk boundaries are the same
    either way, so a job split across workers batches exactly as it would here. Endpoints bypass the
    cache and run here: the deployment behind a URL can change between runs, and a release gate must
    ask the one serving users now.
    """
    if not isinstance(model, LoadedModel):
        return task.predict(model, dataset, progress)  # endpoints are never cached (see above)
    if not use_cache and shards is None and precomputed is None:
        return task.predict(model, dataset, progress)
    cache = PredictionCache(cache_key(model, dataset, task)) if use_cache else None
    done = cache.complete() if cache is not None else None
    if done is not None:
        return done
    size = chunk_size()
    chunks = [(index, dataset.subset(start, start + size)) for index, start in enumerate(range(0, len(dataset), size))]
    parts: dict[int, Predictions] = {}
    if cache is not None:
        for index, _ in chunks:
            part = cache.load_chunk(index, size)
            if part is not None:
                parts[index] = part
    reused = set(parts)
    given: dict[int, Predictions] = {}  # chunk -> the rows the calibration already predicted
    todo: list[tuple[int, Dataset]] = []
    for index, chunk in chunks:
        if index in parts:
            continue
        taken, rest = take_rows(precomputed, chunk) if precomputed is not None else (None, chunk)
        if taken is not None:
            given[index] = taken
        if len(rest):
            todo.append((index, rest))
        elif taken is not None:
            parts[index] = taken
            if cache is not None:
                cache.save_chunk(index, size, taken)
    started = time.perf_counter()
    for index, part in (shards or local_shards)(task, model, todo, progress):
        if index in given:
            joined = join_predictions([given[index], part])
            part = Predictions(in_order(joined.frame, chunks[index][1]), joined.timing, joined.notes, joined.failures)
        if cache is not None:
            cache.save_chunk(index, size, part)
        parts[index] = part
    elapsed = time.perf_counter() - started
    merged = join_predictions([parts[index] for index, _ in chunks])
    timing = merged.timing
    timing["resumed_chunks"] = len(reused)
    if given:
        timing["calibration_examples"] = sum(part.timing["examples"] for part in given.values())
    if shards is not None:  # chunks ran in parallel: the job took the elapsed time, not the sum of the chunks'
        earlier = sum(parts[i].timing.get("wall_seconds", 0.0) for i in reused)
        timing["wall_seconds"] = elapsed + earlier + sum(part.timing["wall_seconds"] for part in given.values())
        timing["examples_per_second"] = timing["examples"] / timing["wall_seconds"] if timing["wall_seconds"] else 0.0
    if cache is not None:
        cache.finish(merged)
    return merged
