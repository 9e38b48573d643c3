"""Release decisions end to end: --until-decided on real models (canonical order, clusters, replay), plan, timings.

The statistics themselves are simulated in ``tests/test_stats.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import MODELS, cli, requires_data, requires_models, write_suite

from auditkit.results import atomic_write_json
from auditkit.results.store import build_manifest, report_dir
from auditkit.running.cache import merge_timings
from auditkit.tasks.sampling import canonical_order


def test_canonical_order_is_a_function_of_the_data_alone() -> None:
    """--until-decided's order cannot be shopped for: the same data give the same order, other data another;
    with clusters, one example of every cluster comes first, then the rest cluster by cluster."""
    ids = [f"q{i}" for i in range(12)]
    titles = [f"article {i % 3}" for i in range(12)]
    order = canonical_order(ids, titles, "fingerprint-a")
    assert order == canonical_order(ids, titles, "fingerprint-a") != canonical_order(ids, titles, "fingerprint-b")
    assert sorted(order) == list(range(12))
    assert len({titles[i] for i in order[:3]}) == 3  # screening: one per article
    rest = [titles[i] for i in order[3:]]
    assert rest == sorted(rest, key=lambda t: [titles[i] for i in order[:3]].index(t))  # then whole articles
    assert sorted(canonical_order(ids, None, "x")) == list(range(12))


def test_merged_timings_keep_every_chunks_requests() -> None:
    """A job run in chunks (--until-decided looks, resumed caches) reports percentiles of all its requests."""
    parts = [
        {"request_seconds": [0.01] * 50, "examples": 50, "wall_seconds": 1.0, "requests": 50},
        {"request_seconds": [1.0] * 50, "examples": 50, "wall_seconds": 1.0, "requests": 50},
    ]
    merged = merge_timings(parts)
    assert len(merged["request_seconds"]) == 100 and merged["requests"] == 100
    assert merged["request_latency_ms_p95"] == pytest.approx(1000.0)


QA = """name: NAME
seed: 0
bootstrap: {resamples: 200}
output_dir: runs
models:
MODELS
tasks:
  - name: squad_v1
    kind: extractive_qa
    dataset:
      path: $DATA/squad/dev-v1.1.json
      articles_file: $MODELS_DIR/minilm-squad-held-out.txt
      sample: SAMPLE
