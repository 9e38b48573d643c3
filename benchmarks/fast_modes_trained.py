"""Fast modes on trained weights: speed, identical answers and the metric change against the exact model.

    python3 benchmarks/fast_modes_trained.py [--models ../shared/models] [--questions 400] [--rounds 5]

minilm-squad on held-out SQuAD v1.1 questions and minilm-sst2 on the SST-2 dev set, in each mode this CPU
has (exact fp32; bf16 and bf16 with a float32 head where bf16 is native; dynamic int8), with 2 threads.
Modes are timed **alternately and repeatedly in one process**: each round runs every mode once over the whole
set, in a rotating order, after a warm-up, and a mode's speed-up is exact's time over its time in the same
round -- so a busy moment on a shared machine slows both sides of a ratio. Ratios are reported as the median
and range over rounds. For each fast mode also: the share of identical answers (QA: same text and span;
SST-2: same label) and the fast - exact change of F1 / accuracy on the same examples with two 95% paired
intervals: auditkit's finite-sample one (what its comparisons report; conservative at this n) and the
paired percentile bootstrap over examples (what earlier tables used). Finally what ``fast_mode: auto``
chooses here, by its own calibration. Writes benchmarks/fast_modes_trained.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from trained_inputs import add_shared_folders, held_out_squad, sst2_dev

from auditkit.metrics.compare import paired_delta
from auditkit.metrics.stats import mean_def
from auditkit.models.hf import load_model
from auditkit.results.environment import cpu_features
from auditkit.running.fast_modes import candidates, choose_fast_mode
from auditkit.spec.schema import BootstrapSpec, ModelSpec
from auditkit.tasks import make_task, task_class

ROOT = Path(__file__).resolve().parents[1]
#: The examples auto's calibration is asked to pay for here: a long run, so that it measures.
LONG_RUN = 100_000


def measure(kind: str, head: str, checkpoint: Path, dataset: Any, rounds: int) -> dict[str, Any]:
    """Every mode on ``dataset``: speed-up (median, range over rounds), identical answers, metric change."""
    spec = ModelSpec.model_validate({"name": "m", "id": str(checkpoint), "batch_size": 32, "device": "cpu"})
    modes = {"exact": {}, **candidates(spec)[0]}
    task = make_task(
        task_class(kind).Spec.model_validate({"name": "t", "kind": kind, "dataset": {"path": str(dataset.source)}})
    )
    models = {name: load_model(spec.model_copy(update=change), head) for name, change in modes.items()}  # type: ignore[arg-type]
    for model in models.values():
        task.predict(model, dataset.subset(0, 16))  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in modes}
    frames: dict[str, pd.DataFrame] = {}
    names = list(modes)
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            started = time.perf_counter()
            frame = task.predict(models[name], dataset).frame
            seconds[name].append(time.perf_counter() - started)
            frames.setdefault(name, frame)
    scored = {
        name: task.score(frame, dataset, BootstrapSpec(resamples=200), 0).per_example.set_index("id")
        for name, frame in frames.items()
    }
    ids = [e.id for e in dataset.examples]
    metric = "f1" if kind == "extractive_qa" else "correct"
    exact = scored["exact"].loc[ids]
    out: dict[str, Any] = {"examples": len(ids), "rounds": rounds}
    for name in modes:
        mine = scored[name].loc[ids]
        ratios = [e / s for e, s in zip(seconds["exact"], seconds[name], strict=True)]
        same = mine["prediction"].astype(str).to_numpy() == exact["prediction"].astype(str).to_numpy()
        if "start" in mine:
            same &= mine["start"].to_numpy() == exact["start"].to_numpy()
        a, b = exact[metric].to_numpy(float), mine[metric].to_numpy(float)
        change = paired_delta(
            metric, mean_def(a, scale=100.0, binary=kind != "extractive_qa"),
            mean_def(b, scale=100.0, binary=kind != "extractive_qa"), value_a=100 * a.mean(), value_b=100 * b.mean(),
            resamples=2000, confidence=0.95, seed=0,
        )  # fmt: skip
        rng = np.random.default_rng(0)
        draws = rng.integers(0, len(a), size=(2000, len(a)))
        boot = 100 * (b[draws] - a[draws]).mean(axis=1)
        out[name] = {
            "change_paired_bootstrap": [100 * float((b - a).mean()), *np.percentile(boot, [2.5, 97.5]).tolist()],
            "examples_per_second_median": len(ids) / statistics.median(seconds[name]),
            "speedup_median": statistics.median(ratios),
            "speedup_range": [min(ratios), max(ratios)],
            "identical_percent": float(100 * same.mean()),
            "metric": "F1" if kind == "extractive_qa" else "accuracy",
            "value": float(100 * b.mean()),
            "change": [change.delta, change.low, change.high],
        }
        print(kind, name, json.dumps(out[name], default=float), flush=True)
    for model in models.values():
        model.close()
    # These sets are shorter than a job worth calibrating, which auto would run exact without measuring: the
    # benchmark reports what its calibration chooses for a model that will run LONG_RUN examples like these.
    auto = spec.model_copy(update={"fast_mode": "auto"})
    choice = choose_fast_mode(task, auto, head, dataset, LONG_RUN)  # type: ignore[arg-type]
    if choice.model is not None:  # the chosen mode's model, handed over for a job this benchmark does not run
        choice.model.close()
    record = choice.record
    out["fast_mode_auto"] = {"chosen": record["chosen"], "reason": record["reason"], "candidates": record["candidates"]}
    print(kind, "auto:", record["chosen"], "-", record["reason"], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    add_shared_folders(parser)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    squad = held_out_squad(args.models, args.data, sample=args.questions)
    sst2 = sst2_dev(args.data)
    report = {
        "cpu_features": [f for f in cpu_features() if f.startswith(("avx", "amx"))],
        "threads": 2,
        "torch": torch.__version__,
        "qa": measure("extractive_qa", "question-answering", args.models / "minilm-squad", squad, args.rounds),
        "sst2": measure("classification", "sequence-classification", args.models / "minilm-sst2", sst2, args.rounds),
    }
    target = ROOT / "benchmarks" / "fast_modes_trained.json"
    target.write_text(
        json.dumps(report, indent=2, default=lambda x: float(x) if isinstance(x, np.floating) else str(x)) + "\n"
    )
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
