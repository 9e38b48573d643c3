"""What a metric means: its display name, unit, range and direction.

Comparisons, gates, reports and card audits read direction, unit and range from here instead of guessing
from a name: a lower latency or calibration error is better, a higher F1 is, a bias score is best at zero,
and a correlation lies in [-1, 1]. Tasks declare the metrics they produce; :data:`METRICS` holds every
declared one by key, which is how the card audit knows which names a claim may use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..core.registry import Registry

Direction = Literal["higher", "lower", "zero", "none"]

#: Units auditkit knows how to print; any other string is the data's own unit (printed after the value).
#: "" is unitless (a correlation, a ratio): the value stands alone.
KNOWN_UNITS = {"%": "%", "points": " pts", "ms": " ms", "s": " s", "per second": "", "count": "", "": ""}


@dataclass(frozen=True)
class MetricInfo:
    """``unit``: "%", "points", "ms", "s", "per second", "count", "" (unitless) or the data's own unit.
    ``low``/``high``: the range every value lies in (None: unbounded on that side); gate bounds outside it are
    refused. ``direction``: which way is better -- "higher", "lower", "zero" (signed, best at 0), or "none".
    ``aliases``: other names model cards use for it ("em" for exact match), read by the card audit."""

    key: str
    name: str
    unit: str
    direction: Direction
    low: float | None = 0.0
    high: float | None = 100.0
    aliases: tuple[str, ...] = ()

    def better(self, a: float, b: float) -> int:
        """+1 when ``b`` is better than ``a``, -1 when worse, 0 when equal (by this metric's direction)."""
        if a == b or self.direction == "none":
            return 0
        if self.direction == "higher":
            return 1 if b > a else -1
        if self.direction == "lower":
            return 1 if b < a else -1
        return 1 if abs(b) < abs(a) else (-1 if abs(b) > abs(a) else 0)

    @property
    def span(self) -> float | None:
        """The width of the range, when it is bounded on both sides."""
        if self.low is None or self.high is None or not (math.isfinite(self.low) and math.isfinite(self.high)):
            return None
        return self.high - self.low

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def range_text(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"[{low}, {high}]"

    @property
    def suffix(self) -> str:
        return KNOWN_UNITS.get(self.unit, f" {self.unit}")

    def digits(self, coarse: bool = False) -> int:
        """Decimals for this metric's figures and differences, by its scale: a metric on a wide range (percent,
        points, an unbounded one) reads at 2 (``coarse``, for interval widths and chart ticks: 1), one on a narrow
        range (a correlation on [-1, 1]) needs 3 -- one rule for reports, comparisons, charts and card audits."""
        if self.span is None or self.span > 10:
            return 1 if coarse else 2
        return 3

    def format(self, value: float | None, digits: int = 2) -> str:
        if value is None:
            return "–"
        return f"{value:.{digits}f}{self.suffix}"


METRICS: Registry[MetricInfo] = Registry("metric", "auditkit.metrics")


def declare(*infos: MetricInfo) -> dict[str, MetricInfo]:
    """Register metric infos (a task's module does this once) and return them by key.

    Two tasks may share a key (``accuracy``); the task's own info is what it reads.
    """
    for info in infos:
        if info.key not in METRICS:  # a shared key (accuracy) keeps its first declaration
            METRICS.add(info.key, info)
    return {info.key: info for info in infos}
