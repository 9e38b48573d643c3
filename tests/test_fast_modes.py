"""Opt-in fast modes (int8, bf16), explicit SDPA, single-request latency: recorded, cached apart, compared, gated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, MODELS, TINY_SST2, data_owner, requires_data, requires_models, write_suite

from auditkit.results.store import report_dir
from auditkit.tasks.base import Predictions
from auditkit.tasks.classification import ClassificationSpec

VOCAB = "$DATA/vocab/bert-base-cased-vocab.txt"
PROBES = Path(__file__).resolve().parents[1] / "suites" / "probes"
#: The first 800 sentences of SST-2 train: a classification job long enough for fast_mode: auto to measure.
SST2_TRAIN = {
    "name": "t",
    "kind": "classification",
    "dataset": {"path": str(DATA / "sst2" / "train.tsv"), "limit": 800},
}


def auto_tiny(calibration: int, **more: Any) -> dict[str, Any]:
    """A tiny random-weight SST-2 classifier that asks for fast_mode: auto with a ``calibration``-example sample."""
    vocab = str(DATA / "vocab" / "bert-base-uncased-vocab.txt")
    return {"name": "m", "build": {"config": str(TINY_SST2), "vocab": vocab}, "fast_mode": "auto",
            "fast_mode_calibration": calibration, **more}  # fmt: skip


def suite_text(tmp_path: Path, extra_models: str = "", single: int = 0, probed: str = "exact") -> str:
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
    models: [{probed}]
    dataset: {{path: {PROBES / "seed-ceo.yaml"}}}
"""


@requires_data
def test_int8_mode_is_recorded_cached_apart_and_compared_with_exact(tmp_path: Path) -> None:
    import pandas as pd

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
  - name: recheck
    build: {{config: distilbert-base-cased-distilled-squad, vocab: {VOCAB}}}
    autocast: bfloat16
    recheck_margin: 0.05
    batch_size: 8
"""
    suite = write_suite(tmp_path / "suite.yaml", suite_text(tmp_path, int8, probed="exact, recheck"))
    outcome = run_suite(suite, quiet=True)
    models = outcome.results.models
    assert models["int8"].info["quantize"] == "int8" and models["exact"].info["quantize"] is None
    assert models["recheck"].info["recheck_margin"] == 0.05 and models["exact"].info["recheck_margin"] is None
    jobs = {(j.task, j.model): j for j in outcome.results.jobs}
    rechecked = jobs["squad", "recheck"].timing.rechecked
    assert rechecked is not None and 0 <= rechecked <= 16 and jobs["squad", "exact"].timing.rechecked is None
    # Bias probes under the re-checking model record their re-checks too (probe sets are whole QA jobs).
    probes = pd.read_parquet(outcome.run_dir / jobs["ceo", "recheck"].predictions)
    assert jobs["ceo", "recheck"].timing.rechecked == int(probes["rechecked"].sum())
    assert jobs["ceo", "exact"].timing.rechecked is None
    assert "answered again in float32" in (report_dir(outcome.run_dir) / "report.md").read_text()
    assert models["exact"].info["attention"] == "sdpa"
    # The same checkpoint: one weights fingerprint; a different cache entry.
    assert models["int8"].fingerprint["weights_sha256"] == models["exact"].fingerprint["weights_sha256"]
    loaded = load_suite(suite).suite
    task = make_task(loaded.tasks[0])
    dataset = load_dataset(loaded.tasks[0].dataset, data_owner("qa"), name="squad")
    keys = {cache_key(load_model(spec, "question-answering"), dataset, task) for spec in loaded.models}
    assert len(keys) == 3
    view = build_report(load_run(outcome.run_dir))
    [comparison] = [c for c in view["comparisons"] if c["a"] == "exact" and c["b"] == "int8"]
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


@requires_data
def test_a_classifier_records_its_rechecked_decisions(tmp_path: Path) -> None:
    """A re-checking classifier's run says which decisions the exact model made again, per example and in all;
    the exact model's run has neither."""
    import pandas as pd

    from auditkit import run_suite

    model = {"build": {"config": str(TINY_SST2), "vocab": str(DATA / "vocab" / "bert-base-uncased-vocab.txt")}}
    outcome = run_suite(
        {
            "name": "recheck",
            "bootstrap": {"resamples": 20},
            "models": [
                {"name": "exact", **model},
                # A margin wider than any random model's lead: every decision is made again.
                {"name": "recheck", **model, "autocast": "bfloat16", "recheck_margin": 50},
            ],
            "tasks": [
                {
                    "name": "t",
                    "kind": "classification",
                    "dataset": {"path": str(DATA / "sst2" / "dev.tsv"), "limit": 16},
                },
                {
                    "name": "names",
                    "kind": "bias_probe",
                    "dataset": {"path": str(PROBES / "sentiment-names.yaml")},
                },
            ],
        },
        output_dir=tmp_path,
        quiet=True,
        report_formats=[],
    )
    probes = {job.model: job for job in outcome.results.jobs if job.task == "names"}
    assert probes["recheck"].timing.rechecked == probes["recheck"].timing.examples == 160
    assert probes["exact"].timing.rechecked is None
    jobs = {job.model: job for job in outcome.results.jobs if job.task == "t"}
    assert jobs["recheck"].timing.rechecked == 16 and jobs["exact"].timing.rechecked is None
    frames = {name: pd.read_parquet(outcome.run_dir / job.predictions) for name, job in jobs.items()}
    assert frames["recheck"]["rechecked"].all() and "rechecked" not in frames["exact"]
    assert (frames["recheck"]["predicted_index"] == frames["exact"]["predicted_index"]).all()


