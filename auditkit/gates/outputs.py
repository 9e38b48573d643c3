"""Gate verdicts for CI systems and people: gates.json, JUnit XML and a GitHub step summary."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from ..results import Results, atomic_write_json, atomic_write_text
from .evaluate import GateReport

GATES_FILE = "gates.json"
JUNIT_FILE = "gates.junit.xml"


def junit_xml(report: GateReport, suite: str) -> str:
    """One <testcase> per (gate, model); failures carry the measured value, the bound and the CI."""
    failures = len(report.failures)
    root = ET.Element(
        "testsuites", name="auditkit gates", tests=str(len(report.results)), failures=str(failures), errors="0"
    )
    suite_el = ET.SubElement(
        root,
        "testsuite",
        name=f"auditkit.gates.{suite}",
        tests=str(len(report.results)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time="0",
    )
    for r in report.results:
        case = ET.SubElement(
            suite_el, "testcase", classname=f"auditkit.{suite}.{r.task}", name=f"{r.gate} [{r.model}]", time="0"
        )
        if not r.passed:
            failure = ET.SubElement(case, "failure", message=r.message, type=r.kind)
            failure.text = r.message
        out = ET.SubElement(case, "system-out")
        out.text = r.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def markdown_summary(report: GateReport, suite: str, run_id: str) -> str:
    """A Markdown table of every gate, for ``$GITHUB_STEP_SUMMARY`` (and humans)."""
    from ..report.render import md_escape

    status = "passed" if report.passed else f"FAILED ({len(report.failures)} of {len(report.results)})"
    lines = [
        f"### auditkit release gates: {status}",
        "",
        f"Suite `{suite}`, run `{run_id}`" + (f", baseline `{report.baseline}`" if report.baseline else ""),
        "",
        "| | Gate | Model | Measured | Bound | Detail |",
        "|---|---|---|--:|--:|---|",
    ]
    for r in report.results:
        mark = "✅" if r.passed else "❌"
        lines.append(
            f"| {mark} | {md_escape(r.gate)} | {md_escape(r.model)} | {r.measured:.4g} | {r.bound:.4g} |"
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
