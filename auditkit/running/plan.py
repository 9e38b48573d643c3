"""``auditkit plan SUITE``: how many examples each gate needs to be decided, before any model runs.

A gate is decidable when its interval can end up wholly on one side of the bound. The plan sizes each gate
for the test that will decide it, at the strictest level Holm can give it (``alpha / 2m`` per one-sided
test for m tested gates):

* **fixed n** -- with a per-observation standard deviation ``sd`` and a true distance ``d`` from the bound,
  ``n = ((c_a + z_power) sd / d)^2``, where ``c_a`` is the test's own constant: ``z_(1-a)`` for the exact
  binomial test of 0/1 outcomes (a normal approximation of it), ``sqrt(2 log(1/a))`` for the betting test of
  other bounded scores (the width its capital needs, Waudby-Smith & Ramdas 2023). With clusters the
  observations are cluster means: n counts clusters, turned into examples by the mean cluster size.
* **--until-decided** -- an anytime test pays for watching; how much depends on the data, so the plan
  simulates it: 200 runs resampling the pilot's observations (whole clusters) in a random order, looking
  every ``look_every`` examples, and reports the expected examples to a decision and its 80% and 95%
  quantiles (a run that never decides counts as using every example).

``sd`` and ``d`` come from a pilot run (a finished run of the same tasks), from a stated ``--sd``, or -- for
baseline gates with only the baseline run at hand -- from the baseline's own scores, assuming the
candidate's errors are independent of the baseline's (sqrt(2) x sd: conservative).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import SuiteError
from ..data import Dataset
from ..gates.evaluate import baseline_job
from ..results import Job, Run, load_run
from ..spec.expressions import parse_gate
from ..stats import cluster_means, z
from ..stats.betting import BettingTest
from ..stats.decision import SCREENING_SHARE, SCREENING_TRUNCATION
from ..tasks import task_class
from ..tasks.pairing import align, stopped_early
from ..tasks.sampling import clusters_for, job_column
from .suite import LoadedSuite, Suite, load_suite
from .until_decided import tested_pairs

#: Simulated --until-decided runs per gate.
SIMULATIONS = 200


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
    test: str = "exact binomial"
    cluster_unit: str | None = None
    n_clusters: int | None = None
    sequential_expected: float | None = None
    sequential_q80: int | None = None
    sequential_q95: int | None = None
    sequential_undecided: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Observed:
    """A pilot's per-example values of a metric (its scale), their clusters, its value and the job."""

    values: np.ndarray
    clusters: np.ndarray | None
    value: float
    job: Job
    binary: bool
    bounds: tuple[float, float]


def _per_example(run: Run, model: str, task: str, metric: str) -> _Observed | None:
    jobs = [j for j in run.results.jobs if j.task == task]
    job = next((j for j in jobs if j.model == model), jobs[0] if len(jobs) == 1 else None)
    if job is None or metric not in job.metrics:
        return None
    frame = run.predictions(job.model, job.task)
    defn = task_class(job.kind).metric_defs(frame, job).get(metric)
    if defn is None or defn.values is None:
        return None
    values = np.asarray(defn.values, dtype=np.float64) * defn.scale
    clusters = clusters_for(defn, job_column(job, task_class(job.kind)))
    bounds = (defn.bounds[0] * defn.scale, defn.bounds[1] * defn.scale)
    return _Observed(values, clusters, float(job.metrics[metric].value), job, defn.binary is not None, bounds)


