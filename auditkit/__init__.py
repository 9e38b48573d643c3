"""auditkit: evaluate and audit transformer models with declarative suites.

The public API mirrors the CLI, so notebooks and CI run the same code::

    import auditkit
    outcome = auditkit.run_suite("suites/offline-demo.yaml")
    results = auditkit.load_results(outcome.run_dir)

Heavy modules (torch, transformers) load on first use, not on ``import auditkit``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .version import __version__

_EXPORTS = {
    "run_suite": "auditkit.runner",
    "load_suite": "auditkit.suite",
    "load_results": "auditkit.results",
    "load_predictions": "auditkit.results",
    "score_predictions": "auditkit.scoring",
    "report": "auditkit.report",
    "compare": "auditkit.report",
    "model_card": "auditkit.report.card",
    "gate": "auditkit.gates",
    "plan": "auditkit.plan",
    "load_run": "auditkit.results",
    "AuditkitError": "auditkit.errors",
    "SuiteError": "auditkit.errors",
    "DatasetError": "auditkit.errors",
    "ModelError": "auditkit.errors",
    "ResultsError": "auditkit.errors",
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
