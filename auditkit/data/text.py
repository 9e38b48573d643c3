"""Text classification data: GLUE-style TSV (``sentence\\tlabel``, as SST-2 ships) and examples from flat rows.

Labels may be given as indices into the label names or as the names themselves; anything outside
the label set is an error naming the file and line, because a stray label silently skews accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import DatasetError
from .types import TextExample

#: GLUE's names for SST-2's labels (0 and 1).
SST2_LABELS = ["negative", "positive"]
TEXT_FIELDS = ("sentence", "text")
#: Sequence-pair columns (NLI, paraphrase): the first and second text, as GLUE and the Hub name them.
PAIR_FIELDS = (("premise", "hypothesis"), ("sentence1", "sentence2"), ("text", "text_pair"))


def parse_label(value: Any, label_names: list[str], source: str, where: str) -> int:
    """Turn a label given as an index (int or digit string) or a name into an index."""
    if value is None or (isinstance(value, float) and value != value):
        raise DatasetError(
            "the label is missing (empty, None or NaN)",
            source=source,
            location=where,
            hint="give every example a label, or leave the example out",
        )
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value.is_integer():  # a table column with a gap holds 1.0, not 1
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, int):
        if 0 <= value < len(label_names):
            return value
    elif isinstance(value, str):
        lowered = [name.lower() for name in label_names]
        if value.strip().lower() in lowered:
            return lowered.index(value.strip().lower())
    allowed = ", ".join(f"{i} ({name})" for i, name in enumerate(label_names))
    raise DatasetError(
        f"label {value!r} is outside the label set",
        source=source,
        location=where,
        hint=f"use one of {allowed}, or set the dataset's 'labels' in the suite",
    )


def read_tsv(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a GLUE-style TSV: a header line naming the columns, then one tab-separated row per example.

    Each row also gets ``id``: its index among the data rows, as GLUE numbers them.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", source=source) from None
    lines = text.splitlines()
    if not lines:
        raise DatasetError(
            "the file is empty", source=source, hint="a header line 'sentence<TAB>label' and one row per example"
        )
    header = lines[0].split("\t")
    rows: list[dict[str, Any]] = []
    places: list[str] = []
    # GLUE files are not CSV-quoted: a sentence may contain a bare '"'. So split on tabs only.
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise DatasetError(
                f"expected {len(header)} tab-separated columns, found {len(cells)}",
                source=source,
                location=f"line {lineno}",
                hint="remove stray tabs inside the sentence, or fix the row",
            )
        rows.append({**dict(zip(header, cells, strict=True)), "id": str(lineno - 2)})
        places.append(f"line {lineno}")
    return rows, places


def names_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """Label names the rows imply: the sorted set of their labels when every label is a name; None otherwise
    (indices need names from elsewhere)."""
    labels = [r.get("label") for r in rows]  # any value: a bad one is reported per row, with its place
    if labels and all(isinstance(v, str) and not v.strip().lstrip("-").isdigit() for v in labels):
        return sorted({str(v) for v in labels})
    return None


def from_rows(
    rows: Iterable[Mapping[str, Any]], label_names: list[str], source: str, places: Sequence[str] | None = None
) -> list[TextExample]:
    """Examples from flat rows (hub ``stanfordnlp/sst2`` or JSON Lines): a text field, a label, an optional id."""
    examples = []
    for i, row in enumerate(rows):
        where = places[i] if places is not None else f"record {i + 1}"
        if not isinstance(row, Mapping):
            raise DatasetError(f"expected an object, found {type(row).__name__}", source=source, location=where)
        pair = next((names for names in PAIR_FIELDS if all(name in row for name in names)), None)
        if pair is not None:
            first, second = row[pair[0]], row[pair[1]]
            if not (isinstance(first, str) and isinstance(second, str)):
                raise DatasetError(
                    f"'{pair[0]}' and '{pair[1]}' must both be strings",
                    source=source,
                    location=where,
                    hint="each pair record holds two texts and a label",
                )
        else:
            field = next((name for name in TEXT_FIELDS if name in row), None)
            if field is not None and not isinstance(row[field], str):
                raise DatasetError(
                    f"field {field!r} holds {row[field]!r} ({type(row[field]).__name__}), not text",
                    source=source,
                    location=where,
                    hint="every example's text must be a string (a column of mixed types? convert it: .astype(str))",
                )
            if field is None:
                found = ", ".join(repr(k) for k in list(row)[:8]) or "none"
                raise DatasetError(
                    "missing a string 'sentence' or 'text' field (or a 'premise' and 'hypothesis' pair);"
                    f" the fields are {found}",
                    source=source,
                    location=where,
                    hint="each record needs the text to classify under 'sentence' or 'text' (is this data for"
                    " another task kind?)",
                )
            first, second = row[field], None
        if "label" not in row:
            raise DatasetError(
                "missing field 'label'", source=source, location=where, hint="add the gold label (index or name)"
            )
        rid = row.get("id", row.get("idx", i))
        label = parse_label(row["label"], label_names, source, where)
        examples.append(TextExample(id=str(rid), text=first, label=label, text_pair=second))
    return examples
