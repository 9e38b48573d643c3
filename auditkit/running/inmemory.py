"""Suites made of Python objects: a dict (the YAML's structure) or a Suite, with objects where paths would go.

A notebook user has a DataFrame, a ``datasets.Dataset`` or a list of dicts rather than a file, and a
loaded model (with its tokenizer) or a pipeline rather than a directory. A table becomes rows held in
memory (the ``memory`` dataset format), a model a ``save_pretrained`` checkpoint in a private temporary
folder, so objects take exactly the path files take: the same validation, fingerprints, cache and
scoring. Errors and results name the object ("tasks[0].dataset (in-memory pandas.DataFrame, 120
rows)") instead of a temporary path; the folder is removed and the rows released after the run, and
nothing of the user's table is written to disk or to the datasets cache.
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
from ..data import Rows, hold_table, release_table
from ..data.tables import frame_records, python_value
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
    held: list[Path] = field(default_factory=list)  # markers of the tables held in memory

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
        _release(self.workdir, self.held)


def _release(workdir: Path | None, held: list[Path]) -> None:
    """Release the held tables and remove the temporary folder (the saved model objects)."""
    for marker in held:
        release_table(marker)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


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
    made = _Objects(workdir)
    try:
        data = {**data, "models": [_model(m, i, made) for i, m in enumerate(_list(data, "models"))]}
        data["tasks"] = [_task(t, i, made) for i, t in enumerate(_list(data, "tasks"))]
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        loaded = validate_suite(data, source=Path("<in-memory suite>"), base_dir=Path.cwd(), sha256=digest)
    except BaseException:
        _release(workdir, made.held)
        raise
    return Materialized(loaded, made.dataset_sources, made.model_sources, workdir, made.held)


@dataclass
class _Objects:
    """What materialising a suite's objects made so far: the folder, the tables held, the objects' names."""

    workdir: Path
    held: list[Path] = field(default_factory=list)
    dataset_sources: dict[str, str] = field(default_factory=dict)
    model_sources: dict[str, str] = field(default_factory=dict)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise SuiteError(f"{key}: expected a list, got {type(value).__name__}", source="<in-memory suite>")
    return value


def _model(entry: Any, index: int, made: _Objects) -> Any:
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
    folder = made.workdir / "models" / f"{index}"
    for part, saving in (("model", model), ("tokenizer", tokenizer)):
        try:
            saving.save_pretrained(folder)
        except Exception as exc:  # the user's object: any error it raises is about that object
            raise SuiteError(
                f"models[{index}] ({what}): its {part}'s save_pretrained() failed: {type(exc).__name__}: {exc}",
                source="<in-memory suite>",
                hint="give an object that transformers can save (or save it yourself and pass the folder as 'id')",
            ) from None
    entry["id"] = str(folder)
    made.model_sources[str(entry.get("name", index))] = what
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


def _task(entry: Any, index: int, made: _Objects) -> Any:
    if not isinstance(entry, Mapping):
        return entry
    entry = dict(entry)
    dataset = entry.get("dataset")
    if dataset is None:
        return entry
    if isinstance(dataset, str | Path):
        entry["dataset"] = {"path": str(dataset)}
        return entry
    options: dict[str, Any] = {}
    if isinstance(dataset, Mapping):
        if isinstance(dataset.get("path"), str | Path | type(None)):
            return entry
        # {path: <a table>, sample: 100}: the table stands where the file would, with the file's options.
        options = {key: value for key, value in dataset.items() if key != "path"}
        dataset = dataset["path"]
        where = f"tasks[{index}].dataset.path"
    else:
        where = f"tasks[{index}].dataset"
    records, places, what = _records(dataset, where)
    marker = made.workdir / "data" / f"{index}.rows"
    marker.parent.mkdir(parents=True, exist_ok=True)
    hold_table(Rows(records, places, f"{where} ({what})", "memory"), marker)
    made.held.append(marker)
    entry["dataset"] = {**options, "path": str(marker), "format": "memory"}
    made.dataset_sources[str(entry.get("name", index))] = what
    return entry


def _records(dataset: Any, where: str) -> tuple[list[dict[str, Any]], list[str], str]:
    """The object's rows with their places, and what it is; a clear error for anything that is not a table."""
    import pandas as pd

    if isinstance(dataset, pd.DataFrame):
        what = f"in-memory pandas.DataFrame, {len(dataset)} rows"
        return (*frame_records(dataset, f"{where} ({what})"), what)
    if isinstance(dataset, list) and all(isinstance(row, Mapping) for row in dataset):
        rows = [{str(k): python_value(v) for k, v in row.items()} for row in dataset]
        return rows, [f"row {i + 1}" for i in range(len(rows))], f"in-memory list of {len(dataset)} dicts"
    if hasattr(dataset, "to_list") and hasattr(dataset, "features"):  # a datasets.Dataset
        rows = [{str(k): python_value(v) for k, v in row.items()} for row in dataset.to_list()]
        return rows, [f"row {i + 1}" for i in range(len(rows))], f"in-memory datasets.Dataset, {len(rows)} rows"
    raise SuiteError(
        f"{where}: expected {DATA_OBJECTS}, got {type(dataset).__name__}",
        source="<in-memory suite>",
        hint="columns as the task kind reads them from any file: e.g. text + label (classification); id, question,"
        " context, answers (extractive_qa)",
    )
