"""The report's one data model, built from a results directory alone.

HTML and Markdown templates render the same dictionary, so the two formats never disagree. Nothing
here runs a model: figures come from results.json, examples and slices from the stored per-example
tables. Text from datasets, models and suites is kept raw here; the templates escape it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..metrics.compare import wins
from ..metrics.stats import subset_mean_def
from ..pairing import paired_deltas
from ..results import load_predictions
from . import svg

WORST_EXAMPLES = 5
DISAGREEMENTS = 5
EXCERPT_CHARS = 160
FAILED_LISTED = 20
MIN_PAIRED = 10  # below this, bootstrap and McNemar p-values say nothing useful

METRIC_NAMES = {
    "exact_match": "Exact match", "exact": "Exact match", "f1": "F1", "HasAns_exact": "Exact match (answerable)",
    "HasAns_f1": "F1 (answerable)", "NoAns_exact": "Exact match (unanswerable)", "NoAns_f1": "F1 (unanswerable)",
    "accuracy": "Accuracy", "macro_f1": "Macro-F1", "ece": "Expected calibration error",
    "stereotype_consistent_rate": "Stereotype-consistent rate (controlled)", "raw_stereotype_consistent_rate": "Stereotype-consistent rate (raw)",
    "stereotyped_bias": "Bias toward the stereotype", "bias_magnitude": "Bias magnitude", "position_bias": "Position bias (first mention)",
    "abstention_rate": "Abstention / neither rate", "counterfactual_gap": "Counterfactual gap (group A − B)", "name_sensitivity": "Spread over names",
}
INTENDED_USE = {
    "extractive_qa": "Extractive question answering: given a question and an English paragraph, select the span that answers it"
                     " (and, for SQuAD v2-style models, abstain when the paragraph holds no answer).",
    "classification": "Sentence-level sentiment classification of English text (positive / negative), as in SST-2 movie-review sentences.",
}
OUT_OF_SCOPE = ("Generating text or answers not present in the given context; factual question answering without a context; "
                "decisions about people (hiring, credit, policing) -- see the bias probes section and the caveats; "
                "languages and domains far from the evaluation data.")


def _chart(kind: str, title: str, body: str, *parts: str) -> dict[str, str]:
    """A chart for both formats: HTML inlines ``svg``; Markdown links ``plots/<id>.svg``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join((kind, *parts))).strip("-")
    return {"id": slug, "title": title, "svg": body}


def _short(digest: str | None) -> str:
    return (digest or "")[:12]


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _segments(context: str, spans: list[tuple[int, int, str]], window: int = EXCERPT_CHARS) -> list[dict[str, str]]:
    """An excerpt of ``context`` around the spans, split into pieces tagged gold / pred / both / plain."""
    spans = [(s, e, k) for s, e, k in spans if 0 <= s < e <= len(context)]
    if not spans:
        return [{"text": context[:2 * window] + ("…" if len(context) > 2 * window else ""), "kind": ""}]
    lo = max(0, min(s for s, _, _ in spans) - window)
    hi = min(len(context), max(e for _, e, _ in spans) + window)
    cuts = sorted({lo, hi, *[p for s, e, _ in spans for p in (s, e) if lo <= p <= hi]})
    pieces = [{"text": "…", "kind": ""}] if lo > 0 else []
    for a, b in zip(cuts, cuts[1:]):
        kinds = {k for s, e, k in spans if s <= a and b <= e}
        kind = "both" if kinds == {"gold", "pred"} else (kinds.pop() if kinds else "")
        pieces.append({"text": context[a:b], "kind": kind})
    if hi < len(context):
        pieces.append({"text": "…", "kind": ""})
    return pieces


def _metric_rows(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": name, "name": METRIC_NAMES.get(name, name), "value": est["value"], "low": est["low"], "high": est["high"],
             "text": f"{_fmt(est['value'])} [{_fmt(est['low'])}, {_fmt(est['high'])}]"}
            for name, est in job["metrics"].items()]


def _slice_table(title: str, groups: dict[str, dict[str, float]], columns: list[str], limit: int | None = None) -> dict[str, Any]:
    rows = [{"group": g, "n": v["n"], **{c: _fmt(v[c]) if isinstance(v[c], (int, float)) else v[c] for c in columns}} for g, v in groups.items()]
    hidden = max(0, len(rows) - limit) if limit else 0
    return {"title": title, "columns": columns, "rows": rows[:limit] if limit else rows, "hidden": hidden}


