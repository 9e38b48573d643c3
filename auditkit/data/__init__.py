"""Dataset formats and loading: a suite's dataset spec becomes a validated :class:`~auditkit.data.types.Dataset`.

Formats and tasks split the work. A *format* (one reader in :data:`DATASET_FORMATS`) knows a file layout and
yields flat :class:`Rows` -- JSON Lines records, table rows, SQuAD's nested JSON flattened to one row per
question, a probe set's expanded probes -- each with the place it came from. The *task* owns its data: its
``parse_rows`` turns rows into its typed examples (and says what they mean: label names, SQuAD's version).
So a new format works for every task, and a new task reads every format, without either knowing the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.errors import DatasetError
from ..core.registry import Registry
from ..core.text import lone_surrogate
from . import hub, jsonl, probes, squad, tables, text
from .types import Dataset, Example, QAExample, TextExample, content_fingerprint

__all__ = [
    "DATASET_FORMATS",
    "Dataset",
    "DatasetRequest",
    "Parsed",
    "QAExample",
    "RowParser",
    "Rows",
    "TextExample",
    "infer_format",
    "load_dataset",
]


class DatasetSpecLike(Protocol):
    """What loading needs from a suite's dataset spec (see :class:`auditkit.spec.schema.DatasetSpec`)."""

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


@dataclass(frozen=True)
class DatasetRequest:
    """A suite's dataset spec, as formats and tasks read it."""

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

    @classmethod
    def of(cls, spec: DatasetSpecLike) -> DatasetRequest:
        return cls(
            path=spec.path,
            hub=spec.hub,
            config=spec.config,
            split=spec.split,
            revision=spec.revision,
            format=spec.format,
            labels=spec.labels,
            limit=spec.limit,
            sample=spec.sample,
            articles=spec.articles,
            articles_file=spec.articles_file,
            exclude_articles=spec.exclude_articles,
        )

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


@dataclass
class Rows:
    """What a format yields: flat records, the place each came from (for errors), and what the source says of
    itself (``info``: SQuAD's version, a probe set's description; ``label_names``: a hub ClassLabel's names)."""

    records: list[dict[str, Any]]
    places: list[str]
    source: str
    format: str
    info: dict[str, Any] = field(default_factory=dict)
    label_names: list[str] | None = None


@dataclass
class Parsed:
    """A task's examples made from rows, with what they mean (label names; details recorded with the run)."""

    examples: list[Example]
    label_names: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class RowParser(Protocol):
    """What owns a dataset's meaning: a task class (its kind, and how its examples are made from rows)."""

    kind: str

    def parse_rows(self, rows: Rows, request: DatasetRequest) -> Parsed: ...


Reader = Callable[[DatasetRequest], Rows]

#: Dataset formats by name; a new format is one reader function decorated with
#: ``@DATASET_FORMATS.register(name)`` (or an ``auditkit.dataset_formats`` entry point), which suites then
#: name with ``format:``. Its file extensions, if any, go in :data:`EXTENSIONS`.
DATASET_FORMATS: Registry[Reader] = Registry("dataset format", "auditkit.dataset_formats")


@DATASET_FORMATS.register("squad")
def _read_squad(spec: DatasetRequest) -> Rows:
    records, places, version = squad.read_squad_json(spec.file)
    return Rows(records, places, str(spec.file), "squad", {"squad_version": version})


@DATASET_FORMATS.register("tsv")
def _read_tsv(spec: DatasetRequest) -> Rows:
    records, places = text.read_tsv(spec.file)
    return Rows(records, places, str(spec.file), "tsv")


@DATASET_FORMATS.register("jsonl")
def _read_jsonl(spec: DatasetRequest) -> Rows:
    records, places = jsonl.read_records(spec.file)
    return Rows(records, places, str(spec.file), "jsonl")


@DATASET_FORMATS.register("csv")
def _read_csv(spec: DatasetRequest) -> Rows:
    records, places = tables.read_csv(spec.file)
    return Rows(records, places, str(spec.file), "csv")


@DATASET_FORMATS.register("parquet")
def _read_parquet(spec: DatasetRequest) -> Rows:
    records, places = tables.read_parquet(spec.file)
    return Rows(records, places, str(spec.file), "parquet")


@DATASET_FORMATS.register("hub")
def _read_hub(spec: DatasetRequest) -> Rows:
    rows, names = hub.load_rows(spec.hub_id, spec.config, spec.split, spec.revision)
    origin = {"id": spec.hub_id, "config": spec.config, "split": spec.split, "revision": spec.revision}
    places = [f"record {i + 1}" for i in range(len(rows))]
    return Rows(rows, places, spec.hub_id, "hub", {"hub": origin}, label_names=names)


@DATASET_FORMATS.register("probes")
def _read_probes(spec: DatasetRequest) -> Rows:
    probe_set, records = probes.read_probe_rows(spec.file)
    meta = probe_set.model_dump(include={"name", "kind", "description", "source", "intent", "groups"})
    places = [f"probe {r['id']!r}" for r in records]
    return Rows(records, places, str(spec.file), "probes", {"probe_set": meta})


#: Tables handed over as Python objects, by the marker file standing in for them (``hold_table``).
_HELD: dict[Path, Rows] = {}


def hold_table(rows: Rows, marker: Path) -> None:
    """Make ``rows`` readable as the ``memory`` format at ``marker`` (an empty file, so the suite's ``path:``
    exists) until :func:`release_table`: an object's rows are never written out or cached."""
    marker.touch()
    _HELD[marker.resolve()] = rows


def release_table(marker: Path) -> None:
    _HELD.pop(marker.resolve(), None)


