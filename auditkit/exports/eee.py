"""Every Eval Ever records (the EvalEval coalition's interchange format, schema 0.3.0) of a published run.

For each model x task: one aggregate record (``<uuid>.json``) with every metric's score and its uncertainty --
the interval with its level and method, a bootstrap standard error (over whole clusters when the examples
came in clusters), the standard deviation of the per-example scores, ``num_samples`` and the resamples --
and the instance-level results (``<uuid>_samples.jsonl``, its sha256 in the aggregate record), one line per
example and per metric that has per-example scores, as the schema asks. Files go under
``data/<dataset>/<developer>/<model>/`` as the coalition's datastore lays them out.

The schema wants string-valued ``additional_details``; auditkit's identity of the evaluation goes there: the
suite's sha256, the model's and the data's fingerprints, the selection, the cluster unit. Records are
deterministic: the same run gives the same bytes (the record's time is the run's, its uuid derived from the
run id, model and task), so a copy can be checked against a re-export.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..metrics.stats import MetricDef
from ..results import Job, Run, atomic_write_text
from ..tasks import task_class
from ..tasks.base import Task
from ..tasks.sampling import job_column
from ..version import __version__
from . import EXPORTERS, ExportOptions

SCHEMA_VERSION = "0.3.0"
_UNITS = {"%": "percent", "": "unitless"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "unknown"


def _strings(values: dict[str, Any]) -> dict[str, str]:
    """``additional_details`` hold strings only (the schema's rule); empty values are left out."""
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


def _record_uuid(run_id: str, model: str, task: str) -> str:
    """A version-4-shaped uuid derived from the run, model and task: a re-export names its files the same."""
    return str(uuid.UUID(bytes=hashlib.sha256(f"{run_id}/{model}/{task}".encode()).digest()[:16], version=4))


def _model_identity(run: Run, model: str) -> tuple[str, dict[str, Any]]:
    """The model's id in Hugging Face form (``org/name`` for a Hub checkpoint, ``local/<name>`` otherwise) and
    its ``model_info``."""
    record = run.results.models[model]
    info = record.info
    endpoint = info.get("kind") == "endpoint"
    hub = bool(info.get("resolved_revision")) or (
        not endpoint
        and record.source.count("/") == 1
        and not record.source.startswith((".", "/", "build:", "in-memory"))
    )
    model_id = record.source if hub else f"{'endpoint' if endpoint else 'local'}/{_slug(model)}"
    details = _strings(
        {
            "deployment_type": "externally_managed" if endpoint else "self_deployed",
            "model_availability": "open_weights" if hub else "unknown",
            "auditkit_name": model,
            "source": record.source,
            "model_sha256": record.fingerprint.get("model_sha256"),
            "weights_sha256": record.fingerprint.get("weights_sha256"),
            "revision": info.get("revision"),
            "resolved_revision": info.get("resolved_revision"),
            "architecture": info.get("architecture"),
            "dtype": info.get("dtype"),
            "quantize": info.get("quantize"),
            "fast_mode": (info.get("fast_mode") or {}).get("chosen")
            if isinstance(info.get("fast_mode"), dict)
            else None,
        }
    )
    model_info: dict[str, Any] = {
        "name": model,
        "id": model_id,
        "developer": model_id.split("/", 1)[0],
        "inference_platform": "endpoint" if endpoint else "local",
        "additional_details": details,
    }
    if not endpoint:
        model_info["inference_engine"] = {
            "name": "transformers (auditkit engine)",
            "version": run.results.environment.packages.get("transformers") or "unknown",
        }
    return model_id, model_info


def _source_data(task: type[Task[Any]], run: Run, job: Job) -> tuple[dict[str, Any], str]:
    """The record's ``source_data`` (a Hub dataset only when the data *is* that benchmark's split) and the
    dataset's folder name."""
    dataset = run.results.datasets[job.task]
    benchmark, why = task.benchmark(dataset)
    details = _strings(
        {
            "fingerprint": dataset.fingerprint,
            "source_fingerprint": dataset.source_fingerprint,
            "selection": dataset.selection,
            "examples_used": dataset.examples,
            "examples_available": dataset.total_available,
            "benchmark": why,
        }
    )
    if benchmark is not None:
        hub = dataset.details.get("hub")
        revision = hub.get("revision") if isinstance(hub, dict) else None
        return {
            "dataset_name": benchmark.name,
            "source_type": "hf_dataset",
            "hf_repo": benchmark.hub_id,
            "hf_split": "val" if benchmark.split == "validation" else benchmark.split,
            "samples_number": dataset.examples,
            "additional_details": {**details, **_strings({"config": benchmark.config, "revision": revision})},
        }, _slug(benchmark.hub_id.split("/")[-1])
    name = str(task.index_dataset(dataset)["name"])
    return {"dataset_name": name, "source_type": "other", "additional_details": details}, _slug(name)


def _bound(value: float | None, infinite: str) -> float | str:
    return infinite if value is None else value


def _result(
    task: type[Task[Any]], job: Job, key: str, defn: MetricDef | None, run: Run, source: dict[str, Any]
) -> dict[str, Any]:
    """One metric of the job as an ``evaluation_results`` entry, with its uncertainty (``defn``: the metric as a
    statistic of the per-example table, None when it has none)."""
    info = task.metric_info(key)
    est = job.metrics[key]
    method = est.interval or "bootstrap percentile"  # None in results.json means the default
    column = job_column(job, task)
    resamples = int(run.results.suite.bootstrap.get("resamples", 1000))
    uncertainty: dict[str, Any] = {}
    if est.has_interval and math.isfinite(est.low) and math.isfinite(est.high):
        uncertainty["confidence_interval"] = {
            "lower": est.low,
            "upper": est.high,
            "confidence_level": est.confidence,
            "method": method,
        }
    if defn is not None and defn.columns.shape[0] > 1:
        clusters = defn.clusters(column)
        draws = defn.resampled(resamples, run.results.suite.seed, clusters)
        finite = draws[np.isfinite(draws)]
        if len(finite) > 1:
            unit = job.sampling.unit if job.sampling is not None and clusters is not None else None
            uncertainty["standard_error"] = {
                "value": float(np.std(finite, ddof=1)),
                "method": "bootstrap" + (f" over whole {unit}s" if unit else ""),
            }
            uncertainty["num_bootstrap_samples"] = resamples
        if defn.values is not None:
            values = np.asarray(defn.values, dtype=float) * defn.scale
            values = values[np.isfinite(values)]
            if len(values) > 1:
                uncertainty["standard_deviation"] = float(np.std(values, ddof=1))
    if est.n is not None:
        uncertainty["num_samples"] = int(est.n)
    sampling = job.sampling
    details = _strings(
        {
            "interval": method,
            "cluster_unit": sampling.unit if sampling is not None and sampling.n_clusters else None,
            "num_clusters": sampling.n_clusters if sampling is not None else None,
            "design_effect": sampling.design_effect if sampling is not None else None,
            "sequential": job.sequential.reason if job.sequential is not None else None,
        }
    )
    return {
        "evaluation_result_id": f"{job.task}.{key}",
        "evaluation_name": job.task,
        "source_data": source,
        "metric_config": {
            "evaluation_description": f"{info.name} of {job.model} on {job.task} ({job.kind}), measured by auditkit",
            "metric_id": key,
            "metric_name": info.name,
            "metric_kind": key,
            "metric_unit": _UNITS.get(info.unit, info.unit),
            "lower_is_better": info.direction == "lower",
            "score_type": "continuous",
            "min_score": _bound(info.low, "-Infinity"),
            "max_score": _bound(info.high, "Infinity"),
            "additional_details": _strings({"direction": info.direction}),
        },
        "score_details": {"score": float(est.value), "details": details, "uncertainty": uncertainty},
    }


def _instances(
    task: type[Task[Any]],
    job: Job,
    frame: pd.DataFrame,
    defs: dict[str, MetricDef],
    evaluation_id: str,
    model_id: str,
) -> list[dict[str, Any]]:
    """Instance-level records: one per example and per metric with per-example scores (the schema's rule)."""
    if task.pairing is None:
        return []  # no single input and reference per row (bias probes score variants together)
    text = frame[task.pairing.text].astype(str).tolist()
    contexts = frame["context"].astype(str).tolist() if "context" in frame else None
    answers = frame[task.answer_column].tolist() if task.answer_column in frame else [""] * len(frame)
    gold = frame[task.pairing.gold].tolist()
    records = []
    for key, defn in defs.items():
        if defn.values is None or key not in job.metrics:
            continue
        top = defn.bounds[1]
        for i, value in enumerate(np.asarray(defn.values, dtype=float)):
            if not math.isfinite(value):
                continue  # not in this metric's subset (e.g. an unanswerable question for HasAns_f1)
            reference = [str(g) for g in gold[i]] if isinstance(gold[i], list | tuple | np.ndarray) else [str(gold[i])]
            raw = text[i]
            answer = "" if answers[i] is None or answers[i] != answers[i] else str(answers[i])
            records.append(
                {
                    "schema_version": SCHEMA_VERSION,
                    "evaluation_id": evaluation_id,
                    "model_id": model_id,
                    "evaluation_name": job.task,
                    "evaluation_result_id": f"{job.task}.{key}",
                    "sample_id": str(frame["id"].iloc[i]),
                    "sample_hash": hashlib.sha256(
                        json.dumps([raw, reference], ensure_ascii=False).encode()
                    ).hexdigest(),
                    "interaction_type": "single_turn",
                    "input": {
                        "raw": raw,
                        "formatted": f"question: {raw}\ncontext: {contexts[i]}" if contexts is not None else None,
                        "reference": reference,
                    },
                    "output": {"raw": [answer]},
                    "answer_attribution": [
                        {
                            "turn_idx": 0,
                            "source": "output.raw",
                            "extracted_value": answer,
                            "extraction_method": f"auditkit {job.kind}",
                            "is_terminal": True,
                        }
                    ],
                    "evaluation": {"score": float(value), "is_correct": bool(value >= top)},
                }
            )
    return records


@EXPORTERS.register("eee")
def export_eee(run: Run, out_dir: Path | None, options: ExportOptions) -> list[Path]:
    """Every Eval Ever records for every model x task of ``run`` under ``out_dir/data/...``."""
    assert out_dir is not None  # export_run asks for it
    results = run.results
    created = _dt.datetime.fromisoformat(results.created)
    made: list[tuple[Path, str]] = []
    for job in results.jobs:
        task = task_class(job.kind)
        frame = run.predictions(job.model, job.task)
        defs = task.metric_defs(frame, job)  # once per job: every metric's entry and the instance lines read it
        model_id, model_info = _model_identity(run, job.model)
        source, dataset_dir = _source_data(task, run, job)
        evaluation_id = f"{job.task}/{model_id}/{int(created.timestamp())}"
        ident = _record_uuid(results.run_id, job.model, job.task)
        developer, name = model_id.split("/", 1)
        folder = f"data/{dataset_dir}/{_slug(developer)}/{_slug(name)}"
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "evaluation_id": evaluation_id,
            "evaluation_timestamp": results.created,
            "retrieved_timestamp": str(int(created.timestamp())),
            "source_metadata": {
                "source_name": f"auditkit run {results.run_id} of suite {results.suite.name}",
                "source_type": "evaluation_run",
                "source_organization_name": options.organization,
                "evaluator_relationship": options.relationship,
                "additional_details": _strings({"run_id": results.run_id, "suite": results.suite.name}),
            },
            "eval_library": {
                "name": "auditkit",
                "version": results.auditkit_version,
                "additional_details": _strings(
                    {
                        "suite_sha256": results.suite.sha256,
                        "seed": results.suite.seed,
                        "exported_by": f"auditkit {__version__}",
                        "torch": results.environment.packages.get("torch"),
                    }
                ),
            },
            "model_info": model_info,
            "evaluation_results": [_result(task, job, key, defs.get(key), run, source) for key in job.metrics],
        }
        instances = _instances(task, job, frame, defs, evaluation_id, model_id)
        if instances:
            lines = "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in instances)
            record["detailed_evaluation_results"] = {
                "format": "jsonl",
                "file_path": f"{folder}/{ident}_samples.jsonl",
                "hash_algorithm": "sha256",
                "checksum": hashlib.sha256(lines.encode("utf-8")).hexdigest(),
                "total_rows": len(instances),
            }
            made.append((out_dir / f"{folder}/{ident}_samples.jsonl", lines))
        made.append(
            (
                out_dir / f"{folder}/{ident}.json",
                json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
            )
        )
    written = []
    for path, text in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        written.append(path)
    return written
