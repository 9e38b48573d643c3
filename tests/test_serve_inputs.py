"""`auditkit serve` against hostile request bodies, in process (Starlette's test client on the real app, tiny
models): any parameter values and any text either get an answer or a 4xx naming the field, never a 500, and
no parameter can make one request take the server's memory or time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TINY_QA, TINY_SST2, model_spec, requires_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = requires_data

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CONTEXT = "Denver Broncos defeated the Carolina Panthers 24-10 to earn their third Super Bowl title."


def _client(config: str, vocab: str, head: str) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from auditkit.endpoints.contracts import make_contract
    from auditkit.endpoints.serve import ModelService, make_app
    from auditkit.models.hf import load_model

    model = load_model(model_spec("served", config, vocab), head)
    with TestClient(make_app(ModelService(model, make_contract("hf-inference")))) as client:
        yield client


@pytest.fixture(scope="module")
def qa() -> Iterator[Any]:
    yield from _client(str(TINY_QA), "bert-base-cased-vocab.txt", "question-answering")


@pytest.fixture(scope="module")
def classifier() -> Iterator[Any]:
    yield from _client(str(TINY_SST2), "bert-base-uncased-vocab.txt", "sequence-classification")


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 15, 16, 100, 101, 512, 1024, 1025, 8192, 8193, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
)
QA_KEYS = ["top_k", "max_answer_len", "doc_stride", "max_seq_len", "handle_impossible_answer", "align_to_words"]


@PROPERTY
@given(parameters=st.dictionaries(st.sampled_from([*QA_KEYS, "temperature"]), values, max_size=4))
def test_any_qa_parameters_get_answers_or_a_422_naming_them(qa: Any, parameters: dict[str, Any]) -> None:
    body = {"inputs": {"question": "Who won?", "context": CONTEXT}, "parameters": parameters}
    response = qa.post("/score", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code in (200, 422), (parameters, response.status_code, response.text)
    if response.status_code == 422:
        message = response.json()["error"]
        assert any(key in message for key in parameters), (parameters, message)
    else:
        answers = response.json()
        answers = answers if isinstance(answers, list) else [answers]
        assert 1 <= len(answers) <= 100  # MAX_TOP_K: no request can ask for more


@PROPERTY
@given(parameters=st.dictionaries(st.sampled_from(["top_k", "function_to_apply", "x"]), values, max_size=3))
def test_any_classification_parameters_get_labels_or_a_422_naming_them(
    classifier: Any, parameters: dict[str, Any]
) -> None:
    body = {"inputs": ["fine", "awful"], "parameters": parameters}
    response = classifier.post("/score", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code in (200, 422), (parameters, response.status_code, response.text)
    if response.status_code == 422:
        assert any(key in response.json()["error"] for key in parameters)


def test_the_limits_are_said_in_the_422(qa: Any) -> None:
    for key, value, limit in (
        ("top_k", 10**9, "100"),
        ("max_answer_len", 10**6, "1024"),
        ("max_seq_len", 10**5, "8192"),
    ):
        response = qa.post(
            "/score", json={"inputs": {"question": "Who?", "context": CONTEXT}, "parameters": {key: value}}
        )
        assert response.status_code == 422 and key in response.text and limit in response.text, response.text


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b'{"inputs": {"question": "Who\xff?", "context": "Bob ran."}}', 400, "body.inputs.question, character 3"),
        (b'{"inputs": {"question": "Who?", "context": "Bob \\ud800 ran."}}', 422, "body.inputs.context, character 4"),
        (b'{"inputs": {"question": "Who?", "context": "ok"}, "\\udfff": 1}', 422, "the key"),
        (b"[" * 100_000, 400, "nested too deeply"),
    ],
)
def test_malformed_unicode_and_nesting_are_named_4xx(qa: Any, raw: bytes, status: int, field: str) -> None:
    response = qa.post("/score", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == status and field in response.json()["error"], response.text


@PROPERTY
@given(text=st.text(max_size=40), pair=st.booleans())
def test_any_text_is_classified_or_refused_by_field(classifier: Any, text: str, pair: bool) -> None:
    inputs: Any = [text, "fine"] if pair else text
    response = classifier.post("/score", json={"inputs": inputs})
    assert response.status_code in (200, 422), response.text
