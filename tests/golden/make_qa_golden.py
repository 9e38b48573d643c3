"""Produce golden QA answers with the reference implementation: transformers 4.57.6's pipeline.

transformers 5 removed ``pipeline("question-answering")``; auditkit's QA engine must reproduce the last
implementation exactly. This script runs that implementation, in its own virtualenv, on models whose
weights are set deterministically by ``auditkit.models.synthetic`` (identical under both transformers
versions), over real SQuAD dev questions, and writes ``qa_pipeline_4.57.6.json`` beside itself.
``tests/test_qa_golden.py`` then checks auditkit's answers under the installed transformers against it.

Regenerate (from the repository root; ../shared/data holds the SQuAD dev files and BERT vocabularies)::

    python3 -m venv /tmp/ref457
    /tmp/ref457/bin/pip install torch==2.13.0 transformers==4.57.6
    /tmp/ref457/bin/python tests/golden/make_qa_golden.py --data ../shared/data

The script imports only ``auditkit.models.synthetic`` (torch, transformers and tokenizers), so the
virtualenv needs nothing else.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import pipeline  # noqa: E402

from auditkit.models.synthetic import BuildRecipe, build_model, weights_digest  # noqa: E402

#: Each case: which SQuAD file, which slice of its questions (file order), which model, which settings.
#: The second case tilts [CLS] (``null_bias``) so that the empty answer wins for about 60% of questions.
#: The third case uses short windows and top_k=3 so that multi-window merging is exercised heavily.
CASES = [
    {
        "name": "v1.1-cased-default",
        "file": "squad/dev-v1.1.json",
        "first": 0,
        "count": 300,
        "model": "distilbert-base-cased-distilled-squad",
        "vocab": "vocab/bert-base-cased-vocab.txt",
        "params": {
            "max_seq_len": 384,
            "doc_stride": 128,
            "max_answer_len": 15,
            "handle_impossible_answer": False,
            "top_k": 1,
        },
    },
    {
        "name": "v2.0-uncased-impossible",
        "file": "squad/dev-v2.0.json",
        "first": 0,
        "count": 300,
        "model": "distilbert-base-uncased-distilled-squad",
        "vocab": "vocab/bert-base-uncased-vocab.txt",
        "null_bias": 0.14,
        "params": {
            "max_seq_len": 384,
            "doc_stride": 128,
            "max_answer_len": 15,
            "handle_impossible_answer": True,
            "top_k": 1,
        },
    },
    {
        "name": "v1.1-uncased-short-windows-top3",
        "file": "squad/dev-v1.1.json",
        "first": 300,
        "count": 80,
        "model": "distilbert-base-uncased-distilled-squad",
        "vocab": "vocab/bert-base-uncased-vocab.txt",
        "params": {
            "max_seq_len": 128,
            "doc_stride": 48,
            "max_answer_len": 30,
            "handle_impossible_answer": False,
            "top_k": 3,
        },
    },
]
SEED = 0


def squad_questions(path: Path, first: int, count: int) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    flat = [
        {"id": qa["id"], "question": qa["question"], "context": para["context"]}
        for article in data
        for para in article["paragraphs"]
        for qa in para["qas"]
    ]
    return flat[first : first + count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("qa_pipeline_4.57.6.json"))
    args = parser.parse_args()
    if transformers.__version__ != "4.57.6":
        sys.exit(f"run this under transformers 4.57.6 (found {transformers.__version__}); see the module docstring")
    torch.set_num_threads(2)

    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            started = time.perf_counter()
            recipe = BuildRecipe(
                case["model"], args.data / case["vocab"], seed=SEED, null_bias=case.get("null_bias", 0.0)
            )
            model_dir = build_model(recipe, Path(tmp) / case["name"])
            qa = pipeline("question-answering", model=str(model_dir), tokenizer=str(model_dir), device=-1)
            answers = {}
            for item in squad_questions(args.data / case["file"], case["first"], case["count"]):
                out = qa(question=item["question"], context=item["context"], **case["params"])
                answers[item["id"]] = out if isinstance(out, list) else [out]
            cases.append(
                {
                    **{k: case[k] for k in ("name", "file", "first", "count", "model", "vocab", "params")},
                    "null_bias": case.get("null_bias", 0.0),
                    "seed": SEED,
                    "weights_sha256": weights_digest(qa.model),
                    "answers": answers,
                }
            )
            print(f"{case['name']}: {len(answers)} questions in {time.perf_counter() - started:.1f}s", file=sys.stderr)

    golden = {
        "reference": "transformers.pipeline('question-answering')",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "cases": cases,
    }
    args.out.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
