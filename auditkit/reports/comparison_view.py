"""Paired comparisons of jobs on the same examples -- within a run (its models) or across two runs (A and B):
each shared metric's change with its interval and test, per-example wins and disagreements, charts per unit."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics.compare import wins
from ..metrics.info import MetricInfo
from ..results import Job, Run
from ..tasks import task_class
from ..tasks.pairing import paired_deltas
from ..views import Chart, chart, charts, fmt, p_text
from .latency_view import latency_delta

DISAGREEMENTS = 5


MIN_PAIRED = 10  # below this, bootstrap and McNemar p-values say nothing useful


def comparisons(
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
        lined_up = paired_deltas(
            run_a, job_a, run_b, job_b, resamples=boot["resamples"], confidence=boot["confidence"], seed=seed
        )
        frame_a, frame_b, paired = lined_up.frame_a, lined_up.frame_b, lined_up.deltas
        deltas: list[dict[str, Any]] = []
        for delta in paired:
            info = task.metric_info(delta.metric)
            tested = len(frame_a) >= MIN_PAIRED
            if not tested:
                verdict = f"too few examples to test (n={len(frame_a)})"
            elif delta.significant:
                direction = info.better(delta.a, delta.b)
                verdict = {1: "B better", -1: "B worse"}.get(direction, "B higher" if delta.delta > 0 else "B lower")
            else:
                verdict = "no significant difference"
            d = info.digits()
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
        latency = latency_delta(job_a, job_b, seed)
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
                "note": lined_up.note,
                "wins": win_counts,
                "n": len(frame_a),
                "agreement": agreement,
                "disagreements": disagreements,
                "charts": comparison_charts(task, job_a, job_b, [d.metric for d in paired], (a_name, b_name), title),
            }
        )
    return out


def _answer(frame: Any, column: str | None, i: int) -> str:
    """One example's answer for a disagreement row (the task's answer column), or its score when it has none."""
    if column is None:
        return "–"
    value = frame[column].iloc[i]
    return str(value) if value not in (None, "") and value == value else "(no answer)"


def comparison_charts(
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
            decimals=info.digits(coarse=True),
        )
        out.append(chart("compare", title, body, job_a.task, names[0], names[1], unit or "unitless"))
    return out


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
        "comparisons": comparisons(run_a, run_b, pairs, "A:", "B:"),
        "unmatched": sorted({j.task for j in a.jobs} ^ {j.task for j in b.jobs}),
    }