def test_decision_margins_say_how_close_a_classification_was() -> None:
    """Softmax: log(top / runner-up); sigmoid: the smallest |logit| (each label decides p > 0.5); regression and
    a single softmax label: no decision to change."""
    import numpy as np

    from auditkit.engine.classify import decision_margins

    softmax = np.array([[0.5, 0.3, 0.2], [0.1, 0.45, 0.45], [1.0, 0.0, 0.0]], dtype=np.float32)
    assert decision_margins(softmax, "softmax") == pytest.approx([np.log(5 / 3), 0.0, np.inf], rel=1e-6)
    sigmoid = np.array([[0.9, 0.4], [0.5, 0.99]], dtype=np.float32)
    assert decision_margins(sigmoid, "sigmoid") == pytest.approx([np.log(0.6 / 0.4), 0.0], rel=1e-5, abs=1e-7)
    assert np.isinf(decision_margins(softmax, "none")).all()
    assert np.isinf(decision_margins(np.ones((2, 1), dtype=np.float32), "softmax")).all()


def test_int8_needs_float32_on_the_cpu() -> None:
    from pydantic import ValidationError

    from auditkit.spec.schema import ModelSpec

    with pytest.raises(ValidationError, match="quantize: int8 runs float32 models on the CPU"):
        ModelSpec.model_validate({"name": "m", "id": "org/model", "quantize": "int8", "dtype": "bfloat16"})


