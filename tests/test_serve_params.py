"""`auditkit serve --contract hf-inference` honours the Inference API's parameters, checked with huggingface_hub's
own InferenceClient on loopback against the trained checkpoints (and the pipeline, for classification)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MODELS, requires_models
from test_endpoints import _serve

TEXTS = ["a gorgeous, witty, seductive movie.", "the plot is nothing but boilerplate clichés from start to finish"]
CONTEXT = (
    "Super Bowl 50 was an American football game to determine the champion of the National Football League (NFL)"
    " for the 2015 season. The American Football Conference (AFC) champion Denver Broncos defeated the National"
    " Football Conference (NFC) champion Carolina Panthers 24-10 to earn their third Super Bowl title."
)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server, url = _serve(str(MODELS / "minilm-sst2"), "hf-inference", tmp_path_factory.mktemp("cls"))
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub's offline mode (set for every test) refuses every request, loopback included; these tests
    talk only to `auditkit serve` on 127.0.0.1, so the client is allowed out for them."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "is_offline_mode", lambda: False)


@requires_models
@pytest.mark.usefixtures("loopback_allowed")
def test_classification_top_k_and_function_to_apply(classifier: str) -> None:
    from huggingface_hub import InferenceClient
    from transformers import pipeline

    client = InferenceClient(model=classifier)
    local = pipeline("text-classification", model=str(MODELS / "minilm-sst2"), device="cpu")
    for text in TEXTS:
        every = client.text_classification(text)
        assert [e.label for e in every] == [d["label"] for d in local(text, top_k=None)]
        assert math.isclose(sum(e.score for e in every), 1.0, rel_tol=1e-5)  # softmax by default
        [best] = client.text_classification(text, top_k=1)
        [expected] = local(text, top_k=1)
        assert best.label == expected["label"] and best.score == pytest.approx(expected["score"], abs=1e-5)
        sigmoid = client.text_classification(text, function_to_apply="sigmoid")
        reference = local(text, top_k=None, function_to_apply="sigmoid")
        assert [(e.label, round(e.score, 5)) for e in sigmoid] == [
            (d["label"], round(d["score"], 5)) for d in reference
        ]
        assert sum(e.score for e in sigmoid) != pytest.approx(1.0)  # independent per label, as the pipeline says
        raw = client.text_classification(text, function_to_apply="none", top_k=2)
        assert [(e.label, round(e.score, 4)) for e in raw] == [
            (d["label"], round(d["score"], 4)) for d in local(text, top_k=2, function_to_apply="none")
        ]


@requires_models
def test_classification_parameter_errors_are_422s(classifier: str) -> None:
    import httpx

    for parameters, message in (
        ({"top_k": 0}, "top_k: expected a positive integer"),
        ({"function_to_apply": "tanh"}, "function_to_apply: expected sigmoid, softmax or none"),
        ({"temperature": 2}, "unknown parameter(s) ['temperature']"),
    ):
        response = httpx.post(classifier, json={"inputs": TEXTS[0], "parameters": parameters})
        assert response.status_code == 422 and message in response.text


@requires_models
@pytest.mark.usefixtures("loopback_allowed")
def test_question_answering_parameters(tmp_path: Path) -> None:
    from huggingface_hub import InferenceClient

    server, url = _serve(str(MODELS / "minilm-squad"), "hf-inference", tmp_path)
    try:
        client = InferenceClient(model=url)
        question = "Which NFL team won Super Bowl 50?"
        [best] = [client.question_answering(question=question, context=CONTEXT)]
        assert CONTEXT[best.start : best.end] == best.answer
        several = client.question_answering(question=question, context=CONTEXT, top_k=3)
        assert isinstance(several, list) and len(several) == 3
        assert [a.score for a in several] == sorted((a.score for a in several), reverse=True)
        assert several[0].answer == best.answer and several[0].score == pytest.approx(best.score, rel=1e-5)
        short = client.question_answering(question=question, context=CONTEXT, top_k=5, max_answer_len=2)
        assert all(len(a.answer.split()) <= 2 for a in short)
        strided = client.question_answering(question=question, context=CONTEXT, doc_stride=32)
        assert strided.answer  # a smaller stride still finds an answer span in this short context
        # Every parameter means what the local engine (equal to the 4.57.6 pipeline, tests/test_qa_golden.py)
        # makes of it: the served answers are the local answers for the same settings.
        from auditkit.engine.types import QASettings
        from auditkit.models.hf import load_model
        from auditkit.spec.schema import ModelSpec

        local = load_model(ModelSpec(name="qa", id=str(MODELS / "minilm-squad")), "question-answering")
        unanswerable = "What is the capital of Mongolia?"
        for q, params in (
            (question, {"top_k": 3, "max_answer_len": 2}),
            (question, {"doc_stride": 32, "max_seq_len": 64}),
            (unanswerable, {"handle_impossible_answer": True, "top_k": 2}),
            (unanswerable, {"handle_impossible_answer": False, "top_k": 2}),
        ):
            served = client.question_answering(question=q, context=CONTEXT, **params)
            served = served if isinstance(served, list) else [served]
            [expected] = local.qa_engine(QASettings(**params)).predict([q], [CONTEXT])
            assert [(a.answer, a.start, a.end) for a in served] == [
                (e["answer"], e["start"], e["end"]) for e in expected.answers
            ], params
            assert [a.score for a in served] == pytest.approx([e["score"] for e in expected.answers], rel=1e-5)
        with_null = client.question_answering(
            question=unanswerable, context=CONTEXT, handle_impossible_answer=True, top_k=2
        )
        without = client.question_answering(
            question=unanswerable, context=CONTEXT, handle_impossible_answer=False, top_k=2
        )
        assert all(a.answer for a in without)  # no empty answer unless it is asked for
        assert "" in [a.answer for a in with_null]  # this checkpoint abstains on unanswerable questions (PROVENANCE)
    finally:
        server.terminate()
        server.wait(timeout=30)
