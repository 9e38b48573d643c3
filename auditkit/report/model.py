"""The report's one data model, built from a results directory alone.

HTML and Markdown templates render the same dictionary, so the two formats never disagree. Nothing
here runs a model: figures come from results.json, examples and slices from the stored per-example
tables. Each job's analyses, its own section, its metric names and directions, and its model-index
entry come from its task kind through the task registry: this module never switches on a kind.
Text from datasets, models and suites is kept raw here; the templates escape it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .. import charts
from ..metrics.compare import wins
from ..metrics.info import MetricInfo
from ..metrics.latency import bootstrap_latency_difference, percentile_ci
from ..pairing import paired_deltas
from ..results import Job, Run
from ..stats import worst
from ..tasks import task_class
from ..tasks.sampling import MIN_CLUSTERS
from ..views import Chart, chart, fmt

WORST_EXAMPLES = 5
DISAGREEMENTS = 5
FAILED_LISTED = 20
AUDIT_ROWS = 50
MIN_PAIRED = 10  # below this, bootstrap and McNemar p-values say nothing useful

#: What no evaluation here supports, whatever the task; each task kind adds its own (``Task.out_of_scope``).
OUT_OF_SCOPE = (
    "Decisions about people (hiring, credit, policing) without reading the caveats; languages and domains far"
    " from the evaluation data."
)


def out_of_scope(kinds: list[str]) -> str:
    """The out-of-scope uses of a run's task kinds, then the general ones."""
    own = [text for text in dict.fromkeys(task_class(k).out_of_scope for k in kinds) if text]
    return " ".join([*own, OUT_OF_SCOPE])


def _short(digest: str | None) -> str:
    return (digest or "")[:12]


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


#: Below this many examples a bootstrap interval is not shown: resampling a handful of values says nothing.
MIN_INTERVAL_N = 10


def p_text(p: float) -> str:
    """A p-value as people read it: ``< 0.0001`` rather than 0.0000, four decimals otherwise."""
    if not math.isfinite(p):
        return "–"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def _significant(value: float) -> int:
    """Decimals that show a figure without an interval to three significant digits (0 to 4 decimals)."""
    if not math.isfinite(value) or value == 0:
        return 1
    return max(0, min(4, 2 - math.floor(math.log10(abs(value)))))


def _digits(width: float) -> int:
    """Decimals that suit an interval of ``width``: two significant figures of the width, 0 to 4 decimals."""
    if not math.isfinite(width) or width <= 0:
        return 2
    return max(0, min(4, 1 - math.floor(math.log10(width))))


def _metric_rows(job: Job) -> list[dict[str, Any]]:
    """Each metric with its unit, its interval (or why there is none), the interval's kind and n."""
    task = task_class(job.kind)
    rows = []
    for key, est in job.metrics.items():
        info = task.metric_info(key)
        shown = est.has_interval and (est.n is None or est.n >= MIN_INTERVAL_N)
        digits = _digits(est.high - est.low) if shown else _significant(est.value)
        if est.interval == "none":
            ci = "none (a plug-in metric, computed once)"
        elif est.interval == "too few clusters" and job.sampling is not None:
            ci = f"none: {job.sampling.n_clusters} {job.sampling.unit}(s) are too few for an interval"
        elif not est.has_interval:
            ci = "none"
        elif est.n is not None and est.n < MIN_INTERVAL_N:
            ci = f"too few examples for an interval (n = {est.n})"
        else:
            kind = " anytime-valid" if est.interval == "anytime-valid confidence sequence" else ""
            ci = f"[{info.format(est.low, digits)}, {info.format(est.high, digits)}]{kind}"
        rows.append(
            {
                "key": key,
                "name": info.name,
                "unit": info.unit,
                "value": est.value,
                "low": est.low,
                "high": est.high,
                "n": est.n,
                "value_text": info.format(est.value, digits),
                "ci": ci,
                "text": f"{info.format(est.value, digits)} {ci}"
                if ci.startswith("[")
                else info.format(est.value, digits),
                "has_interval": est.has_interval,
            }
        )
    return rows