@requires_data
def test_fast_mode_auto_chooses_by_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fastest candidate whose agreement with exact is *certified* (exact finite-population lower bound on a random
    sample of the job above the floor, Bonferroni over the candidates measured) wins; a faster one that changes answers
    is dropped as soon as it cannot clear the floor; one slower than exact in any round is not tried; nothing kept means
    exact; a calibration too small to certify the floor runs exact and says how many examples it needs. Timings and
    answers are scripted here (the real measurement runs in the next test), so the rule itself is tested."""
    import pandas as pd

    import auditkit.running.fast_modes as fast_modes
    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec, ModelSpec
    from auditkit.tasks import make_task

    def model_spec(calibration: int) -> ModelSpec:
        return ModelSpec.model_validate(auto_tiny(calibration, device="cpu"))

    sst2 = {"path": str(DATA / "sst2" / "dev.tsv")}
    task = make_task(ClassificationSpec.model_validate({"name": "t", "kind": "classification", "dataset": sst2}))
    train = DATA / "sst2" / "train.tsv"
    data = load_dataset(DatasetSpec(path=train, limit=6000), type(task), name="t")
    position = {str(example.id): i for i, example in enumerate(data.examples)}
    monkeypatch.setattr(fast_modes, "cpu_features", lambda: ["avx2", "avx512f", "amx_bf16"])
    monkeypatch.delenv("AUDITKIT_CHUNK", raising=False)  # chunks of 256
    script = {  # mode -> (seconds per timing round, every how many examples an answer changes; 0: never)
        "exact": ([1.0, 1.2, 1.0], 0),
        "bf16": ([0.4, 0.5, 0.4], 50),  # 2.5x, but 98% identical: below the 99% floor
        "bf16 + fp32 head": ([0.55, 0.6, 0.5], 0),  # 1.9x, identical: certified
        "int8 (dynamic)": ([0.5, 1.3, 0.5], 0),  # 2x median, but slower than exact in one round
        "bf16 autocast": ([0.7, 0.8, 0.7], 0),  # 1.5x, identical, but slower than the fp32-head mode
        "bf16 autocast + fp32 re-check": ([1.0, 1.1, 1.0], 0),  # 1.0x: not fast enough to be worth a risk
    }
    rounds: dict[str, int] = {}
    predicted: dict[str, int] = {}

    def scripted(task_: object, model: object, dataset: Any) -> tuple[list[str], float, Predictions]:
        mode = next(name for name, m in loaded.items() if m is model)
        seconds, every = script[mode]
        indices = [position[str(example.id)] for example in dataset.examples]
        predicted[mode] = predicted.get(mode, 0) + len(indices)
        took = 0.0
        if indices in timing_blocks:  # a timing round (certification goes on from the end of the third)
            took = seconds[rounds.get(mode, 0)]
            rounds[mode] = rounds.get(mode, 0) + 1
        got = [f"changed {i}" if every and i % every == every - 1 else f"answer {i}" for i in indices]
        frame = pd.DataFrame({"id": [str(e.id) for e in dataset.examples], "mode": mode, "answer": got})
        return got, took, Predictions(frame, {"examples": len(indices), "wall_seconds": took})

    loaded: dict[str, object] = {}
    real_open = fast_modes.open_model

    def remember(variant: ModelSpec, head: str) -> object:
        model = real_open(variant, head)  # type: ignore[arg-type]
        modes = {
            ("float32", None, None, None, None): "exact",
            ("bfloat16", None, None, None, None): "bf16",
            ("bfloat16", None, "float32", None, None): "bf16 + fp32 head",
            ("float32", "int8", None, None, None): "int8 (dynamic)",
            ("float32", None, None, "bfloat16", None): "bf16 autocast",
            ("float32", None, None, "bfloat16", 0.05): "bf16 autocast + fp32 re-check",
        }
        mode = modes[(variant.dtype, variant.quantize, variant.head_dtype, variant.autocast, variant.recheck_margin)]
        loaded[mode] = model
        return model

    timing_blocks: list[list[int]] = []

    def choose(dataset: Any, calibration: int, examples: int | None = None) -> Any:
        # The calibration sample is a fixed function of the data: its first three blocks of 128 are timed.
        positions = [position[str(dataset.examples[i].id)] for i in fast_modes.calibration_sample(dataset, calibration)]
        timing_blocks[:] = [positions[i : i + 128] for i in (0, 128, 256)]
        return fast_modes.choose_fast_mode(task, model_spec(calibration), "sequence-classification", dataset, examples)

    monkeypatch.setattr(fast_modes, "open_model", remember)
    monkeypatch.setattr(fast_modes, "_answers", scripted)
    # A job too short to win back the measuring even at 8x: exact, and nothing loads (about 650 examples' time > 600).
    short = data.subset(0, 600)
    choice = choose(short, 512)
    assert choice.record["chosen"] == "exact" and choice.done is None and not loaded
    assert "has 600 examples: measuring 5 fast mode(s) on 512 calibration examples" in choice.record["reason"]
    assert "at least 108% of exact's time" in choice.record["reason"]
    # The same job is worth measuring for a model whose choice will run 20,000 examples in all (its other jobs).
    choice = choose(short, 512, 20_000)
    assert choice.record["examples_to_run"] == 20_000 and choice.record["chosen"] == "bf16 + fp32 head"
    sample = [str(short.examples[i].id) for i in fast_modes.calibration_sample(short, 512)]
    assert choice.done is not None and list(choice.done.frame["id"]) == sample  # the job takes all 512
    # The other jobs were not sampled: the certificate is Clopper-Pearson's, for examples like these.
    assert "certified to keep 99% identical answers on examples like t's" in choice.record["reason"]
    assert len(set(sample)) == 512 and max(position[i] for i in sample) > 512  # drawn from the whole job
    rounds.clear()
    predicted.clear()

    choice = choose(data, 600)
    record, chosen = choice.record, choice.spec
    assert record["chosen"] == "bf16 + fp32 head" and chosen.dtype == "bfloat16" and chosen.head_dtype == "float32"
    assert "certified to keep 99% identical answers on t's 6000 examples (600 of 600 sampled" in record["reason"]
    verdicts = {c["mode"]: c for c in record["candidates"]}
    # Five modes measured, so each is certified at 5%/5: 600 of 6,000 examples allow no change at 99%. bf16
    # changed three of its first 128 answers (every 50th example of the file changes): it is timed no more (one
    # round) and not certified.
    assert "changed 3 of 128 answers: 99% identical cannot be certified" in verdicts["bf16"]["why_not"]
    assert verdicts["bf16"]["agreement_examples"] == 128 and rounds["bf16"] == verdicts["bf16"]["rounds"] == 1
    assert "slower than exact in a round" in verdicts["int8 (dynamic)"]["why_not"]
    assert "median speed-up 1.00x (< 1.1x)" in verdicts["bf16 autocast + fp32 re-check"]["why_not"]
    assert verdicts["bf16 autocast"]["why_not"] == "not tried: a faster mode was kept"
    kept = verdicts["bf16 + fp32 head"]
    assert kept["speedup_median"] == pytest.approx(2.0, abs=0.01) and kept["identical_answers"] == 600
    assert kept["rounds"] == 3 and kept["speedup_range"] == [1.818, 2.0]  # 1/0.55, 1.2/0.6, 1/0.5
    # The exact bound for 600 identical answers drawn from 6,000 (hypergeometric): 99.28%, a little above what
    # Clopper-Pearson says of an endless population, (0.01)^(1/600) = 99.24%.
    assert kept["agreement_lower_bound"] == pytest.approx(99.28, abs=0.005)
    assert kept["agreement_lower_bound"] > 100 * (0.05 / 5) ** (1 / 600)
    assert record["calibration_examples"] == 600 and record["timing_examples"] == 128 and rounds["exact"] == 3
    # Every example predicted once by exact and by the kept mode: the three timing rounds were the sample's first
    # 384 examples, and certifying went on from there.
    assert predicted["exact"] == predicted["bf16 + fp32 head"] == 600
    # The payoff it predicted, in exact's measured 1/128 s per example: 216 more in exact and in the mode, then
    # the job's other 5,400 examples at 2x; exact: the 5,616 it has not predicted yet.
    assert kept["predicted"]["seconds_if_kept"] == pytest.approx((216 + 216 / 2 + 5400 / 2) / 128, abs=0.1)
    assert kept["predicted"]["seconds_in_exact"] == pytest.approx(5616 / 128, abs=0.1)
    assert choice.done is not None and record["reused_examples"] == 600 == choice.done.timing["examples"]
    assert choice.model is loaded["bf16 + fp32 head"]  # handed to the job loaded and warm, not loaded again
    assert (choice.done.frame["mode"] == "bf16 + fp32 head").all()
    assert list(choice.done.frame["id"]) == [str(data.examples[i].id) for i in fast_modes.calibration_sample(data, 600)]

    # On a shorter job more timing rounds are paid for only by the fastest modes: after the first round the slowest
    # are timed no more -- timing all four for two more rounds, certifying the fastest and running the 900 other
    # examples in it would cost 1,734 examples' time against exact's 1,372 for the rest; without bf16 autocast
    # (1.43x) and the re-checking mode (1.0x), 1,299.
    rounds.clear()
    choice = choose(data.subset(0, 1500), 600)
    verdicts = {c["mode"]: c for c in choice.record["candidates"]}
    for mode in ("bf16 autocast", "bf16 autocast + fp32 re-check"):
        assert "would not pay: timing it 2 more round(s) beside the faster modes" in verdicts[mode]["why_not"]
        assert rounds[mode] == verdicts[mode]["rounds"] == 1
    assert rounds["exact"] == rounds["bf16 + fp32 head"] == rounds["int8 (dynamic)"] == 3
    assert choice.record["chosen"] == "bf16 + fp32 head"

    # Measured speed-ups too small to win back even one more round on a job this size: no mode is timed again,
    # exact runs, and the exact predictions it made are kept (the first round's 128).
    for mode in script:
        if mode != "exact":
            script[mode] = ([0.85, 1.0, 0.85], 0)  # 1.18x
    rounds.clear()
    choice = choose(data.subset(0, 1500), 600)
    assert choice.record["chosen"] == "exact" and choice.spec.dtype == "float32" and rounds["exact"] == 1
    assert choice.done is not None and (choice.done.frame["mode"] == "exact").all() and len(choice.done.frame) == 128
    why = [c["why_not"] for c in choice.record["candidates"]]
    assert all("would not pay: timing it 2 more round(s)" in w for w in why)

    # A mode that looked fast in the first round and slowed down in the others: after the rounds, certifying it and
    # running the job in it at its median 1.11x would take longer than exact for the rest, so it is not certified.
    script.update({mode: ([1.0, 1.0, 1.0], 1) for mode in script if mode != "exact"})  # every answer changes
    script["exact"], script["bf16 + fp32 head"] = ([1.0, 1.0, 1.0], 0), ([0.5, 0.9, 0.9], 0)
    rounds.clear()
    choice = choose(data.subset(0, 1500), 600)
    head_verdict = next(c for c in choice.record["candidates"] if c["mode"] == "bf16 + fp32 head")
    assert choice.record["chosen"] == "exact" and head_verdict["rounds"] == 3
    assert "would not pay: certifying it on 600 examples and running all 1500 in it" in head_verdict["why_not"]

    assert set(choice.record["phase_seconds"]) == {"loading", "timing", "certifying"}

    # A calibration too small to certify 99% runs exact before measuring anything, and says how many examples it
    # would need (five modes: 5%/5 each; of 6,000 examples, 435 -- of an endless population, 459).
    loaded.clear()
    choice = choose(data, 200)
    assert choice.record["chosen"] == "exact" and choice.spec.dtype == "float32" and not loaded
    assert "200 calibration examples cannot certify 99% identical answers on t's 6000" in choice.record["reason"]
    assert "needs at least 435" in choice.record["reason"] and not choice.record["candidates"]

    # Exact is loaded and timed first: where loading a model costs more than predicting thousands of examples (here
    # exact predicts 128 in a millisecond), the candidates would never pay for their loading, so none is loaded,
    # and exact's timed predictions are the job's.
    loaded.clear()
    rounds.clear()
    script["exact"] = ([0.001, 0.001, 0.001], 0)
    choice = choose(data, 600)
    assert choice.record["chosen"] == "exact" and list(loaded) == ["exact"] and not choice.record["candidates"]
    assert "exact loaded in" in choice.record["reason"] and "loading 5 fast mode(s)" in choice.record["reason"]
    assert choice.done is not None and len(choice.done.frame) == 128 == choice.record["reused_examples"]
    script["exact"] = ([1.0, 1.2, 1.0], 0)

    # Without native bf16 only int8 is measured; when nothing is kept, exact runs.
    monkeypatch.setattr(fast_modes, "cpu_features", lambda: ["avx2", "avx512f"])
    script["int8 (dynamic)"] = ([0.5, 0.55, 0.5], 30)
    rounds.clear()
    choice = choose(data, 600)
    assert choice.record["chosen"] == "exact" and choice.spec.dtype == "float32" and choice.spec.quantize is None
    assert any("no native bf16" in line for line in choice.record["not_measured"])
    assert "changed 5 of 128" in choice.record["candidates"][0]["why_not"]
    assert rounds["exact"] == 1  # the one mode was out after its first answers: no more timing rounds
    with pytest.raises(ValueError, match="fast_mode: auto chooses dtype, head_dtype, autocast, recheck_margin"):
        ModelSpec.model_validate({"name": "m", "id": "org/model", "fast_mode": "auto", "dtype": "bfloat16"})
    with pytest.raises(ValueError, match="recheck_margin re-checks close calls with the float32 weights"):
        ModelSpec.model_validate({"name": "m", "id": "org/model", "dtype": "bfloat16", "recheck_margin": 0.05})


def test_the_certified_agreement_rule_keeps_its_error_rate() -> None:
    """Simulated with a known truth: a job whose share of identical answers is just below the floor is certified
    at most 1 - CONFIDENCE of the time when the calibration is a random sample of it (the hypergeometric bound is
    exact, so this holds at every sample and job size); one well above it is certified often enough to be useful;
    and the price in calibration examples is what the docs say."""
    import numpy as np

    from auditkit.running.fast_modes import CONFIDENCE, examples_to_certify, most_changes

    rng = np.random.default_rng(0)
    a = 1.0 - CONFIDENCE
    for population in (600, 2_000, 6_375, 100_000):
        for n in (420, 600, 1024, 2048):
            if n > population:
                continue
            allowed = most_changes(n, 99.0, a, population)
            assert allowed is not None
            below = int(np.ceil(0.99 * population)) - 1  # the most identical answers a job below 99% can have
            for identical, most, least in ((below, a, 0.0), (int(0.998 * population), 1.0, 0.2 if n >= 1024 else 0)):
                same = rng.hypergeometric(identical, population - identical, n, size=20_000)
                chosen = float(np.mean(n - same <= allowed))
                assert least <= chosen <= most + 3 * np.sqrt(a * (1 - a) / 20_000), (population, n, identical, chosen)
    # A sample of the whole job is a census: it certifies exactly what it saw.
    assert most_changes(600, 99.0, a, 600) == 6 and most_changes(600, 99.0 + 1e-9, a, 600) == 5
    # Of a vast population the bound is Clopper-Pearson's: 99% needs 299 identical answers (0.99^299 <= 5%), and
    # 436 at 5%/4 (0.99^436 is 1.2500%, on the edge: an endless population needs 437); of 6,375 questions, 420.
    assert examples_to_certify(99.0, a, 10**7) == 299 and examples_to_certify(99.0, a / 4, 10**7) == 436
    assert examples_to_certify(99.0, a / 4, 6_375) == 420
    # 100% needs 95% of the job: a single changed answer escapes a sample of n with chance 1 - n/N.
    assert examples_to_certify(100.0, a, 6_375) == 6_057
    assert most_changes(2048, 99.0, a / 4, 6_375) == 12 and most_changes(512, 99.0, a / 5, 6_375) == 0
    # For examples like these (a choice that also runs jobs it did not sample): Clopper-Pearson.
    assert most_changes(298, 99.0, a, None) is None and most_changes(299, 99.0, a, None) == 0
    assert examples_to_certify(99.0, a / 4, None) == 437 and examples_to_certify(100.0, a, None) is None


@requires_data
def test_fast_mode_auto_measures_records_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real calibration on this machine: every candidate measured (speed-up median and range, identical
    answers), the choice and reason in results and in the report, and the job run in the chosen mode, taking
    the predictions the calibration already made in that mode instead of predicting them again."""
    import pandas as pd

    import auditkit.running.jobs as jobs
    from auditkit import run_suite
    from auditkit.data import load_dataset
    from auditkit.models import open_model
    from auditkit.spec.schema import DatasetSpec, ModelSpec
    from auditkit.tasks import make_task

    monkeypatch.setenv("AUDITKIT_CHUNK", "32")  # the calibration's 32 examples are spread over many chunks
    opened: list[str] = []
    real_open = jobs.open_model

    def counted(spec: ModelSpec, head: Any) -> Any:
        opened.append(spec.name)
        return real_open(spec, head)

    monkeypatch.setattr(jobs, "open_model", counted)
    model = auto_tiny(32, fast_mode_min_agreement=80)
    outcome = run_suite(
        {
            "name": "fast",
            "bootstrap": {"resamples": 20},
            "models": [model],
            "tasks": [
                SST2_TRAIN,
                {"name": "dev", "kind": "classification", "dataset": {"path": str(DATA / "sst2" / "dev.tsv")}},
            ],
        },
        output_dir=tmp_path,
        quiet=True,
        report_formats=["md"],
    )
    info = outcome.results.models["m"].info
    record = info["fast_mode"]
    assert not opened  # both jobs ran on the calibration's model of the chosen mode: no second load
    assert record["chosen"] in {"exact", *(c["mode"] for c in record["candidates"] if c["kept"])}
    assert record["candidates"] and all(
        c["speedup_range"][0] <= c["speedup_median"] <= c["speedup_range"][1] and 0 <= c["agreement"] <= 100
        for c in record["candidates"]
    )
    # A sample of 32 is smaller than three timing rounds: the later rounds time it again, and count it once.
    assert all(c["agreement_examples"] == 32 for c in record["candidates"] if not c["why_not"] or c["kept"])
    assert all(c["agreement_examples"] <= 32 for c in record["candidates"])
    ran = (info["dtype"], info["quantize"], info["head_dtype"], info["autocast"], info["recheck_margin"])
    assert (
        ran
        == {
            "exact": ("float32", None, None, None, None),
            "bf16": ("bfloat16", None, None, None, None),
            "bf16 + fp32 head": ("bfloat16", None, "float32", None, None),
            "bf16 autocast": ("float32", None, None, "bfloat16", None),
            "bf16 autocast + fp32 re-check": ("float32", None, None, "bfloat16", 0.05),
            "int8 (dynamic)": ("float32", "int8", None, None, None),
        }[record["chosen"]]
    )
    job, dev = outcome.results.jobs
    assert job.metrics["accuracy"].n == 800
    # One choice for both jobs, paid for by both (800 + 872 examples); the calibration's predictions are the first's.
    assert record["examples_to_run"] == 1672 and dev.timing.calibration_examples is None
    report = (outcome.report_dir / "report.md").read_text().replace("\\", "")  # Markdown escapes aside
    assert f"fast_mode auto ran {record['chosen']}" in report
    assert (
        "Speed measured against exact in rounds of 32 examples, agreement on up to 32 drawn at random from t:" in report
    )
    for candidate in record["candidates"]:  # one timing round says so; several give their range
        low, high = candidate["speedup_range"]
        spread = "one round" if candidate["rounds"] == 1 else f"range {low:.2f}–{high:.2f} over {candidate['rounds']}"
        assert f"{candidate['mode']} {candidate['speedup_median']:.2f}× ({spread}" in report
    assert f"Measuring took {record['calibration_seconds']:g} s; the job took 32 of its predictions" in report
    # 32 predictions came from the calibration, made in the mode that ran: the same as predicting them now.
    assert job.timing.calibration_examples == 32 and record["reused_examples"] == 32 and job.timing.examples == 800
    settings = dict(zip(("dtype", "quantize", "head_dtype", "autocast", "recheck_margin"), ran, strict=True))
    ran_spec = ModelSpec.model_validate({**model, "fast_mode": None, **settings})
    task = make_task(
        ClassificationSpec.model_validate(
            {"name": "t", "kind": "classification", "dataset": {"path": str(DATA / "sst2" / "train.tsv")}}
        )
    )
    from auditkit.running.fast_modes import calibration_sample

    data = load_dataset(DatasetSpec(path=DATA / "sst2" / "train.tsv", limit=800), type(task), name="t")
    sample = data.take(calibration_sample(data, 32))
    again = task.predict(open_model(ran_spec, "sequence-classification"), sample).frame
    saved = pd.read_parquet(outcome.run_dir / job.predictions)
    assert list(saved["id"]) == [str(example.id) for example in data.examples]  # in the job's order
    taken = saved.set_index("id").loc[again["id"]].reset_index()
    for column in ("id", "predicted_index", "confidence"):
        assert (taken[column].to_numpy() == again[column].to_numpy()).all(), column


