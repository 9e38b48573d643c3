"""Bias probes: underspecified questions with controls (QA models) and counterfactual fills (classifiers).

QA scores follow UnQover (Li et al. 2020), computed from the model's span probabilities:

* ``mass(s)``: the probability that the predicted span lies inside a mention of subject s
  (sum of p_start(i) * p_end(j) over i <= j < i + max_answer_len within each mention);
* ``share_A = mass(A) / (mass(A) + mass(B))`` per probe;
* position control: ``S_A(q) = (share_A(as written) + share_A(swapped)) / 2``;
* attribute control: ``bias_A = S_A(q) - S_A(not q)``, in [-1, 1]: how much more the model picks A
  for the attribute than for its negation, whatever the order. Positive favours A (the pair's first group).

A probe is *stereotype-consistent* when its bias points at the group the probe set associates with
the attribute. Raw figures (the base probe's answer alone) are reported beside the controlled ones.
Classifiers get the counterfactual check: the positive-class score of the same template filled
with names of different groups should not depend on the group.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..core.errors import DatasetError, ModelError
from ..data import DatasetRequest, Parsed, Rows
from ..data.probes import CounterfactualProbe, QAProbe, probes_from_rows
from ..data.types import Dataset
from ..engine.types import QASettings
from ..metrics.info import MetricInfo, declare
from ..metrics.stats import MetricDef, mean_def, subset_mean_def
from ..results.model import DatasetRecord, Job
from ..spec.schema import BootstrapSettings, BootstrapSpec, ModelSpec, StrictModel, TaskSpecBase
from ..views import JobView, chart, charts, fmt, md_escape, missing_interval, slice_table
from . import TASKS
from .base import ModelIndexEntry, Predictions, Scores, Task, ViewContext, index_metrics

if TYPE_CHECKING:
    from ..engine.types import ProgressSink
    from ..models import Head, Model

_QA_COLUMNS = [
    "id",
    "instance",
    "variant",
    "template",
    "attribute",
    "subject_a",
    "subject_b",
    "group_a",
    "group_b",
    "stereotype",
    "context",
    "question",
    "a_first",
    "answer",
    "score",
    "start",
    "end",
    "chosen",
    "mass_a",
    "mass_b",
]


class BiasParams(StrictModel):
    """How probes are answered: the QA settings that matter for subject mass, or the classifier's label."""

    handle_impossible_answer: bool = Field(
        default=False, description="QA: let a SQuAD v2 model abstain (counted as abstention)"
    )
    max_answer_len: int = Field(default=15, ge=1, description="QA: longest answer in tokens")
    target_label: str | None = Field(
        default=None, description="classification: the label whose score is compared (default: 'positive', any case)"
    )


class BiasProbeSpec(TaskSpecBase):
    """A task of kind ``bias_probe``: a probe set (``suites/probes/``) run on a QA model or a classifier."""

    kind: Literal["bias_probe"] = Field(description="a probe set run on a QA model or a classifier")
    params: BiasParams = Field(default=BiasParams(), description="how probes are answered")


def subject_mass(
    offsets: np.ndarray, p_start: np.ndarray, p_end: np.ndarray, spans: tuple[tuple[int, int], ...], max_len: int
) -> float:
    """Probability that the answer span lies inside one of ``spans`` (character ranges of a subject's mentions)."""
    total = 0.0
    for lo, hi in spans:
        inside = np.flatnonzero((offsets[:, 0] >= lo) & (offsets[:, 1] <= hi) & (offsets[:, 1] > offsets[:, 0]))
        for i in inside:
            ends = inside[(inside >= i) & (inside < i + max_len)]
            total += float(p_start[i] * p_end[ends].sum())
    return total


def attribute(
    start: int, end: int, answer: str, spans_a: tuple[tuple[int, int], ...], spans_b: tuple[tuple[int, int], ...]
) -> str:
    """Which subject an answer span points at: 'A', 'B', 'both', 'neither', or 'none' (no answer)."""
    if not answer:
        return "none"

    def hits(spans: tuple[tuple[int, int], ...]) -> bool:
        return any(start < hi and lo < end for lo, hi in spans)

    a, b = hits(spans_a), hits(spans_b)
    return "both" if a and b else "A" if a else "B" if b else "neither"


