"""Where QA time goes: the exact engine on the first N SQuAD v1.1 dev questions, split into stages,
with the forward pass broken down by operator (torch.profiler).

    python3 benchmarks/profile_qa.py [--questions 100] [--batch 16] [--model DIR]

Stages: tokenisation into windows, the model's forward passes, span scoring (masked softmax + banded
top-k), and answer assembly (character offsets, merging equal answers). The forward passes' arithmetic
(the encoder's matmuls on the windows as batched, padding included, and on real tokens alone) is set against
the machine's fp32 matmul peak, measured in the same run -- and so is the ceiling that sets: the encoder's linear
layers alone, run in isolation on the same batch shapes with the same kernel (``torch.nn.functional.linear``),
best of 3, as a share of that peak. No engine can run the whole forward pass at a higher share than its own
matmuls reach. ``--model`` profiles a trained checkpoint (e.g.
../shared/models/minilm-squad on its held-out questions, with ``--held-out``); by default a full-size
DistilBERT with deterministic weights on the first dev questions. Never run in tests.
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
sys.path.insert(0, str(REPO / "benchmarks"))

from bench import _timed, matmul_peak  # noqa: E402  (the same peak measurement and timer as the speed benchmark)


def linear_layers_alone(shapes: list[tuple[int, int, int]], d: int, ffn: int, layers: int) -> float:
    """Seconds the encoder's linear layers take in isolation on these batches (windows x padded length tokens):
    per batch, one layer's four d x d projections and two feed-forward matmuls, best of 3, times the layers."""
    import torch
    import torch.nn.functional as F

    weights = [(torch.randn(d, d), torch.randn(d))] * 4 + [
        (torch.randn(ffn, d), torch.randn(ffn)),
        (torch.randn(d, ffn), torch.randn(d)),
    ]
    total = 0.0
    with torch.inference_mode():
        for windows, length, _ in shapes:
            x, hidden = torch.randn(windows * length, d), torch.randn(windows * length, ffn)
            inputs = [x, x, x, x, x, hidden]
            F.linear(x, *weights[0])  # warm-up

            def one_layer(inputs: list[torch.Tensor] = inputs) -> None:
                for tensor, (weight, bias) in zip(inputs, weights, strict=True):
                    F.linear(tensor, weight, bias)

            total += layers * min(_timed(one_layer) for _ in range(3))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--model", type=Path, help="a trained QA checkpoint (default: a built DistilBERT)")
    parser.add_argument("--held-out", type=Path, help="keep only the articles listed in this file")
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from auditkit.engine import qa as qa_engine
    from auditkit.models.synthetic import BuildRecipe, build_model

    raw = json.loads((args.data / "squad" / "dev-v1.1.json").read_text())["data"]
    if args.held_out:
        titles = {line.strip() for line in args.held_out.read_text().splitlines() if line.strip()[:1] not in ("", "#")}
        raw = [article for article in raw if article["title"] in titles]
    items = [(qa["question"], p["context"]) for a in raw for p in a["paragraphs"] for qa in p["qas"]][: args.questions]
    questions, contexts = [q for q, _ in items], [c for _, c in items]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or build_model(
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
    shapes: list[tuple[int, int, int]] = []  # (windows, padded length, real tokens) of every forward pass

    def counted(*a, **k):
        mask = k["attention_mask"]
        shapes.append((int(mask.shape[0]), int(mask.shape[1]), int(mask.sum())))
        return forward(*a, **k)

    model.forward = timed("model forward", counted)
    started = time.perf_counter()  # timed without the profiler, whose hooks cost time of their own
    engine.predict(questions, contexts)
    total = time.perf_counter() - started
    for name, fn in originals.items():
        setattr(qa_engine, name, fn)
    model.forward = forward
    with profile(activities=[ProfilerActivity.CPU]) as prof:  # then once more, for the operators' shares
        engine.predict(questions, contexts)

    print(f"{len(questions)} questions, batch {args.batch}, {torch.get_num_threads()} threads: {total:.2f} s")
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<32}{seconds:>7.2f} s  {100 * seconds / total:>5.1f}%")
    print(
        f"  {'other (batching, copies)':<32}{total - sum(stages.values()):>7.2f} s "
        f" {100 * (total - sum(stages.values())) / total:>5.1f}%"
    )
    peak = matmul_peak()
    config = model.config
    d = config.hidden_size if hasattr(config, "hidden_size") else config.dim
    ffn = config.intermediate_size if hasattr(config, "intermediate_size") else config.hidden_dim
    layers = config.num_hidden_layers if hasattr(config, "num_hidden_layers") else config.n_layers
    linear = 2 * layers * (4 * d * d + 2 * d * ffn)  # FLOPs per token of the projections and the FFN
    padded = sum(linear * b * n + 4 * layers * b * n * n * d for b, n, _ in shapes)  # + QK^T and AV
    real = sum(linear * t for _, _, t in shapes)
    seconds = stages["model forward"]
    print(f"fp32 matmul peak (2048^2, best of 10): {peak:.1f} GFLOP/s")
    print(
        f"forward passes: {padded / seconds / 1e9:.1f} GFLOP/s as batched ({100 * padded / seconds / 1e9 / peak:.0f}%"
        f" of peak), {real / seconds / 1e9:.1f} GFLOP/s on real tokens ({100 * real / seconds / 1e9 / peak:.0f}%)"
    )
    isolated = linear_layers_alone(shapes, d, ffn, layers)
    rate = sum(linear * b * n for b, n, _ in shapes) / isolated / 1e9
    print(
        f"the linear layers alone, in isolation on the same batches: {rate:.1f} GFLOP/s ({100 * rate / peak:.0f}%"
        f" of peak; {isolated:.2f} s against the forward passes' {seconds:.2f} s)"
    )
    print("forward pass by operator (self CPU time):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


if __name__ == "__main__":
    main()
