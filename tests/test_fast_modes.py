"""Opt-in fast modes (int8, bf16), explicit SDPA, single-request latency: recorded, cached apart, compared, gated."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA, TINY_SST2, data_owner, requires_data, write_suite

from auditkit.results.store import report_dir
from auditkit.tasks.classification import ClassificationSpec

VOCAB = "$DATA/vocab/bert-base-cased-vocab.txt"


def suite_text(tmp_path: Path, extra_models: str = "", single: int = 0) -> str:
    return f"""
name: fast
bootstrap: {{resamples: 100}}
output_dir: {tmp_path / "runs"}
models:
  - name: exact
    build: {{config: distilbert-base-cased-distilled-squad, vocab: {VOCAB}}}
    batch_size: 8
    single_request_latency: {single}
{extra_models}
tasks:
  - name: squad
    kind: extractive_qa
    dataset: {{path: $DATA/squad/dev-v1.1.json, limit: 16}}
  - name: ceo
    kind: bias_probe
    models: [exact]
    dataset: {{path: {Path(__file__).resolve().parents[1] / "suites" / "probes" / "seed-ceo.yaml"}}}
"""


@requires_data
def test_int8_mode_is_recorded_cached_apart_and_compared_with_exact(tmp_path: Path) -> None:
    from auditkit.data import load_dataset
    from auditkit.models.hf import load_model
    from auditkit.reports.view import build_report
    from auditkit.results import load_run
    from auditkit.running.cache import cache_key
    from auditkit.running.runner import run_suite
    from auditkit.running.suite import load_suite
    from auditkit.tasks import make_task

    int8 = f"""  - name: int8
    build: {{config: distilbert-base-cased-distilled-squad, vocab: {VOCAB}}}
    quantize: int8
    batch_size: 8
"""
    suite = write_suite(tmp_path / "suite.yaml", suite_text(tmp_path, int8))
    outcome = run_suite(suite, quiet=True)
    models = outcome.results.models
    assert models["int8"].info["quantize"] == "int8" and models["exact"].info["quantize"] is None
    assert models["exact"].info["attention"] == "sdpa"
    # The same checkpoint: one weights fingerprint; a different cache entry.
    assert models["int8"].fingerprint["weights_sha256"] == models["exact"].fingerprint["weights_sha256"]
    loaded = load_suite(suite).suite
    task = make_task(loaded.tasks[0])
    dataset = load_dataset(loaded.tasks[0].dataset, data_owner("qa"), name="squad")
    keys = {cache_key(load_model(spec, "question-answering"), dataset, task) for spec in loaded.models}
    assert len(keys) == 2
    view = build_report(load_run(outcome.run_dir))
    [comparison] = [c for c in view["comparisons"] if c["b"] == "int8"]
    assert comparison["agreement"]["n"] == 16 and 0 <= comparison["agreement"]["same"] <= 16
    assert {d["metric"] for d in comparison["deltas"]} >= {"exact_match", "f1"}


@requires_data
def test_single_request_latency_is_measured_reported_and_gated(tmp_path: Path) -> None:
    from auditkit.gates import evaluate_gates
    from auditkit.results import load_run
    from auditkit.running.runner import run_suite
    from auditkit.spec.schema import GateSpec

    suite = write_suite(tmp_path / "suite.yaml", suite_text(tmp_path, single=3))
    outcome = run_suite(suite, quiet=True)
    jobs = {j.task: j for j in outcome.results.jobs}
    timing = jobs["squad"].timing
    assert timing.single_request_examples == 3
    assert timing.single_request_ms_p50 is not None and timing.single_request_ms_p99 is not None
    assert 0 < timing.single_request_ms_p50 <= (timing.single_request_ms_p95 or 0) <= timing.single_request_ms_p99
    assert jobs["ceo"].timing.single_request_examples is None  # a probe is four variants at once, not one request
    verdict = evaluate_gates(load_run(outcome.run_dir), [GateSpec(check="squad.latency.single_p99_ms <= 600000 ms")])
    # Three single requests cannot bound a 99th percentile from above (368 are needed): INCONCLUSIVE, and why.
    [p99] = verdict.results
    assert p99.verdict == "INCONCLUSIVE" and p99.samples_needed == 368 and p99.measured == timing.single_request_ms_p99
    assert "Single-request latency (batch 1)" in (report_dir(outcome.run_dir) / "report.md").read_text()


def test_int8_needs_float32_on_the_cpu() -> None:
    from pydantic import ValidationError

    from auditkit.spec.schema import ModelSpec

    with pytest.raises(ValidationError, match="quantize: int8 runs float32 models on the CPU"):
        ModelSpec.model_validate({"name": "m", "id": "org/model", "quantize": "int8", "dtype": "bfloat16"})


@requires_data
def test_fast_mode_auto_chooses_by_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fastest candidate that keeps the agreement floor wins; a faster one that changes answers does not;
    one slower than exact in any round does not; nothing kept means exact. Timings and answers are scripted
    here (the real measurement runs in the next test), so the rule itself is what is tested."""
    import auditkit.running.fast_modes as fast_modes
    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec, ModelSpec
    from auditkit.tasks import make_task

    spec = ModelSpec.model_validate(
        {"name": "m", "build": {"config": str(TINY_SST2), "vocab": str(DATA / "vocab" / "bert-base-uncased-vocab.txt")},
         "fast_mode": "auto", "device": "cpu", "fast_mode_calibration": 20}
    )  # fmt: skip
    sst2 = {"path": str(DATA / "sst2" / "dev.tsv")}
    task = make_task(ClassificationSpec.model_validate({"name": "t", "kind": "classification", "dataset": sst2}))
    data = load_dataset(DatasetSpec(path=DATA / "sst2" / "dev.tsv", limit=40), type(task), name="t")
    monkeypatch.setattr(fast_modes, "cpu_features", lambda: ["avx2", "avx512f", "amx_bf16"])
    script = {  # mode -> (seconds per round, answers changed of 20)
        "exact": ([1.0, 1.2, 1.0], 0),
        "bf16": ([0.4, 0.5, 0.4], 1),  # 2.5x, but 95% identical: below the 99% floor
        "bf16 + fp32 head": ([0.55, 0.6, 0.5], 0),  # 1.9x, identical: kept
        "int8 (dynamic)": ([0.5, 1.3, 0.5], 0),  # 2x median, but slower than exact in one round
        "bf16 autocast": ([0.7, 0.8, 0.7], 0),  # 1.5x, identical: kept, but slower than the fp32-head mode
    }
    calls: dict[str, int] = {}

    def scripted(task_: object, model: object, dataset: object) -> tuple[list[str], float]:
        mode = next(name for name, m in loaded.items() if m is model)
        calls[mode] = calls.get(mode, 0) + 1
        seconds, changed = script[mode]
        return ["x"] * changed + ["y"] * (20 - changed), seconds[calls[mode] - 1]

    loaded: dict[str, object] = {}
    real_open = fast_modes.open_model

    def remember(variant: ModelSpec, head: str) -> object:
        model = real_open(variant, head)  # type: ignore[arg-type]
        modes = {
            ("float32", None, None, None): "exact",
            ("bfloat16", None, None, None): "bf16",
            ("bfloat16", None, "float32", None): "bf16 + fp32 head",
            ("float32", "int8", None, None): "int8 (dynamic)",
            ("float32", None, None, "bfloat16"): "bf16 autocast",
        }
        mode = modes[(variant.dtype, variant.quantize, variant.head_dtype, variant.autocast)]
        loaded[mode] = model
        return model

    monkeypatch.setattr(fast_modes, "open_model", remember)
    monkeypatch.setattr(fast_modes, "_answers", scripted)
    chosen, record = fast_modes.choose_fast_mode(task, spec, "sequence-classification", data)
    assert record["chosen"] == "bf16 + fp32 head" and chosen.dtype == "bfloat16" and chosen.head_dtype == "float32"
    verdicts = {c["mode"]: c for c in record["candidates"]}
    assert "95.0% identical answers (< 99%)" in verdicts["bf16"]["why_not"]
    assert "slower than exact in a round" in verdicts["int8 (dynamic)"]["why_not"]
    assert verdicts["bf16 + fp32 head"]["speedup_median"] == pytest.approx(2.0, abs=0.01)
    assert calls["exact"] == 3 and record["calibration_examples"] == 20

    # Without native bf16 only int8 is measured; when nothing is kept, exact runs.
    monkeypatch.setattr(fast_modes, "cpu_features", lambda: ["avx2", "avx512f"])
    script["int8 (dynamic)"] = ([0.9, 1.1, 0.95], 3)
    calls.clear()
    loaded.clear()
    chosen, record = fast_modes.choose_fast_mode(task, spec, "sequence-classification", data)
    assert record["chosen"] == "exact" and chosen.dtype == "float32" and chosen.quantize is None
    assert any("no native bf16" in line for line in record["not_measured"])
    with pytest.raises(ValueError, match="fast_mode: auto chooses dtype, head_dtype and quantize itself"):
        ModelSpec.model_validate({"name": "m", "id": "org/model", "fast_mode": "auto", "dtype": "bfloat16"})