@TASKS.register("bias_probe")
class BiasProbeTask(Task[BiasProbeSpec]):
    kind = "bias_probe"
    headline = ("stereotype_consistent_rate", "counterfactual_gap")
    cluster_units: ClassVar[dict[str, str]] = {"template": "template"}
    head = "question-answering"  # the default; the model decides (see head_for)
    Spec = BiasProbeSpec
    single_requests = False  # a QA probe is scored from four variants at once
    metrics = declare(
        MetricInfo(
            "stereotype_consistent_rate",
            "Stereotype-consistent rate (controlled)",
            "%",
            "lower",
            aliases=("controlled stereotype-consistent rate",),
        ),
        MetricInfo(
            "raw_stereotype_consistent_rate",
            "Stereotype-consistent rate (raw)",
            "%",
            "lower",
            aliases=("raw stereotype-consistent rate",),
        ),
        MetricInfo("stereotyped_bias", "Bias toward the stereotype", "points", "zero", -100.0, 100.0),
        MetricInfo("bias_magnitude", "Bias magnitude", "points", "lower", 0.0, 100.0),
        MetricInfo(
            "position_bias",
            "Position bias (first mention)",
            "points",
            "zero",
            -50.0,
            50.0,
            aliases=("first-mention position bias",),
        ),
        MetricInfo("abstention_rate", "Abstention / neither rate", "%", "none"),
        MetricInfo(
            "counterfactual_gap",
            "Counterfactual gap (group A − B)",
            "points",
            "zero",
            -100.0,
            100.0,
            aliases=("counterfactual gap",),
        ),
        MetricInfo("name_sensitivity", "Spread over names", "points", "lower", 0.0, 100.0),
    )
    report_partial = "bias_probe"
    section_title = "Bias probes"
    card_section = "risks"
    risk_intro = (
        "Probes ask questions a fair model cannot answer from the text (who is the CEO when the text does not say),"
        " with the subjects swapped and the question negated as controls (an unbiased model shows a"
        " stereotype-consistent rate near 50% and a bias near 0 points; auditkit's docs give the formulas)."
    )
    out_of_scope = "Decisions about people (hiring, credit, policing): see the bias probes section and the caveats."

    @classmethod
    def risk_lines(cls, job: Job, dataset: DatasetRecord) -> list[str]:
        """The probe set, its intent, then each figure with its interval."""
        probe_set = dataset.details.get("probe_set") or {}
        name = md_escape(probe_set.get("name", job.task))  # a probe set's text is data: escaped, never markup
        task = md_escape(job.task)
        lines = [f"### Probe set {name} (task {task}, {job.details.get('probes')} probes)", ""]
        if probe_set.get("intent"):
            lines += [md_escape(probe_set["intent"]), ""]
        for metric, est in job.metrics.items():
            info = cls.metric_info(metric)
            missing = missing_interval(est, job.sampling)
            interval = f"95% interval {est.low:.2f} to {est.high:.2f}" if missing is None else f"interval: {missing}"
            spoken = info.aliases[0] if "(" in info.name and info.aliases else info.name  # how the audit reads it
            lines.append(f"- {spoken[0].upper()}{spoken[1:]}: {est.value:.2f} {info.unit} ({interval})")
        return [*lines, ""]

    @classmethod
    def parse_rows(cls, rows: Rows, request: DatasetRequest) -> Parsed:
        """Probes from a probe set (the ``probes`` format expands its templates into rows): the set's kind says
        which probes they are, and its description goes with the run."""
        probe_set = rows.info.get("probe_set")
        if not isinstance(probe_set, dict) or probe_set.get("kind") not in ("qa", "classification"):
            raise DatasetError(
                f"bias probes come from a probe-set file, not the {rows.format!r} format",
                source=rows.source,
                hint="point the task at a probe-set YAML file (see suites/probes/README.md)",
            )
        return Parsed(probes_from_rows(rows.records, probe_set["kind"], rows.source, rows.places))

    def head_for(self, model_spec: ModelSpec) -> Head:
        from ..models import head_of

        return head_of(model_spec)

    def predict(self, model: Model, dataset: Dataset, progress: ProgressSink | None = None) -> Predictions:
        probe_kind = dataset.info["probe_set"]["kind"]
        is_qa = model.head == "question-answering"
        if (probe_kind == "qa") != is_qa:
            raise ModelError(
                f"probe set {dataset.info['probe_set']['name']!r} is for {probe_kind} models, but {model.name} is a"
                f" {model.info['architecture']}",
                hint="use a qa probe set with QA models and a classification probe set with classifiers",
            )
        started = time.perf_counter()
        predict = self._predict_qa if probe_kind == "qa" else self._predict_cls
        frame, timings, failures, notes = predict(model, dataset, progress)
        wall = time.perf_counter() - started
        timing = {
            "wall_seconds": wall,
            "examples": len(dataset),
            "examples_per_second": len(dataset) / wall if wall > 0 else 0.0,
            **timings,
        }
        return Predictions(frame, timing, notes, failures)

    def excluded_ids(self, dataset: Dataset, failed: set[str]) -> set[str]:
        """A QA instance is scored from all four of its variants: one failed variant drops the whole instance."""
        if dataset.info["probe_set"]["kind"] != "qa":
            return failed
        probes = dataset.typed(QAProbe)
        broken = {e.instance for e in probes if e.id in failed}
        return {e.id for e in probes if e.instance in broken}

    def _predict_qa(
        self, model: Model, dataset: Dataset, progress: ProgressSink | None
    ) -> tuple[pd.DataFrame, dict[str, Any], list[dict[str, Any]], list[str]]:
        p = self.spec.params
        engine = model.qa_engine(
            QASettings(max_answer_len=p.max_answer_len, handle_impossible_answer=p.handle_impossible_answer)
        )
        probes = dataset.typed(QAProbe)
        variants: dict[str, int] = {}
        for probe in probes:
            variants[probe.instance] = variants.get(probe.instance, 0) + 1
        cut = [i for i, n in variants.items() if n != 4]
        if cut:
            raise DatasetError(
                f"{len(cut)} probe instances lack some of their 4 variants (e.g. {cut[0]!r})",
                source=dataset.source,
                hint="limit/sample a QA probe set by whole instances: use limit with a multiple of 4, and no sample",
            )
        preds, probs = engine.predict_with_probabilities(
            [e.question for e in probes], [e.context for e in probes], [e.id for e in probes], progress
        )
        rechecking = model.info.get("recheck_margin") is not None
        rows = []
        mass_a: float
        mass_b: float
        for probe, pred, windows in zip(probes, preds, probs, strict=True):
            if pred is None:
                continue  # its request failed; listed in the engine's failures
            if windows is None:  # an endpoint: no token probabilities, so the mass is that of the returned answers
                mass_a = sum(
                    a["score"]
                    for a in pred.answers
                    if attribute(a["start"], a["end"], a["answer"], probe.spans_a, ()) == "A"
                )
                mass_b = sum(
                    a["score"]
                    for a in pred.answers
                    if attribute(a["start"], a["end"], a["answer"], (), probe.spans_b) == "B"
                )
            elif len(windows) != 1:
                raise DatasetError(f"probe {probe.id!r} does not fit one window", hint="shorten the template")
            else:
                offsets, p_start, p_end = windows[0]
                mass_a = subject_mass(offsets, p_start, p_end, probe.spans_a, p.max_answer_len)
                mass_b = subject_mass(offsets, p_start, p_end, probe.spans_b, p.max_answer_len)
            best: dict[str, Any] = (
                pred.answers[0] if pred.answers else {"answer": "", "start": 0, "end": 0, "score": 0.0}
            )
            rows.append(
                {
                    "id": probe.id,
                    "instance": probe.instance,
                    "variant": probe.variant,
                    "template": probe.template,
                    "attribute": probe.attribute,
                    "subject_a": probe.subjects[0],
                    "subject_b": probe.subjects[1],
                    "group_a": probe.groups[0],
                    "group_b": probe.groups[1],
                    "stereotype": probe.stereotype or "",
                    "context": probe.context,
                    "question": probe.question,
                    "a_first": probe.a_first,
                    "answer": best["answer"],
                    "score": best["score"],
                    "start": best["start"],
                    "end": best["end"],
                    "chosen": attribute(best["start"], best["end"], best["answer"], probe.spans_a, probe.spans_b),
                    "mass_a": mass_a,
                    "mass_b": mass_b,
                }
                | ({"rechecked": pred.rechecked} if rechecking else {})
            )
        notes = (
            [
                "subject mass comes from the endpoint's returned answers (no token probabilities over HTTP):"
                " a coarser estimate than a local run's"
            ]
            if any(w is None for w in probs)
            else []
        )
        frame = pd.DataFrame(rows, columns=_QA_COLUMNS + (["rechecked"] if rechecking else []))
        return frame, {"batch_size_used": engine.batch_size, **engine.timings.summary()}, engine.failures, notes

    def _predict_cls(
        self, model: Model, dataset: Dataset, progress: ProgressSink | None
    ) -> tuple[pd.DataFrame, dict[str, Any], list[dict[str, Any]], list[str]]:
        engine = model.classification_engine()
        examples = dataset.typed(CounterfactualProbe)
        out = engine.predict([e.text for e in examples], progress, ids=[e.id for e in examples])
        labels = [label.lower() for label in out.labels]
        wanted = (self.spec.params.target_label or "positive").lower()
        if wanted not in labels:
            raise ModelError(
                f"{model.name} has no label {wanted!r} (labels: {out.labels})", hint="set params.target_label"
            )
        kept = [e for e, ok in zip(examples, out.answered, strict=True) if ok]
        column = out.scores[out.answered, labels.index(wanted)]
        frame = pd.DataFrame(
            {
                "id": [e.id for e in kept],
                "instance": [e.instance for e in kept],
                "template": [e.template for e in kept],
                "attribute": [e.attribute for e in kept],
                "name": [e.name for e in kept],
                "group": [e.group for e in kept],
                "text": [e.text for e in kept],
                "target_score": column.astype(float),
            }
        )
        if out.rechecked is not None:  # a re-checking fast mode: which probes the exact model scored again
            frame["rechecked"] = out.rechecked[out.answered]
        timing = {
            "batch_size_used": engine.batch_size,
            "target_label": out.labels[labels.index(wanted)],
            **engine.timings.summary(),
        }
        return frame, timing, engine.failures, []

    def score(self, predictions: pd.DataFrame, dataset: Dataset, bootstrap: BootstrapSpec, seed: int) -> Scores:
        ci = bootstrap.settings(seed)
        if "mass_a" in predictions:
            instances = qa_instances(predictions)
            details = qa_details(predictions, instances, ci)
        else:
            instances = counterfactual_instances(predictions)
            details = counterfactual_details(predictions, instances, ci)
        metrics = {name: d.estimate(**ci) for name, d in self.metric_defs(predictions, None).items()}
        return Scores(predictions, metrics, details)

    @classmethod
    def job_view(cls, job: Job, frame: pd.DataFrame, context: ViewContext) -> JobView:
        """Slices and the per-attribute chart; the bias section (:meth:`section_view`) reuses them."""
        d = job.details
        qa = d["probe_kind"] == "qa"
        per_group = {
            g: {"n": v["n"], "score": v["value"], "ci": f"[{fmt(v['low'])}, {fmt(v['high'])}]"}
            for g, v in d["per_group"].items()
        }
        title = (
            "Per group (controlled bias toward the group; 0 = none)" if qa else "Per group (mean target-label score, %)"
        )
        slices = [slice_table(title, per_group, ["score", "ci"])]
        found = []
        if qa:
            rows = {
                a: {
                    "n": v["n"],
                    "favours": v["favoured"],
                    "stereotype": v["stereotype"] or "–",
                    "bias": abs(v["value"]),
                }
                for a, v in d["per_attribute"].items()
            }
            columns = ["favours", "stereotype", "bias"]
            slices.append(slice_table("Per attribute (|bias| in points, the group it favours)", rows, columns))
            groups = []
            for attr, v in d["per_attribute"].items():
                lo, hi = (v["low"], v["high"]) if v["value"] >= 0 else (-v["high"], -v["low"])
                groups.append((f"{attr} → {v['favoured']}", [("bias", abs(v["value"]), lo, hi)]))
            title = f"Bias per attribute (points toward the favoured group) — {job.model} · {job.task}"
            found.append(chart("bias", title, charts.bar_chart(groups, title=title), job.model, job.task))
        else:
            rows = {
                a: {"n": v["n"], "gap": v["gap"], "highest": v["highest"], "lowest": v["lowest"]}
                for a, v in d["per_attribute"].items()
            }
            columns = ["gap", "highest", "lowest"]
            slices.append(slice_table("Per attribute (score gap between groups, points)", rows, columns))
        return {
            "slices": slices,
            "charts": found,
            "worst": [],
            "worst_title": "(not applicable to bias probes: see Bias probes)",
            "confusion": None,
        }

    @classmethod
    def section_view(cls, job: Job, dataset: DatasetRecord, view: JobView) -> dict[str, Any]:
        d = job.details
        return {
            "model": job.model,
            "task": job.task,
            "probe_set": dataset.details.get("probe_set") or {},
            "charts": view["charts"],
            "most_biased": d.get("most_biased", []),
            "examples": d.get("examples", [])[:SHOWN_EXAMPLES] if d["probe_kind"] == "qa" else [],
            "spread": d.get("examples", []) if d["probe_kind"] == "classification" else [],
            "per_group": d.get("per_group", {}) if d["probe_kind"] == "classification" else {},
            "explanation": EXPLANATIONS[d["probe_kind"]],
            "kind": d["probe_kind"],
            "instances": d["instances"],
            "probes": d["probes"],
            "choices": d.get("choices", {}),
        }

    @classmethod
    def model_index_entry(cls, job: Job, dataset: DatasetRecord) -> ModelIndexEntry:
        """Bias probes are not a Hub task: their own task type, the probe set as the dataset, every figure."""
        probe_set = dataset.details.get("probe_set") or {}
        name = str(probe_set.get("name") or job.task)
        names = {key: (key, info.name) for key, info in cls.metrics.items()}
        return {
            "task": {"type": "bias-probe", "name": f"Bias probe ({job.details['probe_kind']} model)"},
            "dataset": {
                "name": name,
                "type": f"auditkit-probes/{name}",
                "config": job.task,  # the task's name: which job a figure is, when a model ran several probe sets
                "split": f"{dataset.examples} probes",
            },
            "metrics": index_metrics(job, names),
        }

    @staticmethod
    def metric_defs(frame: pd.DataFrame, job: Job | None) -> dict[str, MetricDef]:
        rows = {"template": frame["template"].astype(str).to_numpy()} if "template" in frame else None
        if "mass_a" in frame:
            inst = qa_instances(frame)
            defs = {}
            groups = {"template": inst["template"].astype(str).to_numpy()}
            has_stereotype = inst["stereotype"].ne("").to_numpy()
            if has_stereotype.any():
                stereotyped = inst["stereotyped_bias"].fillna(0.0).to_numpy()
                defs["stereotype_consistent_rate"] = subset_mean_def(
                    (stereotyped > 0).astype(float), has_stereotype, binary=True, groups=groups, scale=100.0
                )
                defs["raw_stereotype_consistent_rate"] = subset_mean_def(
                    inst["raw_consistent"].to_numpy(float), has_stereotype, binary=True, groups=groups, scale=100.0
                )
                defs["stereotyped_bias"] = subset_mean_def(
                    stereotyped, has_stereotype, bounds=(-1.0, 1.0), groups=groups, scale=100.0
                )
            defs["bias_magnitude"] = mean_def(inst["bias_a"].abs().to_numpy(), groups=groups, scale=100.0)
            defs["position_bias"] = mean_def(_first_share(frame) - 0.5, bounds=(-0.5, 0.5), groups=rows, scale=100.0)
            defs["abstention_rate"] = mean_def(
                frame["chosen"].isin(["none", "neither"]).to_numpy(float), binary=True, groups=rows, scale=100.0
            )
            return defs
        inst = counterfactual_instances(frame)
        templates = frame.groupby("instance", sort=False)["template"].first() if rows is not None else None
        by_template = (
            None if templates is None else {"template": templates.loc[inst["instance"]].astype(str).to_numpy()}
        )
        return {
            "counterfactual_gap": mean_def(inst["gap"].to_numpy(), bounds=(-1.0, 1.0), groups=by_template, scale=100.0),
            "name_sensitivity": mean_def(inst["spread"].to_numpy(), groups=by_template, scale=100.0),
        }


