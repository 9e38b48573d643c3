"""`--runner ray` on a local Ray instance: chunks spread over actors, the local runner's answers and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_QA, TINY_SST2, requires_data, write_suite

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'auditkit[ray]')")


@requires_data
@pytest.mark.slow
def test_ray_runner_matches_the_local_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditkit.running.runner import run_suite

    monkeypatch.setenv("AUDITKIT_CHUNK", "16")  # several chunks per job, spread over the workers
    suite = write_suite(
        tmp_path / "suite.yaml",
        f"""
name: scale
bootstrap: {{resamples: 100}}
output_dir: {tmp_path / "runs"}
models:
  - name: qa
    build: {{config: {TINY_QA}, vocab: $DATA/vocab/bert-base-cased-vocab.txt}}
    batch_size: 8
  - name: cls
    build: {{config: {TINY_SST2}, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}
tasks:
  - name: squad
    kind: extractive_qa
    models: [qa]
    dataset: {{path: $DATA/squad/dev-v1.1.json, limit: 40}}
  - name: sst2
    kind: classification
    models: [cls]
    dataset: {{path: $DATA/sst2/dev.tsv, labels: [negative, positive], limit: 48}}
""",
    )
    local = run_suite(suite, quiet=True, use_cache=False)
    clustered = run_suite(suite, quiet=True, use_cache=False, runner="ray", workers=2)
    assert clustered.results.runner.kind == "ray" and clustered.results.runner.workers == 2
    assert local.results.runner.kind == "local" and local.results.runner.workers is None
    for job_local, job_ray in zip(local.results.jobs, clustered.results.jobs, strict=True):
        assert job_ray.timing.chunks == 3
        for name, estimate in job_local.metrics.items():
            assert job_ray.metrics[name].value == pytest.approx(estimate.value, rel=1e-5, abs=1e-4), name
        a = pd.read_parquet(local.run_dir / job_local.predictions)
        b = pd.read_parquet(clustered.run_dir / job_ray.predictions)
        exact, close = (
            (["id", "prediction", "start", "end", "exact", "f1"], "score")
            if job_local.kind == "extractive_qa"
            else (["id", "model_label", "correct"], "confidence")
        )
        pd.testing.assert_frame_equal(a[exact], b[exact])
        # Latency percentiles merged over the workers' chunks are those of all the raw samples, not averages.
        raw = 1000 * np.asarray(job_ray.timing.batch_seconds)
        assert len(raw) == job_ray.timing.batches and len(raw) >= 3
        for q in (50, 95, 99):
            assert getattr(job_ray.timing, f"batch_latency_ms_p{q}") == pytest.approx(float(np.percentile(raw, q)))
        np.testing.assert_allclose(a[close].to_numpy(float), b[close].to_numpy(float), rtol=1e-5, atol=1e-6)
    assert json.loads((clustered.run_dir / "results.json").read_text())["runner"]["ray_version"] == ray.__version__


def test_ray_address_errors_are_clear(tmp_path: Path) -> None:
    from auditkit.core.errors import AuditkitError
    from auditkit.running.ray_executor import RayExecutor

    with pytest.raises(AuditkitError, match=r"cannot start or reach the Ray cluster at 127\.0\.0\.1:1"):
        RayExecutor(address="127.0.0.1:1")
