"""Suites made of Python objects: a dict (the YAML's structure) or a Suite, with objects where paths would go.

A notebook user has a DataFrame, a ``datasets.Dataset`` or a list of dicts rather than a file, and a
loaded model (with its tokenizer) or a pipeline rather than a directory. Each object is written once
into a private temporary folder in the format the file readers already understand -- a Parquet
table with the file formats' column names, a ``save_pretrained`` checkpoint -- so objects take
exactly the path files take: the same validation, fingerprints, cache and scoring. Results name the
object ("pandas.DataFrame, 120 rows") instead of the temporary path, which is removed after the run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import SuiteError
from .suite import LoadedSuite, Suite, load_suite, validate_suite

#: What a task's ``dataset`` may be in a dict suite, besides the mapping a YAML suite has.
DATA_OBJECTS = "a mapping (path/hub/...), a path, a pandas DataFrame, a datasets.Dataset or a list of dicts"
#: What a model's ``id`` (or ``model``) may be in a dict suite.
MODEL_OBJECTS = "a hub id or directory, a transformers model (with 'tokenizer'), or a transformers pipeline"


@dataclass
class Materialized:
    """A suite ready to run, the names of the objects it was made from, and the folder to remove afterwards."""

    loaded: LoadedSuite
    dataset_sources: dict[str, str] = field(default_factory=dict)  # task name -> what the object was
    model_sources: dict[str, str] = field(default_factory=dict)  # model name -> what the object was
    workdir: Path | None = None

    def describe(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The suite spec as results record it: each object named, not its temporary path."""
        for model in spec.get("models", []):
            if model.get("name") in self.model_sources:
                model["id"] = self.model_sources[model["name"]]
        for task in spec.get("tasks", []):
            if task.get("name") in self.dataset_sources:
                task["dataset"] = {**task["dataset"], "path": self.dataset_sources[task["name"]]}
        return spec

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def materialize(suite: str | Path | Mapping[str, Any] | Suite) -> Materialized:
    """Any accepted suite as a :class:`Materialized`; a wrong type is a :class:`SuiteError` saying what fits."""
    if isinstance(suite, str | Path):
        return Materialized(load_suite(suite))
    if isinstance(suite, Suite):
        data: Any = suite.model_dump(mode="json", exclude_unset=True)
    elif isinstance(suite, Mapping):
        data = dict(suite)
    else:
        raise SuiteError(
            f"a suite is a path to a YAML file, a dict or an auditkit Suite, not {type(suite).__name__}",
            hint="auditkit.run_suite('suites/offline-demo.yaml') or auditkit.run_suite({'name': ..., 'models': ...})",
        )
    workdir = Path(tempfile.mkdtemp(prefix="auditkit-objects-"))
    models: dict[str, str] = {}
    sources: dict[str, str] = {}
    try:
        data = {**data, "models": [_model(m, i, workdir, models) for i, m in enumerate(_list(data, "models"))]}
        data["tasks"] = [_task(t, i, workdir, sources) for i, t in enumerate(_list(data, "tasks"))]
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        loaded = validate_suite(data, source=Path("<in-memory suite>"), base_dir=Path.cwd(), sha256=digest)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Materialized(loaded, sources, models, workdir)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise SuiteError(f"{key}: expected a list, got {type(value).__name__}", source="<in-memory suite>")
    return value


def _model(entry: Any, index: int, workdir: Path, sources: dict[str, str]) -> Any:
    if not isinstance(entry, Mapping):
        return entry  # validation says what a model entry must be
    entry = dict(entry)
    obj = entry.pop("model", None)
    if obj is None and not isinstance(entry.get("id"), str | Path | type(None)):
        obj = entry.pop("id")
    tokenizer = entry.pop("tokenizer", None)
    if isinstance(entry.get("id"), Path):
        entry["id"] = str(entry["id"])
    if obj is None:
        if tokenizer is not None:
            raise SuiteError(
                f"models[{index}]: 'tokenizer' goes with a model object", source="<in-memory suite>",
                hint="give the loaded model as 'id' (or 'model') beside its tokenizer",
            )  # fmt: skip
        return entry
    if isinstance(obj, str | Path):
        entry["id"] = str(obj)
        return entry
    model, tokenizer, what = _unwrap_model(obj, tokenizer, index)
    folder = workdir / "models" / f"{index}"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    entry["id"] = str(folder)
    sources[str(entry.get("name", index))] = what
    return entry


def _unwrap_model(obj: Any, tokenizer: Any, index: int) -> tuple[Any, Any, str]:
    """(model, tokenizer, description) of a pipeline or a model object; a clear error for anything else."""
    if hasattr(obj, "model") and hasattr(obj, "tokenizer") and hasattr(obj, "task"):  # a transformers Pipeline
        if obj.tokenizer is None:
            raise SuiteError(f"models[{index}]: the pipeline has no tokenizer", source="<in-memory suite>")
        return obj.model, obj.tokenizer, f"in-memory pipeline({obj.task!r}) of {type(obj.model).__name__}"
    if hasattr(obj, "save_pretrained") and hasattr(obj, "config"):
        if tokenizer is None or not hasattr(tokenizer, "save_pretrained"):
            raise SuiteError(
                f"models[{index}]: a model object needs its tokenizer",
                source="<in-memory suite>",
                hint="add 'tokenizer': AutoTokenizer.from_pretrained(...) beside the model",
            )
        return obj, tokenizer, f"in-memory {type(obj).__name__}"
    raise SuiteError(
        f"models[{index}].id: expected {MODEL_OBJECTS}, got {type(obj).__name__}", source="<in-memory suite>"
    )


def _task(entry: Any, index: int, workdir: Path, sources: dict[str, str]) -> Any:
    if not isinstance(entry, Mapping):
        return entry
    entry = dict(entry)
    dataset = entry.get("dataset")
    if isinstance(dataset, Mapping) or dataset is None:
        return entry
    if isinstance(dataset, str | Path):
        entry["dataset"] = {"path": str(dataset)}
        return entry
    frame, what = _frame(dataset, index)
    target = workdir / "data" / f"{index}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(target, index=False)
    entry["dataset"] = {"path": str(target), "format": "parquet"}
    sources[str(entry.get("name", index))] = what
    return entry


def _frame(dataset: Any, index: int) -> tuple[Any, str]:
    import pandas as pd

    if isinstance(dataset, pd.DataFrame):
        return dataset, f"in-memory pandas.DataFrame, {len(dataset)} rows"
    if isinstance(dataset, list) and all(isinstance(row, Mapping) for row in dataset):
        return pd.DataFrame([dict(row) for row in dataset]), f"in-memory list of {len(dataset)} dicts"
    if hasattr(dataset, "to_pandas") and hasattr(dataset, "features"):  # a datasets.Dataset
        return dataset.to_pandas(), f"in-memory datasets.Dataset, {len(dataset)} rows"
    raise SuiteError(
        f"tasks[{index}].dataset: expected {DATA_OBJECTS}, got {type(dataset).__name__}",
        source="<in-memory suite>",
        hint="columns as the task kind reads them from any file: e.g. text + label (classification); id, question,"
        " context, answers (extractive_qa)",
    )