@DATASET_FORMATS.register("memory")
def _read_memory(spec: DatasetRequest) -> Rows:
    held = _HELD.get(spec.file.resolve())
    if held is None:
        raise DatasetError(
            "no in-memory table is held for this path",
            source=str(spec.file),
            hint="the 'memory' format is for Python objects given to run_suite(); a file needs its own format",
        )
    return Rows([dict(r) for r in held.records], list(held.places), held.source, "memory", dict(held.info))


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
            hint=f"set 'format:' to one of {', '.join(DATASET_FORMATS.names())}",
        )
    return fmt


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
    """Keep the examples of the listed articles (or drop the excluded ones); say which, and why it matters.

    A model trained on some of a dev set's articles must be judged on the others: SQuAD dev questions
    of one article share their paragraphs, so a seen article's questions are not held out. Any examples
    with a ``title`` can be selected so.
    """
    if spec.articles is None and spec.articles_file is None and spec.exclude_articles is None:
        return examples, "", []
    titles_of = [getattr(e, "title", None) for e in examples]
    if any(not isinstance(t, str) for t in titles_of):
        raise DatasetError("article selection applies to examples with article titles (QA data)", source=source)
    present = dict.fromkeys(str(t) for t in titles_of)
    wanted = _article_list(spec.articles_file) if spec.articles_file is not None else spec.articles
    excluded = set(spec.exclude_articles or [])
    unknown = sorted(t for t in [*(wanted or []), *excluded] if t not in present)
    warnings = []
    if unknown:
        # One list can serve several files (a held-out split over SQuAD v1.1 and v2.0): said, not an error.
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        warnings.append(f"{len(unknown)} listed article title(s) are not in this data: {shown}")
    keep = set(wanted) if wanted is not None else set(present)
    kept = [e for e, t in zip(examples, titles_of, strict=True) if t in keep and t not in excluded]
    if not kept:
        raise DatasetError(
            "the article selection keeps no question",
            source=source,
            hint="titles are matched exactly (SQuAD writes them with underscores, e.g. Super_Bowl_50)",
        )
    titles = len({getattr(e, "title", "") for e in kept})
    named = f" listed in {spec.articles_file.name}" if spec.articles_file is not None else ""
    said = f"{titles} of the data's {len(present)} articles{named}"
    if excluded:
        said += f", {len(excluded)} excluded"
    return kept, f"{said} ({len(kept)} of {len(examples)} questions)", warnings


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


def read_rows(spec: DatasetSpecLike) -> tuple[Rows, DatasetRequest]:
    """The spec's rows, read by its format (named, inferred from the extension, or the hub)."""
    request = DatasetRequest.of(spec)
    fmt = infer_format(request)
    if fmt not in DATASET_FORMATS:
        raise DatasetError(f"unknown dataset format {fmt!r}", hint=f"use one of {', '.join(DATASET_FORMATS.names())}")
    if fmt != "hub" and (request.path is None or not request.path.is_file()):
        raise DatasetError(
            f"dataset file not found: {request.path}",
            hint="check the path (relative paths are resolved against the suite file)",
        )
    return DATASET_FORMATS.get(fmt)(request), request


def check_text(rows: Rows) -> None:
    """Refuse text that is not Unicode (a lone surrogate) at its record and field, before any model loads."""
    for record, place in zip(rows.records, rows.places, strict=False):
        for key, value in record.items():
            for string in _strings(value):
                at = lone_surrogate(string)
                if at is not None:
                    raise DatasetError(
                        f"field {key!r} holds a lone surrogate (U+{ord(string[at]):04X}) at character"
                        f" {at}: it is not a character and cannot be stored or tokenised",
                        source=rows.source,
                        location=place,
                        hint="fix the text in the data (a broken \\uXXXX escape, or text cut in the middle of a pair)",
                    )


def _strings(value: Any) -> list[str]:
    """Every string inside one record value (SQuAD's answers are lists of dicts)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*(k for k in value if isinstance(k, str)), *(t for v in value.values() for t in _strings(v))]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _strings(v)]
    return []


def dataset_from_rows(rows: Rows, request: DatasetRequest, task: RowParser, *, name: str, seed: int = 0) -> Dataset:
    """The task's examples made from ``rows``, checked (unique ids, not empty) and selected (articles, limit,
    sample): what a file, the hub and an in-memory table all go through."""
    check_text(rows)
    parsed = task.parse_rows(rows, request)
    examples = parsed.examples
    ids = [ex.id for ex in examples]
    if len(set(ids)) != len(ids):
        dup = next(i for i, count in Counter(ids).items() if count > 1)
        raise DatasetError(f"duplicate example id {dup!r}", source=rows.source, hint="example ids must be unique")
    if not examples:
        raise DatasetError("the dataset holds no examples", source=rows.source)
    candidates, chosen, article_warnings = _choose_articles(examples, request, rows.source)
    selected, selection, warnings = _select(candidates, request, seed)
    if chosen:
        selection = chosen if selection == "all" else f"{chosen}; then {selection}"
    whole = content_fingerprint(examples, parsed.label_names)
    return Dataset(
        name=name,
        kind=task.kind,
        source=rows.source,
        examples=selected,
        label_names=parsed.label_names,
        source_fingerprint=whole,
        fingerprint=whole if len(selected) == len(examples) and selected == examples else "",
        total_available=len(examples),
        selection=selection,
        info={**rows.info, **parsed.info},
        warnings=[*article_warnings, *warnings],
    )


def load_dataset(spec: DatasetSpecLike, task: RowParser, *, name: str, seed: int = 0) -> Dataset:
    """Read, validate and select the examples ``task`` will run on (``task``: a task class, which owns how its
    examples are made from a format's rows)."""
    rows, request = read_rows(spec)
    return dataset_from_rows(rows, request, task, name=name, seed=seed)
