"""Dataset loaders: turn a suite's dataset spec into a validated :class:`~auditkit.data.types.Dataset`.

One module per source family; :data:`FORMATS` maps a format name to its reader. A new family is one
module plus one entry here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import DatasetError
from ..registry import Registry
from . import hub, jsonl, probes, squad, text
from .types import Dataset, Example, Kind, QAExample, TextExample

__all__ = ["FORMATS", "Dataset", "QAExample", "TextExample", "infer_format", "load_dataset"]


class DatasetSpecLike(Protocol):
    """What the loaders need from a suite's dataset spec (see :class:`auditkit.schema.DatasetSpec`)."""

    @property
    def path(self) -> Path | None: ...

    @property
    def hub(self) -> str | None: ...

    @property
    def config(self) -> str | None: ...

    @property
    def split(self) -> str: ...

    @property
    def revision(self) -> str | None: ...

    @property
    def format(self) -> str | None: ...

    @property
    def labels(self) -> list[str] | None: ...

    @property
    def limit(self) -> int | None: ...

    @property
    def sample(self) -> int | None: ...

    @property
    def articles(self) -> list[str] | None: ...

    @property
    def articles_file(self) -> Path | None: ...

    @property
    def exclude_articles(self) -> list[str] | None: ...


Reader = Callable[["DatasetRequest", Kind], tuple[list[Example], dict[str, Any]]]

#: Dataset formats by name; a new format is one reader function decorated with ``@FORMATS.register(name)``
#: (or an ``auditkit.dataset_formats`` entry point), plus its file extensions in :data:`EXTENSIONS`.
FORMATS: Registry[Reader] = Registry("dataset format", "auditkit.dataset_formats")


@dataclass(frozen=True)
class DatasetRequest:
    """A dataset spec with the task's defaults filled in (e.g. NLI's label names when the suite names none)."""

    path: Path | None
    hub: str | None
    config: str | None
    split: str
    revision: str | None
    format: str | None
    labels: list[str] | None
    limit: int | None
    sample: int | None
    articles: list[str] | None = None
    articles_file: Path | None = None
    exclude_articles: list[str] | None = None

    @property
    def file(self) -> Path:
        """The local file (readers of files only run when ``path`` is set: see :func:`load_dataset`)."""
        if self.path is None:
            raise DatasetError("this dataset format reads a local file; give 'path:'", hint="or use 'hub:'")
        return self.path

    @property
    def hub_id(self) -> str:
        if self.hub is None:
            raise DatasetError("the hub format needs 'hub:' (a dataset id)", hint="or use 'path:' for a local file")
        return self.hub


