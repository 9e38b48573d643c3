"""What a JSON contract is: how requests are built and responses read, on the client and the server side.

A contract knows only shapes. Retries, budgets and timing live in :mod:`auditkit.endpoints.client`;
turning results into task predictions lives in :mod:`auditkit.models.endpoint`. Every reader validates
what it is given and raises :class:`Violation` with the index of the offending item, so the caller can
name the example whose response broke the contract.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ...core.errors import ContractError
from ...spec.schema import EndpointMapping, EndpointTask


class Violation(Exception):
    """A body that breaks the contract; ``index`` is the item within the request (None: the whole body)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


class Contract(ABC):
    """A JSON contract: its name, the tasks it serves, and (through the capability classes below) how.

    A contract subclasses the capabilities it has -- :class:`QAClient`, :class:`ClassificationClient`,
    :class:`QAServer`, :class:`ClassificationServer` -- so an unsupported use is a clear error from
    :func:`capability`, never a stub that raises ``NotImplementedError`` half-way through a run.
    """

    name: ClassVar[str]
    tasks: ClassVar[tuple[EndpointTask, ...]]
    servable: ClassVar[bool] = True

    def __init__(self, mapping: EndpointMapping | None = None) -> None:
        self.mapping = mapping


class QAClient(ABC):
    """Client side of extractive QA: build a batch's request, read the batch's answers from the response."""

    @abstractmethod
    def qa_request(self, questions: Sequence[str], contexts: Sequence[str], params: dict[str, Any]) -> Any: ...

    @abstractmethod
    def qa_results(self, body: Any, count: int) -> list[list[dict[str, Any]]]:
        """Per item, its answers (best first) as raw dicts with answer/score/start/end (checked by the caller)."""


class ClassificationClient(ABC):
    @abstractmethod
    def classify_request(self, texts: Sequence[str]) -> Any: ...

    @abstractmethod
    def classify_results(self, body: Any, count: int) -> list[list[dict[str, Any]]]:
        """Per item, every label with its score, as ``{"label", "score"}`` dicts."""


class QAServer(ABC):
    """Server side of extractive QA (``auditkit serve``): read a request, write a response.

    The JSON Schemas of both bodies go into the served OpenAPI document.
    """

    qa_request_schema: ClassVar[dict[str, Any]]
    qa_response_schema: ClassVar[dict[str, Any]]

    @abstractmethod
    def read_qa(self, body: Any) -> tuple[list[str], list[str], dict[str, Any]]: ...

    @abstractmethod
    def write_qa(self, answers: list[list[dict[str, Any]]], request: Any) -> Any: ...


class ClassificationServer(ABC):
    classify_request_schema: ClassVar[dict[str, Any]]
    classify_response_schema: ClassVar[dict[str, Any]]

    @abstractmethod
    def read_classify(self, body: Any) -> list[str]: ...

    @abstractmethod
    def write_classify(self, scores: list[list[dict[str, Any]]], request: Any) -> Any: ...

    def classify_parameters(self, body: Any) -> ClassifyParameters:
        """The request's scoring options (``top_k``, ``function_to_apply``); a contract without any has none."""
        return ClassifyParameters()


@dataclass(frozen=True)
class ClassifyParameters:
    """The text-classification pipeline's options a request may set: how many labels come back (None: all,
    best first) and which function turns logits into scores (None: the model's default)."""

    top_k: int | None = None
    function_to_apply: Literal["softmax", "sigmoid", "none"] | None = None


STRINGS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
ANSWER = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "score": {"type": "number"},
        "start": {"type": "integer"},
        "end": {"type": "integer"},
    },
    "required": ["answer", "score", "start", "end"],
}
LABEL_SCORES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"label": {"type": "string"}, "score": {"type": "number"}},
        "required": ["label", "score"],
    },
}