def _question_type_chart(frame: pd.DataFrame, job: dict[str, Any], seed: int, resamples: int) -> dict[str, str]:
    groups = []
    for qtype, n in frame["question_type"].value_counts().items():
        mask = (frame["question_type"] == qtype).to_numpy()
        est = subset_mean_def(frame["f1"].to_numpy(float), mask).estimate(resamples=min(resamples, 500), confidence=0.95, seed=seed)
        groups.append((f"{qtype} (n={n})", [("F1", est.value, est.low, est.high)]))
    title = f"F1 by question type — {job['model']} · {job['task']}"
    return _chart("question-types", title, svg.bar_chart(groups, title=title, max_value=100.0), job["model"], job["task"])


def _qa_job(frame: pd.DataFrame, job: dict[str, Any], seed: int, resamples: int) -> dict[str, Any]:
    details = job["details"]
    slices = [_slice_table("By question type", details["by_question_type"], ["exact", "f1"])]
    if "by_answerability" in details:
        slices.append(_slice_table("By answerability (SQuAD v2)", details["by_answerability"], ["exact", "f1"]))
    articles = dict(sorted(details["by_article"].items(), key=lambda kv: kv[1]["f1"]))
    slices.append(_slice_table("By article (weakest first)", articles, ["exact", "f1"], limit=12))
    wrong = frame[(frame["f1"] == 0) & ~frame["missing"].astype(bool)].sort_values("score", ascending=False, kind="stable").head(WORST_EXAMPLES)
    worst = []
    for row in wrong.itertuples():
        spans = [(int(s), int(s) + len(t), "gold") for s, t in zip(list(row.gold_starts)[:1], list(row.gold_answers)[:1])]
        if row.prediction:
            spans.append((int(row.start), int(row.end), "pred"))
        worst.append({"id": row.id, "question": row.question, "title": row.title, "gold": " | ".join(dict.fromkeys(row.gold_answers)) or "(no answer)",
                      "prediction": row.prediction or "(no answer)", "confidence": _fmt(row.score, 4), "excerpt": _segments(row.context, spans)})
    return {"slices": slices, "worst": worst, "worst_title": "Confident wrong answers (F1 = 0, highest score first)", "confusion": None,
            "charts": [_question_type_chart(frame, job, seed, resamples)]}


def _classification_job(frame: pd.DataFrame, job: dict[str, Any]) -> dict[str, Any]:
    details = job["details"]
    per_class = {label: {"n": v["support"], "precision": v["precision"], "recall": v["recall"], "f1": v["f1"]} for label, v in details["per_class"].items()}
    labels = details["labels"]
    confusion = {"labels": labels, "rows": [{"gold": labels[i], "cells": row} for i, row in enumerate(details["confusion_matrix"])]}
    wrong = frame[~frame["correct"]].sort_values("confidence", ascending=False, kind="stable").head(WORST_EXAMPLES)
    worst = [{"id": r.id, "question": r.text, "title": "", "gold": r.gold, "prediction": r.prediction, "confidence": _fmt(r.confidence, 4), "excerpt": []}
             for r in wrong.itertuples()]
    title = f"Reliability — {job['model']} · {job['task']}"
    chart = _chart("reliability", title, svg.reliability_diagram(details["reliability"], title=title), job["model"], job["task"])
    return {"slices": [_slice_table("Per class", per_class, ["precision", "recall", "f1"])], "confusion": confusion, "worst": worst,
            "worst_title": "Most confident mistakes", "charts": [chart]}


def _bias_job(job: dict[str, Any]) -> dict[str, Any]:
    """Slices and the per-attribute chart of a bias-probe job; the bias section reuses them."""
    d = job["details"]
    per_group = {g: {"n": v["n"], "score": v["value"], "ci": f"[{_fmt(v['low'])}, {_fmt(v['high'])}]"} for g, v in d["per_group"].items()}
    slices = [_slice_table("Per group (controlled bias toward the group; 0 = none)" if d["probe_kind"] == "qa" else "Per group (mean target-label score, %)",
                           per_group, ["score", "ci"])]
    charts = []
    if d["probe_kind"] == "qa":
        rows = {a: {"n": v["n"], "favours": v["favoured"], "stereotype": v["stereotype"] or "–", "bias": abs(v["value"])} for a, v in d["per_attribute"].items()}
        slices.append(_slice_table("Per attribute (|bias| in points, the group it favours)", rows, ["favours", "stereotype", "bias"]))
        groups = []
        for attr, v in d["per_attribute"].items():
            lo, hi = (v["low"], v["high"]) if v["value"] >= 0 else (-v["high"], -v["low"])
            groups.append((f"{attr} → {v['favoured']}", [("bias", abs(v["value"]), lo, hi)]))
        title = f"Bias per attribute (points toward the favoured group) — {job['model']} · {job['task']}"
        charts.append(_chart("bias", title, svg.bar_chart(groups, title=title), job["model"], job["task"]))
    else:
        rows = {a: {"n": v["n"], "gap": v["gap"], "highest": v["highest"], "lowest": v["lowest"]} for a, v in d["per_attribute"].items()}
        slices.append(_slice_table("Per attribute (score gap between groups, points)", rows, ["gap", "highest", "lowest"]))
    return {"slices": slices, "charts": charts, "worst": [], "worst_title": "(not applicable to bias probes: see Bias probes)", "confusion": None}