def _latency_chart(job: Job, values_ms: list[float], what: str, xlabel: str, x_max: float | None = None) -> Chart:
    """A histogram of a job's latencies with its p50/p95/p99 marked."""
    marks = [(f"p{q}", float(np.percentile(values_ms, q))) for q in (50, 95, 99)] if values_ms else []
    title = f"{what} — {job.model} · {job.task}"
    x_range = (0.0, x_max) if x_max else None
    body = charts.histogram(values_ms, title=title, xlabel=xlabel, marks=marks, x_range=x_range)
    return chart("latency", title, body, job.model, job.task)


#: Fewer timed samples than this get no p95 interval: a bootstrap of a tail from a handful of points says nothing.
MIN_TAIL_SAMPLES = 20


def _p95_ci(seconds: list[float] | None) -> str | None:
    """The p95's 95% bootstrap interval over the raw samples, as text; None when there are too few."""
    if not seconds or len(seconds) < MIN_TAIL_SAMPLES:
        return None
    low, high = percentile_ci(1000 * np.asarray(seconds), 95, 0.95, seed=0)
    return f"[{low:.1f}, {high:.1f}]"


def _per_item_ms(job: Job) -> list[float]:
    """Per batch, its wall time divided by its items: the latency histogram's values."""
    pairs = zip(job.timing.batch_seconds or [], job.timing.batch_items or [], strict=True)
    return [1000 * seconds / n for seconds, n in pairs if n]


def _latency(job: Job, model_info: dict[str, Any], x_max: float | None = None) -> dict[str, Any]:
    t = job.timing
    per_example_ms = _per_item_ms(job)
    unit = task_class(job.kind).latency_unit
    what, xlabel = f"Model time per {unit}, per batch", f"ms per {unit} (batch time / batch size)"
    return {
        "model": job.model,
        "task": job.task,
        "examples": t.examples,
        "wall_seconds": fmt(t.wall_seconds),
        "examples_per_second": fmt(t.examples_per_second, 1),
        "p50": fmt(t.batch_latency_ms_p50, 1),
        "p95": fmt(t.batch_latency_ms_p95, 1),
        "p95_ci": _p95_ci(t.batch_seconds),
        "p99": fmt(t.batch_latency_ms_p99, 1),
        "batches": t.batches,
        "batch_size": t.batch_size_used,
        "device": model_info.get("device"),
        "dtype": model_info.get("dtype"),
        "tokens_per_second": fmt(t.tokens_per_second, 0),
        "chart": _latency_chart(job, per_example_ms, what, xlabel, x_max),
        "single": {
            "examples": t.single_request_examples,
            "p50": fmt(t.single_request_ms_p50, 1),
            "p95": fmt(t.single_request_ms_p95, 1),
            "p99": fmt(t.single_request_ms_p99, 1),
            "mean": fmt(t.single_request_ms_mean, 1),
        }
        if t.single_request_ms_p50 is not None
        else None,
    }


def _request_latency(job: Job) -> dict[str, Any]:
    """An endpoint job's client-side request latency, with the server's own compute time beside it when reported."""
    t = job.timing
    samples = [1000 * x for x in t.request_seconds or []]
    return {
        "model": job.model,
        "task": job.task,
        "examples": t.examples,
        "examples_per_second": fmt(t.examples_per_second, 1),
        "requests": t.requests,
        "retries": t.retries,
        "p50": fmt(t.request_latency_ms_p50, 1),
        "p95": fmt(t.request_latency_ms_p95, 1),
        "p95_ci": _p95_ci(t.request_seconds),
        "p99": fmt(t.request_latency_ms_p99, 1),
        "compute_p50": fmt(t.batch_latency_ms_p50, 1) if t.batch_latency_ms_p50 is not None else "not reported",
        "batch_size": t.batch_size_used,
        "failed": job.failures.count if job.failures else 0,
        "chart": _latency_chart(job, samples, "Request latency, client side", "ms per request, end to end"),
    }


