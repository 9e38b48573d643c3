"""Gate expressions: a tiny grammar, parsed without ``eval``.

    gate     := path op bound [unit]
    path     := task "." metric            squad_v1.f1, squad_v2.HasAns_exact, sst2.accuracy
              | "card." figure             card.claims_failed (a model-card audit's findings)
              | task ".official." key      squad_v2.official.best_f1
              | task ".latency." key       squad_v1.latency.p95_ms
                                           (p50_ms, p99_ms, examples_per_second, request_p95_ms, ...)
    op       := ">=" | ">" | "<=" | "<" | "==" | "!="
    bound    := number | "baseline" [("+" | "-") number]
    unit     := "ms" | "%" | "points" | "pp"   (documentation only; "ms" only on latency paths)

``baseline`` is the same figure in a baseline run, so ``squad_v1.f1 >= baseline - 0.5`` lets F1
drop at most half a point.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: A model-card audit's gateable figures (``card.<key>`` in a gate, e.g. ``card.claims_failed <= 0``).
SUMMARY_KEYS = (
    "claims_failed",
    "claims_not_measured",
    "claims_held",
    "inconsistencies",
    "missing_sections",
    "empty_sections",
    "placeholders",
    "stale_snippets",
    "examples_failed",
)
OPERATORS = (">=", "<=", "==", "!=", ">", "<")
LATENCY_KEYS = {
    "p50_ms": "batch_latency_ms_p50",
    "p95_ms": "batch_latency_ms_p95",
    "p99_ms": "batch_latency_ms_p99",
    "mean_ms": "batch_latency_ms_mean",
    "examples_per_second": "examples_per_second",
    "tokens_per_second": "tokens_per_second",
    "wall_seconds": "wall_seconds",
    "request_p50_ms": "request_latency_ms_p50",
    "request_p95_ms": "request_latency_ms_p95",
    "request_p99_ms": "request_latency_ms_p99",
    "request_mean_ms": "request_latency_ms_mean",
    "single_p50_ms": "single_request_ms_p50",
    "single_p95_ms": "single_request_ms_p95",
    "single_p99_ms": "single_request_ms_p99",
    "single_mean_ms": "single_request_ms_mean",
}
_GATE = re.compile(
    r"^\s*(?P<path>[A-Za-z0-9][\w.-]*)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?:(?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<baseline>baseline)\s*(?:(?P<sign>[-+])\s*(?P<offset>\d+(?:\.\d+)?))?)"
    r"\s*(?P<unit>ms|%|points|pp)?\s*$"
)


def holds(op: str, measured: float, bound: float) -> bool:
    """Whether ``measured op bound`` is true, for one of :data:`OPERATORS`."""
    return {
        ">=": measured >= bound,
        ">": measured > bound,
        "<=": measured <= bound,
        "<": measured < bound,
        "==": measured == bound,
        "!=": measured != bound,
    }[op]


class GateSyntaxError(ValueError):
    """A gate expression that does not fit the grammar; the message says what is expected."""


@dataclass(frozen=True)
class GateExpr:
    """A parsed gate: ``task``, a metric ``path`` within the task's results, a comparison and its bound."""

    text: str
    task: str
    path: tuple[str, ...]
    op: str
    number: float | None
    baseline_offset: float | None  # set when the bound is "baseline ± offset"

    @property
    def uses_baseline(self) -> bool:
        return self.baseline_offset is not None

    @property
    def metric(self) -> str:
        return ".".join(self.path)

    @property
    def threshold(self) -> float:
        """The numeric bound of a threshold gate (a baseline gate has none)."""
        if self.number is None:
            raise ValueError(f"gate {self.text!r} compares with a baseline, not a number")
        return self.number

    @property
    def offset(self) -> float:
        """The allowed change of a baseline gate (``baseline - 0.5`` -> -0.5; 0 for a threshold gate)."""
        return self.baseline_offset or 0.0


def parse_gate(text: str) -> GateExpr:
    """Parse one gate expression or raise :class:`GateSyntaxError` explaining the expected form."""
    match = _GATE.match(text)
    if not match:
        raise GateSyntaxError(
            f"cannot parse gate {text!r}: expected '<task>.<metric> <op> <number>'"
            " or '<task>.<metric> <op> baseline [+|- <number>]', "
            f"with <op> one of {' '.join(OPERATORS)} (e.g. 'squad_v1.f1 >= 86.0', 'squad_v1.f1 >= baseline - 0.5')"
        )
    parts = tuple(match["path"].split("."))
    if len(parts) < 2 or not all(parts):
        raise GateSyntaxError(f"gate {text!r}: the left side must be '<task>.<metric>' (e.g. squad_v1.f1)")
    task, path = parts[0], parts[1:]
    if task == "card" and (len(path) != 1 or path[0] not in SUMMARY_KEYS):
        raise GateSyntaxError(
            f"gate {text!r}: card audit figures are {', '.join(SUMMARY_KEYS)} (e.g. card.claims_failed <= 0)"
        )
    if path[0] == "latency":
        if len(path) != 2 or path[1] not in LATENCY_KEYS:
            raise GateSyntaxError(
                f"gate {text!r}: latency figures are {', '.join(sorted(LATENCY_KEYS))} (e.g. {task}.latency.p95_ms)"
            )
    elif match["unit"] == "ms":
        raise GateSyntaxError(f"gate {text!r}: 'ms' applies only to latency figures ({task}.latency.p95_ms ...)")
    if path[0] == "official" and len(path) != 2:
        raise GateSyntaxError(
            f"gate {text!r}: write official figures as {task}.official.<key> (e.g. {task}.official.best_f1)"
        )
    if match["baseline"]:
        offset = float(match["offset"] or 0.0) * (-1.0 if match["sign"] == "-" else 1.0)
        return GateExpr(text.strip(), task, path, match["op"], None, offset)
    number = float(match["number"])
    if not math.isfinite(number):
        raise GateSyntaxError(f"gate {text!r}: the bound {match['number']} is not a finite number")
    return GateExpr(text.strip(), task, path, match["op"], number, None)
