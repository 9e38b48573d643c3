"""Release decisions: error rates checked by simulation, Holm/BH, --until-decided on real models, plan, latency CIs.

The simulations are plain numpy and fast; each checks a stated guarantee of "How auditkit decides" in the
README: a wrong verdict at most alpha of the time, for fixed-n tests and for anytime-valid stopping.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, requires_data, requires_models, write_suite

from auditkit.metrics.decide import adjust, bootstrap_evidence, decide, mde, n_needed, wilson_evidence
from auditkit.metrics.sequential import bet_against_bound, betting_evidence, log_capital

ALPHA = 0.05


def _slack(rate: float, runs: int) -> float:
    """Three binomial standard errors: the simulation's own noise for an asymptotic (not exact) guarantee."""
    return 3 * math.sqrt(rate * (1 - rate) / runs)


def test_anytime_valid_tests_keep_alpha_under_continuous_monitoring() -> None:
    """1,000 null streams watched after every example (a superset of every chunked schedule): the chance
    that either one-sided betting test ever rejects a true null stays at or below alpha, exactly."""
    rng = np.random.default_rng(1)
    runs, n, bound = 1000, 2000, 0.6
    x = rng.binomial(1, bound, size=(runs, n)).astype(float)  # the truth sits on the bound
    threshold = math.log(1 / ALPHA)
    above = (log_capital(x, bound, ALPHA, upward=True).max(axis=1) >= threshold).mean()
    below = (log_capital(x, bound, ALPHA, upward=False).max(axis=1) >= threshold).mean()
    assert above <= ALPHA and below <= ALPHA, (above, below)
    # Paired differences of two models (values in [-1, 1]) whose true mean difference is the margin.
    margin = -0.02
    p_up = 0.1
    d = rng.choice([1.0, -1.0, 0.0], p=[p_up, p_up - margin, 1 - 2 * p_up + margin], size=(runs, n))
    y = (d + 1) / 2
    m = (margin + 1) / 2
    wrong_go = (log_capital(y, m, ALPHA, upward=True).max(axis=1) >= threshold).mean()
    wrong_nogo = (log_capital(y, m, ALPHA, upward=False).max(axis=1) >= threshold).mean()
    assert wrong_go <= ALPHA and wrong_nogo <= ALPHA, (wrong_go, wrong_nogo)


def test_anytime_valid_tests_decide_fast_when_the_truth_is_far() -> None:
    rng = np.random.default_rng(2)
    broken = rng.binomial(1, 0.02, 800).astype(float)
    result = bet_against_bound(broken, 0.5, ALPHA / 4)
    assert result.first == "below" and result.below_at is not None and result.below_at <= 40
    evidence = betting_evidence(broken, ">=", 0.5, lo=0.0, hi=1.0, scale=100.0, test="betting")
    assert decide(evidence, ">=", 50.0, ALPHA).verdict == "NO_GO"
    low, high = evidence.interval(ALPHA / 2)
    assert 0.0 <= low <= 100 * broken.mean() <= high < 50.0


def test_fixed_n_tests_keep_alpha_on_the_boundary() -> None:
    """Wilson's score test (2,000 runs) and the paired percentile bootstrap (400 runs) at the boundary: the
    wrong verdict's rate is alpha up to the simulation's noise (these are asymptotic, not exact, tests)."""
    rng = np.random.default_rng(3)
    runs, n, bound = 2000, 400, 70.0
    successes = rng.binomial(n, bound / 100, size=runs)
    verdicts = [decide(wilson_evidence(int(k), n, ">=", bound), ">=", bound, ALPHA).verdict for k in successes]
    nogo = verdicts.count("NO_GO") / runs
    assert nogo <= ALPHA + _slack(ALPHA, runs), nogo
    runs, n, margin = 400, 300, -1.0
    wrong = 0
    for _ in range(runs):
        d = 100 * rng.choice([1.0, -1.0, 0.0], p=[0.1, 0.11, 0.79], size=n)  # true mean difference -1 point
        boot = rng.choice(d, size=(500, n)).mean(axis=1)
        wrong += decide(bootstrap_evidence(boot, ">=", margin, n, "paired bootstrap"), ">=", margin, ALPHA).verdict == (
            "NO_GO"
        )
    assert wrong / runs <= ALPHA + _slack(ALPHA, runs), wrong / runs


def test_holm_and_bh_levels_and_family_error() -> None:
    assert adjust([0.001, 0.02, 0.03], 0.05, "holm") == pytest.approx([0.05 / 3, 0.05 / 2, 0.05])
    # 0.03 misses its level 0.025: Holm stops there, and every later test is judged at that level too.
    assert adjust([0.001, 0.04, 0.03], 0.05, "holm") == pytest.approx([0.05 / 3, 0.05 / 2, 0.05 / 2])
    assert adjust([0.001, 0.2, 0.011], 0.05, "holm") == pytest.approx([0.05 / 3, 0.05, 0.05 / 2])
    assert adjust([0.001, 0.02, 0.035, 0.5], 0.05, "bh") == pytest.approx([0.05 * 3 / 4] * 4)
    assert adjust([0.001, 0.02, 0.04, 0.5], 0.05, "bh") == pytest.approx([0.05 * 2 / 4] * 4)
    assert adjust([0.2, 0.3], 0.05, "none") == [0.05, 0.05]
    # Five gates, all with the truth on their bound: Holm keeps the chance of any wrong NO_GO under alpha.
    rng = np.random.default_rng(4)
    runs, gates, n, bound = 1000, 5, 300, 80.0
    any_wrong = {"holm": 0, "none": 0}
    for _ in range(runs):
        evidences = [wilson_evidence(int(k), n, ">=", bound) for k in rng.binomial(n, bound / 100, size=gates)]
        for method in any_wrong:
            levels = adjust([e.p_decision for e in evidences], ALPHA, method)  # type: ignore[arg-type]
            verdicts = [decide(e, ">=", bound, lv).verdict for e, lv in zip(evidences, levels, strict=True)]
            any_wrong[method] += "NO_GO" in verdicts
    assert any_wrong["holm"] / runs <= ALPHA + _slack(ALPHA, runs)
    assert any_wrong["none"] / runs > 2 * ALPHA  # uncorrected, five gates err far more often: why Holm exists


