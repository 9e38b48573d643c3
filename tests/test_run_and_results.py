"""End to end through the CLI, and the results directory's guarantees: complete, atomic, never clobbered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import requires_data, write_suite

import auditkit
from auditkit.results import LATEST, atomic_write_json, load_predictions, load_results
from auditkit.tasks.classification import ClassificationTask

SUITE = """name: small
output_dir: runs
seed: 7
bootstrap: {resamples: 300, confidence: 0.9}
models:
  - name: qa
    build: {config: distilbert-base-uncased-distilled-squad,
            vocab: $DATA/vocab/bert-base-uncased-vocab.txt, null_bias: 0.14}
    batch_size: 8
  - name: cls
    build: {config: distilbert-base-uncased-finetuned-sst-2-english, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}
tasks:
  - name: v1
    kind: extractive_qa
    models: [qa]
    dataset: {path: $DATA/squad/dev-v1.1.json, limit: 12}
    params: {max_seq_len: 128, doc_stride: 64}
  - name: v2
    kind: extractive_qa
    models: [qa]
    dataset: {path: $DATA/squad/dev-v2.0.json, sample: 16}
  - name: sst2
    kind: classification
    models: [cls]
    dataset: {path: $DATA/sst2/dev.tsv, limit: 40}
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    workdir = tmp_path_factory.mktemp("e2e")
    suite = write_suite(workdir / "small.yaml", SUITE)
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "run", str(suite), "--quiet"],
        capture_output=True,
        text=True,
        cwd=workdir,
        check=False,
    )
    return workdir, proc


@requires_data
def test_run_writes_complete_results(finished_run) -> None:
    workdir, proc = finished_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet: nothing but the run directory on stdout
    run_dir = Path(proc.stdout.strip())
    assert run_dir.parent == workdir / "runs" / "small"
    assert (run_dir.parent / LATEST).read_text().strip() == run_dir.name
    results = load_results(run_dir)
    assert results.status == "complete"
    assert results.suite.name == "small" and len(results.suite.sha256) == 64
    assert results.environment.packages["transformers"] and results.environment.packages["torch"]
    assert set(results.models) == {"qa", "cls"}
    for model in results.models.values():
        assert {"config_sha256", "weights_sha256", "tokenizer_sha256", "model_sha256"} <= set(model.fingerprint)
    assert results.datasets["v2"].total_available == 11873 and results.datasets["v2"].examples == 16
    assert [(j.model, j.task) for j in results.jobs] == [("qa", "v1"), ("qa", "v2"), ("cls", "sst2")]
    for job in results.jobs:
        timing = job.timing
        assert timing.examples_per_second and timing.examples_per_second > 0
        assert (timing.batch_latency_ms_p95 or 0) >= (timing.batch_latency_ms_p50 or 0) > 0
        for estimate in job.metrics.values():
            assert (
                estimate.confidence == 0.9
                and estimate.resamples == 300
                and estimate.n == len(load_predictions(run_dir, job.model, job.task))
            )
            assert estimate.low <= estimate.value <= estimate.high


@requires_data
def test_metrics_follow_from_the_per_example_predictions(finished_run) -> None:
    _, proc = finished_run
    run_dir = Path(proc.stdout.strip())
    jobs = {j.task: j for j in load_results(run_dir).jobs}

    v1 = load_predictions(run_dir, "qa", "v1")
    assert len(v1) == 12 and {"gold_answers", "prediction", "exact", "f1", "score", "start", "end"} <= set(v1.columns)
    assert jobs["v1"].metrics["f1"].value == pytest.approx(100 * v1["f1"].mean())
    assert jobs["v1"].details["official"]["exact_match"] == pytest.approx(100 * v1["exact"].mean())

    v2 = load_predictions(run_dir, "qa", "v2")
    assert jobs["v2"].details["metric"] == "squad_v2"
    has = v2["has_answer"]
    assert jobs["v2"].details["official"]["HasAns_total"] == int(has.sum())
    assert jobs["v2"].metrics["exact"].value == pytest.approx(100 * v2["exact"].mean())
    # The no-answer probability exceeds 1/2 exactly when the empty answer was chosen.
    assert ((v2["no_answer_probability"] > 0.5) == (v2["prediction"] == "")).all()
    assert {"best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"} <= set(jobs["v2"].details["official"])

    sst2 = load_predictions(run_dir, "cls", "sst2")
    assert jobs["sst2"].metrics["accuracy"].value == pytest.approx(100 * sst2["correct"].mean())
    cm = np.array(jobs["sst2"].details["confusion_matrix"])
    assert cm.sum() == 40 and np.trace(cm) == sst2["correct"].sum()
    assert all(abs(sum(s) - 1) < 1e-5 for s in sst2["label_scores"])


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    atomic_write_json(target, {"ok": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"ok": 2, "bad": object()})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary left behind


@requires_data
def test_interrupted_run_publishes_nothing_and_keeps_earlier_results(
    finished_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir, proc = finished_run
    earlier = Path(proc.stdout.strip())
    before = (earlier / "results.json").read_bytes()

    def interrupted(self, model, dataset, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(ClassificationTask, "predict", interrupted)
    monkeypatch.chdir(workdir)
    with pytest.raises(KeyboardInterrupt):
        # The QA jobs finish, then the classifier is "interrupted" (cache off: the fixture's run cached every job).
        auditkit.run_suite(workdir / "small.yaml", quiet=True, use_cache=False)
    suite_dir = workdir / "runs" / "small"
    assert sorted(p.name for p in suite_dir.iterdir() if p.suffix != ".report") == sorted([earlier.name, LATEST])
    assert (suite_dir / LATEST).read_text().strip() == earlier.name
    assert (earlier / "results.json").read_bytes() == before
    assert isinstance(pd.read_parquet(earlier / "predictions" / "qa" / "v1.parquet"), pd.DataFrame)
