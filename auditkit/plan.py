"""``auditkit plan SUITE``: how many examples each gate needs to be decided, before any model runs.

A gate is decidable when its interval can end up wholly on one side of the bound. With a per-example
standard deviation ``sd`` (of the scores, or of the paired differences for a baseline gate) and a true
distance ``d`` from the bound, a one-sided test at ``alpha`` needs about
``n = ((z_(1-alpha) + z_power) sd / d)^2`` examples to decide with probability ``power`` (normal
approximation; :func:`auditkit.metrics.decide.n_needed`). ``sd`` and ``d`` come from a pilot run (a
finished run of the same tasks), from a stated ``--sd``, or -- for baseline gates with only the baseline
run at hand -- from the baseline's own scores, assuming the candidate's errors are independent of the
baseline's (sqrt(2) x sd: conservative, paired models usually differ less).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import Dataset
from .expressions import parse_gate
from .gates.evaluate import aligned, baseline_job
from .metrics.decide import mde, n_needed
from .results import Run, load_run
from .suite import LoadedSuite, load_suite
from .tasks import task_class
from .until_decided import tested_pairs


@dataclass
class GatePlan:
    """The sample size one (gate, model) needs, and whether the suite's selection provides it."""

    gate: str
    model: str
    configured_n: int
    sd: float | None
    sd_source: str
    distance: float | None
    distance_source: str
    n_needed: int | None
    mde_at_n: float | None
    decidable: bool | None
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _per_example(run: Run, model: str, task: str, metric: str) -> tuple[np.ndarray, float, Any] | None:
    """A pilot job's per-example values of ``metric`` (metric scale), its value and the job; None if absent."""
    jobs = [j for j in run.results.jobs if j.task == task]
    job = next((j for j in jobs if j.model == model), jobs[0] if len(jobs) == 1 else None)
    if job is None or metric not in job.metrics:
        return None
    frame = run.predictions(job.model, job.task)
    defn = task_class(job.kind).metric_defs(frame, job).get(metric)
    if defn is None or defn.values is None:
        return None
    values = np.asarray(defn.values, dtype=np.float64)
    return values * defn.scale, float(job.metrics[metric].value), job


def plan_suite(
    loaded: LoadedSuite,
    *,
    pilot: str | Path | None = None,
    sd: float | None = None,
    baseline: str | Path | None = None,
    datasets: dict[str, Dataset] | None = None,
) -> list[GatePlan]:
    """One :class:`GatePlan` per (gate, model) of the suite's metric gates; loads data (unless given), never
    a model."""
    suite = loaded.suite
    if datasets is None:
        from .runner import load_datasets

        datasets = load_datasets(loaded)
    pilot_run = load_run(pilot) if pilot is not None else None
    alpha, power = suite.decision.alpha, suite.decision.power
    level = alpha / tested_pairs(suite)  # the strictest Holm level: what the first of its tests must reach
    plans: list[GatePlan] = []
    for gate in suite.gates:
        expr = parse_gate(gate.check)
        if expr.task == "card" or expr.path[0] == "latency" or len(expr.path) != 1 or expr.metric == "agreement":
            continue
        models = [
            m.name
            for m, t in suite.jobs()
            if t.name == expr.task and (gate.models is None or m.name in gate.models) and m.name != gate.against
        ]
        base_dir = gate.baseline or baseline or suite.baseline
        for model in models:
            n_config = len(datasets[expr.task])
            spread: float | None = sd
            spread_source = "stated (--sd)" if sd is not None else "unknown"
            distance: float | None = None
            distance_source = "unknown"
            found = _per_example(pilot_run, model, expr.task, expr.metric) if pilot_run is not None else None
            if expr.uses_baseline:
                base_run = load_run(base_dir) if base_dir is not None and gate.against is None else pilot_run
                base = None
                if base_run is not None:
                    job = baseline_job(base_run, gate.against or gate.baseline_model or model, expr.task, expr)
                    base = _per_example(base_run, job.model, expr.task, expr.metric)
                if found is not None and base is not None:
                    frame = pilot_run.predictions(found[2].model, expr.task) if pilot_run is not None else None
                    base_frame = base_run.predictions(base[2].model, expr.task) if base_run is not None else None
                    if frame is not None and base_frame is not None:
                        common = aligned(base_frame, frame["id"], "the baseline run")
                        base_defn = task_class(base[2].kind).metric_defs(common, base[2])[expr.metric]
                        diffs = found[0] - np.asarray(base_defn.values) * base_defn.scale
                        diffs = diffs[~np.isnan(diffs)]
                        if spread is None:
                            spread, spread_source = float(np.std(diffs, ddof=1)), "pilot run, paired differences"
                        distance = abs(float(np.mean(diffs)) - expr.offset)
                        distance_source = "pilot's observed difference to the margin"
                elif base is not None:
                    if spread is None:
                        values = base[0][~np.isnan(base[0])]
                        spread = math.sqrt(2.0) * float(np.std(values, ddof=1))
                        spread_source = "baseline's scores x sqrt(2) (independent errors: conservative)"
                    distance, distance_source = abs(expr.offset), "the margin (no true change assumed)"
            elif found is not None:
                values = found[0][~np.isnan(found[0])]
                if spread is None:
                    spread, spread_source = float(np.std(values, ddof=1)), "pilot run"
                distance, distance_source = abs(found[1] - expr.threshold), "pilot's value to the bound"
            if found is not None and found[2].dataset_fingerprint == datasets[expr.task].fingerprint:
                # The pilot ran on exactly these examples: count n in the metric's own units (bias probes
                # score instances of four variants, a subset metric its subset).
                n_config = int(np.sum(~np.isnan(found[0])))
            needed = n_needed(spread, distance, level, power) if spread is not None and distance is not None else None
            at_n = mde(spread / math.sqrt(n_config), level, power) if spread is not None and n_config else None
            decidable = None if needed is None else needed <= n_config
            if spread is None:
                advice = "give a pilot run (--pilot RUN) or a per-example SD (--sd) to plan this gate"
            elif needed is None:
                advice = (
                    f"a true value exactly on the bound is never decidable; at n={n_config} the test detects"
                    f" a distance of {at_n:.3g}"
                )
            elif decidable:
                advice = f"decidable: about {needed} of the {n_config} examples suffice"
            elif distance_source.startswith("the margin"):
                advice = (
                    f"if the candidate performs like the baseline, n={n_config} cannot show it: about {needed}"
                    f" examples are needed (or a margin of at least {at_n:.3g}); a large regression is still caught"
                )
            else:
                advice = (
                    f"not decidable at n={n_config}: about {needed} examples are needed (or widen the margin to"
                    f" at least {at_n:.3g})"
                )
            plans.append(
                GatePlan(
                    gate=gate.label,
                    model=model,
                    configured_n=n_config,
                    sd=spread,
                    sd_source=spread_source,
                    distance=distance,
                    distance_source=distance_source,
                    n_needed=needed,
                    mde_at_n=at_n,
                    decidable=decidable,
                    advice=advice,
                )
            )
    return plans


def plan(
    suite: str | Path, *, pilot: str | Path | None = None, sd: float | None = None, baseline: str | Path | None = None
) -> list[GatePlan]:
    """:func:`plan_suite` for the suite file at ``suite``."""
    return plan_suite(load_suite(suite), pilot=pilot, sd=sd, baseline=baseline)