GATES"""
TRAINED = "  - {name: minilm-squad, id: $MODELS_DIR/minilm-squad, batch_size: 32}"
BROKEN = (
    "  - name: minilm-squad-broken\n    build: {config: $MODELS_DIR/minilm-squad/config.json,"
    " vocab: $DATA/vocab/bert-base-uncased-vocab.txt, seed: 0}\n    batch_size: 32"
)


#: Questions per run: enough articles for the clustered tests to decide, few enough to run three times quickly.
SAMPLE = 240


def _qa_suite(path: Path, name: str, models: str, gates: str) -> Path:
    text = (
        QA.replace("SAMPLE", str(SAMPLE))
        .replace("NAME", name)
        .replace("MODELS\n", models + "\n")
        .replace("GATES", gates)
    )
    return write_suite(path, text.replace("$MODELS_DIR", str(MODELS)))


@requires_data
@requires_models
@pytest.mark.slow
def test_until_decided_stops_a_broken_release_early_with_the_full_runs_verdict(tmp_path: Path) -> None:
    from auditkit import run_suite

    # In process (the CLI's exit codes are the outcome's: tests/test_gates.py runs them): three runs of a
    # trained model without three interpreter start-ups.
    base = run_suite(_qa_suite(tmp_path / "base.yaml", "base", TRAINED, ""), output_dir=tmp_path / "runs", quiet=True,
                     report_formats=[])  # fmt: skip
    baseline = str(base.run_dir)
    gates = f'baseline: {baseline}\ngates:\n  - "squad_v1.f1 >= baseline - 1"\n'
    suite = _qa_suite(tmp_path / "cand.yaml", "cand", BROKEN, gates)
    early = run_suite(suite, output_dir=tmp_path / "runs", quiet=True, report_formats=["md"], until_decided=True)
    assert early.gates.exit_code == 1  # NO_GO
    full = run_suite(suite, output_dir=tmp_path / "runs", quiet=True, report_formats=[])
    assert full.gates.exit_code == 1
    early_dir, full_dir = early.run_dir, full.run_dir
    job = json.loads((early_dir / "results.json").read_text())["jobs"][0]
    seq = job["sequential"]
    assert seq["stopped"] == "decided" and seq["n_available"] == SAMPLE and seq["n_used"] * 4 <= 3 * SAMPLE, seq
    assert job["metrics"]["f1"]["interval"] == "anytime-valid confidence sequence"
    assert job["metrics"]["f1"]["n"] == seq["n_used"]
    early_gates = json.loads((early_dir / "gates.json").read_text())
    full_gates = json.loads((full_dir / "gates.json").read_text())
    assert early_gates["verdict"] == full_gates["verdict"] == "NO_GO"
    assert early_gates["results"][0]["anytime_valid"] and early_gates["results"][0]["n"] == seq["n_used"]
    full_result = full_gates["results"][0]
    assert full_result["n"] == SAMPLE and full_result["test"].startswith("paired betting (hedged capital) on")
    assert full_result["cluster_unit"] == "article" and full_result["n_clusters"] == seq["horizon"]
    assert seq["order"].startswith("canonical:") and early_gates["results"][0]["test"].startswith(
        "paired betting confidence sequence (anytime-valid):"
    )
    report = (report_dir(early_dir) / "report.md").read_text()
    assert report.index("## Release decision: **NO_GO**") < report.index("## Model details")
    assert "anytime-valid" in report and f"used {seq['n_used']} of {SAMPLE} examples" in report
    assert "canonical order" in report.replace("\\", "") and "random order" not in report  # not a seed's
    # Re-gating the stored run replays the same sequential evidence from the predictions, in the order seen.
    from auditkit.gates import gate
    from auditkit.running.plan import plan

    regate = gate(early_dir, out_dir=tmp_path / "regate")
    assert regate.exit_code == 1 and json.loads((tmp_path / "regate" / "gates.json").read_text())["results"][0][
        "p_value"
    ] == pytest.approx(early_gates["results"][0]["p_value"])

    # The stored order is checked: a run whose examples were reordered (a shopped order) is refused.
    shuffled = tmp_path / "shuffled"
    shutil.copytree(early_dir, shuffled)
    frame_path = shuffled / job["predictions"]
    frame = pd.read_parquet(frame_path)
    frame.iloc[::-1].reset_index(drop=True).to_parquet(frame_path)
    # Whoever reorders the rows can rewrite the manifest's hashes too: the order check must stand on its own.
    atomic_write_json(shuffled / "manifest.json", build_manifest(shuffled))
    tampered = cli("gate", str(shuffled), "--out", str(tmp_path / "tampered"), cwd=tmp_path)
    assert tampered.returncode == 2 and "canonical order" in tampered.stderr

    # plan: from the full run as a pilot, the broken model's gate is decidable with few examples, by fixed n
    # and by --until-decided (simulated: mean and quantiles of the examples it would use).
    [row] = [p.to_dict() for p in plan(suite, pilot=full_dir)]
    assert row["configured_n"] == SAMPLE and row["decidable"] is True and row["n_needed"] < 80
    assert row["sd_source"] == "pilot run, paired differences" and row["cluster_unit"] == "article"
    assert row["sequential_expected"] is not None and row["sequential_q80"] <= row["sequential_q95"] <= SAMPLE
    # A margin far below the noise at this n is flagged before anything runs, and by plan.
    tight = _qa_suite(
        tmp_path / "tight.yaml",
        "tight",
        TRAINED,
        f'baseline: {baseline}\ngates:\n  - "squad_v1.f1 >= baseline - 0.1"\n',
    )
    assert plan(tight)[0].decidable is False  # `auditkit plan` exits 1 on it (tests below run the command)


@requires_data
def test_plan_refuses_a_meaningless_sd_and_sizes_for_the_test_that_will_decide(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "plan.yaml",
        """name: plan
models:
  - name: cls
    build: {config: distilbert-base-uncased-finetuned-sst-2-english, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}
tasks:
  - {name: sst2, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 200}}
gates:
  - "sst2.accuracy >= 80"
""",
    )
    for bad in ("nan", "-1", "0"):
        proc = cli("plan", str(suite), "--sd", bad, cwd=tmp_path)
        assert proc.returncode == 2 and "a standard deviation must be a positive number" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    proc = cli("plan", str(suite), "--sd", "40", "--json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    [row] = json.loads(proc.stdout)
    assert row["configured_n"] == 200 and row["cluster_unit"] is None and row["n_needed"] is None
    assert row["mde_at_n"] > 0 and "--pilot" in row["advice"]
