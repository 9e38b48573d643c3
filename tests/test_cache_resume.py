"""Prediction cache and resume: a repeated run recomputes nothing; an interrupted or killed run resumes without loss."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SST2, requires_data, write_suite

import auditkit
from auditkit.results import load_predictions, load_results
from auditkit.tasks.base import Task
from auditkit.tasks.classification import ClassificationTask

# Caching and resuming do not depend on the model's size: a tiny DistilBERT (tests/fixtures/models).
SUITE = f"""name: cached
output_dir: runs
bootstrap: {{resamples: 100}}
models:
  - name: cls
    build: {{config: {TINY_SST2}, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}
    batch_size: 4
tasks:
  - {{name: sst2, kind: classification, dataset: {{path: $DATA/sst2/dev.tsv, limit: 40}}}}
"""
#: The killed-process test: enough chunks of 8 that a kill lands mid-run even with a tiny model.
KILLED_EXAMPLES = 800
KILLED_CHUNKS = KILLED_EXAMPLES // 8


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AUDITKIT_CHUNK", "8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@requires_data
def test_second_run_recomputes_nothing(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = write_suite(isolated / "suite.yaml", SUITE)
    first = auditkit.run_suite(suite, quiet=True)

    def forbidden(self, model, dataset, progress=None):
        raise AssertionError("a cached job ran its model again")

    monkeypatch.setattr(ClassificationTask, "predict", forbidden)
    started = time.perf_counter()
    second = auditkit.run_suite(suite, quiet=True)
    assert time.perf_counter() - started < 60  # model load and fingerprint only
    job1, job2 = first.results.jobs[0], second.results.jobs[0]
    assert job2.timing.cached is True and job1.metrics == job2.metrics
    assert load_predictions(first.run_dir, "cls", "sst2").equals(load_predictions(second.run_dir, "cls", "sst2"))
    with pytest.raises(AssertionError, match="ran its model again"):
        auditkit.run_suite(suite, quiet=True, use_cache=False)


@requires_data
def test_interrupted_run_resumes_from_the_last_chunk(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = write_suite(isolated / "suite.yaml", SUITE)
    reference = auditkit.run_suite(suite, quiet=True, use_cache=False)
    original = ClassificationTask.predict
    calls: list[int] = []
    interrupts_left = [1]

    def interrupted(self: Task, model, dataset, progress=None):
        calls.append(len(dataset))
        if len(calls) == 3 and interrupts_left[0]:  # Ctrl-C during the third chunk, once
            interrupts_left[0] = 0
            raise KeyboardInterrupt
        return original(self, model, dataset, progress)

    monkeypatch.setattr(ClassificationTask, "predict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        auditkit.run_suite(suite, quiet=True)
    assert calls == [8, 8, 8]
    calls.clear()
    resumed = auditkit.run_suite(suite, quiet=True)
    assert calls == [8, 8, 8]  # chunks 3-5 only: the first two came from the cache
    assert resumed.results.jobs[0].timing.resumed_chunks == 2
    got, want = load_predictions(resumed.run_dir, "cls", "sst2"), load_predictions(reference.run_dir, "cls", "sst2")
    assert (
        got["id"].tolist() == want["id"].tolist()
        and got["predicted_index"].tolist() == want["predicted_index"].tolist()
    )
    assert np.allclose(np.stack(got["label_scores"]), np.stack(want["label_scores"]), atol=1e-5)


@requires_data
@pytest.mark.parametrize("kill_after", [3, 60])  # chunks done when SIGKILL lands: early, and late
def test_killed_process_resumes_without_loss_or_duplicates(isolated: Path, kill_after: int) -> None:
    suite = write_suite(isolated / "suite.yaml", SUITE.replace("limit: 40", f"limit: {KILLED_EXAMPLES}"))
    env = {**os.environ, "AUDITKIT_CACHE": str(isolated / "cache"), "AUDITKIT_CHUNK": "8"}
    command = [sys.executable, "-m", "auditkit.cli", "run", str(suite), "-q", "--report", "none"]
    proc = subprocess.Popen(command, cwd=isolated, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and len(list((isolated / "cache").rglob("chunks/*.json"))) < kill_after:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((isolated / "cache").rglob("chunks/*.json")))
    assert kill_after <= done_before < KILLED_CHUNKS, "the kill should land mid-run"
    assert not list((isolated / "runs").rglob("results.json"))  # nothing published by the killed run
    assert list((isolated / "runs").rglob(".*.partial"))  # the killed run's staging folder is left behind...
    finished = subprocess.run(command, cwd=isolated, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    run_dir = Path(finished.stdout.strip())
    assert not list((isolated / "runs").rglob(".*.partial"))  # ...and swept by the next run
    job = load_results(run_dir).jobs[0]
    assert job.timing.resumed_chunks >= done_before and job.timing.chunks == KILLED_CHUNKS
    frame = load_predictions(run_dir, "cls", "sst2")
    assert frame["id"].tolist() == [str(i) for i in range(KILLED_EXAMPLES)]  # every example exactly once, in order
