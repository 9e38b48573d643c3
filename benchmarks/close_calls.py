"""Could a bf16 mode re-check its unsure answers in fp32 and keep exact's answers? Where the changed answers lie.

    python3 benchmarks/close_calls.py [--questions 2000]

minilm-squad on held-out SQuAD v1.1 questions, exact and in the bf16 modes, through auditkit's QA engine. For
every answer a bf16 mode changes, two signals of how unsure it was: its score (the pipeline's span
probability) and its margin (log of its score over the runner-up answer's, what ``recheck_margin`` reads); and
for thresholds on each, the share of questions a hybrid would re-run in fp32 against the changed answers it
would catch. A hybrid pays only if few re-runs catch most changes: the score does not tell (half the questions
to catch most), the margin does. Finally the re-checking mode itself (``recheck_margin`` at fast_modes'
RECHECK_MARGIN), run once: its changed answers and how many it re-checked. Seconds are of one run each, for
orientation; speed-ups are measured alternately in fast_modes_trained.py. Writes benchmarks/close_calls.json.
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
from auditkit.running.fast_modes import RECHECK_MARGIN
from auditkit.spec.schema import ModelSpec
from auditkit.tasks import make_task, task_class

ROOT = Path(__file__).resolve().parents[1]
SIGNALS = {  # the column a hybrid would read, and the thresholds tried on it
    "score": (0.005, 0.01, 0.02, 0.04, 0.1),
    "margin": (0.01, 0.02, 0.03, 0.05, 0.1, 0.2),
}


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
    recheck = {"autocast": "bfloat16", "recheck_margin": RECHECK_MARGIN}
    modes = {
        "exact": {},
        "bf16": {"dtype": "bfloat16"},
        "bf16 autocast": {"autocast": "bfloat16"},
        "bf16 autocast + fp32 re-check": recheck,
    }
    for mode, change in modes.items():
        model = load_model(spec.model_copy(update=change), "question-answering")
        task.predict(model, dataset.subset(0, 8))  # warm-up
        started = time.perf_counter()
        frames[mode] = task.predict(model, dataset).frame.set_index("id")
        seconds[mode] = time.perf_counter() - started
    exact = frames["exact"]
    result: dict[str, Any] = {
        "questions": len(dataset),
        "recheck_margin": RECHECK_MARGIN,
        "seconds": seconds,
        "modes": {},
    }
    for mode in modes:
        if mode == "exact":
            continue
        frame = frames[mode].loc[exact.index]
        changed = ((frame["prediction"] != exact["prediction"]) | (frame["start"] != exact["start"])).to_numpy()
        entry: dict[str, Any] = {
            "changed": int(changed.sum()),
            "rechecked": int(frame["rechecked"].sum()) if "rechecked" in frame else 0,
        }
        if mode != "bf16 autocast + fp32 re-check":
            for signal, thresholds in SIGNALS.items():
                values = frame[signal].to_numpy(float)
                entry[signal] = {
                    "changed_values": sorted(round(float(v), 4) for v in values[changed]),
                    "quartiles": [round(float(q), 4) for q in np.quantile(values, [0.25, 0.5, 0.75])],
                    "thresholds": [
                        {
                            "below": tau,
                            "rerun_percent": round(100 * float((values < tau).mean()), 1),
                            "changes_caught": int((changed & (values < tau)).sum()),
                        }
                        for tau in thresholds
                    ],
                }
                print(mode, signal, json.dumps(entry[signal]["thresholds"]))
        result["modes"][mode] = entry
        print(mode, "changed", entry["changed"], "re-checked", entry["rechecked"], f"{seconds[mode]:.1f} s")
    target = ROOT / "benchmarks" / "close_calls.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(target)


if __name__ == "__main__":
    main()
