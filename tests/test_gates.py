"""Release gates: parsing, each gate kind's verdicts (GO / NO_GO / INCONCLUSIVE), exit codes, JUnit, step summary."""

from __future__ import annotations

import copy
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli, cli_in_process, requires_data, write_suite

from auditkit.core.errors import GateError, SuiteError
from auditkit.gates import gate
from auditkit.results import MANIFEST_FILE, RESULTS_FILE, atomic_write_json, load_results
from auditkit.results.store import build_manifest, report_dir
from auditkit.running.preflight import preflight
from auditkit.running.suite import load_suite
from auditkit.spec.expressions import GateSyntaxError, parse_gate
from auditkit.spec.schema import GateSpec
from auditkit.stats.decision import RANGE_NOTE
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


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("gates")
    suite = write_suite(work / "suite.yaml", SUITE.replace("GATES", '  - "sst2.accuracy >= 0"\n'))
    proc = cli_in_process("run", str(suite), "-q", "--report", "none", cwd=work)
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


def _with_sst2_model(run: Path, where: Path, name: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """A copy of ``run`` (a run of its own, published as such) with one more sst2 job, of model ``name``: the
    classifier's per-example table changed by ``edit``, its correctness and stored accuracy following."""
    shutil.copytree(run, where)
    results = json.loads((where / RESULTS_FILE).read_text())
    job = copy.deepcopy(next(j for j in results["jobs"] if j["task"] == "sst2"))
    frame = edit(pd.read_parquet(where / "predictions" / "cls" / "sst2.parquet"))
    frame["correct"] = frame["predicted_index"] == frame["gold_index"]
    (where / "predictions" / name).mkdir()
    frame.to_parquet(where / "predictions" / name / "sst2.parquet")
    job.update(model=name, predictions=f"predictions/{name}/sst2.parquet")
    job["metrics"]["accuracy"]["value"] = 100.0 * float(frame["correct"].mean())
    results["jobs"].append(job)
    results["models"][name] = results["models"]["cls"]
    (where / RESULTS_FILE).write_text(json.dumps(results))
    atomic_write_json(where / MANIFEST_FILE, build_manifest(where))
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
    with pytest.raises(SuiteError, match=r"gates\[0\]: 'significance' was removed: every baseline gate is now decided"):
        load_suite(_suite_with(tmp_path, '{check: "sst2.accuracy >= 3", significance: 0.95}'))
    with pytest.raises(SuiteError, match="name the other with 'against: MODEL'"):
        load_suite(_suite_with(tmp_path, '"sst2.agreement >= 99"'))
    with pytest.raises(SuiteError, match=r"gates\[0\].against: .* against unknown model 'nope'"):
        load_suite(_suite_with(tmp_path, '{check: "sst2.agreement >= 99", against: nope}'))
    with pytest.raises(
        SuiteError, match=r"gates\[0\]\.models\[0\]: gate 'sst2.accuracy >= 3' names unknown model 'nope'"
    ):
        load_suite(_suite_with(tmp_path, '{check: "sst2.accuracy >= 3", models: [nope]}'))
    # Equality gates cannot be decided with error control: refused before any model loads, with the fix.
    with pytest.raises(SuiteError, match=r"gates\[0\]: gate 'sst2.accuracy == 80': == cannot be decided .* two gates"):
        load_suite(_suite_with(tmp_path, '"sst2.accuracy == 80"'))
    # A sampling unit the task kind does not have is named with the ones it has.
    with pytest.raises(SuiteError, match=r"tasks\[0\]\.cluster: .*'article' is not a sampling unit of kind"):
        load_suite(
            write_suite(
                tmp_path / "c.yaml",
                SUITE.replace("limit: 120}", "limit: 120}, cluster: article").replace(
                    "GATES", '  - "sst2.accuracy >= 3"\n'
                ),
            )
        )
    # A control character in a gate's name (it reaches JUnit XML and terminals) is an input error.
    with pytest.raises(SuiteError, match=r"gates\[0\]\.name: .*contains a control character"):
        load_suite(_suite_with(tmp_path, '{check: "sst2.accuracy >= 3", name: "floor\\u001b[2J"}'))
    # `against:` compares with a model of the same run: no baseline run is needed before models load.
    served = _suite_with(tmp_path, '{check: "sst2.accuracy >= baseline - 1", models: [cls], against: qa}')
    preflight(load_suite(served), baseline=None, template_dir=None)


@requires_data
def test_threshold_latency_and_official_gates(run: Path, tmp_path: Path) -> None:
    results = load_results(run)
    accuracy = next(j for j in results.jobs if j.task == "sst2").metrics["accuracy"].value
    best_f1 = next(j for j in results.jobs if j.task == "v2").details["official"]["best_f1"]
    suite = _suite_with(
        tmp_path,
        f'"sst2.accuracy >= {accuracy - 30:.2f}"',
        f'"sst2.accuracy >= {accuracy + 30:.2f}"',
        f'"sst2.accuracy >= {accuracy + 1:.2f}"',
        '"sst2.latency.p95_ms <= 100000 ms"',
        '"sst2.latency.p95_ms <= 0.001 ms"',
        f'"v2.official.best_f1 >= {best_f1 - 1e-4:.6f}"',
        '{check: "v2.HasAns_f1 <= 100", name: "sanity"}',
    )
    report = gate(run, gates=load_suite(suite).suite.gates)
    order_stats = "order statistics (distribution-free)"
    assert [(r.kind, r.verdict, r.test) for r in report.results[:6]] == [
        ("threshold", "GO", "exact binomial"),
        ("threshold", "NO_GO", "exact binomial"),
        ("threshold", "INCONCLUSIVE", "exact binomial"),  # 1 point above the estimate, with n = 120
        ("latency", "INCONCLUSIVE", order_stats),  # too few timed batches to bound a p95 from above
        ("latency", "NO_GO", order_stats),
        ("threshold", "GO", "exact value"),  # official figures have no sampling distribution here
    ]
    few = report.results[3]
    assert few.samples_needed == 72 and "at least 72 samples are needed" in few.message
    sanity = report.results[6]  # F1 cannot exceed 100: decided by the metric's range, whatever the data
    assert sanity.gate == "sanity" and sanity.verdict == "GO" and RANGE_NOTE in sanity.notes
    assert sanity.cluster_unit == "article" and sanity.n_clusters is not None  # SQuAD: questions come by article
    inconclusive = report.results[2]
    assert inconclusive.low is not None and inconclusive.high is not None and inconclusive.confidence == 0.95
    assert inconclusive.low < accuracy + 1 < inconclusive.high and inconclusive.n == 120
    assert "cannot yet tell" in inconclusive.message and inconclusive.mde is not None and inconclusive.mde > 1
    assert report.results[1].message.startswith(f"accuracy = {accuracy:.4g}")
    assert report.verdict == "NO_GO" and report.exit_code == 1
    # Every interval is at the run's one level; Holm's adjusted p-values are never below the gate's own.
    tested = [r for r in report.results if r.tested]
    assert {r.confidence for r in tested} == {0.95} and len(tested) == 6
    assert all(r.p_value is not None and r.p_raw is not None and r.p_value >= r.p_raw for r in tested)
    assert report.guarantee() is not None and "article" in (report.guarantee() or "")


@requires_data
def test_non_inferiority_decided_on_the_paired_interval(run: Path, tmp_path: Path) -> None:
    big = _baseline(run, tmp_path / "big", flip_to_correct=30)  # baseline 25 points better: a real drop
    small = _baseline(run, tmp_path / "small", flip_to_correct=2)  # baseline 1.7 points better: within noise
    suite = _suite_with(tmp_path, '"sst2.accuracy >= baseline - 0.5"', '"sst2.accuracy <= baseline + 50"')
    drop, sanity = gate(run, gates=load_suite(suite).suite.gates, baseline=big).results
    assert (drop.kind, drop.verdict, drop.test, drop.quantity) == (
        "non-inferiority",
        "NO_GO",
        "paired betting (hedged capital)",
        "difference",
    )
    assert drop.high is not None and drop.high < -0.5 and drop.difference == pytest.approx(-25.0, abs=0.01)
    assert sanity.verdict == "GO"
    noise, _ = gate(run, gates=load_suite(suite).suite.gates, baseline=small).results
    # The point estimate (-1.7) misses the margin, but the paired interval straddles it: not a decision.
    assert noise.verdict == "INCONCLUSIVE" and noise.difference is not None and noise.difference < -0.5
    assert noise.low is not None and noise.high is not None and noise.low < -0.5 < noise.high
    with pytest.raises(GateError, match="compares with a baseline, but none was given"):
        gate(run, gates=load_suite(suite).suite.gates)


@requires_data
def test_served_vs_released_agreement_gate(run: Path, tmp_path: Path) -> None:
    """Two models of one run compared example by example: identical answers and the paired metric change."""

    def six_differ(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[:5, "predicted_index"] = 1 - frame.loc[:5, "predicted_index"]  # 6 of 120 answers differ
        frame["prediction"] = frame["predicted_index"].map({0: "negative", 1: "positive"})
        return frame

    twin = _with_sst2_model(run, tmp_path / "twin", "served", six_differ)
    gates = [
        GateSpec(check="sst2.agreement >= 99", models=["served"], against="cls"),
        GateSpec(check="sst2.agreement >= 50", models=["served"], against="cls"),
        GateSpec(check="sst2.accuracy >= baseline - 60", models=["served"], against="cls"),
    ]
    strict, loose, delta = gate(twin, gates=gates).results
    assert strict.kind == "agreement" and strict.measured == pytest.approx(95.0) and strict.verdict == "NO_GO"
    assert loose.verdict == "GO" and loose.test == "exact binomial" and loose.n == 120
    assert delta.verdict == "GO" and delta.test == "paired betting (hedged capital)" and delta.model == "served"


@requires_data
def test_unknown_metric_is_refused_at_load_and_at_gating(run: Path, tmp_path: Path) -> None:
    """A suite's gate on a metric its task lacks is refused before anything runs; a gate given directly to a
    published run is refused there, both listing the metrics there are."""
    from auditkit.core.errors import SuiteError
    from auditkit.spec.schema import GateSpec

    with pytest.raises(SuiteError, match="task 'sst2' has no metric 'acc'") as refused:
        load_suite(_suite_with(tmp_path, '"sst2.acc >= 1"'))
    assert "accuracy, macro_f1, ece" in str(refused.value)
    with pytest.raises(GateError, match="sst2 has no metric 'acc'") as info:
        gate(run, gates=[GateSpec(check="sst2.acc >= 1")])
    assert "accuracy, macro_f1, ece" in str(info.value)


@requires_data
def test_cli_exit_codes_junit_and_step_summary(run: Path, tmp_path: Path) -> None:
    """The entry point once, then in process (the same command and exit codes, without start-ups)."""
    passing = _suite_with(tmp_path, '"sst2.accuracy >= 0"')
    assert cli("gate", str(run), "--suite", str(passing)).returncode == 0
    failing = write_suite(
        tmp_path / "failing.yaml", SUITE.replace("GATES", '  - "sst2.accuracy >= 99.5"\n  - "v2.f1 >= 0"\n')
    )
    summary = tmp_path / "summary.md"
    junit = tmp_path / "gates.xml"
    proc = cli_in_process(
        "gate", str(run), "--suite", str(failing), "--junit", str(junit), env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert proc.returncode == 1 and "NO_GO sst2.accuracy >= 99.5 [cls]" in proc.stderr
    assert "decision: NO_GO (1 GO, 1 NO_GO, 0 INCONCLUSIVE; alpha 0.05, Holm correction)" in proc.stderr
    text = summary.read_text()
    assert "### auditkit release decision: ❌ NO_GO" in text and "| ❌ NO_GO | sst2.accuracy &gt;= 99.5 | cls |" in text
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and {"name", "tests", "failures", "errors", "skipped"} <= set(suites[0].attrib)
    cases = suites[0].findall("testcase")
    assert suites[0].get("tests") == str(len(cases)) == "2" and suites[0].get("failures") == "1"
    assert all({"name", "classname"} <= set(c.attrib) for c in cases)
    failure = cases[0].find("failure")
    assert failure is not None and "accuracy = " in failure.get("message") and ": NO_GO" in failure.get("message")
    assert cases[1].find("failure") is None
    verdict = json.loads((run.parent / f"{run.name}.gate" / "gates.json").read_text())
    assert verdict["verdict"] == "NO_GO" and verdict["exit_code"] == 1 and verdict["failed"] == 1
    assert verdict["results"][0]["bound"] == 99.5 and verdict["results"][0]["verdict"] == "NO_GO"
    assert verdict["results"][0]["n"] == 120
    # INCONCLUSIVE: exit 3 by default, a skipped JUnit test with the reason; on_inconclusive maps it.
    accuracy = load_results(run).jobs[0].metrics["accuracy"].value
    unsure = f'"sst2.accuracy >= {accuracy + 1:.2f}"'
    for policy, code in (
        ("", 3),
        ("decision: {on_inconclusive: fail}\n", 1),
        ("decision: {on_inconclusive: pass}\n", 0),
    ):
        path = write_suite(tmp_path / f"unsure{code}.yaml", policy + SUITE.replace("GATES", f"  - {unsure}\n"))
        proc = cli_in_process("gate", str(run), "--suite", str(path), "--junit", str(junit))
        assert proc.returncode == code, proc.stderr
        assert "INCONCLUSIVE sst2.accuracy" in proc.stderr and "cannot yet tell" in proc.stderr
        skipped = ET.parse(junit).getroot().find("testsuite/testcase/skipped")
        assert skipped is not None and skipped.get("message", "").startswith("INCONCLUSIVE: accuracy = ")
    bad = write_suite(tmp_path / "bad.yaml", SUITE.replace("GATES", '  - "sst2.nope >= 1"\n'))
    proc = cli_in_process("gate", str(run), "--suite", str(bad))
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert (
        cli_in_process("gate", str(run), "--suite", str(passing), "--baseline", str(tmp_path / "none")).returncode == 0
    )  # baseline unused
    regress = _suite_with(tmp_path, '"sst2.accuracy >= baseline"')
    proc = cli_in_process("gate", str(run), "--suite", str(regress), "--baseline", str(tmp_path / "none"))
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
def test_run_exits_1_on_no_go(tmp_path: Path) -> None:
    suite = _suite_with(tmp_path, '"sst2.accuracy >= 99.5"')
    suite.write_text(
        suite.read_text()
        .replace("limit: 120", "limit: 8")
        .replace("  - {name: v2, kind: extractive_qa, models: [qa], dataset: {path: ", "  #")
    )
    proc = cli("run", str(suite), "-q", "--report", "md", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    run_dir = Path(proc.stdout.strip())
    gates = json.loads((run_dir / "gates.json").read_text())
    assert (run_dir / "gates.junit.xml").is_file() and gates["verdict"] == "NO_GO"
    assert "NO_GO" in (report_dir(run_dir) / "report.md").read_text()


@requires_data
def test_an_incompatible_baseline_is_reported_before_any_model_loads(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import auditkit.models.hf as hf
    from auditkit.running.runner import run_suite

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded before the baseline was checked")

    monkeypatch.setattr(hf, "load_model", forbidden)
    monkeypatch.setattr(hf, "materialize", forbidden)
    other_data = _suite_with(tmp_path, '"sst2.accuracy >= baseline - 1"')
    other_data.write_text(other_data.read_text().replace("limit: 120", "limit: 100"))
    with pytest.raises(SuiteError, match=r"evaluated sst2 on other examples \(data fingerprint") as info:
        run_suite(other_data, baseline=run, quiet=True)
    assert "nothing was computed or written" in str(info.value)
    renamed = _suite_with(tmp_path, '"sst2.accuracy >= baseline - 1"')
    renamed.write_text(
        renamed.read_text().replace("{name: sst2,", "{name: sentiment,").replace('"sst2.', '"sentiment.')
    )
    with pytest.raises(SuiteError, match="has no job for model 'cls' on task 'sentiment'"):
        run_suite(renamed, baseline=run, quiet=True)


@requires_data
def test_baseline_model_names_the_job_to_compare_with(run: Path, tmp_path: Path) -> None:
    """A baseline run with several jobs on the task: `baseline_model` picks one (here a perfect 'released')."""

    def perfect(frame: pd.DataFrame) -> pd.DataFrame:
        frame["predicted_index"] = frame["gold_index"]
        return frame

    two = _with_sst2_model(run, tmp_path / "two", "released", perfect)
    same, released = gate(
        run,
        gates=[
            GateSpec(check="sst2.accuracy >= baseline - 1"),
            GateSpec(check="sst2.accuracy >= baseline - 1", baseline_model="released"),
        ],
        baseline=two,
    ).results
    # cls against its own copy: 120 identical answers cannot show that the loss rate is under one point (it
    # could be up to 3% at 95%), so the honest verdict is INCONCLUSIVE -- never a zero-width interval's GO.
    assert same.verdict == "INCONCLUSIVE" and same.difference == pytest.approx(0.0)
    assert same.low is not None and same.low < -1.0 < 0.0 < (same.high or 0.0)
    assert released.verdict == "NO_GO" and released.baseline_value == pytest.approx(100.0)
    with pytest.raises(GateError, match=r"has no job for model 'nobody' on task 'sst2' \(it has cls, released\)"):
        gate(run, gates=[GateSpec(check="sst2.accuracy >= baseline - 1", baseline_model="nobody")], baseline=two)


@requires_data
def test_regating_a_run_whose_stored_gates_are_outdated_says_what_to_do(run: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(run, old)
    results = json.loads((old / RESULTS_FILE).read_text())
    results["suite"]["spec"]["gates"] = [{"check": "sst2.accuracy >= baseline - 1", "significance": 0.95}]
    (old / RESULTS_FILE).write_text(json.dumps(results))
    atomic_write_json(old / MANIFEST_FILE, build_manifest(old))
    with pytest.raises(GateError, match="its suite's gates no longer validate: 'significance' was removed") as info:
        gate(old)
    assert "--suite" in str(info.value)
