"""Release gates: parsing, each gate kind passing and failing, exit codes, JUnit XML, step summary, no re-runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import requires_data, write_suite

from auditkit.errors import GateError, SuiteError
from auditkit.expressions import GateSyntaxError, parse_gate
from auditkit.gates import gate
from auditkit.results import MANIFEST_FILE, RESULTS_FILE, atomic_write_json, load_results
from auditkit.results.store import build_manifest
from auditkit.suite import load_suite
from auditkit.tasks.classification import classification_metric_defs

SUITE = """name: gated
output_dir: runs
bootstrap: {resamples: 300}
models:
  - name: cls
    build: {config: distilbert-base-uncased-finetuned-sst-2-english, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}
  - name: qa
    build: {config: distilbert-base-uncased-distilled-squad,
            vocab: $DATA/vocab/bert-base-uncased-vocab.txt, null_bias: 0.14}
tasks:
  - {name: sst2, kind: classification, models: [cls], dataset: {path: $DATA/sst2/dev.tsv, limit: 120}}
  - {name: v2, kind: extractive_qa, models: [qa], dataset: {path: $DATA/squad/dev-v2.0.json, limit: 12}}
gates:
GATES"""


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditkit.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("gates")
    suite = write_suite(work / "suite.yaml", SUITE.replace("GATES", '  - "sst2.accuracy >= 0"\n'))
    proc = cli("run", str(suite), "-q", "--report", "none", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


def _baseline(run: Path, where: Path, flip_to_correct: int) -> Path:
    """A copy of ``run`` whose classifier was right on ``flip_to_correct`` more examples (a better 'last release')."""
    shutil.copytree(run, where)
    table = where / "predictions" / "cls" / "sst2.parquet"
    frame = pd.read_parquet(table)
    wrong = np.flatnonzero(~frame["correct"].to_numpy())[:flip_to_correct]
    frame.loc[wrong, "predicted_index"] = frame.loc[wrong, "gold_index"]
    frame["correct"] = frame["predicted_index"] == frame["gold_index"]
    frame.to_parquet(table)
    results = json.loads((where / RESULTS_FILE).read_text())
    job = next(j for j in results["jobs"] if j["task"] == "sst2")
    for name, d in classification_metric_defs(frame, 2, 10).items():
        job["metrics"][name]["value"] = d.estimate(resamples=1, confidence=0.95, seed=0).value
    results["run_id"] = "baseline-" + str(flip_to_correct)
    (where / RESULTS_FILE).write_text(json.dumps(results))
    atomic_write_json(where / MANIFEST_FILE, build_manifest(where))  # a run of its own, published as such
    return where


def _suite_with(tmp_path: Path, *gates: str) -> Path:
    return write_suite(tmp_path / "gates.yaml", SUITE.replace("GATES", "".join(f"  - {g}\n" for g in gates)))


def test_parse_forms_and_errors() -> None:
    g = parse_gate("squad_v1.f1 >= baseline - 0.5")
    assert (g.task, g.path, g.op, g.baseline_offset, g.uses_baseline) == ("squad_v1", ("f1",), ">=", -0.5, True)
    g = parse_gate("sst2.latency.p95_ms <= 40 ms")
    assert (g.path, g.number) == (("latency", "p95_ms"), 40.0)
    assert parse_gate("v2.official.best_f1 > 50").path == ("official", "best_f1")
    for bad, expected in (
        ("f1 >= 3", "the left side must be '<task>.<metric>'"),
        ("squad.f1 => 3", "cannot parse gate"),
        ("squad.f1 >= 3 ms", "'ms' applies only to latency"),
        ("squad.latency.p42 <= 3", "latency figures are"),
        ("__import__('os').system('x') >= 1", "cannot parse gate"),
    ):
        with pytest.raises(GateSyntaxError, match=expected):
            parse_gate(bad)


@requires_data
def test_suite_validation_of_gates(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"gates\[0\].check: cannot parse gate 'sst2.accuracy =>= 3'"):
        load_suite(_suite_with(tmp_path, '"sst2.accuracy =>= 3"'))
    with pytest.raises(
        SuiteError, match=r"gates\[0\]: gate 'squad.f1 >= 3' names task 'squad'; the suite's tasks are \['sst2', 'v2'\]"
    ):
        load_suite(_suite_with(tmp_path, '"squad.f1 >= 3"'))
    with pytest.raises(SuiteError, match="'significance' applies to regression gates"):
        load_suite(_suite_with(tmp_path, '{check: "sst2.accuracy >= 3", significance: 0.95}'))
    with pytest.raises(
        SuiteError, match=r"gates\[0\]\.models\[0\]: gate 'sst2.accuracy >= 3' names unknown model 'nope'"
    ):
        load_suite(_suite_with(tmp_path, '{check: "sst2.accuracy >= 3", models: [nope]}'))


@requires_data
def test_threshold_latency_and_official_gates(run: Path, tmp_path: Path) -> None:
    results = load_results(run)
    accuracy = next(j for j in results.jobs if j.task == "sst2").metrics["accuracy"].value
    best_f1 = next(j for j in results.jobs if j.task == "v2").details["official"]["best_f1"]
    suite = _suite_with(
        tmp_path,
        f'"sst2.accuracy >= {accuracy - 1:.2f}"',
        f'"sst2.accuracy >= {accuracy + 1:.2f}"',
        '"sst2.latency.p95_ms <= 100000 ms"',
        '"sst2.latency.p95_ms <= 0.001 ms"',
        f'"v2.official.best_f1 >= {best_f1 - 1e-4:.6f}"',
        '{check: "v2.HasAns_f1 <= 100", name: "sanity"}',
    )
    report = gate(run, gates=load_suite(suite).suite.gates)
    assert [(r.kind, r.passed) for r in report.results] == [
        ("threshold", True),
        ("threshold", False),
        ("latency", True),
        ("latency", False),
        ("threshold", True),
        ("threshold", True),
    ]
    assert report.results[1].message.startswith(f"accuracy = {accuracy:.4g} (95% CI [")
    assert report.results[5].gate == "sanity"


@requires_data
def test_regression_gates_with_and_without_significance(run: Path, tmp_path: Path) -> None:
    big = _baseline(run, tmp_path / "big", flip_to_correct=30)  # baseline 25 points better: a real drop
    small = _baseline(run, tmp_path / "small", flip_to_correct=2)  # baseline 1.7 points better: within noise
    suite = _suite_with(
        tmp_path, '"sst2.accuracy >= baseline - 0.5"', '{check: "sst2.accuracy >= baseline - 0.5", significance: 0.95}'
    )
    plain_big, significant_big = gate(run, gates=load_suite(suite).suite.gates, baseline=big).results
    assert (plain_big.kind, plain_big.passed) == ("regression", False)
    assert (significant_big.kind, significant_big.passed) == ("significant regression", False)
    assert significant_big.delta_high < -0.5 and "a significant regression" in significant_big.message
    plain_small, significant_small = gate(run, gates=load_suite(suite).suite.gates, baseline=small).results
    assert plain_small.passed is False and plain_small.bound == pytest.approx(plain_small.baseline_value - 0.5)
    assert significant_small.passed is True and "not significant, passes" in significant_small.message
    assert significant_small.delta_low < -0.5 < significant_small.delta_high
    with pytest.raises(GateError, match="compares with a baseline, but none was given"):
        gate(run, gates=load_suite(suite).suite.gates)


@requires_data
def test_unknown_metric_is_a_gate_error(run: Path, tmp_path: Path) -> None:
    with pytest.raises(GateError, match="sst2 has no metric 'acc'") as info:
        gate(run, gates=load_suite(_suite_with(tmp_path, '"sst2.acc >= 1"')).suite.gates)
    assert "accuracy, macro_f1, ece" in str(info.value)


@requires_data
def test_cli_exit_codes_junit_and_step_summary(run: Path, tmp_path: Path) -> None:
    passing = _suite_with(tmp_path, '"sst2.accuracy >= 0"')
    assert cli("gate", str(run), "--suite", str(passing)).returncode == 0
    failing = write_suite(
        tmp_path / "failing.yaml", SUITE.replace("GATES", '  - "sst2.accuracy >= 101"\n  - "v2.f1 >= 0"\n')
    )
    summary = tmp_path / "summary.md"
    junit = tmp_path / "gates.xml"
    proc = cli(
        "gate", str(run), "--suite", str(failing), "--junit", str(junit), env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert proc.returncode == 1 and "FAIL sst2.accuracy >= 101 [cls]" in proc.stderr
    text = summary.read_text()
    assert "### auditkit release gates: FAILED (1 of 2)" in text and "| ❌ | sst2.accuracy &gt;= 101 | cls |" in text
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and {"name", "tests", "failures", "errors"} <= set(suites[0].attrib)
    cases = suites[0].findall("testcase")
    assert suites[0].get("tests") == str(len(cases)) == "2" and suites[0].get("failures") == "1"
    assert all({"name", "classname"} <= set(c.attrib) for c in cases)
    failure = cases[0].find("failure")
    assert failure is not None and "accuracy = " in failure.get("message") and ">= 101: fails" in failure.get("message")
    assert cases[1].find("failure") is None
    verdict = json.loads((run.parent / f"{run.name}.gate" / "gates.json").read_text())
    assert verdict["passed"] is False and verdict["failed"] == 1 and verdict["results"][0]["bound"] == 101.0
    bad = write_suite(tmp_path / "bad.yaml", SUITE.replace("GATES", '  - "sst2.nope >= 1"\n'))
    proc = cli("gate", str(run), "--suite", str(bad))
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert (
        cli("gate", str(run), "--suite", str(passing), "--baseline", str(tmp_path / "none")).returncode == 0
    )  # baseline unused
    regress = _suite_with(tmp_path, '"sst2.accuracy >= baseline"')
    proc = cli("gate", str(run), "--suite", str(regress), "--baseline", str(tmp_path / "none"))
    assert proc.returncode == 2 and "no results found" in proc.stderr


@requires_data
def test_regating_never_runs_a_model(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auditkit.models.hf as hf

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded while gating")

    monkeypatch.setattr(hf, "load_model", forbidden)
    monkeypatch.setattr(hf, "materialize", forbidden)
    assert gate(run).passed  # the run's own suite gate: sst2.accuracy >= 0


@requires_data
def test_run_exits_1_when_a_gate_fails(tmp_path: Path) -> None:
    suite = _suite_with(tmp_path, '"sst2.accuracy >= 101"')
    suite.write_text(
        suite.read_text()
        .replace("limit: 120", "limit: 8")
        .replace("  - {name: v2, kind: extractive_qa, models: [qa], dataset: {path: ", "  #")
    )
    proc = cli("run", str(suite), "-q", "--report", "md", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    run_dir = Path(proc.stdout.strip())
    gates = json.loads((run_dir / "gates.json").read_text())
    assert (run_dir / "gates.junit.xml").is_file() and gates["passed"] is False
    assert "## Release gates: FAILED (1 of 1)" in (run_dir / "report" / "report.md").read_text()