def _failures(run: Run) -> list[dict[str, Any]]:
    """Endpoint jobs that lost examples: how many, against the allowed rate, and which (the first FAILED_LISTED)."""
    out = []
    for job in run.results.jobs:
        f = job.failures
        if not f or not f.count:
            continue
        out.append(
            {
                "model": job.model,
                "task": job.task,
                "count": f.count,
                "total": f.total,
                "rate": fmt(100 * f.rate, 1),
                "max_rate": fmt(100 * f.max_rate, 1),
                "over": f.rate > f.max_rate,
                "excluded": f.excluded_from_scoring if f.excluded_from_scoring is not None else f.count,
                "examples": [e.model_dump() for e in f.examples[:FAILED_LISTED]],
                "more": max(0, len(f.examples) - FAILED_LISTED),
            }
        )
    return out


def model_index(run: Run, model: str) -> str:
    """The Hugging Face model-card ``model-index`` front matter for one model's measured results."""
    results = run.results
    entries = []
    for job in results.jobs_of(model):
        entry = task_class(job.kind).model_index_entry(job, results.datasets[job.task])
        if entry is not None:
            entries.append(dict(entry))
    source = results.models[model].source
    hub_id = re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", source) is not None and not source.startswith(".")
    name = source if hub_id else model  # a hub id names the model on the Hub; a local path or recipe does not
    return yaml.safe_dump(
        {"model-index": [{"name": name, "results": entries}]},
        sort_keys=False,
        allow_unicode=True,
    )


def _latency_delta(job_a: Job, job_b: Job, seed: int) -> dict[str, Any] | None:
    """B - A of the batch-latency p95 with a two-sample bootstrap interval over each job's timed batches
    (they are different batches, so not paired); lower is better. None without enough samples."""
    a, b = job_a.timing.batch_seconds or [], job_b.timing.batch_seconds or []
    if len(a) < MIN_TAIL_SAMPLES or len(b) < MIN_TAIL_SAMPLES:
        return None
    ms_a, ms_b = 1000 * np.asarray(a), 1000 * np.asarray(b)
    boot = bootstrap_latency_difference(ms_b, ms_a, "p95_ms", 2000, seed)
    low, high = (float(x) for x in np.quantile(boot, [0.025, 0.975]))
    p95_a, p95_b = float(np.percentile(ms_a, 95)), float(np.percentile(ms_b, 95))
    significant = low > 0 or high < 0
    return {
        "metric": "latency.p95_ms",
        "name": "Batch latency p95 (ms, lower is better)",
        "a": p95_a,
        "b": p95_b,
        "delta": p95_b - p95_a,
        "low": low,
        "high": high,
        "text": f"{p95_b - p95_a:+.1f} [{low:+.1f}, {high:+.1f}]",
        "p_text": "–",
        "test": "two-sample bootstrap over batches",
        "b_only_correct": None,
        "a_only_correct": None,
        "n": f"{len(a)} / {len(b)} batches",
        "verdict": ("B worse" if low > 0 else "B better") if significant else "no significant difference",
    }


