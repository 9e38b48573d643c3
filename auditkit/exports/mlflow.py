"""A published run into MLflow, through MLflow's own client (``pip install 'auditkit[mlflow]'``; mlflow-skinny
suffices for a local file or sqlite store, no server needed).

Each model x task becomes one MLflow run in an experiment named after the suite: every metric with its
interval bounds and n as metrics, the fingerprints (model, data, suite) and the job's identity as params,
the verdicts (the run's and each gate's on this job) as tags, and the report and results.json as artifacts.
An export is idempotent: a job already exported (tag ``auditkit.export_key``) is not logged twice.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from ..core.errors import ReportError
from ..results import Run
from ..results.store import RESULTS_FILE, report_dir
from . import EXPORTERS, ExportOptions

#: MLflow's limit on a param value's length (characters).
PARAM_MAX = 500


def _client(uri: str | None) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _key(text: str) -> str:
    """A name MLflow accepts for a metric or param (letters, digits, _ - . / and spaces)."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in text)


@EXPORTERS.register("mlflow")
def export_mlflow(run: Run, out_dir: Path | None, options: ExportOptions) -> list[Path]:
    """Log every job of ``run`` as an MLflow run; returns nothing written locally (the store is MLflow's)."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise ReportError(
            "MLflow is not installed", hint="pip install 'auditkit[mlflow]' (mlflow-skinny suffices)"
        ) from None

    try:
        _log(_client(options.tracking_uri), run)
    except MlflowException as exc:
        raise ReportError(
            f"MLflow refused the export: {str(exc).splitlines()[0]}",
            source=options.tracking_uri or "MLFLOW_TRACKING_URI",
            hint="check --tracking-uri (a file store under MLflow 3 needs MLFLOW_ALLOW_FILE_STORE=true; sqlite needs"
            " the full mlflow package); jobs logged before the error stay, and a re-export skips them",
        ) from None
    return []


def _log(client: Any, run: Run) -> None:

    from mlflow.entities import Metric, Param

    results = run.results
    experiment = client.get_experiment_by_name(results.suite.name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(results.suite.name)
    gates = run.recorded_gates() or {}
    stamp = int(time.time() * 1000)
    for job in results.jobs:
        export_key = f"{results.run_id}/{job.model}/{job.task}"
        found = client.search_runs([experiment_id], filter_string=f"tags.`auditkit.export_key` = '{export_key}'")
        if found:
            continue  # exported before: the store already holds this job
        tags = {
            "auditkit.export_key": export_key,
            "auditkit.run_id": results.run_id,
            "auditkit.verdict": str(gates.get("verdict", "no gates")),
            "mlflow.runName": f"{job.model} · {job.task}",
            **{
                _key(f"gate.{g['gate']}"): g["verdict"]
                for g in gates.get("results", [])
                if g.get("model") == job.model and g.get("task") == job.task
            },
        }
        mlflow_run = client.create_run(experiment_id, run_name=f"{job.model} · {job.task}", tags=tags)
        run_id = mlflow_run.info.run_id
        metrics = []
        for name, est in job.metrics.items():
            for key, value in ((name, est.value), (f"{name}.ci_low", est.low), (f"{name}.ci_high", est.high)):
                if math.isfinite(value) and (key == name or est.has_interval):
                    metrics.append(Metric(_key(key), float(value), stamp, 0))
            if est.n is not None:
                metrics.append(Metric(_key(f"{name}.n"), float(est.n), stamp, 0))
        dataset = results.datasets[job.task]
        params = {
            "model": job.model,
            "task": job.task,
            "kind": job.kind,
            "model_sha256": job.model_fingerprint,
            "dataset_fingerprint": job.dataset_fingerprint,
            "source_fingerprint": dataset.source_fingerprint or "",
            "selection": dataset.selection,
            "suite_sha256": results.suite.sha256,
            "auditkit_version": results.auditkit_version,
            "model_source": results.models[job.model].source,
        }
        client.log_batch(
            run_id,
            metrics=metrics,
            params=[Param(_key(k), str(v)[:PARAM_MAX]) for k, v in params.items() if v != ""],
        )
        client.log_artifact(run_id, str(run.dir / RESULTS_FILE), "auditkit")
        report = report_dir(run.dir)
        if report.is_dir():
            client.log_artifacts(run_id, str(report), "report")
        client.set_terminated(run_id)
