"""``fast_mode: auto``: measure each fast mode this machine has against exact, on this task's data, and keep
the fastest one that gives (nearly) the same answers -- else run exact.

Why measure: whether bf16 or int8 is faster depends on the CPU (native bf16 or emulated, AMX or not) and
on the load of a shared machine, and whether it changes answers depends on the model and the data: on
minilm-squad dynamic int8 changes almost half of the QA answers while SST-2 labels barely move. An
assumption per CPU flag would pick int8 where it costs 8 F1 points.

How: the first ``fast_mode_calibration`` examples are predicted by exact and by every candidate, in a
rotating order, ``REPEATS`` times, after a warm-up; each candidate's speed-up is exact's time over its time
*in the same round* (so a busy moment slows both), summarised by the median and range over rounds. A
candidate is kept only if at least ``fast_mode_min_agreement`` % of its answers equal exact's, its median
speed-up is at least ``MIN_SPEEDUP`` and no round was slower than exact. The calibration's predictions are
discarded: the job then runs every example, calibration slice included, with the chosen mode. The choice,
every candidate's measurements and the reason are recorded in the model's ``info.fast_mode``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from ..data import Dataset
from ..models import Head, LoadedModel, open_model
from ..results.environment import cpu_features
from ..spec.schema import BootstrapSpec, ModelSpec
from ..tasks.base import Task

#: Timed rounds per calibration; each round runs every mode once, in a rotating order.
REPEATS = 3
#: The least median speed-up that makes a fast mode worth an answer's risk of changing.
MIN_SPEEDUP = 1.1


def candidates(spec: ModelSpec) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The fast modes worth measuring here (name -> ModelSpec changes), and the ones left out with why."""
    from ..models.hf import resolve_device

    device = resolve_device(spec.device)
    native = device.type == "cuda" or any(f in cpu_features() for f in ("avx512_bf16", "amx_bf16"))
    modes: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    if native:
        modes["bf16"] = {"dtype": "bfloat16"}
        modes["bf16 + fp32 head"] = {"dtype": "bfloat16", "head_dtype": "float32"}
        modes["bf16 autocast"] = {"autocast": "bfloat16"}  # float32 residual stream: the fewest changed answers
    else:
        skipped.append("bf16: this CPU has no native bf16 (no AVX512_BF16 or AMX), where it runs emulated and slower")
    if device.type == "cpu":
        modes["int8 (dynamic)"] = {"quantize": "int8", "device": "cpu"}
    else:
        skipped.append(f"int8 (dynamic): a CPU-only kernel, and the model runs on {device.type}")
    return modes, skipped


def _answers(task: Task[Any], model: LoadedModel, dataset: Dataset) -> tuple[list[str], float]:
    """The model's answers on ``dataset`` (the task's answer column, in example order) and the seconds predicting
    took (scoring, which is the same for every mode, is not timed)."""
    started = time.perf_counter()
    frame = task.predict(model, dataset).frame
    seconds = time.perf_counter() - started
    scored = task.score(frame, dataset, BootstrapSpec().model_copy(update={"resamples": 1}), 0).per_example
    by_id = dict(zip(scored["id"].astype(str), scored[str(task.answer_column)].astype(str), strict=True))
    return [by_id.get(str(example.id), "") for example in dataset.examples], seconds


def choose_fast_mode(
    task: Task[Any], spec: ModelSpec, head: Head, dataset: Dataset
) -> tuple[ModelSpec, dict[str, Any]]:
    """The concrete ModelSpec to run (exact or one fast mode) and the record of how it was chosen."""
    exact_spec = spec.model_copy(update={"fast_mode": None})
    modes, skipped = candidates(spec)
    n = min(spec.fast_mode_calibration, len(dataset))
    calibration = dataset.subset(0, n)
    record: dict[str, Any] = {
        "requested": "auto",
        "calibration_task": task.name,
        "calibration_examples": n,
        "repeats": REPEATS,
        "min_agreement": spec.fast_mode_min_agreement,
        "min_speedup": MIN_SPEEDUP,
        "not_measured": skipped,
        "candidates": [],
    }
    if task.answer_column is None:
        reason = f"{task.kind} has no single answer per example to compare with exact's: exact runs"
        record |= {"chosen": "exact", "reason": reason}
        return exact_spec, record
    if not modes or n == 0:
        record |= {"chosen": "exact", "reason": "no fast mode to measure here: " + "; ".join(skipped)}
        return exact_spec, record
    specs = {"exact": exact_spec} | {name: exact_spec.model_copy(update=change) for name, change in modes.items()}
    loaded: dict[str, LoadedModel] = {}
    try:
        for name, variant in specs.items():
            model = open_model(variant, head)
            assert isinstance(model, LoadedModel)
            loaded[name] = model
            task.predict(model, dataset.subset(0, min(8, n)))  # warm-up: first-call allocations and kernels
        answers: dict[str, list[str]] = {}
        seconds: dict[str, list[float]] = {name: [] for name in specs}
        names = list(specs)
        for round_ in range(REPEATS):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                got, took = _answers(task, loaded[name], calibration)
                answers.setdefault(name, got)
                seconds[name].append(took)
    finally:
        for model in loaded.values():
            model.close()
    exact_answers = answers["exact"]
    best: tuple[float, str] | None = None
    for name in modes:
        ratios = [e / s for e, s in zip(seconds["exact"], seconds[name], strict=True)]
        same = sum(a == b for a, b in zip(answers[name], exact_answers, strict=True))
        agreement = 100.0 * same / n
        median = statistics.median(ratios)
        problems = []
        if agreement < spec.fast_mode_min_agreement:
            problems.append(f"{agreement:.1f}% identical answers (< {spec.fast_mode_min_agreement:g}%)")
        if median < MIN_SPEEDUP:
            problems.append(f"median speed-up {median:.2f}x (< {MIN_SPEEDUP:g}x)")
        if min(ratios) < 1.0:
            problems.append(f"slower than exact in a round ({min(ratios):.2f}x)")
        record["candidates"].append(
            {
                "mode": name,
                "speedup_median": round(median, 3),
                "speedup_range": [round(min(ratios), 3), round(max(ratios), 3)],
                "identical_answers": same,
                "agreement": round(agreement, 2),
                "kept": not problems,
                "why_not": "; ".join(problems) or None,
            }
        )
        if not problems and (best is None or median > best[0]):
            best = (median, name)
    if best is None:
        record |= {"chosen": "exact", "reason": "no fast mode was both faster and as good as exact on the calibration"}
        return exact_spec, record
    median, name = best
    kept = next(c for c in record["candidates"] if c["mode"] == name)
    record |= {
        "chosen": name,
        "reason": f"fastest mode keeping {kept['agreement']:g}% identical answers: {median:.2f}x exact (median of"
        f" {REPEATS} rounds on {n} examples of {task.name})",
    }
    return specs[name], record