def _comparisons_for(
    run_a: Run,
    run_b: Run,
    pairs: list[tuple[Job, Job]],
    label_a: str,
    label_b: str,
) -> list[dict[str, Any]]:
    """Paired comparisons of job pairs on the same examples; better and worse follow each metric's direction."""
    out = []
    boot = run_b.results.suite.bootstrap
    seed = run_b.results.suite.seed
    for job_a, job_b in pairs:
        task = task_class(job_a.kind)
        frame_a, frame_b, paired = paired_deltas(
            run_a, job_a, run_b, job_b, resamples=boot["resamples"], confidence=boot["confidence"], seed=seed
        )
        deltas: list[dict[str, Any]] = []
        for delta in paired:
            info = task.metric_info(delta.metric)
            tested = len(frame_a) >= MIN_PAIRED
            if not tested:
                verdict = f"too few examples to test (n={len(frame_a)})"
            elif delta.significant:
                a_value, b_value = job_a.metrics[delta.metric].value, job_b.metrics[delta.metric].value
                direction = info.better(a_value, b_value)
                verdict = {1: "B better", -1: "B worse"}.get(direction, "B higher" if delta.delta > 0 else "B lower")
            else:
                verdict = "no significant difference"
            d = 2 if (info.span or 100.0) > 10 else 3
            deltas.append(
                {
                    **delta.to_dict(),
                    "name": info.name,
                    "text": f"{delta.delta:+.{d}f} [{delta.low:+.{d}f}, {delta.high:+.{d}f}]"
                    if tested
                    else f"{delta.delta:+.{d}f}",
                    "p_text": p_text(delta.p_value) if tested else "–",
                    "n": len(frame_a),
                    "verdict": verdict,
                }
            )
        latency = _latency_delta(job_a, job_b, seed)
        if latency is not None:
            deltas.append(latency)
        compared = {delta.metric for delta in paired}
        omitted = [
            f"{task.metric_info(k).name} (no per-example definition to pair)"
            for k in job_a.metrics
            if k in job_b.metrics and k not in compared
        ] + [f"{task.metric_info(k).name} (only in {'A' if k in job_a.metrics else 'B'})"
             for k in sorted(set(job_a.metrics) ^ set(job_b.metrics))]  # fmt: skip
        a_name, b_name = f"{label_a}{job_a.model}", f"{label_b}{job_b.model}"
        win_counts, disagreements, agreement = None, [], None
        if task.pairing is not None:
            cols = task.pairing
            sa, sb = frame_a[cols.score].to_numpy(float), frame_b[cols.score].to_numpy(float)
            win_counts = wins(sa, sb)
            answer = task.answer_column
            if answer is not None:
                same = int((frame_a[answer].fillna("").to_numpy() == frame_b[answer].fillna("").to_numpy()).sum())
                agreement = {
                    "same": same,
                    "n": len(frame_a),
                    "percent": fmt(100.0 * same / len(frame_a), 1) if len(frame_a) else "–",
                }
            order = np.argsort(-np.abs(sb - sa), kind="stable")[:DISAGREEMENTS]

            def gold(value: Any) -> str:
                if isinstance(value, list | tuple | np.ndarray):  # several gold answers (SQuAD)
                    return " | ".join(dict.fromkeys(str(v) for v in value))
                return str(value)

            disagreements = [
                {
                    "id": frame_a["id"].iloc[i],
                    "input": frame_a[cols.text].iloc[i],
                    "gold": gold(frame_a[cols.gold].iloc[i]),
                    "a": _answer(frame_a, answer, i),
                    "b": _answer(frame_b, answer, i),
                    "a_score": fmt(sa[i]),
                    "b_score": fmt(sb[i]),
                }
                for i in order
                if sa[i] != sb[i]
            ]
        title = f"{job_a.task}: {a_name} vs {b_name}"
        out.append(
            {
                "task": job_a.task,
                "a": a_name,
                "b": b_name,
                "deltas": deltas,
                "omitted": omitted,
                "wins": win_counts,
                "n": len(frame_a),
                "agreement": agreement,
                "disagreements": disagreements,
                "charts": _comparison_charts(task, job_a, job_b, [d.metric for d in paired], (a_name, b_name), title),
            }
        )
    return out


def _answer(frame: Any, column: str | None, i: int) -> str:
    """One example's answer for a disagreement row (the task's answer column), or its score when it has none."""
    if column is None:
        return "–"
    value = frame[column].iloc[i]
    return str(value) if value not in (None, "") and value == value else "(no answer)"


