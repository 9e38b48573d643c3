"""Reports: model-card-style HTML and Markdown built from a results directory alone (never a model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..results import load_results, resolve_run_dir
from .model import build_comparison, build_report
from .render import FORMATS, render

__all__ = ["report", "compare", "FORMATS"]


def report(results_dir: str | Path, *, formats: Sequence[str] = ("html", "md"), template_dir: str | Path | None = None,
           out_dir: str | Path | None = None) -> list[Path]:
    """Render a run's report (default: into ``<run>/report/``); return the written report files."""
    run_dir = resolve_run_dir(results_dir)
    view = build_report(load_results(run_dir))
    return render(view, Path(out_dir) if out_dir else run_dir / "report", formats, Path(template_dir) if template_dir else None)


def compare(results_a: str | Path, results_b: str | Path, *, out_dir: str | Path, formats: Sequence[str] = ("html", "md"),
            template_dir: str | Path | None = None) -> list[Path]:
    """Render a paired comparison of two runs (A = baseline, B = candidate) into ``out_dir``."""
    view = build_comparison(load_results(results_a), load_results(results_b))
    return render(view, Path(out_dir), formats, Path(template_dir) if template_dir else None)
