"""The examples every loader produces and every task consumes.

Loaders differ in where data comes from (official SQuAD JSON, GLUE TSV, JSON Lines, the hub); tasks
must not care. So each loader returns a :class:`Dataset` of plain, immutable example records.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Protocol, TypeVar


@dataclass(frozen=True)
class QAExample:
    """One extractive-QA question. ``answers``/``answer_starts`` are empty for unanswerable (v2) questions."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    title: str = ""
    is_impossible: bool = False


@dataclass(frozen=True)
class TextExample:
    """One text (or text pair, for NLI) to classify, with its gold label index into the dataset's ``label_names``."""

    id: str
    text: str
    label: int
    text_pair: str | None = None


class Example(Protocol):
    """Any example record (QAExample, TextExample, a bias probe...); tasks narrow with :meth:`Dataset.typed`.

    Examples are frozen dataclasses: their content (``asdict``) is what the dataset fingerprint hashes.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def id(self) -> str: ...


E = TypeVar("E")


@dataclass
class Dataset:
    """A loaded, validated dataset.

    ``fingerprint`` is a content hash of the selected examples (not of the file): it keys the
    prediction cache and appears in every report, so two runs can be compared only when it matches.
    """

    name: str
    kind: str  # the task kind whose examples these are
    source: str
    examples: list[Example]
    label_names: list[str] | None = None
    total_available: int = 0
    selection: str = "all"
    info: dict[str, Any] = field(default_factory=dict)  # what the data says of itself (SQuAD's version, a probe set)
    warnings: list[str] = field(default_factory=list)  # said on the console, recorded in results and the report
    fingerprint: str = field(default="")
    #: The fingerprint of every example the source holds, before any selection: what identifies a benchmark's
    #: official split whatever file or hub copy it came from (see :meth:`auditkit.tasks.Task.benchmark`).
    source_fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = content_fingerprint(self.examples, self.label_names)
        if not self.total_available:
            self.total_available = len(self.examples)

    def typed(self, cls: type[E]) -> list[E]:
        """The examples as ``cls`` (a task's view of its data), checked: a dataset of another kind is an error."""
        wrong = next((e for e in self.examples if not isinstance(e, cls)), None)
        if wrong is not None:
            raise TypeError(f"{self.name}: expected {cls.__name__} examples, found {type(wrong).__name__}")
        return self.examples  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.examples)

    def subset(self, start: int, stop: int) -> Dataset:
        """Examples ``start:stop`` as a dataset of their own (its fingerprint is of that content)."""
        return self._with_examples(self.examples[start:stop])

    def take(self, indices: list[int]) -> Dataset:
        """The examples at ``indices``, in that order (a shuffled prefix, for ``--until-decided``)."""
        return self._with_examples([self.examples[i] for i in indices])

    def without(self, ids: set[str]) -> Dataset:
        """The dataset minus the examples ``ids`` (e.g. those an endpoint failed to answer)."""
        return self._with_examples([e for e in self.examples if e.id not in ids])

    def _with_examples(self, examples: list[Example]) -> Dataset:
        return replace(self, examples=examples, fingerprint="")  # __post_init__ fingerprints the new content

    @property
    def has_unanswerable(self) -> bool:
        return any(getattr(ex, "is_impossible", False) for ex in self.examples)


def content_fingerprint(examples: list[Example], label_names: list[str] | None) -> str:
    """sha256 over the examples' content in order (and the label names, which give labels meaning)."""
    h = hashlib.sha256()
    h.update(json.dumps(label_names).encode())
    for ex in examples:
        record = asdict(ex)
        if record.get("text_pair", "") is None:  # single texts hash as they did before pairs existed
            del record["text_pair"]
        h.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
