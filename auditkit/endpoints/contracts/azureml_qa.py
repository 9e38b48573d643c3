"""Azure ML online endpoint for extractive QA (the model catalog's question-answering deployments).

Request::

    {"inputs": {"question": ["What is my name?", ...], "context": ["My name is John ...", ...]}}

Response: one answer per question, in order::

    [{"score": 0.9957, "start": 11, "end": 15, "answer": "John"}, ...]

The contract has no parameters, so the deployment's own settings (max_answer_len, windows ...) apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .base import ANSWER, STRINGS, Contract, QAClient, QAServer, Violation, as_list, need, strings


class AzureMLQA(Contract, QAClient, QAServer):
    qa_request_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "inputs": {
                "type": "object",
                "properties": {"question": STRINGS, "context": STRINGS},
                "required": ["question", "context"],
            }
        },
        "required": ["inputs"],
    }
    qa_response_schema: ClassVar[dict[str, Any]] = {"type": "array", "items": ANSWER}

    name = "azureml-qa"
    tasks = ("question-answering",)

    def qa_request(self, questions: Sequence[str], contexts: Sequence[str], params: dict[str, Any]) -> Any:
        return {"inputs": {"question": list(questions), "context": list(contexts)}}

    def qa_results(self, body: Any, count: int) -> list[list[dict[str, Any]]]:
        if count == 1 and isinstance(body, dict):  # some wrappers unwrap a single answer
            body = [body]
        return [[item] for item in as_list(body, count, "answers")]

    def read_qa(self, body: Any) -> tuple[list[str], list[str], dict[str, Any]]:
        inputs = need(body, "inputs", dict)
        questions = strings(need(inputs, "question", (str, list), "inputs"), "inputs.question")
        contexts = strings(need(inputs, "context", (str, list), "inputs"), "inputs.context")
        if len(questions) != len(contexts):
            raise Violation(f"inputs.question has {len(questions)} entries but inputs.context has {len(contexts)}")
        return questions, contexts, {}

    def write_qa(self, answers: list[list[dict[str, Any]]], request: Any) -> Any:
        return [items[0] for items in answers]
