"""Any task shape comes in as one module. ``tests/plugins/auditkit_sts.py`` -- sentence-pair regression: float
gold, Pearson / Spearman (unitless, in [-1, 1]) and MAE (in the data's own unit), its own rows -- is installed
as a plug-in (an ``auditkit.tasks`` entry point) and goes through run, both report formats, gates, a paired
comparison of two runs, the model card, the card audit, ``.eval_results`` and ``run_suite`` on a DataFrame,
with no edit anywhere else in auditkit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA, requires_data

from auditkit.results.store import report_dir

PLUGIN = Path(__file__).parent / "plugins" / "auditkit_sts.py"
SENTENCES = [
    "A man is playing a guitar.", "A woman is slicing an onion.", "Two dogs run across a field.",
    "The cat sleeps on the sofa.", "A child rides a red bicycle.", "The market opened higher today.",
    "Heavy rain flooded the streets.", "A chef is cooking pasta.", "The train left the station late.",
    "Students are reading in the library.",
]  # fmt: skip
CONFIG = {
    "activation": "gelu", "architectures": ["DistilBertForSequenceClassification"], "attention_dropout": 0.1,
    "dim": 64, "dropout": 0.1, "hidden_dim": 128, "id2label": {"0": "DIFFERENT", "1": "SIMILAR"},
    "label2id": {"DIFFERENT": 0, "SIMILAR": 1}, "initializer_range": 0.02, "max_position_embeddings": 512,
    "model_type": "distilbert", "n_heads": 2, "n_layers": 2, "pad_token_id": 0, "qa_dropout": 0.1,
    "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True, "vocab_size": 30522,
}  # fmt: skip


def _pairs() -> list[dict[str, object]]:
    """60 sentence pairs: a sentence with itself (gold 5.0), with a near neighbour, and with a distant one."""
    rows = []
    for i, first in enumerate(SENTENCES):
        for j, gold in ((i, 5.0), ((i + 1) % 10, 2.2), ((i + 3) % 10, 1.4), ((i + 5) % 10, 0.6), ((i + 7) % 10, 0.0),
                        ((i + 9) % 10, 3.8)):  # fmt: skip
            rows.append({"id": f"p{len(rows)}", "sentence1": first, "sentence2": SENTENCES[j], "score": gold})
    return rows


def _suite(work: Path, gates: list[str]) -> Path:
    vocab = DATA / "vocab" / "bert-base-uncased-vocab.txt"
    models = "\n".join(
        f"  - name: {name}\n    build: {{config: config.json, vocab: {vocab}, seed: {seed}}}"
        for name, seed in (("tiny-a", 3), ("tiny-b", 4))
    )
    gate_lines = "\n".join(f'  - "{g}"' for g in gates)
    path = work / "suite.yaml"
    path.write_text(
        f"name: sts-demo\noutput_dir: runs\nbootstrap: {{resamples: 300}}\nmodels:\n{models}\n"
        f"tasks:\n  - name: sts\n    kind: sts\n    dataset: {{path: pairs.jsonl}}\ngates:\n{gate_lines}\n"
    )
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plug-in module as an installed distribution: the module plus a dist-info naming its entry point."""
    site = tmp_path_factory.mktemp("site")
    shutil.copy(PLUGIN, site / PLUGIN.name)
    info = site / "auditkit_sts-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: auditkit-sts\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[auditkit.tasks]\nsts = auditkit_sts:STSTask\n")
    if str(site) not in sys.path:
        sys.path.insert(0, str(site))
    import auditkit_sts  # noqa: F401  (registers the kind in this process, as the entry point does in others)

    return site


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sts")
    (work / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _pairs()))
    (work / "config.json").write_text(json.dumps(CONFIG))
    return work


