"""Where QA time goes: the exact engine on the first N SQuAD v1.1 dev questions, split into stages,
with the forward pass broken down by operator (torch.profiler).

    python3 benchmarks/profile_qa.py [--questions 100] [--batch 16]

Stages: tokenisation into windows, the model's forward passes, span scoring (masked softmax + banded
top-k), and answer assembly (character offsets, merging equal answers). Never run in tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from auditkit.engine import qa as qa_engine
    from auditkit.models.synthetic import BuildRecipe, build_model

    raw = json.loads((args.data / "squad" / "dev-v1.1.json").read_text())["data"]
    items = [(qa["question"], p["context"]) for a in raw for p in a["paragraphs"] for qa in p["qas"]][: args.questions]
    questions, contexts = [q for q, _ in items], [c for _, c in items]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(
            BuildRecipe("distilbert-base-cased-distilled-squad", args.data / "vocab" / "bert-base-cased-vocab.txt"),
            Path(tmp) / "qa",
        )
        model = AutoModelForQuestionAnswering.from_pretrained(model_dir).eval()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    engine = qa_engine.QAEngine(model, tokenizer, qa_engine.QASettings(), batch_size=args.batch)
    engine.predict(questions[:4], contexts[:4])  # warm-up

    stages: dict[str, float] = {}

    def timed(name: str, fn):
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    originals = {
        name: getattr(qa_engine, name) for name in ("encode_windows", "window_probabilities", "window_candidates")
    }
    qa_engine.encode_windows = timed("tokenise into windows", originals["encode_windows"])
    qa_engine.window_probabilities = timed("span scoring: masked softmax", originals["window_probabilities"])
    qa_engine.window_candidates = timed("span scoring: banded top-k", originals["window_candidates"])
    engine._assemble = timed("answer assembly", engine._assemble)
    forward = model.forward
    model.forward = timed("model forward", forward)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        engine.predict(questions, contexts)
        total = time.perf_counter() - started
    for name, fn in originals.items():
        setattr(qa_engine, name, fn)

    print(f"{len(questions)} questions, batch {args.batch}, {torch.get_num_threads()} threads: {total:.2f} s")
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<32}{seconds:>7.2f} s  {100 * seconds / total:>5.1f}%")
    print(
        f"  {'other (batching, copies)':<32}{total - sum(stages.values()):>7.2f} s "
        f" {100 * (total - sum(stages.values())) / total:>5.1f}%"
    )
    print("forward pass by operator (self CPU time):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


if __name__ == "__main__":
    main()
