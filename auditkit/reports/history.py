"""A model across releases: the verdict timeline, each metric with its interval release by release, latency
trends, and which release-to-release changes were significant -- one page from published runs alone.

Consecutive releases are compared pairwise (the same paired tests a comparison report uses) where they ran
the same task on the same examples; where the data differ, the page says so instead of pairing them.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from ..core.errors import ReportError
from ..results import Job, Run, load_run
from ..results.store import RESULTS_FILE
from .comparison_view import comparisons
from .decision_view import decision_view
from .formatting import metric_rows
from .render import render


def release_runs(paths: list[str | Path]) -> list[Run]:
    """The runs named (run directories, or folders of runs such as ``reports/releases/<suite>/``), oldest first."""
    runs: dict[Path, Run] = {}
    for given in paths:
        path = Path(given)
        if not (path / RESULTS_FILE).is_file() and path.is_dir():
            inside = sorted(p for p in path.iterdir() if (p / RESULTS_FILE).is_file())
            if inside:
                for run_dir in inside:
                    runs.setdefault(run_dir.resolve(), load_run(run_dir))
                continue
        run = load_run(path)
        runs.setdefault(run.dir.resolve(), run)
    if len(runs) < 1:
        raise ReportError("no runs given", hint="pass run directories, or a folder holding them")
    return sorted(runs.values(), key=lambda r: (r.results.created, r.results.run_id))


def _label(run: Run) -> str:
    return f"{run.results.run_id}"


def _pairs(a: Run, b: Run) -> tuple[list[tuple[Job, Job]], list[str]]:
    """Jobs of consecutive releases that can be paired (same task, kind, data; same model or the only one), and
    what could not be, with why."""
    pairs, unpaired = [], []
    for job_b in b.results.jobs:
        same_task = [j for j in a.results.jobs if j.task == job_b.task and j.kind == job_b.kind]
        match = [j for j in same_task if j.model == job_b.model] or (same_task if len(same_task) == 1 else [])
        if not match:
            continue
        job_a = match[0]
        if job_a.dataset_fingerprint != job_b.dataset_fingerprint:
            unpaired.append(
                f"{job_b.task}: {_label(a)} and {_label(b)} evaluated different examples (data fingerprints"
                f" {job_a.dataset_fingerprint[:12]} and {job_b.dataset_fingerprint[:12]}): not compared pairwise"
            )
            continue
        pairs.append((job_a, job_b))
    return pairs, unpaired


def build_history(runs: list[Run]) -> dict[str, Any]:
    """The view model of a release history (oldest release first)."""
    releases: list[dict[str, Any]] = []
    for run in runs:
        decision = decision_view(run.recorded_gates())
        releases.append(
            {
                "id": run.results.run_id,
                "created": run.results.created,
                "suite": run.results.suite.name,
                "models": ", ".join(run.results.models),
                "verdict": decision["verdict"] if decision else None,
                "counts": decision["counts"] if decision else None,
                "dir": run.dir.name,
            }
        )
    keys: list[tuple[str, str, str]] = []
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    latency: dict[tuple[str, str], dict[str, str]] = {}
    for run in runs:
        for job in run.results.jobs:
            for row in metric_rows(job):
                key = (job.task, job.model, row["name"])
                if key not in cells:
                    keys.append(key)
                    cells[key] = {}
                n = f", n = {row['n']}" if row["n"] is not None else ""
                cells[key][run.results.run_id] = f"{row['value_text']} {row['ci']}{n}".strip()
            t = job.timing
            if t.batch_latency_ms_p50 is not None:
                p95 = f"{t.batch_latency_ms_p95:.1f}" if t.batch_latency_ms_p95 is not None else "–"
                latency.setdefault((job.task, job.model), {})[run.results.run_id] = (
                    f"{t.batch_latency_ms_p50:.1f} / {p95} ms, {t.examples_per_second or 0:.1f} ex/s"
                )
    ids = [run.results.run_id for run in runs]
    metrics = [
        {"task": t, "model": m, "metric": name, "cells": [cells[(t, m, name)].get(i, "–") for i in ids]}
        for t, m, name in keys
    ]
    trends = [{"task": t, "model": m, "cells": [values.get(i, "–") for i in ids]} for (t, m), values in latency.items()]
    changes, unpaired = [], []
    for a, b in itertools.pairwise(runs):
        pairs, skipped = _pairs(a, b)
        unpaired.extend(skipped)
        for comparison in comparisons(a, b, pairs, f"{_label(a)}: ", f"{_label(b)}: "):
            changes.append(comparison)
    latest = releases[-1]
    suites = sorted({run.results.suite.name for run in runs})
    return {
        "kind": "history",
        "title": f"Release history — {', '.join(suites)}",
        "releases": releases,
        "release_ids": ids,
        "latest": latest,
        "metrics": metrics,
        "latency_trend": trends,
        "comparisons": changes,
        "significant": [
            f"{c['task']}: {d['name']} {d['text']} ({c['a']} → {c['b']}, {d['verdict']})"
            for c in changes
            for d in c["deltas"]
            if d["verdict"] in ("B better", "B worse", "B higher", "B lower")
        ],
        "unpaired": unpaired,
    }


def render_history(
    paths: list[str | Path], out_dir: str | Path, formats: tuple[str, ...] = ("html", "md")
) -> list[Path]:
    """Render the release history of the runs at ``paths`` into ``out_dir`` (``report.html`` / ``report.md``)."""
    runs = release_runs(paths)
    return render(build_history(runs), Path(out_dir), formats)
