"""Metrics from the ``evaluate`` library as plug-ins: loaded once, computed over a job's per-example predictions.

Why a plug-in and not the default: auditkit's SQuAD and classification metrics equal the official
scripts digit for digit and come with intervals; an ``evaluate`` module is someone else's code whose
output is a dict of numbers. So plug-in figures are added beside the task's own, marked as such, and
carry no interval (the module is computed once, on all examples).
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from ..core.errors import SuiteError
from ..spec.schema import EvaluateMetricSpec


def load_metric(spec: EvaluateMetricSpec) -> Any:
    """The evaluate module ``spec`` names; a :class:`SuiteError` naming it and the fix when it cannot load."""
    try:
        import evaluate
    except ImportError:
        raise SuiteError(
            f"evaluate metric {spec.module!r}: the evaluate library is not installed", hint="pip install evaluate"
        ) from None
    try:
        if ":" in spec.module and not Path(spec.module).exists():
            module_name, _, class_name = spec.module.partition(":")
            return getattr(importlib.import_module(module_name), class_name)()
        return evaluate.load(spec.module)
    except SystemExit as exc:  # metric code that tries to end the run must not end it (or decide its exit code)
        raise SuiteError(f"evaluate metric {spec.module!r} tried to exit the process ({exc.code!r})") from None
    except Exception as exc:  # import errors, missing scripts, offline hub lookups: all one message
        raise SuiteError(
            f"cannot load evaluate metric {spec.module!r}: {type(exc).__name__}: {exc}",
            hint="give a local metric folder or script, an installed 'package.module:ClassName', or a name in"
            " evaluate's local cache (HF_HUB_OFFLINE=1 allows no download)",
        ) from None


def metric_name(spec: EvaluateMetricSpec, module: Any) -> str:
    """The name results use for ``spec``'s figures: its ``name``, else the module's own."""
    if spec.name:
        return spec.name
    own = str(getattr(module, "name", "") or Path(spec.module.split(":")[-1]).stem)
    return "".join(c if c.isalnum() else "_" for c in own).strip("_") or "evaluate"


def compute(spec: EvaluateMetricSpec, module: Any, inputs: dict[str, list[Any]]) -> dict[str, float]:
    """The module's numbers on ``inputs`` (``predictions``/``references``), keyed for results: ``<name>`` for a
    single number (or the output named like the metric), ``<name>_<key>`` for the others; ``keys`` keeps only
    those named."""
    try:
        output = module.compute(**inputs, **spec.args)
    except SystemExit as exc:
        raise SuiteError(f"evaluate metric {spec.module!r} tried to exit the process ({exc.code!r})") from None
    except Exception as exc:
        raise SuiteError(
            f"evaluate metric {spec.module!r} failed: {type(exc).__name__}: {exc}",
            hint="check the metric's expected inputs and 'args'; auditkit passes the task's predictions and"
            " references (see the docs, how-to/plugins.md)",
        ) from None
    if not isinstance(output, dict):
        raise SuiteError(f"evaluate metric {spec.module!r} returned {type(output).__name__}, not a dict")
    numbers = {
        k: float(v)
        for k, v in output.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
    }
    if spec.keys is not None:
        missing = [k for k in spec.keys if k not in numbers]
        if missing:
            raise SuiteError(
                f"evaluate metric {spec.module!r} has no numeric output {missing}", hint=f"it returned {sorted(output)}"
            )
        numbers = {k: numbers[k] for k in spec.keys}
    name = metric_name(spec, module)
    if len(numbers) == 1:
        return {name: next(iter(numbers.values()))}
    return {name if k == name else f"{name}_{k}": v for k, v in numbers.items()}
