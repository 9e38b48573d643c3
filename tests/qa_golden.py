"""The check behind the golden-answer tests: auditkit's QA engine against the answers the transformers 4.57.6
pipeline gave (``golden/qa_pipeline_4.57.6.json``), one case (model, data, settings) at a time. Two test files
run the cases, so that CI's two workers share the longest tests instead of one worker taking them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, data_owner, model_spec

from auditkit.data import QAExample, load_dataset
from auditkit.engine.qa import QAEngine, QASettings
from auditkit.models.hf import load_model
from auditkit.spec.schema import DatasetSpec

GOLDEN = json.loads((Path(__file__).parent / "golden" / "qa_pipeline_4.57.6.json").read_text(encoding="utf-8"))
SCORE_RTOL = 1e-4


def cases(*names: str) -> list[dict[str, Any]]:
    """The golden cases with these names, in the file's order (every name must exist)."""
    known = {case["name"]: case for case in GOLDEN["cases"]}
    return [known[name] for name in names]


#: The cases each test file runs: SQuAD v1.1 with default windows, then v2.0 and short windows with top-k.
V1 = cases("v1.1-cased-default")
V2 = cases("v2.0-uncased-impossible", "v1.1-uncased-short-windows-top3")


def assert_answers_equal_the_pipeline(case: dict[str, Any]) -> None:
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
