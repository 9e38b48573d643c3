"""Judging real trained checkpoints (../shared/models): figures that agree with their provenance, answers that
equal the transformers pipelines', on weights that learned their task (random weights give ties and prove little)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DATA, MODELS, REPO, data_owner, requires_models

HELD_OUT = MODELS / "minilm-squad-held-out.txt"


def _model(name: str, head: str):  # type: ignore[no-untyped-def]
    from auditkit.models.hf import load_model
    from auditkit.spec.schema import ModelSpec

    return load_model(ModelSpec.model_validate({"name": name, "id": str(MODELS / name)}), head)  # type: ignore[arg-type]


@requires_models
def test_sst2_accuracy_and_scores_equal_the_text_classification_pipeline() -> None:
    """All 872 SST-2 dev sentences: the provenance's accuracy, and every label score the pipeline's."""
    import torch
    from transformers import pipeline

    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec

    loaded = _model("minilm-sst2", "sequence-classification")
    dataset = load_dataset(DatasetSpec(path=DATA / "sst2" / "dev.tsv"), data_owner("classification"), name="sst2")
    texts = [e.text for e in dataset.examples]
    out = loaded.classification_engine().predict(texts)
    labels = [e.label for e in dataset.examples]
    assert round(100 * float(np.mean(out.scores.argmax(axis=1) == np.asarray(labels))), 2) == 86.01
    classify = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, top_k=None)
    with torch.inference_mode():
        expected = classify(texts, batch_size=32)
    order = [loaded.model.config.id2label[i] for i in range(loaded.model.config.num_labels)]
    want = np.array([[{s["label"]: s["score"] for s in row}[label] for label in order] for row in expected])
    assert np.allclose(out.scores, want, rtol=1e-4, atol=1e-6)
    assert (out.scores.argmax(axis=1) == want.argmax(axis=1)).all()


def _held_out_questions(count: int, file: str = "dev-v1.1.json") -> tuple[list[str], list[str], list[str]]:
    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec

    spec = DatasetSpec(path=DATA / "squad" / file, articles_file=HELD_OUT, sample=count)
    dataset = load_dataset(spec, data_owner("qa"), name="held-out", seed=1)
    return (
        [e.id for e in dataset.examples],
        [e.question for e in dataset.examples],
        [e.context for e in dataset.examples],
    )


#: The pipeline's settings families, as the golden file's cases have them: default windows on SQuAD v1.1, v2.0 with
#: the empty answer competing, and short windows with a top-3 list.
LIVE_CASES = {
    "v1.1-default": ("dev-v1.1.json", 240, {}),
    "v2.0-impossible": ("dev-v2.0.json", 160, {"handle_impossible_answer": True}),
    "v1.1-short-windows-top3": (
        "dev-v1.1.json",
        80,
        {"max_seq_len": 128, "doc_stride": 48, "max_answer_len": 30, "top_k": 3},
    ),
}


@requires_models
@pytest.mark.parametrize("case", list(LIVE_CASES))
def test_qa_answers_equal_the_4576_pipeline_on_trained_weights(case: str) -> None:
    """Held-out questions in each settings family: every answer, span, score and top-k list equals transformers
    4.57.6's QA pipeline, live (4.57.6 leg; under transformers 5 the golden files stand in for the pipeline)."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        pytest.skip("transformers 5 removed pipeline('question-answering'); CI's 4.57.6 leg runs this comparison")
    from transformers import pipeline

    from auditkit.engine.qa import QAEngine
    from auditkit.engine.types import QASettings

    file, count, params = LIVE_CASES[case]
    loaded = _model("minilm-squad", "question-answering")
    ids, questions, contexts = _held_out_questions(count, file)
    got = QAEngine(loaded.model, loaded.tokenizer, QASettings(**params)).predict(questions, contexts, ids)
    qa = pipeline("question-answering", model=loaded.model, tokenizer=loaded.tokenizer)
    expected = qa(question=questions, context=contexts, batch_size=16, **params)
    expected = [e if isinstance(e, list) else [e] for e in expected]
    if params.get("handle_impossible_answer"):
        abstained = sum(e[0]["answer"] == "" for e in expected)
        assert 0 < abstained < len(expected), "the case must exercise both empty and span answers"

    def same(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> bool:
        spans = [(a["answer"], a["start"], a["end"]) for a in mine] == [
            (a["answer"], a["start"], a["end"]) for a in theirs
        ]
        return spans and all(
            abs(a["score"] - b["score"]) <= 1e-4 * max(1.0, abs(b["score"])) for a, b in zip(mine, theirs, strict=True)
        )

    mismatches = [(qid, g.answers, e) for qid, g, e in zip(ids, got, expected, strict=True) if not same(g.answers, e)]
    assert not mismatches, mismatches[:3]


@requires_models
def test_close_calls_rechecked_in_float32_take_exact_answers() -> None:
    """bf16 autocast with a re-check: every answer that led its runner-up by less than the margin is answered
    again in float32 and is exact's (answer, span, score and the window probabilities a bias probe reads); every
    other answer is autocast's own."""
    from auditkit.engine.qa import QAEngine
    from auditkit.engine.types import QASettings
    from auditkit.models.hf import load_model
    from auditkit.spec.schema import ModelSpec

    ids, questions, contexts = _held_out_questions(40)
    exact = _model("minilm-squad", "question-answering")
    want, want_probabilities = exact.qa_engine(QASettings()).predict_with_probabilities(questions, contexts, ids)

    # A wide margin (about a quarter of the questions are close calls): the test is about what a re-check does.
    spec = {"name": "fast", "id": str(MODELS / "minilm-squad"), "autocast": "bfloat16", "recheck_margin": 0.2}
    loaded = load_model(ModelSpec.model_validate(spec), "question-answering")
    plain = QAEngine(loaded.model, loaded.tokenizer, QASettings()).predict(questions, contexts, ids)
    got, probabilities = loaded.qa_engine(QASettings()).predict_with_probabilities(questions, contexts, ids)
    close = [p.margin < 0.2 for p in plain]
    assert any(close) and not all(close)
    for i, is_close in enumerate(close):
        assert got[i].rechecked is is_close
        reference = want[i] if is_close else plain[i]
        assert [(a["answer"], a["start"]) for a in got[i].answers] == [
            (a["answer"], a["start"]) for a in reference.answers
        ]
        assert got[i].score == pytest.approx(reference.score, rel=1e-4)
        if is_close:
            for (offsets, p_start, p_end), (w_offsets, w_start, w_end) in zip(
                probabilities[i], want_probabilities[i], strict=True
            ):
                assert (offsets == w_offsets).all()
                assert np.allclose(p_start, w_start, atol=1e-5) and np.allclose(p_end, w_end, atol=1e-5)


@requires_models
def test_close_classification_calls_rechecked_in_float32_take_exact_scores() -> None:
    """The same re-check for a classifier: sentences whose top label led the runner-up by less than the margin
    get exact's scores; the others keep autocast's."""
    from auditkit.data import load_dataset
    from auditkit.engine.classify import ClassificationEngine, decision_margins
    from auditkit.models.hf import load_model
    from auditkit.spec.schema import DatasetSpec, ModelSpec

    sst2 = DatasetSpec(path=DATA / "sst2" / "dev.tsv", limit=96)
    dataset = load_dataset(sst2, data_owner("classification"), name="sst2")
    texts = [e.text for e in dataset.examples]
    want = _model("minilm-sst2", "sequence-classification").classification_engine().predict(texts).scores
    spec = {"name": "fast", "id": str(MODELS / "minilm-sst2"), "autocast": "bfloat16", "recheck_margin": 1.0}
    loaded = load_model(ModelSpec.model_validate(spec), "sequence-classification")
    plain = ClassificationEngine(loaded.model, loaded.tokenizer).predict(texts).scores
    out = loaded.classification_engine().predict(texts)
    close = decision_margins(plain, "softmax") < 1.0
    assert out.rechecked is not None and (out.rechecked == close).all() and close.any() and not close.all()
    assert np.allclose(out.scores[close], want[close], atol=1e-5)
    assert np.array_equal(out.scores[~close], plain[~close])


@requires_models
def test_held_out_f1_agrees_with_the_provenance() -> None:
    """A seeded sample of the held-out articles: its 95% CI holds the full held-out F1 (50.93) and EM (39.36)."""
    from auditkit.data import load_dataset
    from auditkit.engine.qa import QAEngine
    from auditkit.engine.types import QASettings
    from auditkit.spec.schema import BootstrapSpec, DatasetSpec
    from auditkit.tasks.extractive_qa import score_qa

    loaded = _model("minilm-squad", "question-answering")
    spec = DatasetSpec(path=DATA / "squad" / "dev-v1.1.json", articles_file=HELD_OUT, sample=400)
    dataset = load_dataset(spec, data_owner("qa"), name="held-out", seed=0)
    predictions = QAEngine(loaded.model, loaded.tokenizer, QASettings()).predict(
        [e.question for e in dataset.examples], [e.context for e in dataset.examples]
    )
    import pandas as pd

    frame = pd.DataFrame({"id": [e.id for e in dataset.examples], "prediction": [p.answer for p in predictions]})
    scores = score_qa(frame, dataset, "squad", BootstrapSpec(resamples=1000), seed=0)
    f1, em = scores.metrics["f1"], scores.metrics["exact_match"]
    assert f1.low <= 50.93 <= f1.high and em.low <= 39.36 <= em.high
    assert {e.title for e in dataset.examples} <= set(HELD_OUT.read_text().split())  # nothing the model saw


@requires_models
def test_a_generated_card_audits_clean_and_a_tampered_copy_does_not(tmp_path: Path) -> None:
    from auditkit.audit import audit_card
    from auditkit.reports.model_card import model_card
    from auditkit.results import load_run
    from auditkit.running.runner import run_suite

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"""name: card
output_dir: runs
bootstrap: {{resamples: 200}}
models:
  - {{name: squad, id: {MODELS}/minilm-squad}}
  - {{name: sst2, id: {MODELS}/minilm-sst2}}
tasks:
  - {{name: v1, kind: extractive_qa, models: [squad],
     dataset: {{path: {DATA}/squad/dev-v1.1.json, articles_file: {HELD_OUT}, sample: 120}}}}
  - {{name: v2, kind: extractive_qa, models: [squad],
     dataset: {{path: {DATA}/squad/dev-v2.0.json, articles_file: {HELD_OUT}, sample: 80}}}}
  - {{name: sst2, kind: classification, models: [sst2], dataset: {{path: {DATA}/sst2/dev.tsv}}}}
  - {{name: ceo, kind: bias_probe, models: [squad], dataset: {{path: {REPO}/suites/probes/seed-ceo.yaml}}}}
"""
    )
    run = load_run(run_suite(suite, quiet=True, output_dir=tmp_path / "runs", report_formats=()).run_dir)
    for model in ("squad", "sst2"):
        card = tmp_path / f"{model}.md"
        card.write_text(model_card(run, model))
        audit = audit_card(card, run=run, model=model, rerun=False)
        summary = audit["summary"]
        assert summary["claims_held"] >= 2 and summary["claims_failed"] == summary["claims_not_measured"] == 0
        assert summary["inconsistencies"] == summary["missing_sections"] == summary["placeholders"] == 0
        # Edit one figure in the prose and the same one in the model-index: both are caught, nothing else is.
        job = run.results.jobs_of(model)[0]
        metric = "f1" if model == "squad" else "accuracy"
        value = job.metrics[metric].value
        text = card.read_text()
        tampered = text.replace(f"{value:.2f}", f"{value + 25:.2f}").replace(
            f"{round(value, 4)}", f"{round(value + 25, 4)}"
        )
        assert tampered != text
        card.write_text(tampered)
        failed = [c for c in audit_card(card, run=run, model=model, rerun=False)["claims"] if c["verdict"] != "holds"]
        assert failed and {c["metric"] for c in failed} == {metric}
        assert all(c["verdict"] == "does not hold" and "off by +25" in c["reason"] for c in failed)
