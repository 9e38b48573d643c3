"""The release decision at the top of a report: the run's verdict with its guarantee, one line per gate, and
per model the one-line answer (headline figure, interval, n, gate verdicts and the caveats that change how
to read them)."""

from __future__ import annotations

from typing import Any

from ..gates.outputs import interval_text
from ..results import Run
from ..stats import worst
from ..tasks import task_class
from ..tasks.sampling import MIN_CLUSTERS
from ..views import fmt, p_text
from .formatting import metric_rows

#: Fewer examples than this in a headline figure earn a "small n" caveat at the top of the report.
SMALL_N = 100


def summary(run: Run, gates: dict[str, Any] | None) -> list[dict[str, Any]]:
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
            [row] = [r for r in metric_rows(job) if r["key"] == key]
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


def decision_view(gates: dict[str, Any] | None) -> dict[str, Any] | None:
    """The release decision for the top of the report: the run's verdict, then one line per gate."""
    if not gates or "verdict" not in gates:
        return None
    decision = gates.get("decision", {})
    correction = {"holm": "Holm's correction for many gates", "bh": "Benjamini-Hochberg's false discovery rate control"}
    rows = []
    for g in gates["results"]:
        rows.append(
            {
                "verdict": g["verdict"],
                "gate": g["gate"],
                "model": g["model"],
                "measured": fmt(g["measured"], 2),
                "interval": interval_text(g),
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
        "notes": gates.get("notes") or [],
        "rows": rows,
    }
