"""Opt-in fast modes (int8, bf16), explicit SDPA, single-request latency: recorded, cached apart, compared, gated."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import data_owner, requires_data, write_suite

from auditkit.results.store import report_dir

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


def test_fast_mode_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 only where the CPU computes it natively; dynamic int8 elsewhere; the reason goes into the results."""
    import auditkit.results.environment as environment
    from auditkit.models.hf import resolve_fast_mode
    from auditkit.spec.schema import ModelSpec

    spec = ModelSpec.model_validate({"name": "m", "id": "org/model", "fast_mode": "auto", "device": "cpu"})
    monkeypatch.setattr(environment, "cpu_features", lambda: ["avx2", "avx512f", "avx512_bf16"])
    chosen, reason = resolve_fast_mode(spec)
    assert chosen.dtype == "bfloat16" and chosen.quantize is None and reason == "bfloat16: the CPU has avx512_bf16"
    monkeypatch.setattr(environment, "cpu_features", lambda: ["avx2", "avx512f", "avx512_vnni"])
    chosen, reason = resolve_fast_mode(spec)
    assert chosen.quantize == "int8" and chosen.dtype == "float32" and reason is not None and "no native bf16" in reason
    with pytest.raises(ValueError, match="fast_mode: auto chooses dtype and quantize itself"):
        ModelSpec.model_validate({"name": "m", "id": "org/model", "fast_mode": "auto", "dtype": "bfloat16"})
