"""The local runner against Ray with N workers, on one machine: wall time of the same suite, alternately.

    python3 benchmarks/ray_workers.py [--questions 1600] [--workers 2] [--rounds 2]

minilm-squad (exact fp32) on held-out SQuAD v1.1 questions, with the prediction cache off, run by the local
runner (one process, torch's threads over every core) and by ``--runner ray --workers N`` on a fresh local Ray
instance (N actors, each one thread, chunks of ``AUDITKIT_CHUNK`` examples to whichever is free), alternately
``rounds`` times in one process so a busy moment of a shared machine hits both. Reported per round: the whole
run's wall time (Ray's start-up included) and the job's (``timing.wall_seconds``), and their ratios; answers
must be identical. Writes benchmarks/ray_workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from trained_inputs import add_shared_folders, held_out_file, squad_file

from auditkit.results.environment import cpu_features
from auditkit.running.runner import run_suite

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_folders(parser)
    parser.add_argument("--questions", type=int, default=1600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="auditkit-ray-bench-"))
    suite = {
        "name": "ray-workers",
        "bootstrap": {"resamples": 50},
        "output_dir": str(out),
        "models": [{"name": "qa", "id": str(args.models / "minilm-squad"), "batch_size": 32}],
        "tasks": [
            {
                "name": "squad",
                "kind": "extractive_qa",
                "dataset": {
                    "path": str(squad_file(args.data)),
                    "articles_file": str(held_out_file(args.models)),
                    "limit": args.questions,
                },
            }
        ],
    }
    rows: list[dict[str, Any]] = []
    answers: dict[str, list[str]] = {}
    for round_ in range(args.rounds):
        order = ["local", "ray"] if round_ % 2 == 0 else ["ray", "local"]
        for runner in order:
            started = time.perf_counter()
            outcome = run_suite(
                suite, quiet=True, use_cache=False, runner=runner, workers=args.workers if runner == "ray" else None
            )
            wall = time.perf_counter() - started
            job = outcome.results.jobs[0]
            frame = pd.read_parquet(outcome.run_dir / job.predictions).sort_values("id")
            answers.setdefault(runner, frame["prediction"].astype(str).tolist())
            rows.append(
                {"round": round_, "runner": runner, "run_seconds": wall, "job_seconds": job.timing.wall_seconds}
            )
            print(rows[-1], flush=True)
    assert answers["local"] == answers["ray"], "the Ray runner's answers differ from the local runner's"

    def ratios(key: str) -> list[float]:
        by_round = {(r["round"], r["runner"]): r[key] for r in rows}
        return [by_round[(i, "local")] / by_round[(i, "ray")] for i in range(args.rounds)]

    result = {
        "machine": {"cpu_count": os.cpu_count(), "cpu_features": cpu_features()},
        "questions": args.questions,
        "workers": args.workers,
        "rounds": rows,
        "identical_answers": True,
        "speedup_run_median": statistics.median(ratios("run_seconds")),
        "speedup_run_range": [min(ratios("run_seconds")), max(ratios("run_seconds"))],
        "speedup_job_median": statistics.median(ratios("job_seconds")),
        "speedup_job_range": [min(ratios("job_seconds")), max(ratios("job_seconds"))],
    }
    target = ROOT / "benchmarks" / "ray_workers.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k.startswith("speedup")}), target)


if __name__ == "__main__":
    main()