@requires_data
def test_fast_mode_auto_measures_records_and_reports(tmp_path: Path) -> None:
    """A real calibration on this machine: every candidate measured (speed-up median and range, identical
    answers), the choice and reason in results and in the report, and the job run in the chosen mode."""
    from auditkit import run_suite

    vocab = DATA / "vocab" / "bert-base-uncased-vocab.txt"
    outcome = run_suite(
        {
            "name": "fast",
            "bootstrap": {"resamples": 20},
            "models": [
                {
                    "name": "m",
                    "build": {"config": str(TINY_SST2), "vocab": str(vocab)},
                    "fast_mode": "auto",
                    "fast_mode_calibration": 32,
                }
            ],
            "tasks": [
                {
                    "name": "t",
                    "kind": "classification",
                    "dataset": {"path": str(DATA / "sst2" / "dev.tsv"), "limit": 64},
                }
            ],
        },
        output_dir=tmp_path,
        quiet=True,
        report_formats=["md"],
    )
    info = outcome.results.models["m"].info
    record = info["fast_mode"]
    assert record["chosen"] in {"exact", *(c["mode"] for c in record["candidates"] if c["kept"])}
    assert record["candidates"] and all(
        c["speedup_range"][0] <= c["speedup_median"] <= c["speedup_range"][1] and 0 <= c["agreement"] <= 100
        for c in record["candidates"]
    )
    ran = (info["dtype"], info["quantize"], info["head_dtype"], info["autocast"])
    assert (
        ran
        == {
            "exact": ("float32", None, None, None),
            "bf16": ("bfloat16", None, None, None),
            "bf16 + fp32 head": ("bfloat16", None, "float32", None),
            "bf16 autocast": ("float32", None, None, "bfloat16"),
            "int8 (dynamic)": ("float32", "int8", None, None),
        }[record["chosen"]]
    )
    assert outcome.results.jobs[0].metrics["accuracy"].n == 64
    report = (outcome.report_dir / "report.md").read_text().replace("\\", "")  # Markdown escapes aside
    assert f"fast_mode auto ran {record['chosen']}" in report and "Measured against exact on 32 examples" in report
