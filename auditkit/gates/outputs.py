"""Gate verdicts for CI systems and people: gates.json, JUnit XML and a GitHub step summary."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..results import Results, atomic_write_json, atomic_write_text
from ..results.store import GATES_FILE
from .evaluate import GateReport

JUNIT_FILE = "gates.junit.xml"


def junit_xml(report: GateReport, suite: str) -> str:
    """One <testcase> per (gate, model): NO_GO is a failure, INCONCLUSIVE a skipped test carrying the reason."""
    counts = report.counts()
    totals = {
        "tests": str(len(report.results)),
        "failures": str(counts["NO_GO"]),
        "errors": "0",
        "skipped": str(counts["INCONCLUSIVE"]),
    }
    root = ET.Element("testsuites", {"name": "auditkit gates", **{k: v for k, v in totals.items() if k != "skipped"}})
    suite_el = ET.SubElement(root, "testsuite", {"name": f"auditkit.gates.{suite}", **totals, "time": "0"})
    props = ET.SubElement(suite_el, "properties")
    for name, value in (
        ("verdict", report.verdict),
        ("alpha", f"{report.alpha:g}"),
        ("multiple_comparisons", report.correction),
        ("on_inconclusive", report.on_inconclusive),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for r in report.results:
        case = ET.SubElement(
            suite_el, "testcase", classname=f"auditkit.{suite}.{r.task}", name=f"{r.gate} [{r.model}]", time="0"
        )
        if r.verdict == "NO_GO":
            failure = ET.SubElement(case, "failure", message=r.message, type=r.kind)
            failure.text = r.message
        elif r.verdict == "INCONCLUSIVE":
            ET.SubElement(case, "skipped", message=f"INCONCLUSIVE: {r.message}")
        out = ET.SubElement(case, "system-out")
        out.text = r.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


MARKS = {"GO": "✅ GO", "NO_GO": "❌ NO_GO", "INCONCLUSIVE": "⚠️ INCONCLUSIVE"}


def interval_text(g: Mapping[str, Any]) -> str | None:
    """A gate's interval as people read it (what it bounds, level, whether anytime-valid, n and clusters), from
    its gates.json entry: the step summary and the report write it the same way. None: the gate has none."""
    if g.get("empty_interval"):
        return "empty confidence sequence (the data are not consistent with one fixed value)"
    level = g.get("confidence")
    if g.get("low") is None or g.get("high") is None or level is None:
        return None
    what = "difference" if g.get("quantity") == "difference" else "value"
    clusters = f" in {g['n_clusters']} {g.get('cluster_unit') or 'cluster'}s" if g.get("n_clusters") else ""
    anytime = " anytime-valid" if g.get("anytime_valid") else ""
    return f"{what} in [{g['low']:.4g}, {g['high']:.4g}] ({level:.0%}{anytime}, n = {g['n']}{clusters})"


def guarantee_sentence(report: GateReport) -> str:
    """The run's error statement with its assumptions, or why it cannot make one."""
    statement = report.guarantee()
    if statement is not None:
        return statement[0].upper() + statement[1:] + "."
    asymptotic = sorted({r.gate for r in report.results if r.tested and not r.finite_sample})
    if asymptotic:
        return (
            "No finite-sample statement about wrong verdicts: "
            + ", ".join(asymptotic)
            + " use an asymptotic (bootstrap) test."
        )
    return "No gate needed a statistical test: every verdict is the figure's exact value against its bound."


def markdown_summary(report: GateReport, suite: str, run_id: str) -> str:
    """A Markdown table of every gate, for ``$GITHUB_STEP_SUMMARY`` (and humans): the verdict first."""
    from ..views import md_escape, p_text

    c = report.counts()
    correction = {"holm": "Holm (family-wise error)", "bh": "Benjamini-Hochberg (false discovery rate)"}.get(
        report.correction, "none"
    )
    lines = [
        f"### auditkit release decision: {MARKS[report.verdict]}",
        "",
        f"Suite `{suite}`, run `{run_id}`"
        + (f", baseline `{report.baseline}`" if report.baseline else "")
        + f". {c['GO']} GO, {c['NO_GO']} NO_GO, {c['INCONCLUSIVE']} INCONCLUSIVE; alpha {report.alpha:g},"
        f" correction: {correction}.",
        "",
        guarantee_sentence(report),
        "",
        *(f"**Note:** {md_escape(note)}\n" for note in report.notes),
        "| Verdict | Gate | Model | Measured | Interval (level, n) | Adjusted p | Test | Detail |",
        "|---|---|---|--:|---|--:|---|---|",
    ]
    for r in report.results:
        lines.append(
            f"| {MARKS[r.verdict]} | {md_escape(r.gate)} | {md_escape(r.model)} | {r.measured:.4g} |"
            f" {interval_text(asdict(r)) or '–'} | {'–' if r.p_value is None else p_text(r.p_value)} |"
            f" {md_escape(r.test)} |"
            f" {md_escape(r.message)} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(report: GateReport, results: Results, out_dir: Path, junit: Path | None = None) -> Path:
    """Write ``gates.json`` and the JUnit XML (default ``<out_dir>/gates.junit.xml``) and append the step summary
    when ``$GITHUB_STEP_SUMMARY`` is set. Returns the gates.json path. Never touches results.json."""
    target = out_dir / GATES_FILE
    atomic_write_json(target, {"run_id": results.run_id, "suite": results.suite.name, **report.to_dict()})
    atomic_write_text(Path(junit) if junit else out_dir / JUNIT_FILE, junit_xml(report, results.suite.name))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown_summary(report, results.suite.name, results.run_id))
    return target