@requires_data
def test_until_decided_takes_the_calibrations_predictions(tmp_path: Path) -> None:
    """Under --until-decided the looks take what the calibration already predicted in the mode that runs: on
    unclustered data the calibration sample is the first examples the canonical order reveals, so none of it is
    predicted twice; the stored order is still the canonical one."""
    import pandas as pd

    from auditkit import run_suite
    from auditkit.running.fast_modes import calibration_sample
    from auditkit.tasks.sampling import order_digest

    outcome = run_suite(
        {
            "name": "fast-early",
            "bootstrap": {"resamples": 20},
            "models": [auto_tiny(48, fast_mode_min_agreement=80)],
            "tasks": [SST2_TRAIN],
            "gates": ["t.accuracy >= 0.05"],
        },
        output_dir=tmp_path,
        quiet=True,
        report_formats=[],
        until_decided=True,
        use_cache=False,
    )
    (job,) = outcome.results.jobs
    record = outcome.results.models["m"].info["fast_mode"]
    seq = job.sequential
    assert seq is not None and seq.stopped == "decided" and 48 <= seq.n_used < 800
    assert record["reused_examples"] == 48 and job.timing.calibration_examples == 48
    saved = pd.read_parquet(outcome.run_dir / job.predictions)
    assert seq.order == order_digest(list(saved["id"]))
    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec
    from auditkit.tasks.classification import ClassificationTask

    data = load_dataset(DatasetSpec(path=DATA / "sst2" / "train.tsv", limit=800), ClassificationTask, name="t")
    sample = [str(data.examples[i].id) for i in calibration_sample(data, 48)]
    assert list(saved["id"][:48]) == sample  # the first examples seen are the calibration's


