"""`auditkit history`: a model across releases -- verdict first, every metric with its interval release by
release, latency trends, the significant release-to-release changes (paired on the same examples), and what
could not be paired; on a phone, on paper, in dark mode, and through axe-core in Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, MODELS, TINY_SST2, requires_data, requires_models, write_suite

REPO = Path(__file__).resolve().parents[1]
AXE = Path(os.environ.get("AXE_CORE_JS", REPO / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"))


def _suite(path: Path, model: str, limit: int) -> Path:
    return write_suite(
        path,
        f"""name: releases
output_dir: runs
bootstrap: {{resamples: 200}}
models: [{{name: m, {model}}}]
tasks: [{{name: t, kind: classification, dataset: {{path: $DATA/sst2/dev.tsv, limit: {limit}}}}}]
gates: ["t.accuracy >= 40"]
""",
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from auditkit import run_suite

    work = tmp_path_factory.mktemp("history")
    broken = f"build: {{config: {TINY_SST2}, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}"
    trained = f"id: {MODELS / 'minilm-sst2'}"
    for i, (model, limit) in enumerate([(broken, 120), (trained, 120), (trained, 80)]):
        run_suite(_suite(work / f"r{i}.yaml", model, limit), output_dir=work / "runs", quiet=True, report_formats=[])
    from auditkit.reports.history import render_history

    out = work / "site"  # what `auditkit history runs/releases --out site` writes
    assert [p.name for p in render_history([work / "runs" / "releases"], out)] == ["report.html", "report.md"]
    return out


@requires_data
@requires_models
def test_history_opens_with_the_verdict_and_says_what_changed(history: Path) -> None:
    md = (history / "report.md").read_text()
    assert md.index("## Latest release:") < md.index("## Verdict timeline") < md.index("## Metrics across releases")
    timeline = md.split("## Verdict timeline")[1].split("##")[0]
    assert timeline.count("\n| `") == 3  # one row per release, oldest first
    metrics = md.split("## Metrics across releases")[1].split("##")[0]
    accuracy = next(line for line in metrics.splitlines() if "| Accuracy |" in line)
    assert accuracy.count("n = 120") == 2 and accuracy.count("n = 80") == 1 and accuracy.count("[") == 3
    changes = md.split("## Release-to-release changes")[1]
    # The broken release -> the trained one, on the same 120 sentences: significant, paired (McNemar).
    assert "Accuracy" in changes and "B better" in changes
    # The third release ran 80 sentences: not paired with the second, and said so.
    assert "evaluated different examples" in changes and "not compared pairwise" in changes
    assert "## Latency across releases" in md


@requires_data
@requires_models
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_history_page_on_a_phone_on_paper_in_dark_mode_and_through_axe(history: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (a test extra) is not installed")
    page_url = (history / "report.html").as_uri()
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        page = context.new_page()
        page.goto(page_url)
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        top = page.evaluate("document.querySelector('section.decision').getBoundingClientRect().top")
        assert 0 <= top < 844 * 0.5 and page.locator("section.decision h2").inner_text().startswith("Latest release")
        if AXE.is_file():
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + v.help)"
            )
            assert not violations, violations
        page.emulate_media(media="print")
        assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
        context.close()
        dark = chromium.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark").new_page()
        dark.goto(page_url)
        assert dark.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(26, 32, 44)"
        chromium.close()
