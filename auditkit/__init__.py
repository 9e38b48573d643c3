"""auditkit: evaluate and audit transformer models with declarative suites.

The public API mirrors the CLI, so notebooks and CI run the same code::

    import auditkit
    outcome = auditkit.run_suite("suites/offline-demo.yaml")
    results = auditkit.load_results(outcome.run_dir)

Heavy modules (torch, transformers) load on first use, not on ``import auditkit``.

Extension points -- each a registry that a module of auditkit or an installed package's entry point adds to,
with no edit anywhere else:

* ``TASKS`` (``auditkit.tasks``): task kinds, subclasses of ``Task`` that own their data (``parse_rows``),
  metrics, prediction, scoring and every view of their results;
* ``DATASET_FORMATS`` (``auditkit.dataset_formats``): readers yielding ``Rows`` for any task;
* ``METRICS`` (``auditkit.metrics``): ``MetricInfo`` -- a metric's name, unit, range, direction, aliases;
* ``REPORT_FORMATS`` (``auditkit.report_formats``): ``ReportFormat`` -- a template and how it escapes;
* ``RUNNERS`` (``auditkit.runners``): where a job's chunks are computed; ``CONTRACTS``
  (``auditkit.contracts``): how a deployed endpoint speaks JSON.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .version import __version__

_EXPORTS = {
    "run_suite": "auditkit.running.runner",
    "load_suite": "auditkit.running.suite",
    "load_results": "auditkit.results",
    "load_predictions": "auditkit.results",
    "score_predictions": "auditkit.running.score_file",
    "report": "auditkit.reports",
    "compare": "auditkit.reports",
    "model_card": "auditkit.reports.model_card",
    "gate": "auditkit.gates",
    "plan": "auditkit.running.plan",
    "load_run": "auditkit.results",
    "AuditkitError": "auditkit.core.errors",
    "SuiteError": "auditkit.core.errors",
    "DatasetError": "auditkit.core.errors",
    "ModelError": "auditkit.core.errors",
    "ResultsError": "auditkit.core.errors",
    "load_dataset": "auditkit.data",
    # Extension points (see the module docstring).
    "TASKS": "auditkit.tasks",
    "Task": "auditkit.tasks",
    "DATASET_FORMATS": "auditkit.data",
    "Rows": "auditkit.data",
    "Parsed": "auditkit.data",
    "METRICS": "auditkit.metrics.info",
    "MetricInfo": "auditkit.metrics.info",
    "REPORT_FORMATS": "auditkit.reports.render",
    "ReportFormat": "auditkit.reports.render",
    "RUNNERS": "auditkit.running.executors",
    "CONTRACTS": "auditkit.endpoints.contracts",
}

#: Sub-packages of the public API, imported on first use (``auditkit.stats.decide_threshold``).
_MODULES = {"stats": "auditkit.stats"}

__all__ = ["__version__", *_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return import_module(_MODULES[name])
    raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
