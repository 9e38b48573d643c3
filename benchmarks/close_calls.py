"""Could a bf16 mode re-check its unsure answers in fp32 and keep exact's answers? Where the changed answers lie.

    python3 benchmarks/close_calls.py [--questions 2000]

minilm-squad on held-out SQuAD v1.1 questions, exact and in the bf16 modes, through auditkit's QA engine. For
every answer a bf16 mode changes, its score (the pipeline's span probability), and for thresholds on that
score the share of questions a hybrid would have to re-run in fp32 against the share of changed answers it
would catch. A hybrid pays only if few re-runs catch most changes. Writes benchmarks/close_calls.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from trained_inputs import add_shared_folders, held_out_squad, squad_file

from auditkit.models.hf import load_model
from auditkit.spec.schema import ModelSpec
from auditkit.tasks import make_task, task_class

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.005, 0.01, 0.02, 0.04, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_folders(parser)
    parser.add_argument("--questions", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    dataset = held_out_squad(args.models, args.data, limit=args.questions)
    task = make_task(
        task_class("extractive_qa").Spec.model_validate(
            {"name": "t", "kind": "extractive_qa", "dataset": {"path": str(squad_file(args.data))}}
        )
    )
    spec = ModelSpec.model_validate({"name": "m", "id": str(args.models / "minilm-squad"), "device": "cpu"})
    frames: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for mode, change in (("exact", {}), ("bf16", {"dtype": "bfloat16"}), ("bf16 autocast", {"autocast": "bfloat16"})):
        model = load_model(spec.model_copy(update=change), "question-answering")
        task.predict(model, dataset.subset(0, 8))  # warm-up
        started = time.perf_counter()
        frames[mode] = task.predict(model, dataset).frame.set_index("id")
        seconds[mode] = time.perf_counter() - started
    exact = frames["exact"]
    result: dict[str, Any] = {"questions": len(dataset), "seconds": seconds, "modes": {}}
    for mode in ("bf16", "bf16 autocast"):
        frame = frames[mode].loc[exact.index]
        changed = ((frame["prediction"] != exact["prediction"]) | (frame["start"] != exact["start"])).to_numpy()
        scores = frame["score"].to_numpy(float)
        result["modes"][mode] = {
            "changed": int(changed.sum()),
            "changed_scores": sorted(round(float(s), 4) for s in scores[changed]),
            "score_quartiles": [round(float(q), 4) for q in np.quantile(scores, [0.25, 0.5, 0.75])],
            "thresholds": [
                {
                    "score_below": tau,
                    "rerun_percent": round(100 * float((scores < tau).mean()), 1),
                    "changes_caught": int((changed & (scores < tau)).sum()),
                }
                for tau in THRESHOLDS
            ],
        }
        print(mode, json.dumps(result["modes"][mode]["thresholds"]))
    target = ROOT / "benchmarks" / "close_calls.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(target)


if __name__ == "__main__":
    main()