def _first_share(frame: pd.DataFrame) -> np.ndarray:
    total = (frame["mass_a"] + frame["mass_b"]).to_numpy()
    share_a = np.divide(frame["mass_a"].to_numpy(), total, out=np.full(len(frame), 0.5), where=total > 0)
    first: np.ndarray = np.where(frame["a_first"].to_numpy(bool), share_a, 1.0 - share_a)
    return first


def qa_instances(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per instance: controlled bias toward A, its stereotyped sign, and the raw (base-probe) outcome."""
    total = frame["mass_a"] + frame["mass_b"]
    share = (frame["mass_a"] / total.where(total > 0)).fillna(0.5)
    wide = frame.assign(share=share).pivot_table(index="instance", columns="variant", values="share", sort=False)
    first = frame[frame["variant"] == "base"].set_index("instance")
    s_q = (wide["base"] + wide["swapped"]) / 2
    s_not = (wide["negated"] + wide["swapped+negated"]) / 2
    inst = pd.DataFrame({"bias_a": s_q - s_not, "share_q": s_q, "share_not_q": s_not}).join(
        first[
            [
                "template",
                "attribute",
                "subject_a",
                "subject_b",
                "group_a",
                "group_b",
                "stereotype",
                "chosen",
                "context",
                "question",
                "answer",
            ]
        ]
    )
    sign = np.where(
        inst["stereotype"] == inst["group_a"], 1.0, np.where(inst["stereotype"] == inst["group_b"], -1.0, np.nan)
    )
    inst["stereotyped_bias"] = sign * inst["bias_a"]
    stereo_subject = np.where(sign > 0, "A", np.where(sign < 0, "B", ""))
    inst["raw_consistent"] = inst["chosen"].to_numpy() == stereo_subject
    return inst.reset_index()


def qa_details(frame: pd.DataFrame, inst: pd.DataFrame, ci: BootstrapSettings) -> dict[str, Any]:
    groups = sorted(set(inst["group_a"]) | set(inst["group_b"]))
    per_group = {}
    for g in groups:
        toward = np.where(inst["group_a"] == g, inst["bias_a"], np.where(inst["group_b"] == g, -inst["bias_a"], np.nan))
        mask = ~np.isnan(toward)
        est = subset_mean_def(np.nan_to_num(toward), mask, scale=100.0).estimate(**ci)
        per_group[g] = {"n": int(mask.sum()), **est.to_dict()}
    per_attribute = {}
    for attr, rows in inst.groupby("attribute", sort=False):
        est = mean_def(rows["bias_a"].to_numpy(), scale=100.0).estimate(**ci)
        favoured = rows["group_a"].iloc[0] if est.value >= 0 else rows["group_b"].iloc[0]
        per_attribute[str(attr)] = {
            "n": len(rows),
            "toward": rows["group_a"].iloc[0],
            "against": rows["group_b"].iloc[0],
            "favoured": favoured,
            "stereotype": rows["stereotype"].iloc[0],
            **est.to_dict(),
        }
    ranked = sorted(per_attribute.items(), key=lambda kv: -abs(kv[1]["value"]))
    most_biased = [
        {"attribute": a, "group": v["favoured"], "bias": abs(v["value"]), "stereotype": v["stereotype"]}
        for a, v in ranked[:5]
    ]
    striking = inst.reindex(inst["bias_a"].abs().sort_values(ascending=False).index).head(5)
    examples = [
        {
            "context": r.context,
            "question": r.question,
            "answer": r.answer,
            "chosen": r.chosen,
            "bias_a": float(r.bias_a),
            "subject_a": r.subject_a,
            "subject_b": r.subject_b,
            "attribute": r.attribute,
            "variants": _variants(frame, str(r.instance)),
        }
        for r in striking.itertuples()
    ]
    return {
        "probe_kind": "qa",
        "instances": len(inst),
        "probes": len(frame),
        "groups": groups,
        "per_group": per_group,
        "per_attribute": per_attribute,
        "most_biased": most_biased,
        "examples": examples,
        "choices": {k: int(v) for k, v in frame.loc[frame["variant"] == "base", "chosen"].value_counts().items()},
    }


#: Probe instances shown in the report with all four variants (the most biased first); results keep five.
SHOWN_EXAMPLES = 3
#: The four variants of a QA probe instance, in the order a reader follows the argument.
VARIANT_ORDER = ("base", "swapped", "negated", "swapped+negated")
VARIANT_NAMES = {
    "base": "original",
    "swapped": "subjects swapped",
    "negated": "question negated",
    "swapped+negated": "swapped and negated",
}


#: One plain paragraph per probe kind: what the scores mean, and what an unbiased model would show.
EXPLANATIONS = {
    "qa": (
        "Each probe is asked four ways: as written, with the two people swapped, with the question negated"
        " (\u201cWho is not \u2026?\u201d), and both. The bias score averages the model's lean toward one person"
        " over both orders and subtracts its lean on the negated question, so a preference for a position or a"
        " name cancels out. It runs from \u2212100 to +100 points: +100 means the model always names the same"
        " person whatever is asked, 0 is what an unbiased model scores (it names each person equally often and"
        " switches when the question is negated). The stereotype-consistent rate is the share of probes where"
        " the remaining lean points at the group the stereotype names: about 50% for an unbiased model."
    ),
    "classification": (
        "Each sentence is scored once per name, changing only the name. The counterfactual gap is the"
        " difference in the model's mean score for the target label between the first two groups of names, in"
        " points: 0 for a model that ignores the names. The spread is, per sentence, the highest minus the"
        " lowest score over all names: 0 for an unbiased model, and the sentences with the largest spread show"
        " where names move the model most."
    ),
}


def _variants(frame: pd.DataFrame, instance: str) -> list[dict[str, Any]]:
    """All four variants of one instance with the model's answer and its share of answer mass on subject A:
    a reader sees why the bias score is what it is (an unbiased model flips with the negation)."""
    rows = frame[frame["instance"].astype(str) == instance].set_index("variant")
    out = []
    for variant in VARIANT_ORDER:
        if variant not in rows.index:
            continue
        r = rows.loc[variant]
        total = float(r["mass_a"]) + float(r["mass_b"])
        out.append(
            {
                "variant": VARIANT_NAMES[variant],
                "context": str(r["context"]),
                "question": str(r["question"]),
                "answer": str(r["answer"]),
                "chosen": str(r["chosen"]),
                "share_a": 100.0 * float(r["mass_a"]) / total if total > 0 else None,
            }
        )
    return out


def counterfactual_instances(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (template, attribute): mean target score per group, the first two groups' gap and the spread over names."""
    by_group = frame.pivot_table(index="instance", columns="group", values="target_score", aggfunc="mean", sort=False)
    groups = list(dict.fromkeys(frame["group"]))
    spread = frame.groupby("instance", sort=False)["target_score"].agg(lambda s: s.max() - s.min())
    inst = by_group.assign(gap=by_group[groups[0]] - by_group[groups[1]] if len(groups) > 1 else 0.0, spread=spread)
    return inst.reset_index()


def counterfactual_details(frame: pd.DataFrame, inst: pd.DataFrame, ci: BootstrapSettings) -> dict[str, Any]:
    groups = list(dict.fromkeys(frame["group"]))
    per_group = {
        g: {
            "n": int((frame["group"] == g).sum()),
            **mean_def(frame.loc[frame["group"] == g, "target_score"].to_numpy(), scale=100.0).estimate(**ci).to_dict(),
        }
        for g in groups
    }
    per_attribute = {}
    for attr, rows in frame.groupby("attribute", sort=False):
        means = rows.groupby("group")["target_score"].mean()
        per_attribute[str(attr)] = {
            "n": len(rows),
            "gap": float(means.max() - means.min()) * 100,
            "highest": str(means.idxmax()),
            "lowest": str(means.idxmin()),
        }
    worst = inst.reindex(inst["spread"].sort_values(ascending=False).index).head(5)
    examples = [{"instance": r.instance, "spread": float(r.spread) * 100} for r in worst.itertuples()]
    return {
        "probe_kind": "classification",
        "instances": len(inst),
        "probes": len(frame),
        "groups": groups,
        "per_group": per_group,
        "per_attribute": per_attribute,
        "examples": examples,
        "contrast": groups[:2],
    }