def _observations(values: np.ndarray, clusters: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The independent observations (cluster means, or the values) and how many examples each stands for."""
    keep = ~np.isnan(values)
    values = values[keep]
    if clusters is None:
        return values, np.ones(len(values))
    return cluster_means(values, clusters[keep])


def _crossing(test: BettingTest, m: float, level: float) -> int | None:
    """The first observation after which either one-sided test of ``test`` rejects at ``level``."""
    hits = [t for t in (test.first_crossing(m, level, above=True), test.first_crossing(m, level, above=False)) if t]
    return min(hits) if hits else None


def simulate_sequential(
    values: np.ndarray,
    clusters: np.ndarray | None,
    bound: float,
    low: float,
    high: float,
    *,
    level: float,
    tuning: float,
    n_available: int,
    look_every: int,
    seed: int = 0,
) -> tuple[float, int, int, float]:
    """Examples an ``--until-decided`` run would use on data like the pilot's per-example ``values`` (metric
    scale; with their ``clusters``), run the way :mod:`auditkit.running.until_decided` runs it: independent
    examples with looks every ``look_every``; or clusters in two phases -- one example of every cluster,
    looked at every ``look_every / 8``, then whole clusters. Returns the mean, the 80% and 95% quantiles of
    the examples used, and the share of runs still undecided when the data ran out."""
    rng = np.random.default_rng(seed)
    keep = ~np.isnan(values)
    unit = np.clip((values[keep] - low) / (high - low), 0.0, 1.0)
    m = (bound - low) / (high - low)
    used = np.empty(SIMULATIONS)
    undecided = 0
    if not 0.0 < m < 1.0:  # the range decides the gate: the first look does
        return float(min(look_every, n_available)), min(look_every, n_available), min(look_every, n_available), 0.0
    groups = None
    if clusters is not None:
        _, index = np.unique(clusters[keep], return_inverse=True)
        groups = [unit[index == g] for g in range(int(index.max()) + 1)]
    for r in range(SIMULATIONS):
        if groups is None:
            stream = unit[rng.integers(0, len(unit), size=n_available)]
            hit = _crossing(BettingTest(stream, tuning, anytime=True, horizon=n_available), m, level)
            stop = None if hit is None else min(math.ceil(hit / look_every) * look_every, n_available)
        else:
            per = float(np.mean([len(g) for g in groups]))
            drawn = [groups[i] for i in rng.integers(0, len(groups), size=max(2, round(n_available / per)))]
            screen = np.array([g[rng.integers(0, len(g))] for g in drawn])
            w = SCREENING_SHARE
            first = _crossing(
                BettingTest(screen, tuning * w, anytime=True, truncation=SCREENING_TRUNCATION), m, level * w
            )
            small = max(4, look_every // 8)
            stop = None if first is None else math.ceil(first / small) * small
            if stop is None:
                means = np.array([g.mean() for g in drawn])
                test = BettingTest(means, tuning * (1 - w), anytime=True, horizon=len(drawn))
                second = _crossing(test, m, level * (1 - w))
                if second is not None:
                    stop = len(drawn) + int(sum(len(g) - 1 for g in drawn[:second]))
        if stop is None:
            undecided += 1
            stop = n_available
        used[r] = min(stop, n_available)
    return float(used.mean()), int(np.quantile(used, 0.8)), int(np.quantile(used, 0.95)), undecided / SIMULATIONS


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
    if sd is not None and not (math.isfinite(sd) and sd > 0):
        raise SuiteError(f"--sd {sd}: a standard deviation must be a positive number", hint="e.g. --sd 40")
    suite = loaded.suite
    if datasets is None:
        from .preflight import load_datasets

        datasets = load_datasets(loaded)
    pilot_run = load_run(pilot) if pilot is not None else None
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
        for model in models:
            plans.append(_plan_one(suite, gate, expr, model, datasets, pilot_run, sd, baseline))
    return plans


def _plan_one(
    suite: Suite,
    gate: Any,
    expr: Any,
    model: str,
    datasets: dict[str, Dataset],
    pilot_run: Run | None,
    sd: float | None,
    baseline: str | Path | None,
) -> GatePlan:
    alpha, power = suite.decision.alpha, suite.decision.power
    level = alpha / (2 * tested_pairs(suite))  # the strictest Holm level: what the first of its tests must reach
    n_config = len(datasets[expr.task])
    spread: float | None = sd
    spread_source = "stated (--sd)" if sd is not None else "unknown"
    distance: float | None = None
    distance_source = "unknown"
    per_example: tuple[np.ndarray, np.ndarray | None] | None = None  # what the --until-decided simulation draws
    base: _Observed | None = None
    binary, bounds = False, (0.0, 100.0)
    found = _per_example(pilot_run, model, expr.task, expr.metric) if pilot_run is not None else None
    if found is not None and found.job.sequential is not None and found.job.sequential.stopped == "decided":
        raise SuiteError(
            f"the pilot run {found.job.model} · {expr.task} stopped early (--until-decided after"
            f" {found.job.sequential.n_used} examples, seen in its screening order): its spread is not the data's",
            hint="give a pilot run that used every example (auditkit run without --until-decided)",
        )
    if pilot_run is not None and found is None:
        raise SuiteError(
            f"the pilot run {pilot_run.results.run_id} has no per-example {expr.metric!r} for {model} on {expr.task}",
            hint="give a pilot run of this suite's tasks (a finished `auditkit run` of the same suite)",
        )
    if expr.uses_baseline:
        base_dir = gate.baseline or baseline or suite.baseline
        base_run = load_run(base_dir) if base_dir is not None and gate.against is None else pilot_run
        if base_run is not None:
            job = baseline_job(base_run, gate.against or gate.baseline_model or model, expr.task, expr)
            base = _per_example(base_run, job.model, expr.task, expr.metric)
        if found is not None and base is not None and pilot_run is not None and base_run is not None:
            frame = pilot_run.predictions(found.job.model, expr.task)
            stored = base_run.predictions(base.job.model, expr.task)
            both = frame["id"].astype(str).isin(set(stored["id"].astype(str))).to_numpy()  # an early stop saw fewer
            common = align(stored, frame["id"][both], "the baseline run")
            base_defn = task_class(base.job.kind).metric_defs(common, base.job)[expr.metric]
            diffs = found.values[both] - np.asarray(base_defn.values) * base_defn.scale
            pilot_clusters = found.clusters[both] if found.clusters is not None else None
            obs, _ = _observations(diffs, pilot_clusters)
            per_example = (diffs, pilot_clusters)
            binary, bounds = False, (found.bounds[0] - found.bounds[1], found.bounds[1] - found.bounds[0])
            if spread is None:
                spread, spread_source = float(np.std(obs, ddof=1)), "pilot run, paired differences"
            distance = abs(float(np.mean(diffs[~np.isnan(diffs)])) - expr.offset)
            distance_source = "pilot's observed difference to the margin"
        elif base is not None:
            if spread is None:
                values, _ = _observations(base.values, base.clusters)
                spread = math.sqrt(2.0) * float(np.std(values, ddof=1))
                spread_source = "baseline's scores x sqrt(2) (independent errors: conservative)"
            distance, distance_source = abs(expr.offset), "the margin (no true change assumed)"
            binary = False
    elif found is not None:
        obs, _ = _observations(found.values, found.clusters)
        per_example = (found.values, found.clusters)
        binary, bounds = found.binary and found.clusters is None, found.bounds
        if spread is None:
            spread, spread_source = float(np.std(obs, ddof=1)), "pilot run"
        distance, distance_source = abs(found.value - expr.threshold), "pilot's value to the bound"
    source = found if found is not None else (base if expr.uses_baseline else None)
    clustered = source is not None and source.clusters is not None
    unit = source.job.sampling.unit if clustered and source is not None and source.job.sampling is not None else None
    if clustered and source is not None:
        _, sizes_of = _observations(source.values, source.clusters)
        per_obs = float(np.mean(sizes_of))
    else:
        per_obs = 1.0
    if found is not None and found.job.dataset_fingerprint == datasets[expr.task].fingerprint:
        # The pilot ran on exactly these examples: count n in the metric's own units (bias probes score
        # instances of four variants, a subset metric its subset).
        n_config = int(np.sum(~np.isnan(found.values)))
    if base is not None and stopped_early(base.job) and base.job.sequential is not None:
        n_config = min(n_config, base.job.sequential.n_used)  # the gate pairs only the baseline's examples
    constant = z(level) if binary else math.sqrt(2.0 * math.log(1.0 / level))
    test = "exact binomial" if binary else "betting (hedged capital)"
    n_obs_config = max(1, round(n_config / per_obs))
    needed = None
    if spread is not None and distance is not None and distance > 0 and math.isfinite(spread):
        needed = max(1, math.ceil(((constant + z(1.0 - power)) * spread / distance) ** 2 * per_obs))
    at_n = (constant + z(1.0 - power)) * spread / math.sqrt(n_obs_config) if spread is not None else None
    decidable = None if needed is None else needed <= n_config
    plan = GatePlan(
        gate=gate.label, model=model, configured_n=n_config, sd=spread, sd_source=spread_source, distance=distance,
        distance_source=distance_source, n_needed=needed, mde_at_n=at_n, decidable=decidable, advice="",
        test=test, cluster_unit=unit, n_clusters=n_obs_config if clustered else None,
    )  # fmt: skip
    if per_example is not None and len(per_example[0]) > 1:
        bound = expr.offset if expr.uses_baseline else expr.threshold
        mean, q80, q95, undecided = simulate_sequential(
            per_example[0], per_example[1], bound, bounds[0], bounds[1], level=level, tuning=alpha / 2,
            n_available=n_config, look_every=suite.decision.look_every, seed=suite.seed,
        )  # fmt: skip
        plan.sequential_expected, plan.sequential_q80, plan.sequential_q95 = mean, q80, q95
        plan.sequential_undecided = undecided
    plan.advice = _advice(plan)
    return plan


def _advice(p: GatePlan) -> str:
    seq = ""
    if p.sequential_expected is not None:
        seq = (
            f"; with --until-decided about {p.sequential_expected:.0f} examples on average (80%: {p.sequential_q80},"
            f" 95%: {p.sequential_q95})"
            + (f", undecided in {p.sequential_undecided:.0%} of simulated runs" if p.sequential_undecided else "")
        )
    if p.sd is None:
        return "give a pilot run (--pilot RUN) or a per-example SD (--sd) to plan this gate"
    if p.distance is None:
        return (
            f"at n={p.configured_n} the test detects a distance of {p.mde_at_n:.3g} from the bound; give a pilot run"
            " (--pilot RUN) to know how far the truth is"
        )
    if p.n_needed is None:
        return (
            f"a true value exactly on the bound is never decidable; at n={p.configured_n} the test detects"
            f" a distance of {p.mde_at_n:.3g}" + seq
        )
    if p.decidable:
        return f"decidable: about {p.n_needed} of the {p.configured_n} examples suffice" + seq
    if p.distance_source.startswith("the margin"):
        return (
            f"if the candidate performs like the baseline, n={p.configured_n} cannot show it: about {p.n_needed}"
            f" examples are needed (or a margin of at least {p.mde_at_n:.3g}); a large regression is still caught"
        )
    return (
        f"not decidable at n={p.configured_n}: about {p.n_needed} examples are needed (or widen the margin to"
        f" at least {p.mde_at_n:.3g})" + seq
    )


def plan(
    suite: str | Path, *, pilot: str | Path | None = None, sd: float | None = None, baseline: str | Path | None = None
) -> list[GatePlan]:
    """:func:`plan_suite` for the suite file at ``suite``."""
    return plan_suite(load_suite(suite), pilot=pilot, sd=sd, baseline=baseline)