@pytest.fixture(scope="module")
def run_dir(site: Path, work: Path) -> Path:
    """``auditkit run`` in a fresh process that knows the kind only through the installed entry point."""
    _suite(work, ["sts.mae <= 4.5", "sts.pearson >= -0.99"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "run", "suite.yaml", "-q"],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return Path(work / proc.stdout.strip())


@requires_data
def test_run_scores_on_the_metrics_own_scale(run_dir: Path) -> None:
    from auditkit.results import load_results

    results = load_results(run_dir)
    assert {j.kind for j in results.jobs} == {"sts"} and len(results.jobs) == 2
    for job in results.jobs:
        assert set(job.metrics) == {"pearson", "spearman", "mae"}
        for key in ("pearson", "spearman"):
            est = job.metrics[key]
            assert -1 <= est.low <= est.value <= est.high <= 1 and est.n == 60  # not x100
        assert 0 <= job.metrics["mae"].value <= 5
    frame = pd.read_parquet(run_dir / results.jobs[0].predictions)
    mae = (frame["prediction"] - frame["gold"]).abs().mean()
    assert results.jobs[0].metrics["mae"].value == pytest.approx(mae)


@requires_data
def test_reports_gates_and_comparison_read_the_task(run_dir: Path, site: Path) -> None:
    md = (report_dir(run_dir) / "report.md").read_text()
    html = (report_dir(run_dir) / "report.html").read_text()
    for text in (md, html):
        assert "Pearson correlation" in text and "Semantic Textual Similarity" in text
        assert "similarity points" in text and "STS-B" in text
        assert "SQuAD" not in text and "Bias probes" not in text  # nothing of other kinds' wording
    # Correlations print without a percent sign, the MAE in its own unit, and interval width is judged on the range.
    assert re.search(r"\| tiny-a \| sts \| Pearson correlation \| -?0\.\d\d \| \[-?0\.\d\d, -?0\.\d\d\] \| 60 \|", md)
    assert re.search(r"Mean absolute error \| \d\.\d\d similarity points", md)
    assert r"of its range \[-1, 1\]" in md
    # The within-run comparison charts correlations on their own unitless axis, not on 0-100%.
    plots = list((report_dir(run_dir) / "plots").glob("compare-*unitless*.svg"))
    assert plots and "-1" in plots[0].read_text()
    gates = json.loads((run_dir / "gates.json").read_text())
    by_check = {g["check"]: g for g in gates["results"]}
    assert set(by_check) == {"sts.mae <= 4.5", "sts.pearson >= -0.99"}
    assert by_check["sts.mae <= 4.5"]["verdict"] == "GO" and by_check["sts.mae <= 4.5"]["finite_sample"]
    assert all(g["verdict"] in ("GO", "NO_GO", "INCONCLUSIVE") for g in gates["results"])


@requires_data
def test_dataframe_run_compare_card_audit_and_eval_results(run_dir: Path, site: Path, work: Path) -> None:
    import auditkit
    from auditkit.audit import audit_card
    from auditkit.reports.eval_results import eval_results_texts
    from auditkit.results import load_run

    vocab = DATA / "vocab" / "bert-base-uncased-vocab.txt"
    outcome = auditkit.run_suite(
        {
            "name": "sts-frame", "output_dir": str(work / "frame-runs"), "bootstrap": {"resamples": 300},
            "models": [{"name": "tiny-a", "build": {"config": str(work / "config.json"), "vocab": str(vocab),
                                                   "seed": 5}}],
            "tasks": [{"name": "sts", "kind": "sts", "dataset": pd.DataFrame(_pairs())}],
            "gates": ["sts.mae <= 4.5"],
        },
        quiet=True,
    )  # fmt: skip
    [job] = outcome.results.jobs
    assert job.kind == "sts" and outcome.results.datasets["sts"].examples == 60
    # Same rows from a DataFrame and from JSON Lines: the same examples, so the runs pair example by example.
    first = load_run(run_dir)
    assert job.dataset_fingerprint == first.results.jobs[0].dataset_fingerprint
    out = work / "compared"
    files = auditkit.compare(run_dir, outcome.run_dir, out_dir=out)
    compared = next(f for f in files if f.suffix == ".md").read_text()
    assert "Pearson correlation" in compared and "Mean absolute error" in compared

    card = work / "card.md"
    card.write_text(auditkit.model_card(first, "tiny-a"))
    # pairs.jsonl is not the STS-B benchmark, so the card names it by its own name, not STS-B's.
    assert "On pairs it reaches a Pearson correlation of" in card.read_text()
    audit = audit_card(card, results_dir=run_dir, model="tiny-a", rerun=False)
    checked = {c["metric"]: c["verdict"] for c in audit["claims"]}
    assert checked.get("pearson") == "holds" and checked.get("spearman") == "holds"
    # A card claiming a correlation the model does not have is caught, on the correlation's own scale.
    false_card = work / "false.md"
    false_card.write_text("# tiny-a\n\n## Evaluation\n\nOn STS-B the model reaches a Pearson correlation of 0.95.\n")
    [claim] = audit_card(false_card, results_dir=run_dir, model="tiny-a", rerun=False)["claims"]
    assert claim["metric"] == "pearson" and claim["value"] == 0.95 and claim["verdict"] == "does not hold"

    # A local STS-B-shaped file is not the benchmark: nothing goes to the Hub's leaderboard, and it says why.
    texts, skipped = eval_results_texts(first, "tiny-a")
    assert not texts and all(why.startswith("not a Hub benchmark") for why in skipped.values()), skipped


@requires_data
def test_a_bound_outside_the_metric_range_is_refused(site: Path, work: Path) -> None:
    from auditkit.core.errors import SuiteError
    from auditkit.running.suite import load_suite

    with pytest.raises(SuiteError, match=r"-1.5 is outside Pearson correlation's range \[-1, 1\]"):
        load_suite(_suite(work, ["sts.pearson >= -1.5"]))
