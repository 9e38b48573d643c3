"""Fast modes on trained weights: speed, identical answers and the metric change against the exact model.

    python3 benchmarks/fast_modes_trained.py [--models ../shared/models] [--questions 400]

minilm-squad on held-out SQuAD v1.1 questions and minilm-sst2 on the SST-2 dev set, each in fp32 (exact),
dynamic int8 and bf16, in one process after a warm-up, with 2 threads. For each fast mode: the speed-up
over exact (examples per second), the share of identical answers (QA: same text and span; SST-2: same
label), and the fast - exact change of F1 / accuracy on the same examples with a 95% paired-bootstrap
interval. It also says which mode ``fast_mode: auto`` picks on this CPU and why. Writes
benchmarks/fast_modes_trained.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from auditkit.data import load_dataset
from auditkit.metrics.compare import paired_delta
from auditkit.metrics.stats import mean_def
from auditkit.models.hf import load_model, resolve_fast_mode
from auditkit.results.environment import cpu_features
from auditkit.spec.schema import BootstrapSpec, DatasetSpec, ModelSpec
from auditkit.tasks.extractive_qa import score_qa

ROOT = Path(__file__).resolve().parents[1]
MODES = {"exact": {}, "int8": {"quantize": "int8", "device": "cpu"}, "bf16": {"dtype": "bfloat16", "device": "cpu"}}


def timed(fn, *args):  # type: ignore[no-untyped-def]
    fn(*[a[:16] for a in args])  # warm-up
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--models", type=Path, default=Path(os.environ.get("AUDITKIT_MODELS", ROOT.parent / "shared" / "models"))
    )
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("AUDITKIT_DATA", ROOT.parent / "shared" / "data"))
    )
    parser.add_argument("--questions", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(2)
    squad = load_dataset(
        DatasetSpec(path=args.data / "squad" / "dev-v1.1.json", articles_file=args.models / "minilm-squad-held-out.txt",
                    sample=args.questions),
        "qa", name="held-out",
    )  # fmt: skip
    sst2 = load_dataset(DatasetSpec(path=args.data / "sst2" / "dev.tsv"), "classification", name="sst2")
    questions = [e.question for e in squad.examples]
    contexts = [e.context for e in squad.examples]
    texts = [e.text for e in sst2.examples]
    gold = np.array([e.label for e in sst2.examples])
    results: dict[str, dict[str, object]] = {}
    exact_qa: pd.DataFrame | None = None
    exact_cls: np.ndarray | None = None
    for mode, update in MODES.items():
        qa_spec = ModelSpec.model_validate(
            {"name": "qa", "id": str(args.models / "minilm-squad"), "batch_size": 32, **update}
        )
        qa = load_model(qa_spec, "question-answering")
        from auditkit.engine.types import QASettings

        predictions, qa_seconds = timed(qa.qa_engine(QASettings()).predict, questions, contexts)
        frame = pd.DataFrame({"id": [e.id for e in squad.examples], "prediction": [p.answer for p in predictions],
                              "start": [p.answers[0]["start"] if p.answers else 0 for p in predictions]})  # fmt: skip
        scored = score_qa(frame, squad, "squad", BootstrapSpec(resamples=1000), seed=0).per_example
        cls_spec = ModelSpec.model_validate(
            {"name": "cls", "id": str(args.models / "minilm-sst2"), "batch_size": 32, **update}
        )
        cls = load_model(cls_spec, "sequence-classification")
        out, cls_seconds = timed(cls.classification_engine().predict, texts)
        labels = out.scores.argmax(axis=1)
        entry: dict[str, object] = {
            "qa_examples_per_second": len(questions) / qa_seconds,
            "qa_f1": float(scored["f1"].mean() * 100),
            "sst2_examples_per_second": len(texts) / cls_seconds,
            "sst2_accuracy": float((labels == gold).mean() * 100),
        }
        if mode == "exact":
            exact_qa, exact_cls = scored, labels
        else:
            assert exact_qa is not None and exact_cls is not None
            base = results["exact"]
            same = (scored["prediction"].to_numpy() == exact_qa["prediction"].to_numpy()) & (
                scored["start"].to_numpy() == exact_qa["start"].to_numpy()
            )
            f1_a, f1_b = exact_qa["f1"].to_numpy(float), scored["f1"].to_numpy(float)  # 0..1 per question
            f1 = paired_delta("f1", mean_def(f1_a, scale=100.0), mean_def(f1_b, scale=100.0),
                              value_a=100 * float(f1_a.mean()), value_b=100 * float(f1_b.mean()),
                              resamples=2000, confidence=0.95, seed=0)  # fmt: skip
            acc_a, acc_b = (exact_cls == gold).astype(float), (labels == gold).astype(float)
            acc = paired_delta("accuracy", mean_def(acc_a, binary=True, scale=100.0),
                               mean_def(acc_b, binary=True, scale=100.0),
                               value_a=100 * float(acc_a.mean()), value_b=100 * float(acc_b.mean()),
                               resamples=2000, confidence=0.95, seed=0)  # fmt: skip
            entry |= {
                "qa_speedup": entry["qa_examples_per_second"] / base["qa_examples_per_second"],  # type: ignore[operator]
                "qa_identical_answers_percent": float(same.mean() * 100),
                "qa_f1_change": [f1.delta, f1.low, f1.high],
                "sst2_speedup": entry["sst2_examples_per_second"] / base["sst2_examples_per_second"],  # type: ignore[operator]
                "sst2_identical_labels_percent": float((labels == exact_cls).mean() * 100),
                "sst2_accuracy_change": [acc.delta, acc.low, acc.high],
            }
        results[mode] = entry
        print(mode, json.dumps(entry, default=float))
    _, reason = resolve_fast_mode(
        ModelSpec.model_validate({"name": "a", "id": str(args.models / "minilm-squad"), "fast_mode": "auto"})
    )
    report = {"cpu_features": cpu_features(), "fast_mode_auto": reason, "questions": len(questions),
              "sentences": len(texts), "threads": 2, "modes": results}  # fmt: skip
    (ROOT / "benchmarks" / "fast_modes_trained.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(json.dumps({"fast_mode_auto": reason}))


if __name__ == "__main__":
    main()