def capability(contract: Contract, kind: type, what: str) -> Any:
    """``contract`` as the capability ``kind`` (one of the ABCs above), or a :class:`ContractError` saying it
    cannot ``what``. Callers annotate the result with ``kind`` (mypy cannot take an abstract class as type[C])."""
    if not isinstance(contract, kind):
        raise ContractError(
            f"the {contract.name} contract cannot {what}",
            hint=f"it serves {', '.join(contract.tasks)}; pick a contract that does this",
        )
    return contract


def as_list(body: Any, count: int, what: str) -> list[Any]:
    """The response's per-item list, which must have one entry per item sent."""
    if not isinstance(body, list):
        raise Violation(f"expected a JSON list of {count} {what}, got {type(body).__name__}")
    if len(body) != count:
        raise Violation(f"expected {count} {what} (one per item sent), got {len(body)}")
    return body


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_answer(
    raw: Any, index: int, context: str, keys: tuple[str, str, str, str] = ("answer", "score", "start", "end")
) -> dict[str, Any]:
    """One QA answer as ``{"answer", "score", "start", "end"}``; the span must be the answer's text in the context."""
    answer_key, score_key, start_key, end_key = keys
    if not isinstance(raw, dict):
        raise Violation(f"an answer must be a JSON object, got {type(raw).__name__}", index)
    missing = [k for k in keys if k not in raw]
    if missing:
        raise Violation(
            f"answer lacks key(s) {', '.join(repr(k) for k in missing)} (has"
            f" {', '.join(repr(k) for k in raw) or 'none'})",
            index,
        )
    answer, score, start, end = raw[answer_key], raw[score_key], raw[start_key], raw[end_key]
    if not isinstance(answer, str):
        raise Violation(f"{answer_key!r} must be a string, got {type(answer).__name__}", index)
    if not _number(score):
        raise Violation(f"{score_key!r} must be a finite number, got {score!r}", index)
    for key, value in ((start_key, start), (end_key, end)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise Violation(f"{key!r} must be an integer character offset, got {value!r}", index)
    if not 0 <= start <= end <= len(context):
        raise Violation(f"span [{start}, {end}) lies outside the context ({len(context)} characters)", index)
    if context[start:end] != answer:
        raise Violation(
            f"span [{start}, {end}) of the context is {context[start:end]!r}, but the answer is {answer!r}", index
        )
    return {"answer": answer, "score": float(score), "start": start, "end": end}


def check_label_scores(
    raw: Any, index: int, label_key: str = "label", score_key: str = "score"
) -> list[dict[str, Any]]:
    """One item's label scores as ``[{"label", "score"}, ...]`` with distinct labels."""
    if not isinstance(raw, list) or not raw:
        raise Violation(f"label scores must be a non-empty JSON list, got {type(raw).__name__}", index)
    out = []
    for entry in raw:
        if not isinstance(entry, dict) or label_key not in entry or score_key not in entry:
            raise Violation(
                f"each label score must be an object with {label_key!r} and {score_key!r}, got {entry!r}", index
            )
        if not isinstance(entry[label_key], str) or not _number(entry[score_key]):
            raise Violation(f"label must be a string and score a finite number, got {entry!r}", index)
        out.append({"label": entry[label_key], "score": float(entry[score_key])})
    labels = [e["label"] for e in out]
    if len(set(labels)) != len(labels):
        raise Violation(f"labels repeat: {labels}", index)
    return out


def need(body: Any, key: str, kind: type | tuple[type, ...], where: str = "body") -> Any:
    """Server side: ``body[key]`` of the given JSON type, or a Violation saying what was expected."""
    if not isinstance(body, dict) or key not in body:
        raise Violation(f"the request {where} needs a {key!r} key")
    value = body[key]
    if not isinstance(value, kind):
        raise Violation(f"{where}.{key} has the wrong type ({type(value).__name__})")
    return value


def strings(value: Any, what: str) -> list[str]:
    """Server side: a string or a list of strings, as a list."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise Violation(f"{what} must be a string or a list of strings")
    return items