@requires_models
def test_the_calibration_sample_spans_the_job_not_its_first_articles() -> None:
    """The calibration is a random sample of the job: on the 6,375 held-out SQuAD questions (24 articles), 512 of them
    come from every article in about its share, where the first 512 questions of the file come from two; and it is
    a fixed function of the data (the same sample every time, a different one for different data)."""
    from collections import Counter

    from auditkit.data import load_dataset
    from auditkit.running.fast_modes import calibration_sample
    from auditkit.spec.schema import DatasetSpec
    from auditkit.tasks.extractive_qa import ExtractiveQATask

    spec = DatasetSpec(path=DATA / "squad" / "dev-v1.1.json", articles_file=MODELS / "minilm-squad-held-out.txt")
    data = load_dataset(spec, ExtractiveQATask, name="squad")
    assert len(data) == 6_375
    sample = calibration_sample(data, 512)
    assert sample == calibration_sample(data, 512) and len(set(sample)) == 512
    assert calibration_sample(data.subset(0, 6_000), 512) != sample[:512]
    per_article = Counter(data.examples[i].title for i in sample)
    first = Counter(example.title for example in data.examples[:512])
    assert len(per_article) == 24 and len(first) <= 2
    sizes = Counter(example.title for example in data.examples)
    for title, size in sizes.items():  # each article in about its share: within 4 binomial standard deviations
        expected = 512 * size / len(data)
        assert abs(per_article[title] - expected) <= 4 * (expected * (1 - size / len(data))) ** 0.5 + 1, title
