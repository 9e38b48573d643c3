"""Classification scores equal ``pipeline("text-classification", top_k=None)`` of the installed transformers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA, data_owner, requires_data
from transformers import pipeline

from auditkit.core.errors import ModelError
from auditkit.data import load_dataset
from auditkit.engine.classify import ClassificationEngine
from auditkit.spec.schema import DatasetSpec
from auditkit.tasks.classification import map_labels


@requires_data
def test_scores_equal_text_classification_pipeline(sst2_model) -> None:
    dataset = load_dataset(
        DatasetSpec(path=DATA / "sst2" / "dev.tsv", limit=64), data_owner("classification"), name="s"
    )
    texts = [e.text for e in dataset.examples]
    reference = pipeline(
        "text-classification", model=sst2_model.model, tokenizer=sst2_model.tokenizer, top_k=None, device=-1
    )(texts)
    ours = ClassificationEngine(sst2_model.model, sst2_model.tokenizer, batch_size=16).predict(texts)
    assert ours.truncated == 0
    for i, expected in enumerate(reference):
        got = ours.ranked(i)
        assert [g["label"] for g in got] == [e["label"] for e in expected]
        assert [g["score"] for g in got] == pytest.approx(
            [e["score"] for e in expected], rel=1e-4, abs=1e-6
        )  # float32 noise of padded batches
    # The random-weight model is not degenerate: it predicts both classes on real sentences.
    assert len(set(ours.scores.argmax(axis=1))) == 2


def test_label_mapping_rules() -> None:
    assert map_labels(["NEGATIVE", "POSITIVE"], ["negative", "positive"], None, "m").tolist() == [0, 1]
    assert map_labels(["LABEL_0", "LABEL_1"], ["negative", "positive"], None, "m").tolist() == [0, 1]
    assert map_labels(["neg", "pos"], ["negative", "positive"], {"neg": "negative", "pos": 1}, "m").tolist() == [0, 1]
    with pytest.raises(ModelError, match="label_map"):
        map_labels(["bad", "good"], ["negative", "positive"], None, "m")
    with pytest.raises(ModelError, match="not a dataset label"):
        map_labels(["neg", "pos"], ["negative", "positive"], {"neg": "negative", "pos": "great"}, "m")


def test_truncation_is_counted_not_fatal(sst2_model) -> None:
    long_text = "good " * 2000
    out = ClassificationEngine(sst2_model.model, sst2_model.tokenizer, batch_size=4).predict(["fine film", long_text])
    assert out.truncated == 1 and np.allclose(out.scores.sum(axis=1), 1.0, atol=1e-6)
