"""auditkit's QA engine gives the transformers 4.57.6 pipeline's answers, under the installed transformers.

``golden/qa_pipeline_4.57.6.json`` was produced by ``golden/make_qa_golden.py`` running the real
4.57.6 ``pipeline("question-answering")`` (see that script for how to regenerate it). The same
deterministic weights are rebuilt here, loaded through auditkit's model loader, and must reproduce
every answer, character span and top-k list; scores agree to float32 rounding (batching and padding
change the order of floating-point sums, by ~1e-5 relative at most).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATA, data_owner, model_spec, requires_data

from auditkit.data import QAExample, load_dataset
from auditkit.engine.qa import QAEngine, QASettings
from auditkit.models.hf import load_model
from auditkit.spec.schema import DatasetSpec

GOLDEN = json.loads((Path(__file__).parent / "golden" / "qa_pipeline_4.57.6.json").read_text(encoding="utf-8"))
SCORE_RTOL = 1e-4


def test_golden_file_covers_required_questions() -> None:
    assert GOLDEN["transformers"] == "4.57.6"
    counts = {c["file"]: 0 for c in GOLDEN["cases"]}
    for case in GOLDEN["cases"]:
        counts[case["file"]] += len(case["answers"])
    assert counts["squad/dev-v1.1.json"] >= 300 and counts["squad/dev-v2.0.json"] >= 300
    v2 = next(c for c in GOLDEN["cases"] if c["params"]["handle_impossible_answer"])
    abstained = sum(a[0]["answer"] == "" for a in v2["answers"].values())
    assert 50 < abstained < len(v2["answers"]) - 50, "the v2 case must exercise both empty and span answers"


@requires_data
@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["name"] for c in GOLDEN["cases"]])
def test_answers_equal_pipeline_4_57_6(case: dict) -> None:
    spec = model_spec("golden", case["model"], Path(case["vocab"]).name, seed=case["seed"], null_bias=case["null_bias"])
    loaded = load_model(spec, "question-answering")
    assert loaded.fingerprint["weights_sha256"] == case["weights_sha256"], (
        "weights differ from those the golden answers were made with"
    )

    examples = load_dataset(DatasetSpec(path=DATA / case["file"]), data_owner("qa"), name="golden").examples
    chosen = [e for e in examples[case["first"] : case["first"] + case["count"]] if isinstance(e, QAExample)]
    engine = QAEngine(loaded.model, loaded.tokenizer, QASettings(**case["params"]), batch_size=16)
    predictions = engine.predict([e.question for e in chosen], [e.context for e in chosen], [e.id for e in chosen])

    mismatches = []
    for example, prediction in zip(chosen, predictions, strict=True):
        expected = case["answers"][example.id]
        got = prediction.answers
        same_spans = [(a["answer"], a["start"], a["end"]) for a in got] == [
            (a["answer"], a["start"], a["end"]) for a in expected
        ]
        same_scores = all(
            g["score"] == pytest.approx(e["score"], rel=SCORE_RTOL) for g, e in zip(got, expected, strict=True)
        )
        if not (same_spans and same_scores):
            mismatches.append((example.id, expected, got))
    assert not mismatches, f"{len(mismatches)} of {len(chosen)} differ; first: {mismatches[0]}"
