"""Every Eval Ever export: every record validates against the JSON Schemas the `every-eval-ever` package ships
(taken from its wheel: the package itself needs Python >= 3.12), reads back to the run's figures, and is the
same bytes when exported again."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, TINY_QA, TINY_SST2, requires_data

EEE_VERSION = "0.3.0"


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """eval.schema.json and instance_level_eval.schema.json from the every-eval-ever wheel on PyPI."""
    where = tmp_path_factory.mktemp("eee-wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", f"every-eval-ever=={EEE_VERSION}", "-d", str(where)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wheels = list(where.glob("every_eval_ever-*.whl"))
    if proc.returncode != 0 or not wheels:
        pytest.skip(f"the every-eval-ever {EEE_VERSION} wheel could not be downloaded from PyPI: {proc.stderr[-300:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        return {
            name: json.loads(wheel.read(f"every_eval_ever/schemas/{name}.schema.json"))
            for name in ("eval", "instance_level_eval")
        }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from auditkit import run_suite

    if not (DATA / "sst2" / "dev.tsv").is_file():
        pytest.skip(f"the shared data folder is absent ({DATA})")
    vocab = DATA / "vocab"
    outcome = run_suite(
        {
            "name": "exported",
            "bootstrap": {"resamples": 200},
            "models": [
                {"name": "qa", "build": {"config": str(TINY_QA), "vocab": str(vocab / "bert-base-cased-vocab.txt")}},
                {
                    "name": "cls",
                    "build": {"config": str(TINY_SST2), "vocab": str(vocab / "bert-base-uncased-vocab.txt")},
                },
            ],
            "tasks": [
                {
                    "name": "squad",
                    "kind": "extractive_qa",
                    "models": ["qa"],
                    "dataset": {"path": str(DATA / "squad" / "dev-v1.1.json"), "sample": 120},
                },
                {
                    "name": "sst2",
                    "kind": "classification",
                    "models": ["cls"],
                    "dataset": {"path": str(DATA / "sst2" / "dev.tsv")},
                },
            ],
        },
        output_dir=tmp_path_factory.mktemp("runs"),
        quiet=True,
        report_formats=[],
    )
    return outcome.run_dir


@requires_data
def test_every_record_validates_and_reads_back(schemas: dict[str, Any], run_dir: Path, tmp_path: Path) -> None:
    import jsonschema

    from auditkit import load_run
    from auditkit.exports import ExportOptions, export_run

    files = export_run(run_dir, "eee", tmp_path / "eee", ExportOptions("auditkit tests", "third_party"))
    records = [json.loads(p.read_text()) for p in files if p.suffix == ".json"]
    assert len(records) == 2
    aggregate = jsonschema.Draft7Validator(schemas["eval"])
    instance = jsonschema.Draft7Validator(schemas["instance_level_eval"])
    run = load_run(run_dir)
    for record in records:
        assert not list(aggregate.iter_errors(record)), list(aggregate.iter_errors(record))[:3]
        job = next(j for j in run.results.jobs if j.model == record["model_info"]["name"])
        assert record["source_metadata"]["evaluator_relationship"] == "third_party"
        assert record["eval_library"] == {**record["eval_library"], "name": "auditkit"}
        assert record["eval_library"]["additional_details"]["suite_sha256"] == run.results.suite.sha256
        assert record["model_info"]["additional_details"]["model_sha256"] == job.model_fingerprint
        scores = {r["metric_config"]["metric_id"]: r for r in record["evaluation_results"]}
        for key, est in job.metrics.items():
            details = scores[key]["score_details"]
            assert details["score"] == pytest.approx(est.value) and details["uncertainty"]["num_samples"] == est.n
            if est.has_interval:
                ci = details["uncertainty"]["confidence_interval"]
                assert (ci["lower"], ci["upper"], ci["confidence_level"]) == (est.low, est.high, est.confidence)
        source = record["evaluation_results"][0]["source_data"]
        assert source["additional_details"]["fingerprint"] == job.dataset_fingerprint
        detail = record["detailed_evaluation_results"]
        samples = tmp_path / "eee" / detail["file_path"]
        text = samples.read_bytes()
        assert hashlib.sha256(text).hexdigest() == detail["checksum"]
        lines = [json.loads(line) for line in text.decode().splitlines()]
        assert len(lines) == detail["total_rows"] and not any(e for line in lines for e in instance.iter_errors(line))
        assert {line["evaluation_id"] for line in lines} == {record["evaluation_id"]}
        frame = run.predictions(job.model, job.task)
        assert {line["sample_id"] for line in lines} == set(frame["id"].astype(str))
    qa = next(r for r in records if r["model_info"]["name"] == "qa")
    f1 = next(r for r in qa["evaluation_results"] if r["metric_config"]["metric_id"] == "f1")
    # SQuAD questions come in articles: the interval and standard error resample whole articles.
    assert f1["score_details"]["details"]["cluster_unit"] == "article"
    assert f1["score_details"]["uncertainty"]["standard_error"]["method"] == "bootstrap over whole articles"
    assert f1["source_data"]["source_type"] == "hf_dataset" and f1["source_data"]["hf_repo"] == "rajpurkar/squad"
    assert f1["source_data"]["samples_number"] == 120  # a sample of the official split, said as such
    # The same run exports to the same bytes; an export never goes into a run.
    same = export_run(run_dir, "eee", tmp_path / "same", ExportOptions("auditkit tests", "third_party"))
    assert [p.read_bytes() for p in sorted(same)] == [
        (tmp_path / "eee" / p.relative_to(tmp_path / "same")).read_bytes() for p in sorted(same)
    ]
    from auditkit.core.errors import ResultsError

    with pytest.raises(ResultsError):
        export_run(run_dir, "eee", run_dir / "inside")


@requires_data
def test_mlflow_export_logs_every_job_once(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each model x task is one MLflow run in a local store (no server): metrics with interval bounds and n,
    fingerprints as params, verdicts as tags, results.json as an artifact; exporting again adds nothing."""
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install 'auditkit[mlflow]')")
    from mlflow.tracking import MlflowClient

    from auditkit import load_run
    from auditkit.exports import ExportOptions, export_run

    # A local file store (mlflow-skinny has no SQL backend; MLflow 3 asks for this opt-in to use a file store).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    export_run(run_dir, "mlflow", options=ExportOptions(tracking_uri=uri))
    export_run(run_dir, "mlflow", options=ExportOptions(tracking_uri=uri))  # idempotent
    client = MlflowClient(tracking_uri=uri)
    run = load_run(run_dir)
    experiment = client.get_experiment_by_name(run.results.suite.name)
    logged = client.search_runs([experiment.experiment_id])
    assert len(logged) == len(run.results.jobs) == 2
    for job in run.results.jobs:
        [mine] = [r for r in logged if r.data.params["model"] == job.model]
        for name, est in job.metrics.items():
            assert mine.data.metrics[name] == pytest.approx(est.value)
            if est.has_interval:
                assert mine.data.metrics[f"{name}.ci_low"] == pytest.approx(est.low)
        assert mine.data.params["model_sha256"] == job.model_fingerprint
        assert mine.data.params["dataset_fingerprint"] == job.dataset_fingerprint
        assert mine.data.tags["auditkit.run_id"] == run.results.run_id
        assert [a.path for a in client.list_artifacts(mine.info.run_id, "auditkit")] == ["auditkit/results.json"]