@FORMATS.register("squad")
def _read_squad(spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    _expect(kind, "qa", spec, "squad")
    examples, version = squad.load_squad_json(spec.file)
    return list(examples), {"squad_version": version}


@FORMATS.register("tsv")
def _read_tsv(spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    _expect(kind, "classification", spec, "tsv")
    names = spec.labels or text.SST2_LABELS
    return list(text.load_tsv(spec.file, names)), {"label_names": names}


@FORMATS.register("jsonl")
def _read_jsonl(spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    records, places = jsonl.read_records(spec.file)
    if kind == "qa":
        examples = squad.from_rows(records, str(spec.path), places)
        return list(examples), {"squad_version": "2.0" if any(e.is_impossible for e in examples) else "1.1"}
    names = spec.labels or _names_from_records(records, spec)
    return list(text.from_rows(records, names, str(spec.path), places)), {"label_names": names}


@FORMATS.register("csv")
def _read_csv(spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    return _from_table(hub.load_local_rows("csv", spec.file), spec, kind)


@FORMATS.register("parquet")
def _read_parquet(spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    return _from_table(hub.load_local_rows("parquet", spec.file), spec, kind)


def _from_table(rows: list[dict[str, Any]], spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    """Rows read through ``datasets`` (CSV, Parquet, in-memory frames) as examples, like JSON Lines records;
    a CSV cell holds text, so QA ``answers`` there is JSON text ({"text": [...], "answer_start": [...]})."""
    places = [f"row {i + 1}" for i in range(len(rows))]
    if kind == "qa":
        for row in rows:
            if isinstance(row.get("answers"), str):
                row["answers"] = json.loads(row["answers"])
        examples = squad.from_rows(rows, str(spec.path), places)
        return list(examples), {"squad_version": "2.0" if any(e.is_impossible for e in examples) else "1.1"}
    names = spec.labels or _names_from_records(rows, spec)
    return list(text.from_rows(rows, names, str(spec.path), places)), {"label_names": names}


@FORMATS.register("hub")
def _read_hub(spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    rows, hub_names = hub.load_rows(spec.hub_id, spec.config, spec.split, spec.revision)
    if kind == "qa":
        examples = squad.from_rows(rows, spec.hub_id)
        v2 = "v2" in spec.hub_id.lower() or any(e.is_impossible for e in examples)
        return list(examples), {"squad_version": "2.0" if v2 else "1.1"}
    names = spec.labels or hub_names or text.SST2_LABELS
    return list(text.from_rows(rows, names, spec.hub_id)), {"label_names": names}


@FORMATS.register("probes")
def _read_probes(spec: DatasetRequest, kind: Kind) -> tuple[list[Example], dict[str, Any]]:
    _expect(kind, "probe", spec, "probes")
    probe_set, expanded = probes.load_probe_set(spec.file)
    meta = probe_set.model_dump(include={"name", "kind", "description", "source", "intent", "groups"})
    return list(expanded), {"info": {"probe_set": meta}}


EXTENSIONS = {
    ".json": "squad",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".yaml": "probes",
    ".yml": "probes",
}


def infer_format(spec: DatasetRequest) -> str:
    """The reader to use: explicit ``format``, else ``hub`` for hub ids, else by file extension."""
    if spec.format:
        return spec.format
    if spec.hub:
        return "hub"
    fmt = EXTENSIONS.get(spec.path.suffix.lower()) if spec.path else None
    if fmt is None:
        raise DatasetError(
            f"cannot tell the format of {spec.path}",
            source=str(spec.path),
            hint=f"set 'format:' to one of {', '.join(FORMATS.names())}",
        )
    return fmt


def _expect(kind: Kind, wanted: Kind, spec: DatasetRequest, fmt: str) -> None:
    if kind != wanted:
        raise DatasetError(
            f"format {fmt!r} holds {wanted} data, but the task needs {kind} data",
            source=str(spec.path),
            hint="point the task at a dataset of the right kind, or set 'format:'",
        )


def _names_from_records(records: list[dict[str, Any]], spec: DatasetRequest) -> list[str]:
    """Label names for JSONL data without a 'labels' list: sorted string labels, or SST-2's for indices."""
    labels = [r.get("label") for r in records]  # any JSON value: a bad one is reported per record, with its line
    if labels and all(isinstance(v, str) and not v.isdigit() for v in labels):
        return sorted({str(v) for v in labels})
    return text.SST2_LABELS


def _article_list(path: Path) -> list[str]:
    titles = []
    for line in path.read_text(encoding="utf-8").splitlines():
        title = line.split("#", 1)[0].strip()
        if title:
            titles.append(title)
    if not titles:
        raise DatasetError("the article list names no article", source=str(path), hint="one title a line")
    return titles


def _choose_articles(
    examples: list[Example], spec: DatasetRequest, source: str
) -> tuple[list[Example], str, list[str]]:
    """Keep the questions of the listed articles (or drop the excluded ones); say which, and why it matters.

    A model trained on some of a dev set's articles must be judged on the others: SQuAD dev questions
    of one article share their paragraphs, so a seen article's questions are not held out.
    """
    if spec.articles is None and spec.articles_file is None and spec.exclude_articles is None:
        return examples, "", []
    qa = [e for e in examples if isinstance(e, QAExample)]
    if len(qa) != len(examples):
        raise DatasetError("article selection applies to QA data with article titles", source=source)
    present = dict.fromkeys(e.title for e in qa)
    wanted = _article_list(spec.articles_file) if spec.articles_file is not None else spec.articles
    excluded = set(spec.exclude_articles or [])
    unknown = sorted(t for t in [*(wanted or []), *excluded] if t not in present)
    warnings = []
    if unknown:
        # One list can serve several files (a held-out split over SQuAD v1.1 and v2.0): said, not an error.
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        warnings.append(f"{len(unknown)} listed article title(s) are not in this data: {shown}")
    keep = set(wanted) if wanted is not None else set(present)
    kept = [e for e in qa if e.title in keep and e.title not in excluded]
    if not kept:
        raise DatasetError(
            "the article selection keeps no question",
            source=source,
            hint="titles are matched exactly (SQuAD writes them with underscores, e.g. Super_Bowl_50)",
        )
    titles = len({e.title for e in kept})
    named = f" listed in {spec.articles_file.name}" if spec.articles_file is not None else ""
    said = f"{titles} of the data's {len(present)} articles{named}"
    if excluded:
        said += f", {len(excluded)} excluded"
    return list(kept), f"{said} ({len(kept)} of {len(examples)} questions)", warnings


def _select(examples: list[Example], spec: DatasetRequest, seed: int) -> tuple[list[Example], str, list[str]]:
    """Apply ``limit`` (first N in file order) or ``sample`` (N drawn with the seed, kept in file order).

    Asking for more examples than the data holds is not an error, but it is said: the run then uses all of
    them, which is not what the suite's author expected to measure.
    """
    asked = spec.limit if spec.limit is not None else spec.sample
    warnings = []
    if asked is not None and asked > len(examples):
        key = "limit" if spec.limit is not None else "sample"
        warnings.append(f"{key}: {asked} asks for more examples than the data holds ({len(examples)}); all are used")
    if spec.limit is not None and spec.limit < len(examples):
        return examples[: spec.limit], f"first {spec.limit}", warnings
    if spec.sample is not None and spec.sample < len(examples):
        picked = np.sort(np.random.default_rng(seed).choice(len(examples), size=spec.sample, replace=False))
        return [examples[i] for i in picked], f"random sample of {spec.sample} (seed {seed})", warnings
    return examples, "all", warnings


def load_dataset(
    spec: DatasetSpecLike, kind: Kind, *, name: str, seed: int = 0, default_labels: list[str] | None = None
) -> Dataset:
    """Read, validate and select the examples a task will run on.

    ``default_labels`` are the task's label names for data that names none (SST-2's otherwise).
    """
    request = DatasetRequest(
        path=spec.path,
        hub=spec.hub,
        config=spec.config,
        split=spec.split,
        revision=spec.revision,
        format=spec.format,
        labels=spec.labels or default_labels,
        limit=spec.limit,
        sample=spec.sample,
        articles=spec.articles,
        articles_file=spec.articles_file,
        exclude_articles=spec.exclude_articles,
    )
    fmt = infer_format(request)
    if fmt not in FORMATS:
        raise DatasetError(f"unknown dataset format {fmt!r}", hint=f"use one of {', '.join(FORMATS.names())}")
    if fmt != "hub" and (request.path is None or not request.path.is_file()):
        raise DatasetError(
            f"dataset file not found: {request.path}",
            hint="check the path (relative paths are resolved against the suite file)",
        )
    examples, extra = FORMATS.get(fmt)(request, kind)
    source = request.hub_id if fmt == "hub" else str(request.file)
    ids = [ex.id for ex in examples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DatasetError(f"duplicate example id {dup!r}", source=source, hint="example ids must be unique")
    if not examples:
        raise DatasetError("the dataset holds no examples", source=source)
    candidates, chosen, article_warnings = _choose_articles(examples, request, source)
    selected, selection, warnings = _select(candidates, request, seed)
    warnings = [*article_warnings, *warnings]
    if chosen:
        selection = chosen if selection == "all" else f"{chosen}; then {selection}"
    return Dataset(
        name=name,
        kind=kind,
        source=source,
        examples=selected,
        total_available=len(examples),
        selection=selection,
        warnings=warnings,
        **extra,
    )