def _bias_section(results: dict[str, Any], jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for job, view in zip(results["jobs"], jobs):
        if job["kind"] != "bias_probe":
            continue
        d = job["details"]
        probe_set = results["datasets"][job["task"]].get("probe_set", {})
        out.append({"model": job["model"], "task": job["task"], "probe_set": probe_set, "metrics": view["metrics"], "charts": view["charts"],
                    "most_biased": d.get("most_biased", []), "examples": d.get("examples", []) if d["probe_kind"] == "qa" else [], "kind": d["probe_kind"],
                    "instances": d["instances"], "probes": d["probes"], "choices": d.get("choices", {})})
    return out


def _latency_chart(job: dict[str, Any], values_ms: list[float], what: str, xlabel: str) -> dict[str, str]:
    """A histogram of a job's latencies with its p50/p95/p99 marked."""
    marks = [(f"p{q}", float(np.percentile(values_ms, q))) for q in (50, 95, 99)] if values_ms else []
    title = f"{what} — {job['model']} · {job['task']}"
    return _chart("latency", title, svg.histogram(values_ms, title=title, xlabel=xlabel, marks=marks), job["model"], job["task"])


def _latency(job: dict[str, Any], model_info: dict[str, Any]) -> dict[str, Any]:
    t = job["timing"]
    per_example_ms = [1000 * s / n for s, n in zip(t.get("batch_seconds", []), t.get("batch_items", [])) if n]
    unit = "window" if job["kind"] == "extractive_qa" else "example"
    chart = _latency_chart(job, per_example_ms, f"Model time per {unit}, per batch", f"ms per {unit} (batch time / batch size)")
    return {
        "model": job["model"], "task": job["task"], "examples": t.get("examples"), "wall_seconds": _fmt(t.get("wall_seconds")),
        "examples_per_second": _fmt(t.get("examples_per_second"), 1), "p50": _fmt(t.get("batch_latency_ms_p50"), 1),
        "p95": _fmt(t.get("batch_latency_ms_p95"), 1), "p99": _fmt(t.get("batch_latency_ms_p99"), 1), "batches": t.get("batches"),
        "batch_size": t.get("batch_size_used"), "device": model_info.get("device"), "dtype": model_info.get("dtype"),
        "tokens_per_second": _fmt(t.get("tokens_per_second"), 0), "chart": chart,
        "single": {"examples": t["single_request_examples"], "p50": _fmt(t["single_request_ms_p50"], 1), "p95": _fmt(t["single_request_ms_p95"], 1),
                   "p99": _fmt(t["single_request_ms_p99"], 1), "mean": _fmt(t["single_request_ms_mean"], 1)} if "single_request_ms_p50" in t else None,
    }


def _request_latency(job: dict[str, Any]) -> dict[str, Any]:
    """An endpoint job's client-side request latency, with the server's own compute time beside it when reported."""
    t = job["timing"]
    chart = _latency_chart(job, [1000 * x for x in t.get("request_seconds", [])], "Request latency, client side", "ms per request, end to end")
    failures = job.get("failures", {})
    return {
        "model": job["model"], "task": job["task"], "examples": t.get("examples"),
        "examples_per_second": _fmt(t.get("examples_per_second"), 1), "requests": t.get("requests"), "retries": t.get("retries"),
        "p50": _fmt(t.get("request_latency_ms_p50"), 1), "p95": _fmt(t.get("request_latency_ms_p95"), 1), "p99": _fmt(t.get("request_latency_ms_p99"), 1),
        "compute_p50": _fmt(t.get("batch_latency_ms_p50"), 1) if t.get("batch_latency_ms_p50") is not None else "not reported",
        "batch_size": t.get("batch_size_used"), "failed": failures.get("count", 0), "chart": chart,
    }


def _failures(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Endpoint jobs that lost examples: how many, against the allowed rate, and which (the first FAILED_LISTED)."""
    out = []
    for job in results["jobs"]:
        f = job.get("failures")
        if not f or not f["count"]:
            continue
        out.append({"model": job["model"], "task": job["task"], "count": f["count"], "total": f["total"], "rate": _fmt(100 * f["rate"], 1),
                    "max_rate": _fmt(100 * f["max_rate"], 1), "over": f["rate"] > f["max_rate"], "excluded": f.get("excluded_from_scoring", f["count"]),
                    "examples": f["examples"][:FAILED_LISTED], "more": max(0, len(f["examples"]) - FAILED_LISTED)})
    return out


def model_index(results: dict[str, Any], model: str) -> str:
    """The Hugging Face model-card ``model-index`` front matter for one model's measured results."""
    entries = []
    for job in (j for j in results["jobs"] if j["model"] == model):
        data = results["datasets"][job["task"]]
        source = str(data["source"])
        if job["kind"] == "extractive_qa":
            v2 = job["details"]["metric"] == "squad_v2"
            task = {"type": "question-answering", "name": "Question Answering"}
            dataset = {"name": "SQuAD v2" if v2 else "SQuAD", "type": source if "/" in source and not Path(source).exists() else ("squad_v2" if v2 else "squad"),
                       "config": "squad_v2" if v2 else "plain_text", "split": "validation"}
            names = {"exact_match": ("exact_match", "Exact Match"), "exact": ("exact_match", "Exact Match"), "f1": ("f1", "F1")}
        else:
            task = {"type": "text-classification", "name": "Text Classification"}
            dataset = {"name": "SST-2" if "sst" in source.lower() else Path(source).stem, "type": source if "/" in source and not Path(source).exists() else "glue",
                       "config": "sst2", "split": "validation"}
            names = {"accuracy": ("accuracy", "Accuracy"), "macro_f1": ("f1", "Macro F1")}
        metrics = [{"type": names[m][0], "value": round(float(est["value"]), 4), "name": names[m][1], "verified": False}
                   for m, est in job["metrics"].items() if m in names]
        entries.append({"task": task, "dataset": dataset, "metrics": metrics})
    source = results["models"][model]["source"]
    return yaml.safe_dump({"model-index": [{"name": source if not source.startswith("build:") else model, "results": entries}]},
                          sort_keys=False, allow_unicode=True)


def _comparisons_for(run_a: dict[str, Any], run_b: dict[str, Any], pairs: list[tuple[dict[str, Any], dict[str, Any]]],
                     label_a: str, label_b: str) -> list[dict[str, Any]]:
    """Paired comparisons of job pairs on the same examples."""
    out = []
    boot = run_b["suite"]["bootstrap"]
    seed = run_b["suite"]["seed"]
    for job_a, job_b in pairs:
        frame_a, frame_b, paired = paired_deltas(run_a, job_a, run_b, job_b, resamples=boot["resamples"], confidence=boot["confidence"], seed=seed)
        deltas = [d.to_dict() for d in paired]
        for d in deltas:
            d["name"] = METRIC_NAMES.get(d["metric"], d["metric"])
            d["text"] = f"{d['delta']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
            if len(frame_a) < MIN_PAIRED:
                d["verdict"] = f"too few examples to test (n={len(frame_a)})"
            elif d["p_value"] < 1 - d["confidence"]:
                d["verdict"] = "B higher" if d["delta"] > 0 else "B lower"
            else:
                d["verdict"] = "no significant difference"
        a_name, b_name = f"{label_a}{job_a['model']}", f"{label_b}{job_b['model']}"
        win_counts, disagreements, agreement = None, [], None
        if job_a["kind"] in ("extractive_qa", "classification"):  # per-example scores exist; bias probes compare aggregates only
            score_col = "f1" if job_a["kind"] == "extractive_qa" else "correct"
            sa, sb = frame_a[score_col].to_numpy(float), frame_b[score_col].to_numpy(float)
            win_counts = wins(sa, sb)
            same = int((frame_a["prediction"].fillna("").to_numpy() == frame_b["prediction"].fillna("").to_numpy()).sum())
            agreement = {"same": same, "n": len(frame_a), "percent": _fmt(100.0 * same / len(frame_a), 1) if len(frame_a) else "–"}
            order = np.argsort(-np.abs(sb - sa), kind="stable")[:DISAGREEMENTS]
            text_col = "question" if job_a["kind"] == "extractive_qa" else "text"
            gold_col = "gold_answers" if job_a["kind"] == "extractive_qa" else "gold"
            disagreements = [{"id": frame_a["id"].iloc[i], "input": frame_a[text_col].iloc[i],
                              "gold": " | ".join(dict.fromkeys(frame_a[gold_col].iloc[i])) if job_a["kind"] == "extractive_qa" else frame_a[gold_col].iloc[i],
                              "a": frame_a["prediction"].iloc[i] or "(no answer)", "b": frame_b["prediction"].iloc[i] or "(no answer)",
                              "a_score": _fmt(sa[i]), "b_score": _fmt(sb[i])} for i in order if sa[i] != sb[i]]
        bars = [(METRIC_NAMES.get(name, name), [(a_name, job_a["metrics"][name]["value"], job_a["metrics"][name]["low"], job_a["metrics"][name]["high"]),
                                                (b_name, job_b["metrics"][name]["value"], job_b["metrics"][name]["low"], job_b["metrics"][name]["high"])])
                for name in (d["metric"] for d in deltas) if name != "ece" and job_a["metrics"][name]["value"] >= 0 and job_b["metrics"][name]["value"] >= 0]
        out.append({"task": job_a["task"], "a": a_name, "b": b_name, "deltas": deltas, "wins": win_counts, "n": len(frame_a), "agreement": agreement,
                    "disagreements": disagreements,
                    "chart": _chart("compare", f"{job_a['task']}: {a_name} vs {b_name}",
                                    svg.bar_chart(bars, title=f"{job_a['task']}: {a_name} vs {b_name}", legend=[a_name, b_name], max_value=100.0),
                                    job_a["task"], a_name, b_name)})
    return out


def _caveats(results: dict[str, Any]) -> list[str]:
    notes = []
    built = [name for name, m in results["models"].items() if m["source"].startswith("build:")]
    if built:
        notes.append(f"Models {', '.join(built)} were built offline with deterministic random weights: their scores are near chance "
                     "and say nothing about the published checkpoints. They exercise the evaluation machinery.")
    for task, data in results["datasets"].items():
        if data["selection"] != "all":
            notes.append(f"Task {task} used {data['examples']} of {data['total_available']} examples ({data['selection']}); "
                         "intervals describe uncertainty from that sample only.")
    for f in _failures(results):
        notes.append(f"{f['model']} · {f['task']}: {f['count']} of {f['total']} examples failed at the endpoint; its metrics cover the "
                     f"{f['total'] - f['excluded']} answered examples only.")
    for job in results["jobs"]:
        for note in job.get("notes", []):
            notes.append(f"{job['model']} · {job['task']}: {note}.")
        if job["details"].get("missing_predictions"):
            notes.append(f"{job['model']} · {job['task']}: {job['details']['missing_predictions']} questions had no prediction and score 0.")
        widest = max((e["high"] - e["low"] for e in job["metrics"].values() if e["high"] is not None and math.isfinite(e["high"])), default=0.0)
        if widest > 5:
            notes.append(f"{job['model']} · {job['task']}: some 95% intervals are wider than {widest:.1f} points; smaller differences are not resolved.")
    notes.append("Evaluation data is English Wikipedia (SQuAD) and movie-review sentences (SST-2); performance elsewhere is not measured here.")
    return notes


def build_report(results: dict[str, Any]) -> dict[str, Any]:
    """The view model for one run: model-card sections, per-job analyses, within-run comparisons."""
    seed = results["suite"]["seed"]
    resamples = results["suite"]["bootstrap"]["resamples"]
    models = []
    for name, m in results["models"].items():
        info, fp = m["info"], m["fingerprint"]
        endpoint = info.get("kind") == "endpoint"
        models.append({"name": name, "source": m["source"], "revision": info.get("revision") or "–",
                       "architecture": f"{info['architecture']}, {info['contract']} contract" if endpoint else info.get("architecture"),
                       "parameters": _human(info.get("parameters")), "device": info.get("device"),
                       "dtype": f"{info['dtype']} + {info['quantize']} linear layers" if info.get("quantize") else info.get("dtype") or "–",
                       "fingerprint": _short(fp["model_sha256"]), "weights": _short(fp.get("weights_sha256")),
                       "config": _short(fp.get("config_sha256")), "tokenizer": _short(fp.get("tokenizer_sha256")),
                       "served": _short(info.get("served_model_sha256")) if info.get("served_model_sha256") else None,
                       "built": info.get("built") is not None})
    datasets = [{"task": task, "source": d["source"], "examples": d["examples"], "total": d["total_available"], "selection": d["selection"],
                 "fingerprint": _short(d["fingerprint"]), "kind": d["kind"],
                 "detail": f"SQuAD v{d['squad_version']}" if d.get("squad_version") else ", ".join(d.get("label_names") or [])}
                for task, d in results["datasets"].items()]
    jobs, latency, request_latency, metric_table = [], [], [], []
    for job in results["jobs"]:
        frame = load_predictions(results["_dir"], job["model"], job["task"])
        if job["kind"] == "extractive_qa":
            analysis = _qa_job(frame, job, seed, resamples)
        elif job["kind"] == "bias_probe":
            analysis = _bias_job(job)
        else:
            analysis = _classification_job(frame, job)
        rows = _metric_rows(job)
        metric_table.append({"model": job["model"], "task": job["task"], "metrics": rows})
        jobs.append({"model": job["model"], "task": job["task"], "kind": job["kind"], "metrics": rows, **analysis,
                     "official": job["details"].get("official"), "params": job["params"]})
        if job["timing"].get("latency_scope") == "request":
            request_latency.append(_request_latency(job))
        else:
            latency.append(_latency(job, results["models"][job["model"]]["info"]))
    by_task: dict[str, list[dict[str, Any]]] = {}
    for job in results["jobs"]:
        by_task.setdefault(job["task"], []).append(job)
    pairs = [(group[0], other) for group in by_task.values() for other in group[1:]]
    kinds = sorted({j["kind"] for j in results["jobs"]})
    env = results["environment"]
    return {
        "kind": "run",
        "title": f"Evaluation report — {results['suite']['name']}",
        "run": {"id": results["run_id"], "created": results["created"], "wall_seconds": _fmt(results["wall_seconds"], 1), "status": results["status"]},
        "suite": results["suite"],
        "models": models,
        "intended_uses": [INTENDED_USE[k] for k in kinds if k in INTENDED_USE],
        "out_of_scope": OUT_OF_SCOPE,
        "datasets": datasets,
        "metric_table": metric_table,
        "jobs": jobs,
        "latency": latency,
        "request_latency": request_latency,
        "failures": _failures(results),
        "comparisons": _comparisons_for(results, results, pairs, "", ""),
        "bias": _bias_section(results, jobs),
        "gates": results.get("gates"),
        "card_audits": results.get("card_audits", []),
        "caveats": _caveats(results),
        "model_index": {name: model_index(results, name) for name in results["models"]},
        "reproducibility": {
            "auditkit": results["auditkit_version"], "python": env["python"], "platform": env["platform"],
            "packages": env["packages"], "gpu": env.get("gpu"), "suite_sha256": results["suite"]["sha256"],
            "command": results["command"], "seed": seed, "bootstrap": results["suite"]["bootstrap"], "run_id": results["run_id"],
        },
    }


def build_comparison(run_a: dict[str, Any], run_b: dict[str, Any]) -> dict[str, Any]:
    """The view model comparing two runs: every task they share, on the same examples, model by model."""
    pairs = []
    for job_a in run_a["jobs"]:
        for job_b in run_b["jobs"]:
            same_data = job_a["dataset_fingerprint"] == job_b["dataset_fingerprint"]
            if job_a["task"] == job_b["task"] and job_a["kind"] == job_b["kind"] and same_data and (job_a["model"] == job_b["model"] or len(run_a["models"]) == len(run_b["models"]) == 1):
                pairs.append((job_a, job_b))
    return {
        "kind": "comparison",
        "title": f"Comparison — {run_a['suite']['name']} {run_a['run_id']} (A) vs {run_b['suite']['name']} {run_b['run_id']} (B)",
        "runs": [{"label": "A", "id": run_a["run_id"], "suite": run_a["suite"]["name"], "dir": run_a["_dir"]},
                 {"label": "B", "id": run_b["run_id"], "suite": run_b["suite"]["name"], "dir": run_b["_dir"]}],
        "comparisons": _comparisons_for(run_a, run_b, pairs, "A:", "B:"),
        "unmatched": sorted({j["task"] for j in run_a["jobs"]} ^ {j["task"] for j in run_b["jobs"]}),
    }
