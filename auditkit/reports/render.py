"""Render a report view model to HTML and Markdown with jinja2, and write everything beside it.

Output folder::

    report.html            self-contained: inline CSS and SVG charts, no scripts, opens from disk
    report.md              for code hosts; charts as files in plots/
    plots/<chart>.svg
    model-index/<model>.yaml   the Hugging Face model-index front matter per model

Templates come from ``--template-dir`` first, then the folders of registered tasks that ship their own
partials, then the templates inside the package (``auditkit/templates``), so a user can override one
format, or one task's section, and keep the rest. A new report format is one template plus a
:data:`REPORT_FORMATS` entry (or an ``auditkit.report_formats`` entry point naming a :class:`ReportFormat`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ..core.errors import ReportError
from ..core.registry import Registry
from ..results import atomic_write_text
from ..results.store import refuse_inside_run
from ..tasks import TASKS
from ..views import md_escape

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class ReportFormat:
    """One output format of reports.

    ``template`` renders *both* views -- a run's report and a comparison of two runs -- and tells them apart by
    ``r.kind`` ("run" or "comparison"). Everything in a view that came from models, data, suites or cards is raw
    text, so the format must escape it: ``autoescape`` formats (HTML, XML) get jinja2's escaping of every
    value; any other format's template passes each value through its own filter (Markdown: ``md``, which
    escapes both Markdown and HTML). ``chart_files``: the charts are written as SVG files under ``plots/``
    for the template to link (Markdown), rather than inlined (HTML).
    """

    template: str
    autoescape: bool
    chart_files: bool


#: Report formats by name (the file is ``report.<name>``).
REPORT_FORMATS: Registry[ReportFormat] = Registry("report format", "auditkit.report_formats")
REPORT_FORMATS.add("html", ReportFormat("report.html.j2", autoescape=True, chart_files=False))
REPORT_FORMATS.add("md", ReportFormat("report.md.j2", autoescape=False, chart_files=True))
_MARKS = {"gold": "**", "pred": "*", "both": "***", "": ""}


def md_mark(value: Any, kind: str) -> str:
    """A highlighted excerpt piece: emphasis hugs the text, edge spaces stay outside it (CommonMark needs that)."""
    raw = str(value)
    core = md_escape(raw)
    if not core:
        return " " if raw[:1].isspace() else ""
    lead = " " if raw[:1].isspace() else ""
    trail = " " if raw[-1:].isspace() else ""
    mark = _MARKS[kind]
    return f"{lead}{mark}{core}{mark}{trail}"


def fence(value: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside the text."""
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{value.rstrip()}\n{ticks}"


def _environment(template_dir: Path | None, autoescape: bool) -> jinja2.Environment:
    search = [str(template_dir)] if template_dir else []
    search += [str(task.template_dir) for task in TASKS.values() if task.template_dir is not None]
    search.append(str(DEFAULT_TEMPLATES))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["md"] = md_escape
    env.filters["md_mark"] = md_mark
    env.filters["fence"] = fence
    return env


def _charts(node: Any) -> Iterator[dict[str, str]]:
    """Every chart ({id, title, svg}) anywhere in the view model."""
    if isinstance(node, dict):
        if {"id", "svg", "title"} <= set(node):
            yield node
        else:
            for value in node.values():
                yield from _charts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _charts(item)


def render(
    view: dict[str, Any], out_dir: Path, formats: Sequence[str] = ("html", "md"), template_dir: Path | None = None
) -> list[Path]:
    """Write the report in each format (plus charts and model-index files) into ``out_dir``; return the report files."""
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown:
        raise ReportError(f"unknown report format(s) {unknown}", hint=f"use {', '.join(REPORT_FORMATS.names())}")
    if template_dir is not None and not Path(template_dir).is_dir():
        raise ReportError(
            f"template folder not found: {template_dir}",
            hint="pass a folder holding report.html.j2 and/or report.md.j2",
        )
    out_dir = Path(out_dir)
    refuse_inside_run(out_dir, "the report folder")
    written = []
    for fmt in formats:
        spec = REPORT_FORMATS.get(fmt)
        env = _environment(template_dir, autoescape=spec.autoescape)
        try:
            text = env.get_template(spec.template).render(r=view)
        except jinja2.TemplateNotFound:
            raise ReportError(
                f"template {spec.template} not found in {template_dir or DEFAULT_TEMPLATES}",
                hint="pass --template-dir with the template, or reinstall auditkit",
            ) from None
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
            # A custom template (--template-dir) can fail in many ways: one error naming it, never a traceback.
            lineno = getattr(exc, "lineno", None)
            where = f"line {lineno}" if lineno else None
            raise ReportError(
                f"template {spec.template} failed: {exc}",
                location=where,
                source=str(template_dir or DEFAULT_TEMPLATES),
            ) from None
        target = out_dir / f"report.{fmt}"
        atomic_write_text(target, text)
        written.append(target)
    if any(REPORT_FORMATS.get(fmt).chart_files for fmt in formats):
        for chart in _charts(view):
            atomic_write_text(out_dir / "plots" / f"{chart['id']}.svg", chart["svg"] + "\n")
    for name, text in view.get("model_index", {}).items():
        atomic_write_text(out_dir / "model-index" / f"{name}.yaml", text)
    return written
