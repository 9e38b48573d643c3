"""SQuAD v1.1 / v2.0: the official nested JSON format, and the hub's flat rows.

Validation is strict because a silently wrong gold answer corrupts every score computed from it:
each ``answer_start`` must point at its answer text in the context.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import DatasetError
from .types import QAExample


def _require(record: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str, where: str) -> Any:
    if not isinstance(record, Mapping):
        raise DatasetError(f"expected an object, found {type(record).__name__}", source=source, location=where)
    if key not in record:
        raise DatasetError(
            f"missing field {key!r}",
            source=source,
            location=where,
            hint=f"add {key!r} to this record (see the official SQuAD format)",
        )
    value = record[key]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DatasetError(
            f"field {key!r} must be {expected}, found {type(value).__name__}", source=source, location=where
        )
    return value


def make_example(
    *,
    qid: str,
    question: str,
    context: str,
    texts: list[Any],
    starts: list[Any],
    title: str,
    is_impossible: bool,
    source: str,
    where: str,
) -> QAExample:
    """Validate one question's answers against its context and build the example."""
    if len(texts) != len(starts):
        raise DatasetError(
            f"question {qid!r} has {len(texts)} answer texts but {len(starts)} answer starts",
            source=source,
            location=where,
        )
    for text, start in zip(texts, starts, strict=True):
        if not isinstance(text, str) or not isinstance(start, int) or isinstance(start, bool):
            raise DatasetError(
                f"question {qid!r}: each answer needs a string 'text' and an integer 'answer_start'",
                source=source,
                location=where,
            )
        if context[start : start + len(text)] != text:
            found = context[start : start + len(text)]
            raise DatasetError(
                f"question {qid!r}: answer_start {start} does not point at its answer {text!r} (the context there"
                f" reads {found!r})",
                source=source,
                location=where,
                hint="correct answer_start to the character offset of the answer in the context",
            )
    if not texts and not is_impossible:
        raise DatasetError(
            f"question {qid!r} has no answers and is not marked is_impossible",
            source=source,
            location=where,
            hint='give at least one answer, or set "is_impossible": true (SQuAD v2)',
        )
    return QAExample(
        id=qid,
        question=question,
        context=context,
        answers=tuple(texts),
        answer_starts=tuple(starts),
        title=title,
        is_impossible=is_impossible,
    )


def read_squad_json(path: Path) -> tuple[list[dict[str, Any]], list[str], str]:
    """An official SQuAD file flattened to one row per question (file order), each row's place in the file, and
    the file's version ("1.1" or "2.0"). Rows carry ``id, title, context, question, answers, is_impossible``."""
    source = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"not valid JSON: {exc.msg}",
            source=source,
            location=f"line {exc.lineno}, column {exc.colno}",
            hint="fix the JSON syntax; the official SQuAD files are a single JSON object",
        ) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", source=source) from None
    articles = _require(raw, "data", list, source, "top level")
    rows: list[dict[str, Any]] = []
    places: list[str] = []
    seen: set[str] = set()
    any_v2 = False
    for a, article in enumerate(articles):
        where_a = f"data[{a}]"
        paragraphs = _require(article, "paragraphs", list, source, where_a)
        title = article.get("title", "") if isinstance(article, Mapping) else ""
        for p, para in enumerate(paragraphs):
            where_p = f"{where_a}.paragraphs[{p}]"
            context = _require(para, "context", str, source, where_p)
            for q, qa in enumerate(_require(para, "qas", list, source, where_p)):
                where = f"{where_p}.qas[{q}]"
                qid = str(_require(qa, "id", (str, int), source, where))
                if qid in seen:
                    raise DatasetError(
                        f"duplicate question id {qid!r}",
                        source=source,
                        location=where,
                        hint="question ids must be unique",
                    )
                seen.add(qid)
                answers = _require(qa, "answers", list, source, f"{where} (id {qid})")
                any_v2 = any_v2 or "is_impossible" in qa
                for i, ans in enumerate(answers):
                    _require(ans, "text", str, source, f"{where}.answers[{i}] (id {qid})")
                    _require(ans, "answer_start", int, source, f"{where}.answers[{i}] (id {qid})")
                rows.append(
                    {
                        "id": qid,
                        "title": title,
                        "context": context,
                        "question": _require(qa, "question", str, source, f"{where} (id {qid})"),
                        "answers": answers,
                        "is_impossible": bool(qa.get("is_impossible", False)),
                    }
                )
                places.append(where)
    version = "2.0" if any_v2 or str(raw.get("version", "")).lstrip("v").startswith("2") else "1.1"
    return rows, places, version


def from_rows(rows: Iterable[Mapping[str, Any]], source: str, places: Sequence[str] | None = None) -> list[QAExample]:
    """Examples from flat rows (the official file flattened, hub ``rajpurkar/squad[_v2]``, JSON Lines, tables).

    ``answers`` may be ``{"text": [...], "answer_start": [...]}`` (the hub layout) or a list of
    ``{"text", "answer_start"}`` objects (the official layout). Empty answers mean unanswerable.
    ``places`` name each row in errors (a JSON Lines file's line numbers); by default "record N". A row's
    ``is_impossible`` is read when present (the official layout); otherwise empty answers mean unanswerable.
    A table cell holds text, so ``answers`` there may be JSON text.
    """
    examples = []
    for i, row in enumerate(rows):
        where = places[i] if places is not None else f"record {i + 1}"
        qid = str(_require(row, "id", (str, int), source, where))
        if isinstance(row, Mapping) and isinstance(row.get("answers"), str):
            try:
                row = {**row, "answers": json.loads(row["answers"])}
            except json.JSONDecodeError:
                raise DatasetError(
                    f"field 'answers' of question {qid!r} is text but not JSON",
                    source=source,
                    location=where,
                    hint='write it as {"text": [...], "answer_start": [...]}',
                ) from None
        answers = _require(row, "answers", (Mapping, list), source, f"{where} (id {qid})")
        if isinstance(answers, Mapping):
            texts, starts = list(answers.get("text", [])), list(answers.get("answer_start", []))
        else:
            texts = [a.get("text") if isinstance(a, Mapping) else None for a in answers]
            starts = [a.get("answer_start") if isinstance(a, Mapping) else None for a in answers]
        examples.append(
            make_example(
                qid=qid,
                question=_require(row, "question", str, source, f"{where} (id {qid})"),
                context=_require(row, "context", str, source, f"{where} (id {qid})"),
                texts=texts,
                starts=starts,
                title=str(row.get("title", "") or ""),
                is_impossible=bool(row["is_impossible"]) if "is_impossible" in row else not texts,
                source=source,
                where=f"{where} (id {qid})",
            )
        )
    return examples