def _comparison_charts(
    task: Any, job_a: Job, job_b: Job, metrics: list[str], names: tuple[str, str], title: str
) -> list[Chart]:
    """A bar chart of both models' paired metrics with their intervals: one chart per unit and range, so every
    chart has one honest scale (percentages on 0-100, a correlation on its own axis)."""
    scales: dict[tuple[str, float | None, float | None], tuple[MetricInfo, list[Any]]] = {}
    for name in metrics:
        info = task.metric_info(name)
        ea, eb = job_a.metrics[name], job_b.metrics[name]
        bars = [(names[0], ea.value, ea.low, ea.high), (names[1], eb.value, eb.low, eb.high)]
        scales.setdefault((info.unit, info.low, info.high), (info, []))[1].append((info.name, bars))
    out = []
    for (unit, low, high), (info, groups) in scales.items():
        span = info.span
        body = charts.bar_chart(
            groups,
            title=title if len(scales) == 1 else f"{title} ({unit or 'unitless'})",
            legend=list(names),
            unit=info.suffix.strip() if unit == "%" else "",
            min_value=low if low is not None and low < 0 else 0.0,
            max_value=high if unit == "%" or (span is not None and span <= 10) else None,
            decimals=1 if span is None or span > 10 else 3,
        )
        out.append(chart("compare", title, body, job_a.task, names[0], names[1], unit or "unitless"))
    return out


def _caveats(run: Run) -> list[str]:
    results = run.results
    notes = []
    built = [name for name, m in results.models.items() if m.source.startswith("build:")]
    if built:
        notes.append(
            f"Models {', '.join(built)} were built offline with deterministic random weights: their scores are near"
            " chance and say nothing about the published checkpoints. They exercise the evaluation machinery."
        )
    for name, model in results.models.items():
        notes.extend(f"Model {name}: {warning}." for warning in model.warnings)
    for task, data in results.datasets.items():
        notes.extend(f"Task {task}: {warning}." for warning in data.warnings)
        if data.selection != "all":
            notes.append(
                f"Task {task} used {data.examples} of {data.total_available} examples ({data.selection}); "
                "intervals describe uncertainty from that sample only."
            )
    for f in _failures(run):
        notes.append(
            f"{f['model']} · {f['task']}: {f['count']} of {f['total']} examples failed at the endpoint; its metrics"
            f" cover the {f['total'] - f['excluded']} answered examples only."
        )
    for job in results.jobs:
        seq = job.sequential
        if seq is not None and seq.stopped != "not sequential":
            notes.append(
                f"{job.model} · {job.task}: run with --until-decided, it used {seq.n_used} of {seq.n_available}"
                f" examples in a random order (seed {seq.order_seed}) and {seq.reason}; its intervals for mean"
                " metrics are anytime-valid confidence sequences, valid despite the data-dependent stop."
            )
        elif seq is not None:
            notes.append(f"{job.model} · {job.task}: --until-decided {seq.reason}.")
        for note in [*job.notes, *task_class(job.kind).caveats(job)]:
            notes.append(f"{job.model} · {job.task}: {note.rstrip('.')}.")
        wide = _widest_interval(job)
        if wide is not None:
            notes.append(
                f"{job.model} · {job.task}: some 95% intervals are wide ({wide}); smaller differences are not resolved."
            )
    sources = sorted({d.source for d in results.datasets.values()})
    notes.append(
        "Performance is measured only on the evaluation data named above ("
        + ", ".join(Path(s).name for s in sources)
        + "); data from other domains and languages is not measured here."
    )
    return notes


#: An interval wider than this share of its metric's range (5 points of a percentage) earns a caveat.
WIDE_INTERVAL = 0.05


def _widest_interval(job: Job) -> str | None:
    """The widest interval of a job's metrics, measured against each metric's own range, when it is wide."""
    task = task_class(job.kind)
    worst: tuple[float, str] | None = None
    for key, est in job.metrics.items():
        info = task.metric_info(key)
        span = info.span
        if span is None or not (math.isfinite(est.high) and math.isfinite(est.low)):
            continue
        share = (est.high - est.low) / span
        if share > WIDE_INTERVAL and (worst is None or share > worst[0]):
            width = info.format(est.high - est.low, 1 if span > 10 else 3)
            worst = (share, f"{info.name}: {width} wide, {share:.0%} of its range {info.range_text()}")
    return None if worst is None else worst[1]


