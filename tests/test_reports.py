"""Reports from a real run's results directory: content, escaping, model-index, comparisons, and a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import CHROMIUM, CHROMIUM_ARGS, DATA, cli_in_process, requires_chromium, requires_data, write_suite

from auditkit.metrics.compare import mcnemar_exact
from auditkit.reports import compare, report
from auditkit.results import load_results
from auditkit.results.store import report_dir

HOSTILE = "<script>window.__pwned = 1; alert('x')</script>"
HOSTILE_QUESTION = "Who <img src=x onerror=alert(2)> won | **[y](javascript:alert(3))**?"


def _hostile_squad(path: Path) -> None:
    """Ten real SQuAD questions, one paragraph's context and title laced with markup that must stay text."""
    data = json.loads((DATA / "squad" / "dev-v1.1.json").read_text())
    article = data["data"][0]
    para = article["paragraphs"][0]
    prefix = HOSTILE + " "
    qas = [
        {**qa, "answers": [{**a, "answer_start": a["answer_start"] + len(prefix)} for a in qa["answers"]]}
        for qa in para["qas"][:10]
    ]
    qas[0]["question"] = HOSTILE_QUESTION
    path.write_text(
        json.dumps(
            {
                "version": "1.1",
                "data": [
                    {
                        "title": "Title <b>bold</b> & co",
                        "paragraphs": [{"context": prefix + para["context"], "qas": qas}],
                    }
                ],
            }
        )
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("reports")
    _hostile_squad(work / "hostile.json")
    (work / "hostile.tsv").write_text(
        "sentence\tlabel\n" + "".join(f"{HOSTILE} film {i}\t{i % 2}\n" for i in range(12))
    )
    suite = write_suite(
        work / "suite.yaml",
        """name: report-test
output_dir: runs
bootstrap: {resamples: 200}
models:
  - name: cased
    build: {config: distilbert-base-cased-distilled-squad, vocab: $DATA/vocab/bert-base-cased-vocab.txt}
  - name: uncased
    build: {config: distilbert-base-uncased-distilled-squad, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}
  - name: sst2
    build: {config: distilbert-base-uncased-finetuned-sst-2-english, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}
tasks:
  - {name: hostile_qa, kind: extractive_qa, models: [cased, uncased], dataset: {path: hostile.json}}
  - {name: hostile_cls, kind: classification, models: [sst2], dataset: {path: hostile.tsv}}
""",
    )
    proc = cli_in_process("run", str(suite), "-q", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


@requires_data
def test_run_writes_both_reports_with_model_card_sections(run_dir: Path) -> None:
    html = (report_dir(run_dir) / "report.html").read_text()
    md = (report_dir(run_dir) / "report.md").read_text()
    for anchor in (
        "model-details",
        "intended-uses",
        "evaluation-data",
        "metrics",
        "quantitative-analyses",
        "errors",
        "latency",
        "comparison",
        "caveats",
        "model-index",
        "reproducibility",
    ):
        assert f'id="{anchor}"' in html
    for heading in (
        "Model details",
        "Intended uses",
        "Evaluation data",
        "Metrics",
        "Quantitative analyses",
        "Worst errors",
        "Latency and efficiency",
        "Comparison",
        "Caveats and recommendations",
        "Reproducibility",
    ):
        assert f"\n## {heading}" in md
    assert 'id="bias-probes"' not in html and "## Bias probes" not in md  # no bias-probe task: no empty section
    results = load_results(run_dir)
    from auditkit.reports.formatting import metric_rows

    for job in results.jobs:
        for row in metric_rows(job):
            # Each figure with its unit, its interval (or why none) and n, in both formats.
            assert f"{row['value_text']}</td>" in html and f"| {row['value_text']} | {row['ci']} | {row['n']} |" in md
            if row["unit"] == "%":
                assert row["value_text"].endswith("%") and (row["ci"].endswith("%]") or not row["ci"].startswith("["))
            est = job.metrics[row["key"]]
            if est.n is not None and est.n >= 10 and est.has_interval:
                assert row["ci"].startswith("[") and str(round(est.low, 0))[:1] in row["ci"]
        assert f"{job.timing.examples_per_second:.1f}" in html
    assert results.suite.sha256 in html and results.suite.sha256 in md
    assert "built offline" in html and "near chance" in md


@requires_data
def test_everything_from_data_is_escaped(run_dir: Path) -> None:
    html = (report_dir(run_dir) / "report.html").read_text()
    md = (report_dir(run_dir) / "report.md").read_text()
    assert "<script" not in html and "<img" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;window.__pwned" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<script" not in md and "<img" not in md and "](javascript:" not in md
    assert r"&lt;script&gt;window.\_\_pwned" in md and r"\*\*\[y\]\(javascript:alert\(3\)\)\*\*" in md
    for svg_file in (report_dir(run_dir) / "plots").glob("*.svg"):
        assert "<script" not in svg_file.read_text()


@requires_data
def test_html_is_self_contained_and_markdown_plots_exist(run_dir: Path) -> None:
    html = (report_dir(run_dir) / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<link" not in html and "@import" not in html and html.count("<svg") >= 6
    md = (report_dir(run_dir) / "report.md").read_text()
    linked = re.findall(r"\]\((plots/[^)]+\.svg)\)", md)
    assert len(linked) >= 6 and all((report_dir(run_dir) / p).is_file() for p in linked)


@requires_data
def test_model_index_yaml_has_the_hub_schema(run_dir: Path) -> None:
    results = load_results(run_dir)
    for model in ("cased", "uncased", "sst2"):
        doc = yaml.safe_load((report_dir(run_dir) / "model-index" / f"{model}.yaml").read_text())
        entry = doc["model-index"][0]
        assert entry["name"] == model
        for result in entry["results"]:
            assert {"type", "name"} <= set(result["task"])
            assert {"name", "type", "config", "split"} <= set(result["dataset"])
            for metric in result["metrics"]:
                assert {"type", "value", "name"} <= set(metric)
        job = next(j for j in results.jobs if j.model == model)
        values = {m["type"]: m["value"] for m in entry["results"][0]["metrics"]}
        key = "exact_match" if job.kind == "extractive_qa" else "accuracy"
        assert values[key] == round(job.metrics[key].value, 4)


@requires_data
def test_within_run_comparison_follows_from_predictions(run_dir: Path) -> None:
    md = (report_dir(run_dir) / "report.md").read_text()
    assert "### hostile\\_qa: cased (A) vs uncased (B)" in md
    a = pd.read_parquet(run_dir / "predictions" / "cased" / "hostile_qa.parquet")
    b = pd.read_parquet(run_dir / "predictions" / "uncased" / "hostile_qa.parquet")
    _, b_only, a_only = mcnemar_exact(a["exact"].to_numpy(float), b["exact"].to_numpy(float))
    assert f"({b_only} vs {a_only})" in md
    wins_a, wins_b = int((a["f1"] > b["f1"]).sum()), int((b["f1"] > a["f1"]).sum())
    assert f"A {wins_a}, B {wins_b}, ties {10 - wins_a - wins_b}" in md


@requires_data
def test_compare_two_runs_and_template_override(run_dir: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    shutil.copytree(run_dir, second)
    written = compare(run_dir, second, out_dir=tmp_path / "cmp")
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert [p.name for p in written] == ["report.html", "report.md"]
    assert "hostile\\_qa: A:cased (A) vs B:cased (B)" in text and "+0.00 [+0.00, +0.00]" in text
    custom = tmp_path / "templates"
    custom.mkdir()
    (custom / "report.md.j2").write_text("CUSTOM {{ r.title | md }} {{ r.models | length }}\n")
    report(run_dir, template_dir=custom, out_dir=tmp_path / "custom")
    assert (tmp_path / "custom" / "report.md").read_text() == "CUSTOM Evaluation report — report-test 3\n"
    assert "Model details" in (tmp_path / "custom" / "report.html").read_text()  # html still from the default template


def test_mcnemar_exact_values() -> None:
    zeros, ones = np.zeros(5), np.ones(5)
    assert mcnemar_exact(zeros, ones) == (2 * 0.5**5, 5, 0)
    a = np.array([1] + [0] * 9, dtype=float)
    b = np.array([0] + [1] * 9, dtype=float)
    p, b_only, a_only = mcnemar_exact(a, b)
    assert (b_only, a_only) == (9, 1) and p == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(ones, ones)[0] == 1.0


@requires_data
def test_report_cli_errors(run_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "report", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and f"no results found at {tmp_path}" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "report", str(run_dir), "--template-dir", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "template folder not found" in proc.stderr


@requires_data
@requires_chromium
def test_html_report_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (a test extra) is not installed")
    problems: list[str] = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console {msg.type}: {msg.text}") if msg.type in ("error", "warning") else None
            ),
        )
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.on(
            "request",
            lambda req: (
                problems.append(f"network request: {req.url}") if not req.url.startswith(("file:", "data:")) else None
            ),
        )
        page.goto((report_dir(run_dir) / "report.html").as_uri())
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("h1").inner_text().startswith("Evaluation report")
        assert page.locator("svg").count() >= 6
        browser.close()
    assert not problems, problems
    assert shot.stat().st_size > 50_000


@requires_data
def test_a_gates_file_from_before_verdicts_is_not_shown_as_a_decision(run_dir: Path, tmp_path: Path) -> None:
    from auditkit.reports.view import build_report
    from auditkit.results import load_run

    legacy = {"passed": True, "total": 1, "failed": 0, "results": [{"gate": "g", "passed": True}]}
    view = build_report(load_run(run_dir), gates=legacy)
    assert view["gates"] is None and view["decision"] is None
    assert any("predates release verdicts" in c for c in view["caveats"])
