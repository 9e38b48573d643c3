"""What a metric means: its display name, unit, range and direction.

Comparisons, gates and reports read direction and unit from here instead of guessing from a name:
a lower latency or calibration error is better, a higher F1 is, and a bias score is best at zero.
Tasks declare the metrics they produce; :data:`METRICS` holds every declared one by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..registry import Registry

Direction = Literal["higher", "lower", "zero", "none"]
Unit = Literal["%", "points", "ms", "per second", "s", "count"]


@dataclass(frozen=True)
class MetricInfo:
    """``direction``: which way is better -- "higher", "lower", "zero" (signed scores best at 0), or "none"."""

    key: str
    name: str
    unit: Unit
    direction: Direction
    low: float | None = 0.0
    high: float | None = 100.0

    def better(self, a: float, b: float) -> int:
        """+1 when ``b`` is better than ``a``, -1 when worse, 0 when equal (by this metric's direction)."""
        if a == b or self.direction == "none":
            return 0
        if self.direction == "higher":
            return 1 if b > a else -1
        if self.direction == "lower":
            return 1 if b < a else -1
        return 1 if abs(b) < abs(a) else (-1 if abs(b) > abs(a) else 0)

    def format(self, value: float | None, digits: int = 2) -> str:
        if value is None:
            return "–"
        suffix = {"%": "%", "ms": " ms", "s": " s", "points": " pts"}.get(self.unit, "")
        return f"{value:.{digits}f}{suffix}"


METRICS: Registry[MetricInfo] = Registry("metric", "auditkit.metrics")


def declare(*infos: MetricInfo) -> dict[str, MetricInfo]:
    """Register metric infos (a task's module does this once) and return them by key.

    Two tasks may share a key (``accuracy``); the task's own info is what it reads.
    """
    for info in infos:
        if info.key not in METRICS:  # a shared key (accuracy) keeps its first declaration
            METRICS.add(info.key, info)
    return {info.key: info for info in infos}


def info_for(key: str) -> MetricInfo:
    """The registered info for ``key``, or a neutral one (higher is better, no unit) for an unknown metric."""
    if key in METRICS:
        return METRICS.get(key)
    return MetricInfo(key, key, "count", "higher", None, None)
