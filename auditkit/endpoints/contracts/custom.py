"""A user-defined contract for endpoints that speak neither built-in one
(see :class:`auditkit.spec.schema.EndpointMapping`).

Example: a service taking ``{"instances": [{"q": ..., "c": ...}]}`` and answering
``{"predictions": [{"text": ..., "begin": ..., "end": ..., "prob": ...}]}`` is::

    contract: custom
    task: question-answering
    mapping: {item: {q: $question, c: $context}, batch_key: instances, results_key: predictions,
              answer: text, start: begin, score: prob}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...core.errors import ContractError
from ...spec.schema import EndpointMapping
from .base import ClassificationClient, Contract, QAClient, Violation, as_list


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str) and template.startswith("$") and template[1:] in values:
        return values[template[1:]]
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _get(body: Any, path: str | None, index: int | None = None) -> Any:
    if not path:
        return body
    for key in path.split("."):
        if not isinstance(body, dict) or key not in body:
            raise Violation(f"the response has no {path!r}", index)
        body = body[key]
    return body


def _put(items: list[Any], path: str | None) -> Any:
    if not path:
        return items
    body: Any = items
    for key in reversed(path.split(".")):
        body = {key: body}
    return body


class Custom(Contract, QAClient, ClassificationClient):
    name = "custom"
    tasks = ("question-answering", "text-classification")
    servable = False

    def __init__(self, mapping: EndpointMapping | None = None) -> None:
        if mapping is None:
            raise ContractError("contract: custom needs a mapping:", hint="describe the request and response keys")
        super().__init__(mapping)
        self.spec_mapping: EndpointMapping = mapping

    def qa_request(self, questions: Sequence[str], contexts: Sequence[str], params: dict[str, Any]) -> Any:
        return _put(
            [
                _fill(self.spec_mapping.item, {"question": q, "context": c})
                for q, c in zip(questions, contexts, strict=True)
            ],
            self.spec_mapping.batch_key,
        )

    def qa_results(self, body: Any, count: int) -> list[list[dict[str, Any]]]:
        m = self.spec_mapping
        out = []
        for i, item in enumerate(as_list(_get(body, m.results_key), count, "results")):
            if not isinstance(item, dict):
                raise Violation(f"a result must be a JSON object, got {type(item).__name__}", i)
            renamed = {
                target: _get(item, source, i)
                for target, source in (("answer", m.answer), ("score", m.score), ("start", m.start), ("end", m.end))
            }
            out.append([renamed])
        return out

    def classify_request(self, texts: Sequence[str]) -> Any:
        return _put([_fill(self.spec_mapping.item, {"text": t}) for t in texts], self.spec_mapping.batch_key)

    def classify_results(self, body: Any, count: int) -> list[list[dict[str, Any]]]:
        m = self.spec_mapping
        out = []
        for i, item in enumerate(as_list(_get(body, m.results_key), count, "results")):
            scores = _get(item, m.scores_key, i)
            if not isinstance(scores, list):
                raise Violation(f"label scores must be a list, got {type(scores).__name__}", i)
            out.append(
                [{"label": e.get(m.label), "score": e.get(m.score)} if isinstance(e, dict) else e for e in scores]
            )
        return out