def _audit_view(audit: dict[str, Any]) -> dict[str, Any]:
    """A card audit for the report: every count, but at most AUDIT_ROWS rows per list (failures first).

    A hostile card can make tens of thousands of claims; the audit JSON keeps them all.
    """
    claims = sorted(audit["claims"], key=lambda c: {"does not hold": 0, "not measured": 1}.get(c["verdict"], 2))
    lists = {"claims": claims, "inconsistencies": audit["inconsistencies"], "stale_code": audit["stale_code"]}
    hidden = sum(max(0, len(rows) - AUDIT_ROWS) for rows in lists.values())
    return {**audit, **{key: rows[:AUDIT_ROWS] for key, rows in lists.items()}, "hidden": hidden}


#: Fewer examples than this in a headline figure earn a "small n" caveat at the top of the report.
SMALL_N = 100


def _summary(run: Run, gates: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per model, the one-line answer: each task's headline figure with its interval and n, the model's gate
    verdicts, and the caveats that change how to read them. The report opens with this."""
    results = run.results
    verdicts: dict[str, list[str]] = {}
    for g in (gates or {}).get("results", []):
        verdicts.setdefault(str(g["model"]), []).append(str(g["verdict"]))
    out = []
    for name, record in results.models.items():
        lines, caveats = [], []
        if record.source.startswith("build:"):
            caveats.append("random weights: built offline, not trained; its scores say nothing about a real model")
        for job in results.jobs_of(name):
            if not job.metrics:
                continue
            headline = task_class(job.kind).headline
            key = next((k for k in headline if k in job.metrics), next(iter(job.metrics)))
            est = job.metrics[key]
            [row] = [r for r in _metric_rows(job) if r["key"] == key]
            sampling = job.sampling
            clusters = sampling is not None and sampling.n_clusters is not None
            n_text = None if est.n is None else f"n={est.n}"
            if clusters and est.n is not None and sampling is not None and sampling.n_clusters is not None:
                g, unit = sampling.n_clusters, sampling.unit
                n_text = f"n = {est.n} examples in {g} {unit}{'s' if g != 1 else ''}"
                deff = f", design effect {sampling.design_effect:.1f}" if sampling.design_effect else ""
                if g < MIN_CLUSTERS:
                    caveats.append(
                        f"{job.task}: the examples come from {g} {unit}{'s' if g != 1 else ''} only, too few to say"
                        f" anything about other {unit}s: no interval is shown (state `cluster: none` to speak about"
                        " these alone)"
                    )
                else:
                    caveats.append(
                        f"{job.task}: the examples come in {g} {unit}s, and intervals and gates treat the {unit}s as"
                        f" the independent draws{deff}: they speak about {unit}s like these, not only these examples"
                    )
            lines.append(
                {
                    "task": job.task, "metric": row["name"], "value": row["value_text"], "ci": row["ci"], "n": est.n,
                    "n_text": n_text,
                }
            )  # fmt: skip
            data = results.datasets[job.task]
            if data.selection != "all":
                how = "a sample" if "sample" in data.selection else "a subset"
                caveats.append(f"{job.task}: {data.examples} of {data.total_available} examples ({how})")
            if est.n is not None and est.n < SMALL_N:
                caveats.append(f"{job.task}: small n ({est.n}): wide intervals")
            if job.sequential is not None and job.sequential.stopped == "decided":
                caveats.append(
                    f"{job.task}: stopped early at {job.sequential.n_used} of {job.sequential.n_available} examples"
                    " (--until-decided); intervals are anytime-valid"
                )
        mine = verdicts.get(name, [])
        verdict = worst(mine) if mine else None
        out.append(
            {
                "model": name,
                "verdict": verdict,
                "gates": len(mine),
                "figures": lines,
                "caveats": list(dict.fromkeys(caveats)),
            }
        )
    return out


def _decision_view(gates: dict[str, Any] | None) -> dict[str, Any] | None:
    """The release decision for the top of the report: the run's verdict, then one line per gate."""
    if not gates or "verdict" not in gates:
        return None
    decision = gates.get("decision", {})
    correction = {"holm": "Holm's correction for many gates", "bh": "Benjamini-Hochberg's false discovery rate control"}
    rows = []
    for g in gates["results"]:
        interval = None
        level = g.get("confidence")
        if g.get("empty_interval"):
            interval = "empty confidence sequence (the data are not consistent with one fixed value)"
        elif g.get("low") is not None and g.get("high") is not None and level is not None:
            what = "difference" if g.get("quantity") == "difference" else "value"
            size = f"n = {g['n']}" + (
                f" in {g['n_clusters']} {g.get('cluster_unit') or 'cluster'}s" if g.get("n_clusters") else ""
            )
            interval = (
                f"{what} in [{g['low']:.4g}, {g['high']:.4g}] ({level:.0%}"
                f"{' anytime-valid' if g.get('anytime_valid') else ''}, {size})"
            )
        rows.append(
            {
                "verdict": g["verdict"],
                "gate": g["gate"],
                "model": g["model"],
                "measured": fmt(g["measured"], 2),
                "interval": interval,
                "p": p_text(g["p_value"]) if g.get("p_value") is not None else "–",
                "test": g.get("test", ""),
                "mde": f"{g['mde']:.3g}" if g.get("mde") is not None else "–",
                "message": g["message"],
            }
        )
    guarantee = decision.get("guarantee")
    return {
        "verdict": gates["verdict"],
        "counts": gates["counts"],
        "alpha": decision.get("alpha"),
        "correction": correction.get(decision.get("multiple_comparisons", ""), "no correction"),
        "guarantee": (guarantee[0].upper() + guarantee[1:]) if guarantee else None,
        "rule": decision.get("rule"),
        "rows": rows,
    }


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def build_report(
    run: Run, *, gates: dict[str, Any] | None = None, card_audits: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The view model for one run: model-card sections, per-job analyses, within-run comparisons.

    ``gates`` and ``card_audits`` are the run's gate verdicts and card audits, when it has them.
    """
    results = run.results
    legacy_gates = gates is not None and "verdict" not in gates
    if legacy_gates:  # gates.json from before verdicts (pass/fail only): not shown as a decision
        gates = None
    seed = results.suite.seed
    resamples = int(results.suite.bootstrap["resamples"])
    models = []
    for name, m in results.models.items():
        info, fp = m.info, m.fingerprint
        endpoint = info.get("kind") == "endpoint"
        models.append(
            {
                "name": name,
                "source": m.source,
                "revision": info.get("revision") or "–",
                "architecture": f"{info['architecture']}, {info['contract']} contract"
                if endpoint
                else info.get("architecture"),
                "parameters": _human(info.get("parameters")),
                "device": info.get("device"),
                "dtype": f"{info['dtype']} + {info['quantize']} linear layers"
                if info.get("quantize")
                else info.get("dtype") or "–",
                "fingerprint": _short(fp["model_sha256"]),
                "weights": _short(fp.get("weights_sha256")),
                "config": _short(fp.get("config_sha256")),
                "tokenizer": _short(fp.get("tokenizer_sha256")),
                "served": _short(info.get("served_model_sha256")) if info.get("served_model_sha256") else None,
                "built": info.get("built") is not None,
            }
        )
    kind_of = {
        job.task: job.kind for job in results.jobs
    }  # a dataset's task kind: its jobs' (older runs named data kinds)
    datasets = [
        {
            "task": task,
            "source": d.source,
            "examples": d.examples,
            "total": d.total_available,
            "selection": d.selection,
            "fingerprint": _short(d.fingerprint),
            "kind": d.kind,
            "detail": task_class(kind_of[task]).dataset_detail(d)
            if task in kind_of
            else ", ".join(d.label_names or []),
        }
        for task, d in results.datasets.items()
    ]
    jobs, latency, request_latency, metric_table = [], [], [], []
    sections: list[dict[str, Any]] = []
    shared_axis: dict[str, float] = {}  # one latency scale per task, so its models' charts compare by eye
    for job in results.jobs:
        values = _per_item_ms(job)
        if values:
            shared_axis[job.task] = max(shared_axis.get(job.task, 0.0), max(values))
    for job in results.jobs:
        task = task_class(job.kind)
        frame = run.predictions(job.model, job.task)
        view = task.job_view(job, frame, {"seed": seed, "resamples": resamples})
        rows = _metric_rows(job)
        metric_table.append({"model": job.model, "task": job.task, "metrics": rows})
        jobs.append(
            {
                "model": job.model,
                "task": job.task,
                "kind": job.kind,
                "metrics": rows,
                **view,
                "params": job.params,
            }
        )
        section = task.section_view(job, results.datasets[job.task], view)
        if section is not None and task.report_partial is not None:
            group = next((g for g in sections if g["title"] == task.section_title), None)
            if group is None:
                group = {"title": task.section_title, "anchor": _anchor(task.section_title), "sections": []}
                sections.append(group)
            group["sections"].append({"partial": task.report_partial, "data": {**section, "metrics": rows}})
        if job.timing.latency_scope == "request":
            request_latency.append(_request_latency(job))
        else:
            latency.append(_latency(job, results.models[job.model].info, shared_axis.get(job.task)))
    by_task: dict[str, list[Job]] = {}
    for job in results.jobs:
        by_task.setdefault(job.task, []).append(job)
    pairs = [(group[0], other) for group in by_task.values() for other in group[1:]]
    kinds = list(dict.fromkeys(j.kind for j in results.jobs))
    env = results.environment
    return {
        "kind": "run",
        "title": f"Evaluation report — {results.suite.name}",
        "run": {
            "id": results.run_id,
            "created": results.created,
            "wall_seconds": fmt(results.wall_seconds, 1),
            "status": results.status,
        },
        "suite": results.suite.model_dump(),
        "models": models,
        "intended_uses": [use for use in (task_class(k).intended_use for k in kinds) if use],
        "out_of_scope": out_of_scope(kinds),
        "metric_notes": list(dict.fromkeys(note for k in kinds for note in task_class(k).metric_notes)),
        "datasets": datasets,
        "metric_table": metric_table,
        "jobs": jobs,
        "latency": latency,
        "request_latency": request_latency,
        "failures": _failures(run),
        "comparisons": _comparisons_for(run, run, pairs, "", ""),
        "sections": sections,
        "gates": gates,
        "decision": _decision_view(gates),
        "summary": _summary(run, gates),
        "card_audits": [_audit_view(audit) for audit in card_audits or []],
        "caveats": _caveats(run)
        + (
            [
                "This run's gates.json predates release verdicts (GO / NO_GO / INCONCLUSIVE): run"
                " `auditkit gate RUN_DIR` to decide its gates, then `auditkit report` again."
            ]
            if legacy_gates
            else []
        ),
        "model_index": {name: model_index(run, name) for name in results.models},
        "reproducibility": {
            "auditkit": results.auditkit_version,
            "python": env.python,
            "platform": env.platform,
            "packages": env.packages,
            "gpu": env.gpu,
            "cpu_features": env.cpu_features,
            "suite_sha256": results.suite.sha256,
            "command": results.command,
            "seed": seed,
            "bootstrap": results.suite.bootstrap,
            "run_id": results.run_id,
        },
    }


def build_comparison(run_a: Run, run_b: Run) -> dict[str, Any]:
    """The view model comparing two runs: every task they share, on the same examples, model by model."""
    a, b = run_a.results, run_b.results
    pairs = []
    for job_a in a.jobs:
        for job_b in b.jobs:
            same_data = job_a.dataset_fingerprint == job_b.dataset_fingerprint
            same_model = job_a.model == job_b.model or len(a.models) == len(b.models) == 1
            if job_a.task == job_b.task and job_a.kind == job_b.kind and same_data and same_model:
                pairs.append((job_a, job_b))
    return {
        "kind": "comparison",
        "title": f"Comparison — {a.suite.name} {a.run_id} (A) vs {b.suite.name} {b.run_id} (B)",
        "runs": [
            {"label": "A", "id": a.run_id, "suite": a.suite.name, "dir": run_a.dir.name},
            {"label": "B", "id": b.run_id, "suite": b.suite.name, "dir": run_b.dir.name},
        ],
        "comparisons": _comparisons_for(run_a, run_b, pairs, "A:", "B:"),
        "unmatched": sorted({j.task for j in a.jobs} ^ {j.task for j in b.jobs}),
    }
