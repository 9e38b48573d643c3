"""The demo report in a real browser (Debian's headless Chromium, driven by Playwright): a phone and a laptop,
paper, and an automated accessibility check (axe-core from npm). Screenshots and the PDF are kept as test
artefacts in .test-artifacts/ (or $AUDITKIT_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, requires_chromium

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "reports" / "examples" / "offline-demo" / "report.html"
AXE = Path(os.environ.get("AXE_CORE_JS", REPO / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"))
ARTIFACTS = Path(os.environ.get("AUDITKIT_TEST_ARTIFACTS", REPO / ".test-artifacts"))

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (a test extra) is not installed")
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, width: int, height: int, problems: list[str]):  # type: ignore[no-untyped-def]
    # The report's CSP forbids scripts; the test context bypasses it only to inject axe-core.
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "request",
        lambda r: problems.append(f"network request: {r.url}") if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(EXAMPLE.as_uri())
    return context, page


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)], ids=["phone-390", "laptop-1280"])
def test_demo_report_on_a_phone_and_a_laptop(browser, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    context, page = _open(browser, width, height, problems)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"))
    page.screenshot(path=str(ARTIFACTS / f"report-{width}-full.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    # The answer comes first: the release decision starts inside the first screen, before any detail.
    top = page.evaluate("document.querySelector('section.decision').getBoundingClientRect().top")
    heading = page.locator("section.decision h2").inner_text()
    assert 0 <= top < height * 0.5 and heading.startswith(("Release decision", "No release gates"))
    first_details = page.evaluate("document.getElementById('model-details').getBoundingClientRect().top")
    assert first_details > top
    unlabeled = page.evaluate(
        "[...document.querySelectorAll('svg')].filter(s => !(s.getAttribute('aria-label') || s.querySelector('title')))"
        ".length"
    )
    assert page.locator("svg").count() >= 6 and unlabeled == 0
    if AXE.is_file():
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact))"
            ".map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ')')"
        )
        assert not violations, violations
    context.close()
    assert not problems, problems
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE} (.ci/run installs it from npm); layout checks passed")


def test_demo_report_prints_to_pdf(browser) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    context, page = _open(browser, 1280, 800, problems)
    page.emulate_media(media="print")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    # On paper, navigation is hidden and headings are kept with what follows them (the print style asks the
    # browser not to break after a heading; Chromium honours it when it lays out the pages).
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    assert page.evaluate("getComputedStyle(document.querySelector('h2')).breakAfter") in ("avoid", "avoid-page")
    context.close()
    assert 1 <= pages <= 30, pages
    assert not problems, problems
    (ARTIFACTS / "report-pages.txt").write_text(f"{pages}\n")


def test_dark_mode_follows_the_system(browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    page = context.new_page()
    page.goto(EXAMPLE.as_uri())
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(26, 32, 44)", background
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-dark.png"))
    context.close()
