"""Hub-style loading paths exercised offline: ``datasets.load_dataset`` and ``from_pretrained`` on local folders.

A hub id and a local folder go through the same calls; only where the files come from differs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from conftest import DATA, data_owner, model_spec, requires_data

from auditkit.data import load_dataset
from auditkit.models.hf import load_model
from auditkit.spec.schema import DatasetSpec, ModelSpec


def test_hub_layout_squad_and_sst2(tmp_path: Path) -> None:
    squad_dir = tmp_path / "squad_v2_like"
    squad_dir.mkdir()
    datasets.Dataset.from_list(
        [
            {
                "id": "a",
                "title": "T",
                "context": "Alice met Bob in Paris.",
                "question": "Who met Bob?",
                "answers": {"text": ["Alice"], "answer_start": [0]},
            },
            {
                "id": "b",
                "title": "T",
                "context": "Alice met Bob in Paris.",
                "question": "Who met Carol?",
                "answers": {"text": [], "answer_start": []},
            },
        ]
    ).to_parquet(str(squad_dir / "validation.parquet"))
    qa = load_dataset(DatasetSpec(hub=str(squad_dir), split="validation"), data_owner("qa"), name="t")
    assert [e.id for e in qa.examples] == ["a", "b"]
    assert qa.examples[0].answers == ("Alice",) and qa.examples[1].is_impossible and qa.info["squad_version"] == "2.0"

    sst_dir = tmp_path / "sst2_like"
    sst_dir.mkdir()
    features = datasets.Features(
        {
            "idx": datasets.Value("int32"),
            "sentence": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["negative", "positive"]),
        }
    )
    datasets.Dataset.from_dict(
        {"idx": [0, 1], "sentence": ["bad", "good"], "label": [0, 1]}, features=features
    ).to_parquet(str(sst_dir / "validation.parquet"))
    cls = load_dataset(DatasetSpec(hub=str(sst_dir), split="validation"), data_owner("classification"), name="t")
    assert cls.label_names == ["negative", "positive"]
    assert [(e.id, e.text, e.label) for e in cls.examples] == [("0", "bad", 0), ("1", "good", 1)]


@requires_data
def test_local_directory_loads_like_the_build_recipe(tmp_path: Path) -> None:
    out = tmp_path / "model"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditkit.cli",
            "build-model",
            "distilbert-base-cased-distilled-squad",
            "--vocab",
            str(DATA / "vocab" / "bert-base-cased-vocab.txt"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    from_dir = load_model(ModelSpec.model_validate({"name": "d", "id": str(out)}), "question-answering")
    from_recipe = load_model(
        model_spec("r", "distilbert-base-cased-distilled-squad", "bert-base-cased-vocab.txt"), "question-answering"
    )
    assert from_dir.fingerprint == from_recipe.fingerprint
    assert from_dir.info["parameters"] == 65192450 and from_dir.info["architecture"] == "DistilBertForQuestionAnswering"
    assert from_dir.tokenizer.model_max_length == 512 and from_dir.tokenizer.is_fast


@requires_data
def test_task_head_mismatch_is_reported() -> None:
    from auditkit.core.errors import ModelError

    spec = model_spec("cls", "distilbert-base-uncased-finetuned-sst-2-english", "bert-base-uncased-vocab.txt")
    with pytest.raises(
        ModelError,
        match="is a DistilBertForSequenceClassification, but this task needs a \\*ForQuestionAnswering model",
    ):
        load_model(spec, "question-answering")


@requires_data
def test_a_legacy_hub_id_loads_from_a_cache_filled_under_the_canonical_id(tmp_path: Path) -> None:
    """Offline: the legacy id resolves to the canonical one, whose Hub cache entry is used; results say both."""
    import shutil
    import subprocess
    import sys

    from conftest import model_spec

    from auditkit.models.hf import materialize

    built = Path(materialize(model_spec("qa", "distilbert-base-cased-distilled-squad", "bert-base-cased-vocab.txt")))
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--distilbert--distilbert-base-cased-distilled-squad"
    shutil.copytree(built, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: legacy\noutput_dir: runs\nbootstrap: {resamples: 10}\n"
        "models: [{name: qa, id: distilbert-base-cased-distilled-squad}]\n"
        f"tasks: [{{name: v1, kind: extractive_qa, dataset: {{path: {DATA}/squad/dev-v1.1.json, limit: 4}}}}]\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "run", str(suite), "-q", "--report", "none"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    from auditkit.results import load_results

    model = load_results(Path(proc.stdout.strip())).models["qa"]
    assert model.source == "distilbert-base-cased-distilled-squad"  # as the suite names it
    assert model.info["requested_id"] == "distilbert-base-cased-distilled-squad"
    assert model.info["resolved_revision"] == commit
