"""Dataset loaders: turn a suite's dataset spec into a validated :class:`~auditkit.data.types.Dataset`.

One module per source family; :data:`FORMATS` maps a format name to its reader. A new family is one
module plus one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import DatasetError
from . import hub, jsonl, probes, squad, text
from .types import Dataset, Example, Kind, QAExample, TextExample

__all__ = ["Dataset", "QAExample", "TextExample", "FORMATS", "load_dataset", "infer_format"]


class DatasetSpecLike(Protocol):
    """What the loaders need from a suite's dataset spec (see :class:`auditkit.suite.DatasetSpec`)."""

    path: Path | None
    hub: str | None
    config: str | None
    split: str
    revision: str | None
    format: str | None
    labels: list[str] | None
    limit: int | None
    sample: int | None


Reader = Callable[[DatasetSpecLike, Kind], tuple[list[Example], dict[str, Any]]]


def _read_squad(spec: DatasetSpecLike, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    _expect(kind, "qa", spec, "squad")
    examples, version = squad.load_squad_json(spec.path)
    return list(examples), {"squad_version": version}


def _read_tsv(spec: DatasetSpecLike, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    _expect(kind, "classification", spec, "tsv")
    names = spec.labels or text.SST2_LABELS
    return list(text.load_tsv(spec.path, names)), {"label_names": names}


def _read_jsonl(spec: DatasetSpecLike, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    records = jsonl.read_records(spec.path)
    if kind == "qa":
        examples = squad.from_rows(records, str(spec.path))
        return list(examples), {"squad_version": "2.0" if any(e.is_impossible for e in examples) else "1.1"}
    names = spec.labels or _names_from_records(records, spec)
    return list(text.from_rows(records, names, str(spec.path))), {"label_names": names}


def _read_hub(spec: DatasetSpecLike, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    rows, hub_names = hub.load_rows(spec.hub, spec.config, spec.split, spec.revision)
    if kind == "qa":
        examples = squad.from_rows(rows, spec.hub)
        v2 = "v2" in spec.hub.lower() or any(e.is_impossible for e in examples)
        return list(examples), {"squad_version": "2.0" if v2 else "1.1"}
    names = spec.labels or hub_names or text.SST2_LABELS
    return list(text.from_rows(rows, names, spec.hub)), {"label_names": names}


def _read_probes(spec: DatasetSpecLike, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    _expect(kind, "probe", spec, "probes")
    probe_set, expanded = probes.load_probe_set(spec.path)
    meta = probe_set.model_dump(include={"name", "kind", "description", "source", "intent", "groups"})
    return list(expanded), {"info": {"probe_set": meta}}


FORMATS: dict[str, Reader] = {"squad": _read_squad, "tsv": _read_tsv, "jsonl": _read_jsonl, "hub": _read_hub, "probes": _read_probes}
_EXTENSIONS = {".json": "squad", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".yaml": "probes", ".yml": "probes"}


def infer_format(spec: DatasetSpecLike) -> str:
    """The reader to use: explicit ``format``, else ``hub`` for hub ids, else by file extension."""
    if spec.format:
        return spec.format
    if spec.hub:
        return "hub"
    fmt = _EXTENSIONS.get(spec.path.suffix.lower()) if spec.path else None
    if fmt is None:
        raise DatasetError(f"cannot tell the format of {spec.path}", source=str(spec.path),
                           hint=f"set 'format:' to one of {', '.join(sorted(FORMATS))}")
    return fmt


def _expect(kind: Kind, wanted: Kind, spec: DatasetSpecLike, fmt: str) -> None:
    if kind != wanted:
        raise DatasetError(f"format {fmt!r} holds {wanted} data, but the task needs {kind} data", source=str(spec.path),
                           hint="point the task at a dataset of the right kind, or set 'format:'")


def _names_from_records(records: list[dict[str, Any]], spec: DatasetSpecLike) -> list[str]:
    """Label names for JSONL data without a 'labels' list: sorted string labels, or SST-2's for indices."""
    labels = {r.get("label") for r in records}
    if labels and all(isinstance(v, str) and not v.isdigit() for v in labels):
        return sorted(labels)
    return text.SST2_LABELS


def _select(examples: list[Example], spec: DatasetSpecLike, seed: int) -> tuple[list[Example], str]:
    """Apply ``limit`` (first N in file order) or ``sample`` (N drawn with the seed, kept in file order)."""
    if spec.limit is not None:
        return examples[: spec.limit], f"first {min(spec.limit, len(examples))}"
    if spec.sample is not None and spec.sample < len(examples):
        picked = np.sort(np.random.default_rng(seed).choice(len(examples), size=spec.sample, replace=False))
        return [examples[i] for i in picked], f"random sample of {spec.sample} (seed {seed})"
    return examples, "all"


def load_dataset(spec: DatasetSpecLike, kind: Kind, *, name: str, seed: int = 0) -> Dataset:
    """Read, validate and select the examples a task will run on."""
    fmt = infer_format(spec)
    if fmt not in FORMATS:
        raise DatasetError(f"unknown dataset format {fmt!r}", hint=f"use one of {', '.join(sorted(FORMATS))}")
    if fmt != "hub" and (spec.path is None or not spec.path.is_file()):
        raise DatasetError(f"dataset file not found: {spec.path}", hint="check the path (relative paths are resolved against the suite file)")
    examples, extra = FORMATS[fmt](spec, kind)
    source = spec.hub if fmt == "hub" else str(spec.path)
    ids = [ex.id for ex in examples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DatasetError(f"duplicate example id {dup!r}", source=source, hint="example ids must be unique")
    if not examples:
        raise DatasetError("the dataset holds no examples", source=source)
    selected, selection = _select(examples, spec, seed)
    return Dataset(name=name, kind=kind, source=source, examples=selected, total_available=len(examples), selection=selection, **extra)
