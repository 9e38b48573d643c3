"""Exports: a published run in formats other tools read, made from the run alone (no model runs).

An exporter is one module with a function registered in :data:`EXPORTERS` (or an ``auditkit.exporters`` entry
point): ``(run, out_dir, options) -> files written``. Exports never write into the run; what they write is
made before anything is written, so a failure leaves no half export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..core.errors import ReportError
from ..core.registry import Registry
from ..results import Run, load_run
from ..results.store import refuse_inside_run

Relationship = Literal["first_party", "third_party", "collaborative", "other"]


@dataclass(frozen=True)
class ExportOptions:
    """Who stands behind the export (formats like Every Eval Ever record it)."""

    organization: str = "unknown"
    relationship: Relationship = "other"
    #: Where an exporter to a tracking server logs (MLflow: a URI such as ``sqlite:///mlflow.db`` or a folder;
    #: None: the tool's own default, e.g. ``MLFLOW_TRACKING_URI``).
    tracking_uri: str | None = None


Exporter = Callable[[Run, Path | None, ExportOptions], list[Path]]

#: Exporters that write files (and so need ``out_dir``); the others log to a service.
FILE_EXPORTERS = {"eee"}

#: Export formats by name: ``auditkit export RUN --format NAME --out DIR``.
EXPORTERS: Registry[Exporter] = Registry("exporter", "auditkit.exporters")


def export_run(
    results_dir: str | Path, fmt: str, out_dir: str | Path | None = None, options: ExportOptions | None = None
) -> list[Path]:
    """Export the run at ``results_dir`` as ``fmt`` (into ``out_dir`` for file formats); returns the files written."""
    from . import eee, mlflow  # noqa: F401  (registers the built-in exporters)

    if fmt not in EXPORTERS:
        raise ReportError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(EXPORTERS.names())}")
    if out_dir is None and fmt in FILE_EXPORTERS:
        raise ReportError(f"the {fmt} export writes files", hint="give the folder to write them into with --out DIR")
    if out_dir is not None:
        refuse_inside_run(out_dir, "the export folder")
    run = load_run(results_dir)
    return EXPORTERS.get(fmt)(run, Path(out_dir) if out_dir is not None else None, options or ExportOptions())


__all__ = ["EXPORTERS", "ExportOptions", "Exporter", "Relationship", "export_run"]
