"""The natural-language-inference task, which came in as one module (auditkit/tasks/nli.py): run, report, gate,
model-index and card claims through the registry, with scores equal to the text-classification pipeline's on pairs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import DATA, REPO, cli_in_process, requires_data

from auditkit.results.store import report_dir

PAIRS = [
    ("A man is playing a guitar on stage.", "A man is performing music.", "entailment"),
    ("A man is playing a guitar on stage.", "The stage is empty.", "contradiction"),
    ("A man is playing a guitar on stage.", "The man is famous.", "neutral"),
    ("Two dogs run through a field.", "Animals are outside.", "entailment"),
    ("Two dogs run through a field.", "The dogs are asleep indoors.", "contradiction"),
    ("Two dogs run through a field.", "The dogs are chasing a ball.", "neutral"),
    ("A woman reads a book in the park.", "Someone is reading.", "entailment"),
    ("A woman reads a book in the park.", "The woman is swimming.", "contradiction"),
    ("A woman reads a book in the park.", "The book is a novel.", "neutral"),
    ("Children are building a sandcastle.", "Kids are at play.", "entailment"),
    ("Children are building a sandcastle.", "The children are in school.", "contradiction"),
    ("Children are building a sandcastle.", "It is a sunny day.", "neutral"),
]

# A small random-weight DistilBERT with a 3-way head, built offline like the other test models.
CONFIG = {
    "activation": "gelu",
    "architectures": ["DistilBertForSequenceClassification"],
    "attention_dropout": 0.1,
    "dim": 64,
    "dropout": 0.1,
    "hidden_dim": 128,
    "id2label": {"0": "ENTAILMENT", "1": "NEUTRAL", "2": "CONTRADICTION"},
    "label2id": {"ENTAILMENT": 0, "NEUTRAL": 1, "CONTRADICTION": 2},
    "initializer_range": 0.02,
    "max_position_embeddings": 512,
    "model_type": "distilbert",
    "n_heads": 2,
    "n_layers": 2,
    "pad_token_id": 0,
    "qa_dropout": 0.1,
    "seq_classif_dropout": 0.2,
    "sinusoidal_pos_embds": False,
    "tie_weights_": True,
    "vocab_size": 30522,
}


@pytest.fixture(scope="module")
def nli_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("nli")
    with open(work / "pairs.jsonl", "w") as fh:
        for i, (premise, hypothesis, label) in enumerate(PAIRS):
            fh.write(json.dumps({"id": f"p{i}", "premise": premise, "hypothesis": hypothesis, "label": label}) + "\n")
    (work / "config.json").write_text(json.dumps(CONFIG))
    (work / "suite.yaml").write_text(
        f"""name: nli-demo
output_dir: runs
bootstrap: {{resamples: 200}}
models:
  - name: tiny-nli
    build: {{config: config.json, vocab: {DATA}/vocab/bert-base-uncased-vocab.txt, seed: 3}}
tasks:
  - name: mnli
    kind: nli
    dataset: {{path: pairs.jsonl}}
gates:
  - "mnli.accuracy >= 0"
  - "mnli.ece <= 100"
"""
    )
    proc = cli_in_process("run", "suite.yaml", "-q", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


@requires_data
def test_nli_runs_scores_and_gates_end_to_end(nli_run: Path) -> None:
    from auditkit.results import load_results

    results = load_results(nli_run)
    [job] = results.jobs
    assert job.kind == "nli" and set(job.metrics) == {"accuracy", "macro_f1", "ece"}
    assert all(est.n == len(PAIRS) for est in job.metrics.values())
    assert results.datasets["mnli"].label_names == ["entailment", "neutral", "contradiction"]  # MNLI's order
    assert set(job.details["per_class"]) == {"entailment", "neutral", "contradiction"}
    frame = pd.read_parquet(nli_run / job.predictions)
    assert list(frame["hypothesis"]) == [h for _, h, _ in PAIRS]
    assert job.metrics["accuracy"].value == pytest.approx(100 * frame["correct"].mean())
    gates = json.loads((nli_run / "gates.json").read_text())
    assert gates["passed"] and [g["check"] for g in gates["results"]] == ["mnli.accuracy >= 0", "mnli.ece <= 100"]
    md = (report_dir(nli_run) / "report.md").read_text()
    assert "Natural-language inference" in md and "Per class" in md and "Accuracy \\(3-way\\)" in md
    index = yaml.safe_load((report_dir(nli_run) / "model-index" / "tiny-nli.yaml").read_text())
    [entry] = index["model-index"][0]["results"]
    assert entry["task"]["name"] == "Natural Language Inference"
    assert entry["dataset"]["name"] == "pairs" and entry["dataset"]["split"] == "custom"  # not MNLI's dev set
    assert {m["type"] for m in entry["metrics"]} == {"accuracy", "f1"}


@requires_data
def test_nli_scores_equal_the_pipeline_on_pairs(nli_run: Path) -> None:
    """Premise and hypothesis go in as the model's two segments, exactly as the pipeline's text_pair does."""
    import torch
    from transformers import pipeline

    from auditkit.models.hf import load_model
    from auditkit.results import load_run
    from auditkit.spec.schema import ModelSpec

    run = load_run(nli_run)
    spec = ModelSpec.model_validate(run.results.suite.spec["models"][0], context={"base_dir": run.suite_dir})
    loaded = load_model(spec, "sequence-classification")
    classify = pipeline("text-classification", model=loaded.model, tokenizer=loaded.tokenizer, top_k=None)
    frame = pd.read_parquet(nli_run / "predictions" / "tiny-nli" / "mnli.parquet")
    with torch.inference_mode():
        expected = classify([{"text": p, "text_pair": h} for p, h, _ in PAIRS])
    labels = ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"]
    for row, scores in zip(frame["label_scores"], expected, strict=True):
        by_label = {s["label"]: s["score"] for s in scores}
        assert list(row) == pytest.approx([by_label[label] for label in labels], rel=1e-4, abs=1e-6)


@requires_data
def test_card_claims_about_nli_are_matched(nli_run: Path, tmp_path: Path) -> None:
    from auditkit.audit import audit_card
    from auditkit.results import load_results

    accuracy = load_results(nli_run).jobs[0].metrics["accuracy"].value
    card = tmp_path / "README.md"
    card.write_text(f"# Card\n\n## Evaluation\n\nIt reaches an accuracy of {accuracy:.1f} on MNLI.\n")
    [claim] = audit_card(card, results_dir=nli_run, model="tiny-nli")["claims"]
    assert claim["dataset"] == "nli" and claim["verdict"] == "holds"


def test_the_nli_task_is_one_module() -> None:
    """No reader names the kind: report, gates, audit and the model-index writer go through the registry."""
    readers = [REPO / "auditkit" / part for part in ("reports", "gates", "audit", "cli")]
    files = [p for r in readers for p in ([r] if r.is_file() else r.rglob("*.py"))]
    assert files and not [p for p in files if re.search(r"\bnli\b", p.read_text(), re.IGNORECASE)]
