"""Reports: model-card-style HTML and Markdown built from a results directory alone (never a model)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..results import Run, load_run
from ..results.store import report_dir
from .comparison_view import build_comparison
from .render import REPORT_FORMATS, render
from .view import build_report

__all__ = ["REPORT_FORMATS", "compare", "render_run", "report"]

AUDITS_FILE = "card_audits.json"


def _optional_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def render_run(
    run: Run,
    out_dir: Path,
    *,
    formats: Sequence[str] = ("html", "md"),
    template_dir: str | Path | None = None,
    card_audits: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """Render ``run``'s report into ``out_dir``, with the gates and card audits stored in the run
    (``card_audits`` replaces the stored audits, e.g. with one made later by ``auditkit audit-card``)."""
    audits = card_audits if card_audits is not None else _optional_json(run.dir / AUDITS_FILE)
    view = build_report(run, gates=run.recorded_gates(), card_audits=audits)
    return render(view, out_dir, formats, Path(template_dir) if template_dir else None)


def report(
    results_dir: str | Path,
    *,
    formats: Sequence[str] = ("html", "md"),
    template_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    card_audits: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """Re-render a finished run's report; return the written report files.

    A published run is never modified, so the default destination is ``<run_id>.report/`` beside the
    run directory, where ``auditkit run`` renders it too.
    """
    run = load_run(results_dir)
    target = Path(out_dir) if out_dir else report_dir(run.dir)
    return render_run(run, target, formats=formats, template_dir=template_dir, card_audits=card_audits)


def compare(
    results_a: str | Path,
    results_b: str | Path,
    *,
    out_dir: str | Path,
    formats: Sequence[str] = ("html", "md"),
    template_dir: str | Path | None = None,
) -> list[Path]:
    """Render a paired comparison of two runs (A = baseline, B = candidate) into ``out_dir``."""
    view = build_comparison(load_run(results_a), load_run(results_b))
    return render(view, Path(out_dir), formats, Path(template_dir) if template_dir else None)
