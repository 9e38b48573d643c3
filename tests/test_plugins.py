"""Third-party extensions: a task kind registered by an installed package's ``auditkit.tasks`` entry point is a
first-class kind -- suite schema, validation, run, report and gates -- without a line of auditkit changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, requires_data

from auditkit.results.store import report_dir

PLUGIN = '''
"""A tiny plug-in task: sentiment classification that also reports how often the model says POSITIVE."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from auditkit.metrics.info import MetricInfo
from auditkit.metrics.stats import mean_def
from auditkit.tasks.classification import ClassificationParams, ClassificationSpec, ClassificationTask


class PositiveRateSpec(ClassificationSpec):
    kind: Literal["positive_rate"]  # type: ignore[assignment]
    params: ClassificationParams = ClassificationParams()


class PositiveRateTask(ClassificationTask):
    kind = "positive_rate"
    Spec = PositiveRateSpec
    metrics: ClassVar[dict[str, MetricInfo]] = {
        **ClassificationTask.metrics,
        "positive_rate": MetricInfo("positive_rate", "Share predicted positive", "%", "none"),
    }
    intended_use = "Checking a sentiment model's base rate (a plug-in task)."

    def score(self, predictions, dataset, bootstrap, seed):
        scores = super().score(predictions, dataset, bootstrap, seed)
        positive = (scores.per_example["prediction"] == "positive").to_numpy(float)
        rate = mean_def(positive, binary=True, scale=100.0)
        scores.metrics["positive_rate"] = rate.estimate(**bootstrap.settings(seed))
        return scores

    @staticmethod
    def metric_defs(frame, job):
        defs = ClassificationTask.metric_defs(frame, job)
        defs["positive_rate"] = mean_def((frame["prediction"] == "positive").to_numpy(float), binary=True, scale=100.0)
        return defs
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plug-in built and installed (``pip install --target``) into a folder of its own."""
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "auditkit_positive_rate").mkdir()
    (src / "auditkit_positive_rate" / "__init__.py").write_text(PLUGIN)
    (src / "pyproject.toml").write_text(
        """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "auditkit-positive-rate"
version = "0.0.1"

[project.entry-points."auditkit.tasks"]
positive_rate = "auditkit_positive_rate:PositiveRateTask"
"""
    )
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    return target


@requires_data
def test_an_entry_point_task_runs_reports_and_gates(plugin_path: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"""name: plugin
output_dir: runs
bootstrap: {{resamples: 100}}
models:
  - name: sst2
    build: {{config: distilbert-base-uncased-finetuned-sst-2-english, vocab: {DATA}/vocab/bert-base-uncased-vocab.txt}}
tasks:
  - {{name: rate, kind: positive_rate, dataset: {{path: {DATA}/sst2/dev.tsv, limit: 16}}}}
gates:
  - "rate.positive_rate <= 100"
"""
    )
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    validate = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "validate", str(suite), "--no-data"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert validate.returncode == 0 and "positive_rate" in validate.stderr, validate.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "run", str(suite), "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip())
    job = json.loads((run_dir / "results.json").read_text())["jobs"][0]
    assert job["kind"] == "positive_rate" and 0 <= job["metrics"]["positive_rate"]["value"] <= 100
    assert json.loads((run_dir / "gates.json").read_text())["passed"]
    md = (report_dir(run_dir) / "report.md").read_text()
    assert "Share predicted positive" in md and "a plug-in task" in md
    # Without the plug-in installed, the kind is unknown -- and the error says which kinds exist.
    bare = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "validate", str(suite), "--no-data"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bare.returncode == 2 and "unknown task kind 'positive_rate'" in bare.stderr
