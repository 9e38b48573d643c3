"""Release gates: GO / NO_GO / INCONCLUSIVE decisions on thresholds, baselines, agreement and latency, from results.

Gate verdicts are written to their own files (``gates.json``, JUnit XML): a published run is never
modified, so re-gating a run writes beside it, into ``<run_id>.gate/`` by default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.errors import GateError
from ..results import load_run
from ..results.store import GATES_FILE, refuse_inside_run
from ..spec.schema import DecisionSpec, GateSpec
from .evaluate import GateReport, GateResult, evaluate_gates
from .outputs import JUNIT_FILE, junit_xml, markdown_summary, write_outputs

__all__ = [
    "GATES_FILE",
    "JUNIT_FILE",
    "GateReport",
    "GateResult",
    "evaluate_gates",
    "gate",
    "junit_xml",
    "markdown_summary",
    "require_verified_baselines",
    "write_outputs",
]


def require_verified_baselines(
    gates: list[GateSpec], default_baseline: str | Path | None, public_key: str | Path
) -> list[Path]:
    """Verify, with ``public_key``, the signed attestation of every baseline run the gates compare with (the
    default one and any gate's own); raise naming the first that does not verify. Returns the runs checked."""
    from ..results.attestation import require_verified
    from ..results.store import resolve_run_dir
    from ..spec.expressions import parse_gate

    used = [
        gate.baseline or default_baseline
        for gate in gates
        if parse_gate(gate.check).uses_baseline and gate.against is None
    ]
    checked = []
    for base in dict.fromkeys(str(b) for b in used if b is not None):
        require_verified(base, public_key)
        checked.append(resolve_run_dir(base))
    return checked


def gate(
    results_dir: str | Path,
    *,
    baseline: str | Path | None = None,
    gates: list[GateSpec] | None = None,
    junit: str | Path | None = None,
    out_dir: str | Path | None = None,
    card_audits: list[dict[str, Any]] | None = None,
    decision: DecisionSpec | None = None,
    baseline_key: str | Path | None = None,
) -> GateReport:
    """Evaluate a run's gates (its own suite's, or ``gates``) and write gates.json and JUnit XML.

    ``baseline`` overrides the suite's baseline run for regression gates. Outputs go to ``out_dir``
    (default ``<run_id>.gate/`` beside the run); ``card.*`` gates read ``card_audits``, else the
    audits the run recorded when it was published. ``decision`` overrides the suite's ``decision:``.
    """
    run = load_run(results_dir)
    for place, what in ((out_dir, "the gate output folder"), (junit, "the JUnit file")):
        if place is not None:
            refuse_inside_run(place, what)
    spec = run.results.suite.spec
    if gates is None:
        try:
            gates = [GateSpec.model_validate(g) for g in spec.get("gates", [])]
        except ValidationError as exc:  # a run made by an older auditkit, e.g. with the removed 'significance'
            problem = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise GateError(
                f"run {run.results.run_id}: its suite's gates no longer validate: {problem}",
                hint="pass the gates again with --suite SUITE (a suite file with current gates)",
            ) from None
    recorded = spec.get("baseline")
    default_baseline = run.suite_dir / recorded if recorded else None  # an absolute path stays as it is
    if card_audits is None:
        stored = run.dir / "card_audits.json"
        card_audits = json.loads(stored.read_text(encoding="utf-8")) if stored.is_file() else []
    if baseline_key is not None:
        require_verified_baselines(gates, baseline or default_baseline, baseline_key)
    report = evaluate_gates(run, gates, baseline or default_baseline, card_audits, decision)
    target = Path(out_dir) if out_dir else run.dir.parent / f"{run.dir.name}.gate"
    write_outputs(report, run.results, target, Path(junit) if junit else None)
    return report
