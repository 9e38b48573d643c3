"""Side-by-side speed of auditkit's engines and the transformers pipelines, measured in one run.

    python3 benchmarks/bench.py --ref-python /tmp/ref457/bin/python [--questions 300] [--out benchmarks/results.json]

Each configuration runs in a subprocess of its own (so peak RSS is that configuration's), on the same
full-size DistilBERT (the published architecture, deterministic weights built by auditkit), the
first N SQuAD v1.1 dev questions with the default 384/128 windows, and the 872 SST-2 dev sentences:

* QA: transformers 4.57.6 ``pipeline("question-answering")`` (the reference; run with ``--ref-python``,
  a virtualenv holding torch==2.13.0 and transformers==4.57.6) at batch sizes 1, 16 and 32, against
  auditkit's QA engine at several batch sizes under the installed transformers;
* SST-2: the installed transformers' ``pipeline("text-classification")`` at batch 1 and 32, against
  auditkit's classification engine;
* the opt-in fast modes on CPU -- ``dtype: bfloat16`` and ``quantize: int8`` -- against the exact
  (fp32) engine at the same batch size: speed-up, identical answers, and the F1 (QA) or accuracy
  (SST-2) change with a 95% paired-bootstrap interval over the same examples;
* single-request latency: the exact QA engine answering one question at a time (batch 1, after a
  warm-up), as an online endpoint would.

It prints a table (examples/s, total s, peak RSS, speed-up over the best pipeline setting, GFLOP/s on
real tokens, answers identical to the pipeline's) and writes it as JSON. The fp32 matmul peak of the
machine is measured in the same run, so GFLOP/s can be read as a fraction of it. Never run in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """fp32 GFLOP/s of a square matmul, best of ``repeats`` (the machine's practical ceiling)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forward_flops(config: dict, lengths: list[int]) -> float:
    """Forward FLOPs of a DistilBERT-shaped encoder over windows of the given real lengths (no padding)."""
    d, hidden, layers = config["dim"], config["hidden_dim"], config["n_layers"]
    per_token = layers * 2 * (4 * d * d + 2 * d * hidden)  # q, k, v, out projections and the two FFN matrices
    attention = layers * 4 * d  # QK^T and attention x V, per token pair
    return float(sum(per_token * n + attention * n * n for n in lengths))


def squad_questions(data: Path, count: int) -> list[tuple[str, str, str]]:
    raw = json.loads((data / "squad" / "dev-v1.1.json").read_text())["data"]
    return [(qa["id"], qa["question"], p["context"]) for a in raw for p in a["paragraphs"] for qa in p["qas"]][:count]


def one(kind: str, batch: int, model_dir: str, data: Path, count: int) -> dict:
    """Run one configuration in this process; return its measurements (and answers, for agreement)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    if kind.startswith("qa"):
        items = squad_questions(data, count)
        questions, contexts = [q for _, q, _ in items], [c for _, _, c in items]
        if kind == "qa-pipeline":
            from transformers import pipeline

            qa = pipeline("question-answering", model=model_dir, tokenizer=model_dir, device=-1)
            start = time.perf_counter()
            outputs = qa(question=questions, context=contexts, batch_size=batch)
            wall = time.perf_counter() - start
            answers = [[o["answer"], o["start"], o["end"], o["score"]] for o in outputs]
        else:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            from auditkit.engine.qa import QAEngine, QASettings, encode_windows

            model = _fast_mode(
                AutoModelForQuestionAnswering.from_pretrained(model_dir, dtype=_dtype(kind)).eval(), kind
            )
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            engine = QAEngine(model, tokenizer, QASettings(), batch_size=batch)
            if kind == "qa-auditkit-single":
                return _single_requests(engine, questions, contexts)
            start = time.perf_counter()
            preds = engine.predict(questions, contexts)
            wall = time.perf_counter() - start
            answers = [
                [p.answers[0]["answer"], p.answers[0]["start"], p.answers[0]["end"], p.answers[0]["score"]]
                for p in preds
            ]
            windows = encode_windows(
                tokenizer, questions, contexts, [str(i) for i in range(len(questions))], engine.settings
            )
            lengths = windows.input_ids.lengths.tolist()
            return {
                "kind": kind,
                "batch": batch,
                "examples": len(items),
                "wall_s": wall,
                "peak_rss_mb": _rss(),
                "answers": answers,
                "window_lengths": lengths,
            }
        return {
            "kind": kind,
            "batch": batch,
            "examples": len(items),
            "wall_s": wall,
            "peak_rss_mb": _rss(),
            "answers": answers,
        }
    import csv

    with open(data / "sst2" / "dev.tsv", encoding="utf-8") as fh:
        texts = [row["sentence"] for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    if kind == "cls-pipeline":
        from transformers import pipeline

        clf = pipeline("text-classification", model=model_dir, tokenizer=model_dir, top_k=None, device=-1)
        start = time.perf_counter()
        outputs = clf(texts, batch_size=batch)
        wall = time.perf_counter() - start
        answers = [max(o, key=lambda x: x["score"])["label"] for o in outputs]
    else:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from auditkit.engine.classify import ClassificationEngine

        model = _fast_mode(
            AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=_dtype(kind)).eval(), kind
        )
        engine = ClassificationEngine(model, AutoTokenizer.from_pretrained(model_dir), batch_size=batch)
        start = time.perf_counter()
        out = engine.predict(texts)
        wall = time.perf_counter() - start
        answers = [out.labels[j] for j in out.scores.argmax(axis=1)]
    return {
        "kind": kind,
        "batch": batch,
        "examples": len(texts),
        "wall_s": wall,
        "peak_rss_mb": _rss(),
        "answers": answers,
    }


def _dtype(kind: str):
    import torch

    return torch.bfloat16 if kind.endswith("-bf16") else torch.float32


def _fast_mode(model, kind: str):
    from auditkit.models.hf import quantize_int8

    return quantize_int8(model) if kind.endswith("-int8") else model


def _single_requests(engine, questions: list[str], contexts: list[str], count: int = 100) -> dict:
    """One question at a time after a warm-up: per-request latency percentiles (ms)."""
    import numpy as np

    engine.predict(questions[:1], contexts[:1])
    ms = []
    for q, c in zip(questions[:count], contexts[:count], strict=True):
        started = time.perf_counter()
        engine.predict([q], [c])
        ms.append((time.perf_counter() - started) * 1000)
    return {
        "kind": "qa-auditkit-single",
        "batch": 1,
        "examples": len(ms),
        "wall_s": sum(ms) / 1000,
        "peak_rss_mb": _rss(),
        "latency_ms": {f"p{q}": float(np.percentile(ms, q)) for q in (50, 95, 99)},
    }


def paired_change(a: list[float], b: list[float], resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of (b - a) in points, with a 95% paired-bootstrap interval over the same examples."""
    import numpy as np

    diff = (np.asarray(b, dtype=float) - np.asarray(a, dtype=float)) * 100
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    return {
        "delta": float(diff.mean()),
        "low": float(np.percentile(means, 2.5)),
        "high": float(np.percentile(means, 97.5)),
    }


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def squad_gold(data: Path, count: int) -> list[list[str]]:
    raw = json.loads((data / "squad" / "dev-v1.1.json").read_text())["data"]
    return [[a["text"] for a in qa["answers"]] for a in raw for p in a["paragraphs"] for qa in p["qas"]][:count]


def sst2_gold(data: Path) -> list[str]:
    import csv

    with open(data / "sst2" / "dev.tsv", encoding="utf-8") as fh:
        return [
            "POSITIVE" if row["label"] == "1" else "NEGATIVE"
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]


def fast_mode_figures(family: str, exact: dict, fast: dict, gold: list) -> dict:
    """A fast mode against the exact engine: speed-up, identical answers, and the metric change with a paired CI."""
    if family == "qa":
        from auditkit.metrics.squad import per_example_v1

        a = per_example_v1([x[0] for x in exact["answers"]], gold)[1]
        b = per_example_v1([x[0] for x in fast["answers"]], gold)[1]
        same = sum(x[:3] == y[:3] for x, y in zip(exact["answers"], fast["answers"], strict=True))
        metric = "F1"
    else:
        a = [float(x == g) for x, g in zip(exact["answers"], gold, strict=True)]
        b = [float(x == g) for x, g in zip(fast["answers"], gold, strict=True)]
        same = sum(x == y for x, y in zip(exact["answers"], fast["answers"], strict=True))
        metric = "accuracy"
    return {
        "speedup_vs_exact": exact["wall_s"] / fast["wall_s"],
        "identical": same,
        "metric": metric,
        **paired_change(list(a), list(b)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument(
        "--ref-python", default=None, help="python of a torch==2.13.0 + transformers==4.57.6 virtualenv (QA reference)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.json")
    parser.add_argument("--one", nargs=3, metavar=("KIND", "BATCH", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.one[2], args.data, args.questions)))
        return

    from auditkit.models.synthetic import BuildRecipe, build_model

    with tempfile.TemporaryDirectory() as tmp:
        qa_dir = build_model(
            BuildRecipe("distilbert-base-cased-distilled-squad", args.data / "vocab" / "bert-base-cased-vocab.txt"),
            Path(tmp) / "qa",
        )
        cls_dir = build_model(
            BuildRecipe(
                "distilbert-base-uncased-finetuned-sst-2-english", args.data / "vocab" / "bert-base-uncased-vocab.txt"
            ),
            Path(tmp) / "cls",
        )
        plan = []
        if args.ref_python:
            plan += [(args.ref_python, "qa-pipeline", b, qa_dir) for b in (1, 16, 32)]
        plan += [(sys.executable, "qa-auditkit", b, qa_dir) for b in (16, 32, 64)]
        plan += [(sys.executable, f"qa-auditkit-{mode}", 16, qa_dir) for mode in ("bf16", "int8")]
        plan += [(sys.executable, "qa-auditkit-single", 1, qa_dir)]
        plan += [(sys.executable, "cls-pipeline", b, cls_dir) for b in (1, 32)]
        plan += [(sys.executable, "cls-auditkit", b, cls_dir) for b in (32, 64, 128)]
        plan += [(sys.executable, f"cls-auditkit-{mode}", 32, cls_dir) for mode in ("bf16", "int8")]
        runs = []
        for python, kind, batch, model_dir in plan:
            cmd = [
                python,
                __file__,
                "--data",
                str(args.data),
                "--questions",
                str(args.questions),
                "--one",
                kind,
                str(batch),
                str(model_dir),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  {kind} batch {batch}: {runs[-1]['examples'] / runs[-1]['wall_s']:.2f} ex/s", file=sys.stderr)
        peak = matmul_peak()
    qa_config = json.loads(
        (REPO / "auditkit" / "models" / "configs" / "distilbert-base-cased-distilled-squad.json").read_text()
    )
    lengths = next(r["window_lengths"] for r in runs if r["kind"] == "qa-auditkit")
    flops = forward_flops(qa_config, lengths)
    single = next(r for r in runs if r["kind"] == "qa-auditkit-single")
    runs.remove(single)
    gold_qa = squad_gold(args.data, args.questions)
    gold_cls = sst2_gold(args.data)
    rows = []
    for family in ("qa", "cls"):
        family_runs = [r for r in runs if r["kind"].startswith(family)]
        pipes = [r for r in family_runs if r["kind"].endswith("pipeline")]
        best_pipe = max((r["examples"] / r["wall_s"] for r in pipes), default=None)
        reference = next((r["answers"] for r in pipes if r["batch"] == 1), None)
        for r in family_runs:
            speed = r["examples"] / r["wall_s"]
            same = None
            if reference is not None:
                if (
                    family == "qa"
                ):  # exact modes: answer, offsets and score; fast modes (scores shift): answer and offsets
                    fast = r["kind"].endswith(("-bf16", "-int8"))
                    same = sum(
                        a[:3] == b[:3] and (fast or abs(a[3] - b[3]) <= 1e-4 * abs(b[3]))
                        for a, b in zip(r["answers"], reference, strict=True)
                    )
                else:
                    same = sum(a == b for a, b in zip(r["answers"], reference, strict=True))
            row = {
                "config": f"{r['kind']} batch {r['batch']}",
                "examples": r["examples"],
                "examples_per_s": speed,
                "total_s": r["wall_s"],
                "peak_rss_mb": r["peak_rss_mb"],
                "speedup_vs_best_pipeline": speed / best_pipe if best_pipe else None,
                "gflops_real_tokens": flops / r["wall_s"] / 1e9 if family == "qa" else None,
                "identical_answers": same,
            }
            if r["kind"].endswith(("-bf16", "-int8")):
                exact = next(e for e in family_runs if e["kind"] == f"{family}-auditkit" and e["batch"] == r["batch"])
                row["fast_mode"] = fast_mode_figures(family, exact, r, gold_qa if family == "qa" else gold_cls)
            rows.append(row)
    report = {
        "machine": {"cpus": os.cpu_count(), "fp32_matmul_peak_gflops": peak},
        "questions": args.questions,
        "rows": rows,
        "single_request_qa": {"examples": single["examples"], **single["latency_ms"]},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s on {os.cpu_count()} cores")
    print(
        f"{'config':<26}{'ex/s':>8}{'total s':>9}{'RSS MB':>9}{'vs best pipe':>14}"
        f"{'GFLOP/s':>9}{'% peak':>8}{'identical':>11}"
    )
    for r in rows:
        gf = r["gflops_real_tokens"]
        print(
            f"{r['config']:<26}{r['examples_per_s']:>8.2f}{r['total_s']:>9.1f}{r['peak_rss_mb']:>9.0f}"
            f"{(r['speedup_vs_best_pipeline'] or 0):>13.2f}x{(gf or 0):>9.1f}{(100 * gf / peak if gf else 0):>7.0f}%"
            f"{'' if r['identical_answers'] is None else str(r['identical_answers']) + '/' + str(r['examples']):>11}"
        )
    print("fast modes against the exact engine at the same batch size:")
    for r in rows:
        if "fast_mode" in r:
            f = r["fast_mode"]
            print(
                f"  {r['config']:<26} {f['speedup_vs_exact']:.2f}x, identical answers"
                f" {f['identical']}/{r['examples']}, "
                f"{f['metric']} change {f['delta']:+.2f} [{f['low']:+.2f}, {f['high']:+.2f}] points"
            )
    s1 = report["single_request_qa"]
    print(
        f"single-request QA latency (batch 1, {s1['examples']} questions): p50 {s1['p50']:.1f} ms, p95"
        f" {s1['p95']:.1f} ms, p99 {s1['p99']:.1f} ms"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
