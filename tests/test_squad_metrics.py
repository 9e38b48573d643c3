"""SQuAD metrics equal the official evaluation scripts' figures, digit for digit, on real leaderboard files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, requires_data

from auditkit.metrics import squad
from auditkit.running.score_file import score_predictions

V1 = DATA / "squad" / "dev-v1.1.json"
V2 = DATA / "squad" / "dev-v2.0.json"
PRED = DATA / "squad" / "predictions"


@requires_data
@pytest.mark.parametrize(
    ("file", "exact", "f1", "missing", "unknown"),
    [
        ("v1.1-bert-ensemble-google.json", 86.20624408703878, 92.19557978351145, 0, 0),
        # Lacks 13 dev ids (scored 0, as the official script does) and has 28 extra ids (ignored).
        ("v1.1-logistic-regression-baseline-stanford.json", 40.14191106906339, 50.98153647324461, 13, 28),
    ],
)
def test_v1_equals_official_script(file: str, exact: float, f1: float, missing: int, unknown: int) -> None:
    report = score_predictions("squad", V1, PRED / file, resamples=200)
    assert report["official"] == {"exact_match": exact, "f1": f1}
    assert report["metrics"]["exact_match"]["value"] == exact
    assert report["metrics"]["f1"]["value"] == f1
    assert report["predictions"]["missing"] == missing
    assert report["predictions"]["unknown_ids"] == unknown


@requires_data
def test_v2_equals_official_script() -> None:
    report = score_predictions("squad_v2", V2, PRED / "v2.0-bert-single-google.json", resamples=200)
    official = report["official"]
    assert official["exact"] == 78.74168280973637
    assert official["f1"] == 81.77528052374723
    assert official["HasAns_exact"] == 74.10593792172739
    assert official["NoAns_exact"] == 83.36417157275021
    assert (official["total"], official["HasAns_total"], official["NoAns_total"]) == (11873, 5928, 5945)
    # NoAns questions score 1 exactly when the prediction is empty, so NoAns f1 equals NoAns exact.
    assert official["NoAns_f1"] == official["NoAns_exact"]
    low, high = report["metrics"]["f1"]["low"], report["metrics"]["f1"]["high"]
    assert low < official["f1"] < high and high - low < 2.0


@requires_data
def test_score_cli_writes_json_with_breakdowns(tmp_path) -> None:
    out = tmp_path / "score.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditkit.cli",
            "score",
            "--task",
            "squad",
            "--dataset",
            str(V1),
            "--predictions",
            str(PRED / "v1.1-r-net-plus-ensemble-msra.json"),
            "--out",
            str(out),
            "--resamples",
            "100",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["predictions"] == {
        "path": str(PRED / "v1.1-r-net-plus-ensemble-msra.json"),
        "count": 10570,
        "missing": 0,
        "unknown_ids": 0,
    }
    by_article = report["by_article"]
    assert len(by_article) == 48 and sum(a["n"] for a in by_article.values()) == 10570
    # The per-article means recombine into the headline figure.
    total = sum(a["n"] * a["f1"] for a in by_article.values()) / 10570
    assert total == pytest.approx(report["official"]["f1"], abs=1e-9)
    assert {"what", "who", "how many", "when"} <= set(report["by_question_type"])


def test_normalisation_and_empty_rules_differ_between_versions() -> None:
    assert squad.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert squad.normalize_answer("an apple, a pear") == "apple pear"
    # v1.1: an empty prediction never earns F1, even against an empty gold answer; v2.0: empty vs empty is 1.
    assert squad.v1_f1("", "") == 0 and squad.v1_exact("", "")
    assert squad.v2_f1("", "") == 1 and squad.v2_exact("", "") == 1
    assert squad.v2_gold_answers(["the", "a"]) == [""]  # answers that normalise to nothing are dropped
    assert squad.v1_f1("Denver Broncos", "the Broncos") == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_best_threshold_matches_hand_computation() -> None:
    # q0 answerable (score 1), q1 unanswerable with non-empty prediction, q2 answerable (score 0.5).
    scores = np.array([1.0, 0.0, 0.5])
    has_answer = np.array([True, False, True])
    probs = np.array([0.2, 0.5, 0.9])
    empty = np.array([False, False, False])
    # Start: 1 (the unanswerable q1 right). Add q0: 2. Add q1: 1. Add q2: 1.5. Best 2 at threshold 0.2.
    assert squad.best_threshold(scores, probs, has_answer, empty) == (100.0 * 2 / 3, 0.2)
    # With nothing worth answering the threshold stays 0.0 (evaluate-v2.0's initial value).
    assert squad.best_threshold(
        np.zeros(2), np.array([0.1, 0.3]), np.array([True, False]), np.array([False, False])
    ) == (50.0, 0.0)


@requires_data
def test_v2_with_no_answer_probabilities_reports_best_thresholds(tmp_path) -> None:
    preds = json.loads((PRED / "v2.0-bert-single-google.json").read_text())
    probs = {qid: (0.9 if text == "" else 0.1) for qid, text in preds.items()}
    na_file = tmp_path / "na.json"
    na_file.write_text(json.dumps(probs))
    report = score_predictions("squad_v2", V2, PRED / "v2.0-bert-single-google.json", na_probs=na_file, resamples=50)
    official = report["official"]
    # Abstaining exactly where the model abstained is reachable, so the best is at least the plain figure
    # (up to summation order: the threshold sweep adds in probability order, the plain figure in dataset order).
    assert official["best_exact"] >= official["exact"] and official["best_f1"] >= official["f1"] - 1e-9
    assert official["best_exact_thresh"] in (0.1, 0.9, 0.0)
