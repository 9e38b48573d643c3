"""The Hugging Face inference JSON (Inference API, Inference Endpoints' default handler).

Question answering: ``{"inputs": {"question": q, "context": c}, "parameters": {...}}`` answers with one
object (a list of ``top_k`` objects when ``top_k`` > 1); a batch sends ``"inputs"`` as a list of such
pairs and gets a list back. Text classification: ``{"inputs": "text"}`` or ``{"inputs": [texts]}``,
answered with, per text, every label and its score: ``[[{"label": "POSITIVE", "score": 0.99}, ...]]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .base import (
    ANSWER,
    LABEL_SCORES,
    STRINGS,
    ClassificationClient,
    ClassificationServer,
    ClassifyParameters,
    Contract,
    QAClient,
    QAServer,
    Violation,
    as_list,
    need,
    strings,
)

#: Parameters a text-classification request may carry (the hosted API's and the pipeline's names).
CLASSIFY_PARAMETERS = ("top_k", "function_to_apply")
#: Pipeline parameters a QA request may carry (the pipeline's own names).
QA_PARAMETERS = ("top_k", "doc_stride", "max_answer_len", "max_seq_len", "handle_impossible_answer", "align_to_words")


_PAIR = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "context": {"type": "string"}},
    "required": ["question", "context"],
}


class HFInference(Contract, QAClient, ClassificationClient, QAServer, ClassificationServer):
    qa_request_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "inputs": {"oneOf": [_PAIR, {"type": "array", "items": _PAIR}]},
            "parameters": {"type": "object"},
        },
        "required": ["inputs"],
    }
    qa_response_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [ANSWER, {"type": "array", "items": {"oneOf": [ANSWER, {"type": "array", "items": ANSWER}]}}]
    }
    classify_request_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "inputs": STRINGS,
            "parameters": {
                "type": "object",
                "properties": {
                    "top_k": {"type": ["integer", "null"], "minimum": 1},
                    "function_to_apply": {"enum": ["sigmoid", "softmax", "none"]},
                },
                "additionalProperties": False,
            },
        },
        "required": ["inputs"],
    }
    classify_response_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [LABEL_SCORES, {"type": "array", "items": LABEL_SCORES}]
    }

    name = "hf-inference"
    tasks = ("question-answering", "text-classification")

    def qa_request(self, questions: Sequence[str], contexts: Sequence[str], params: dict[str, Any]) -> Any:
        pairs = [{"question": q, "context": c} for q, c in zip(questions, contexts, strict=True)]
        body: dict[str, Any] = {"inputs": pairs[0] if len(pairs) == 1 else pairs}
        parameters = {k: v for k, v in params.items() if k in QA_PARAMETERS and v is not None}
        if parameters:
            body["parameters"] = parameters
        return body

    def qa_results(self, body: Any, count: int) -> list[list[dict[str, Any]]]:
        if count == 1 and isinstance(body, dict):
            body = [body]
        elif (
            count == 1 and isinstance(body, list) and body and all(isinstance(x, dict) for x in body) and len(body) != 1
        ):
            body = [body]  # top_k answers for a single question
        return [item if isinstance(item, list) else [item] for item in as_list(body, count, "answers")]

    def classify_request(self, texts: Sequence[str]) -> Any:
        return {"inputs": texts[0] if len(texts) == 1 else list(texts), "parameters": {"top_k": None}}

    def classify_results(self, body: Any, count: int) -> list[list[dict[str, Any]]]:
        if count == 1 and isinstance(body, list) and body and all(isinstance(x, dict) for x in body):
            body = [body]  # one text's labels, not wrapped in an outer list
        return as_list(body, count, "label-score lists")

    def read_qa(self, body: Any) -> tuple[list[str], list[str], dict[str, Any]]:
        inputs = need(body, "inputs", (dict, list))
        pairs = [inputs] if isinstance(inputs, dict) else inputs
        questions, contexts = [], []
        for pair in pairs:
            questions.append(need(pair, "question", str, "inputs"))
            contexts.append(need(pair, "context", str, "inputs"))
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise Violation("parameters must be an object")
        unknown = sorted(set(parameters) - set(QA_PARAMETERS))
        if unknown:
            raise Violation(f"unknown parameter(s) {unknown}; known: {list(QA_PARAMETERS)}")
        return questions, contexts, parameters

    def write_qa(self, answers: list[list[dict[str, Any]]], request: Any) -> Any:
        single = isinstance(request.get("inputs"), dict)
        per_item = [items[0] if len(items) == 1 else items for items in answers]
        return per_item[0] if single else per_item

    def read_classify(self, body: Any) -> list[str]:
        return strings(need(body, "inputs", (str, list)), "inputs")

    def write_classify(self, scores: list[list[dict[str, Any]]], request: Any) -> Any:
        return scores

    def classify_parameters(self, body: Any) -> ClassifyParameters:
        """``top_k`` (a positive integer, or null for every label) and ``function_to_apply`` (sigmoid, softmax,
        none), as the hosted Inference API and the text-classification pipeline take them."""
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise Violation("parameters must be an object")
        unknown = sorted(set(parameters) - set(CLASSIFY_PARAMETERS))
        if unknown:
            raise Violation(f"unknown parameter(s) {unknown}; known: {list(CLASSIFY_PARAMETERS)}")
        top_k = parameters.get("top_k")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise Violation(f"parameter top_k: expected a positive integer or null, got {top_k!r}")
        function = parameters.get("function_to_apply")
        if function is not None and function not in ("sigmoid", "softmax", "none"):
            raise Violation(f"parameter function_to_apply: expected sigmoid, softmax or none, got {function!r}")
        return ClassifyParameters(top_k=top_k, function_to_apply=function)