def test_power_helpers() -> None:
    # n = ((z_0.95 + z_0.8) sd / d)^2 = ((1.645 + 0.842) * 40 / 5)^2 = 395.6 -> 396
    assert n_needed(40.0, 5.0, 0.05, 0.8) == 396
    assert n_needed(40.0, 0.0, 0.05, 0.8) is None
    assert mde(2.0, 0.05, 0.8) == pytest.approx((1.6449 + 0.8416) * 2.0, rel=1e-3)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditkit.cli", *args], capture_output=True, text=True, check=False, cwd=cwd
    )


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
      sample: 400
GATES"""
TRAINED = "  - {name: minilm-squad, id: $MODELS_DIR/minilm-squad, batch_size: 32}"
BROKEN = (
    "  - name: minilm-squad-broken\n    build: {config: $MODELS_DIR/minilm-squad/config.json,"
    " vocab: $DATA/vocab/bert-base-uncased-vocab.txt, seed: 0}\n    batch_size: 32"
)


def _qa_suite(path: Path, name: str, models: str, gates: str) -> Path:
    text = QA.replace("NAME", name).replace("MODELS\n", models + "\n").replace("GATES", gates)
    return write_suite(path, text.replace("$MODELS_DIR", str(MODELS)))


@requires_data
@requires_models
@pytest.mark.slow
def test_until_decided_stops_a_broken_release_early_with_the_full_runs_verdict(tmp_path: Path) -> None:
    base = cli(
        "run", str(_qa_suite(tmp_path / "base.yaml", "base", TRAINED, "")), "-q", "--report", "none", cwd=tmp_path
    )
    assert base.returncode == 0, base.stderr
    baseline = base.stdout.strip()
    gates = f'baseline: {baseline}\ngates:\n  - "squad_v1.f1 >= baseline - 1"\n'
    suite = _qa_suite(tmp_path / "cand.yaml", "cand", BROKEN, gates)
    early = cli("run", str(suite), "-q", "--report", "md", "--until-decided", cwd=tmp_path)
    assert early.returncode == 1, early.stderr  # NO_GO
    full = cli("run", str(suite), "-q", "--report", "none", cwd=tmp_path)
    assert full.returncode == 1, full.stderr
    early_dir, full_dir = Path(early.stdout.strip()), Path(full.stdout.strip())
    job = json.loads((early_dir / "results.json").read_text())["jobs"][0]
    seq = job["sequential"]
    assert seq["stopped"] == "decided" and seq["n_available"] == 400 and seq["n_used"] * 5 <= 400, seq
    assert job["metrics"]["f1"]["interval"] == "anytime-valid confidence sequence"
    assert job["metrics"]["f1"]["n"] == seq["n_used"]
    early_gates = json.loads((early_dir / "gates.json").read_text())
    full_gates = json.loads((full_dir / "gates.json").read_text())
    assert early_gates["verdict"] == full_gates["verdict"] == "NO_GO"
    assert early_gates["results"][0]["anytime_valid"] and early_gates["results"][0]["n"] == seq["n_used"]
    assert full_gates["results"][0]["n"] == 400 and full_gates["results"][0]["test"] == "paired bootstrap"
    report = (early_dir / "report" / "report.md").read_text()
    assert report.index("## Release decision: **NO_GO**") < report.index("## Model details")
    assert "anytime-valid" in report and f"used {seq['n_used']} of 400 examples" in report
    # Re-gating the stored run replays the same sequential evidence from the predictions, in the order seen.
    regate = cli("gate", str(early_dir), "--out", str(tmp_path / "regate"), cwd=tmp_path)
    assert regate.returncode == 1 and json.loads((tmp_path / "regate" / "gates.json").read_text())["results"][0][
        "p_value"
    ] == pytest.approx(early_gates["results"][0]["p_value"])

    # plan: from the full run as a pilot, the broken model's gate is decidable with few examples.
    planned = cli("plan", str(suite), "--pilot", str(full_dir), "--json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    [row] = json.loads(planned.stdout)
    assert row["configured_n"] == 400 and row["decidable"] is True and row["n_needed"] < 40
    assert row["sd_source"] == "pilot run, paired differences"
    # A margin far below the noise at this n is flagged before anything runs, and by plan.
    tight = _qa_suite(
        tmp_path / "tight.yaml",
        "tight",
        TRAINED,
        f'baseline: {baseline}\ngates:\n  - "squad_v1.f1 >= baseline - 0.1"\n',
    )
    planned = cli("plan", str(tight), "--json", cwd=tmp_path)
    assert planned.returncode == 1 and json.loads(planned.stdout)[0]["decidable"] is False
