"""Single-request latency: what one user's request costs, as an online endpoint would serve it.

Batched throughput says little about the latency a single caller sees, so a model may also time
``single_request_latency: N`` examples one at a time -- each through the task's whole prediction path
(tokenisation, every window of a long context, the forward pass, answer extraction) at batch size 1,
after one untimed warm-up request.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..data.types import Dataset
from ..engine.batching import latency_percentiles
from ..models import Model
from ..tasks.base import Task


def single_request_latency(task: Task[Any], model: Model, dataset: Dataset, count: int) -> dict[str, Any]:
    """Percentiles (ms) of ``count`` one-example predictions of ``dataset``'s first examples."""
    count = min(count, len(dataset))
    task.predict(model, dataset.subset(0, 1))  # warm-up: allocator, kernels, thread pools, a connection
    seconds = []
    for i in range(count):
        started = time.perf_counter()
        task.predict(model, dataset.subset(i, i + 1))
        seconds.append(time.perf_counter() - started)
    return {
        "single_request_examples": count,
        **latency_percentiles(np.asarray(seconds) * 1000, "single_request_ms"),
        "single_request_seconds": [round(x, 6) for x in seconds],
    }
