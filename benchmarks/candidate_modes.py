"""Candidates for a fast mode, profiled before any is kept: graph compilation and ONNX Runtime in fp32, and int8
variants that leave the layers which change answers in higher precision.

    python3 benchmarks/candidate_modes.py [--models ../shared/models] [--questions 400] [--rounds 5]

Every variant runs through auditkit's own engines (the QA engine's windows, span scoring and answer merging;
the classification engine), so "identical" means the same final answer text and span, or the same label --
not merely the same arg-max logit, which hides most changes (dynamic int8 keeps every window's arg-max start
on minilm-squad yet changes about half of the answers, because span scores and cross-window comparisons move).
Modes are timed alternately and repeatedly in one process (a rotating order per round, after a warm-up), and
each speed-up is exact's time over the mode's time in the same round, reported as the median and range.

Variants: ``torch.compile`` (inductor, dynamic shapes; its compile time is reported apart); ONNX Runtime on the
``torch.onnx`` export, plain and after its BERT fusions (``onnxruntime.transformers.optimizer``), skipped with a
note when onnxruntime is not installed (it is not an auditkit dependency); dynamic int8 with per-tensor weights
(auditkit's ``quantize: int8``), with per-channel weights, and per-channel with the feed-forward output
projections and the task head left in fp32 (the layers whose rounding moves span scores most), and int8 on the
feed-forward input projections only. Writes benchmarks/candidate_modes.json.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from trained_inputs import add_shared_folders, held_out_squad, sst2_dev

from auditkit.models.hf import LoadedModel, load_model
from auditkit.results.environment import cpu_features
from auditkit.spec.schema import BootstrapSpec, ModelSpec
from auditkit.tasks import make_task, task_class

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OrtModule(torch.nn.Module):
    """An ONNX Runtime session behind the call the engines make (``model(**inputs)``), returning what the
    transformers model returns; the parameter is only there so the engines can ask for its device."""

    def __init__(self, session: Any, outputs: list[str], config: Any) -> None:
        super().__init__()
        self.session, self.outputs, self.config = session, outputs, config
        self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, **inputs: torch.Tensor) -> SimpleNamespace:
        feed = {name: inputs[name].numpy() for name in INPUTS if name in inputs}
        values = self.session.run(self.outputs, feed)
        return SimpleNamespace(
            **{name: torch.from_numpy(value) for name, value in zip(self.outputs, values, strict=True)}
        )


def onnx_variants(model: torch.nn.Module, head: str, sample: dict[str, torch.Tensor]) -> dict[str, torch.nn.Module]:
    try:
        import onnxruntime as ort
        from onnxruntime.transformers import optimizer
    except ImportError:
        print("onnxruntime is not installed: ONNX Runtime variants skipped (pip install onnxruntime onnx)")
        return {}
    outputs = ["start_logits", "end_logits"] if head == "question-answering" else ["logits"]
    folder = Path(tempfile.mkdtemp(prefix="auditkit-onnx-"))
    plain = folder / "model.onnx"
    names = [name for name in INPUTS if name in sample]
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(sample[name] for name in names),
            str(plain),
            input_names=names,
            output_names=outputs,
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in names} | {o: {0: "batch"} for o in outputs},
            opset_version=17,
            dynamo=False,
        )
    fused = folder / "model-fused.onnx"
    config = model.config
    optimizer.optimize_model(
        str(plain), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
    ).save_model_to_file(str(fused))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    return {
        label: OrtModule(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]), outputs, config)
        for label, path in (("onnxruntime fp32", plain), ("onnxruntime fp32, fused", fused))
    }


def int8_variants(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    linear = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    head = ("qa_outputs", "classifier", "pre_classifier", "score")
    ffn_out = [n for n in linear if n.endswith("output.dense") and ".attention." not in n]
    chosen = {
        "int8 dynamic, per-tensor (quantize: int8)": None,
        "int8 dynamic, per-channel": linear,
        "int8 per-channel, FFN output and head fp32": [
            n for n in linear if n not in ffn_out and not n.startswith(head)
        ],
        "int8 per-channel, FFN input only": [n for n in linear if n.endswith("intermediate.dense")],
    }
    variants = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch announces the quantized-tensor API's move to torchao
        for label, names in chosen.items():
            spec: Any = {torch.nn.Linear} if names is None else dict.fromkeys(names, per_channel_dynamic_qconfig)
            variants[label] = quantize_dynamic(copy.deepcopy(model), spec, dtype=torch.qint8)
    return variants


def measure(kind: str, head: str, checkpoint: Path, dataset: Any, rounds: int) -> dict[str, Any]:
    spec = ModelSpec.model_validate({"name": "m", "id": str(checkpoint), "batch_size": 32, "device": "cpu"})
    task = make_task(
        task_class(kind).Spec.model_validate({"name": "t", "kind": kind, "dataset": {"path": str(dataset.source)}})
    )
    exact = load_model(spec, head)  # type: ignore[arg-type]
    assert isinstance(exact, LoadedModel)
    sample = dict(exact.tokenizer(["a question?"], ["a short context."], return_tensors="pt"))
    variants: dict[str, torch.nn.Module] = {"exact (fp32, eager)": exact.model}
    started = time.perf_counter()
    compiled = torch.compile(exact.model, dynamic=True)
    models = {label: dataclasses.replace(exact, model=module) for label, module in variants.items()}
    models["torch.compile (inductor, fp32)"] = dataclasses.replace(exact, model=compiled)
    task.predict(models["torch.compile (inductor, fp32)"], dataset)  # compiles for the shapes it meets
    compile_seconds = time.perf_counter() - started
    for label, module in {**onnx_variants(exact.model, head, sample), **int8_variants(exact.model)}.items():
        models[label] = dataclasses.replace(exact, model=module)
    for model in models.values():
        task.predict(model, dataset.subset(0, 16))  # warm-up
    seconds: dict[str, list[float]] = {label: [] for label in models}
    answers: dict[str, list[str]] = {}
    labels = list(models)
    for round_ in range(rounds):
        for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
            began = time.perf_counter()
            frame = task.predict(models[label], dataset).frame
            seconds[label].append(time.perf_counter() - began)
            if label not in answers:
                scored = task.score(frame, dataset, BootstrapSpec(resamples=1), 0).per_example
                answers[label] = scored[str(task.answer_column)].astype(str).tolist()
    exact_label = labels[0]
    out: dict[str, Any] = {"examples": len(dataset), "torch_compile_seconds": round(compile_seconds, 1), "modes": {}}
    for label in labels:
        ratios = [e / s for e, s in zip(seconds[exact_label], seconds[label], strict=True)]
        same = sum(a == b for a, b in zip(answers[label], answers[exact_label], strict=True))
        out["modes"][label] = {
            "seconds_median": round(statistics.median(seconds[label]), 3),
            "speedup_median": round(statistics.median(ratios), 3),
            "speedup_range": [round(min(ratios), 3), round(max(ratios), 3)],
            "identical": same,
            "identical_percent": round(100.0 * same / len(dataset), 2),
        }
        median, low, high = statistics.median(ratios), min(ratios), max(ratios)
        print(f"  {label:48s} {median:5.2f}x ({low:.2f}-{high:.2f})  {same}/{len(dataset)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shared_folders(parser)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    squad = held_out_squad(args.models, args.data, limit=args.questions)
    sst2 = sst2_dev(args.data)
    results: dict[str, Any] = {
        "machine": {"cpu_features": cpu_features(), "threads": torch.get_num_threads(), "torch": torch.__version__},
        "rounds": args.rounds,
    }
    measures: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (
            "qa",
            lambda: measure("extractive_qa", "question-answering", args.models / "minilm-squad", squad, args.rounds),
        ),
        (
            "sst2",
            lambda: measure(
                "classification", "sequence-classification", args.models / "minilm-sst2", sst2, args.rounds
            ),
        ),
    ]
    for name, run in measures:
        print(name)
        results[name] = run()
    target = ROOT / "benchmarks" / "candidate_modes.json"
    target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(target)


if __name__ == "__main__":
    main()
