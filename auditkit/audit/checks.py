"""The card audit's checks: claims vs measured, internal consistency, completeness, stale code, example outputs.

Each check is a pure function of the parsed card (and, for claims and examples, of measured results or
a model), returning findings that carry the card line they are about.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from ..metrics.info import MetricInfo
from ..results import Job
from ..tasks import TASKS, task_class
from .card_reader import ModelCard

# ---------------------------------------------------------------- claims


@dataclass
class Claim:
    """A figure the card states about a registered metric, on that metric's own scale (a percentage stated as a
    fraction, 0.869965, reads as 86.9965), with where it is stated."""

    source: str  # "model-index" or "prose"
    line: int
    metric: str  # a registered metric key (f1, exact_match, accuracy, pearson, ...)
    dataset: str | None  # squad | squad_v2 | sst2 | ... | None (not said)
    value: float
    decimals: int
    text: str
    #: The heading the claim stands under ("### Probe set occupations-gender (task occupations, 96 probes)"):
    #: which of several jobs with the metric a claim means, when the sentence itself does not say.
    context: str = ""


def _metric_names() -> tuple[dict[str, MetricInfo], dict[str, str]]:
    return _names_of(tuple(TASKS.names()))


@functools.cache
def _names_of(kinds: tuple[str, ...]) -> tuple[dict[str, MetricInfo], dict[str, str]]:
    """Every metric the registered task kinds declare, by key, and every name a card may use for one (lower-cased:
    its key, its key with spaces, its display name, its aliases) -> key. Aliases win over keys over names."""
    infos: dict[str, MetricInfo] = {}
    for task in (TASKS.get(kind) for kind in kinds):
        for key, info in task.metrics.items():
            infos.setdefault(key, info)
    names: dict[str, str] = {}
    for info in infos.values():
        for alias in info.aliases:
            names.setdefault(alias.lower(), info.key)
    for info in infos.values():
        names.setdefault(info.key.lower(), info.key)
        names.setdefault(info.key.lower().replace("_", " "), info.key)
    for info in infos.values():
        if "(" not in info.name:  # "Exact match (answerable)" is a table label, not how prose names a figure
            names.setdefault(info.name.lower(), info.key)
    return infos, names


_DIGIT = re.compile(r"\d")


def _prose_patterns() -> tuple[re.Pattern[str], ...]:
    return _patterns_of(tuple(TASKS.names()))


@functools.cache
def _patterns_of(kinds: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Prose figures: "<metric> ... <value>" or "<value> <metric>", over every registered metric name."""
    _, names = _names_of(kinds)
    alternatives = "|".join(
        re.escape(name).replace(r"\ ", r"[ -]").replace("_", "[ _-]") for name in sorted(names, key=len, reverse=True)
    )
    metric = rf"(?P<metric>{alternatives})"
    value = r"(?<![\w.])(?P<value>[-−]?\d{1,3}(?:\.\d+)?)(?![\w.]*\d)\s*%?"
    return (
        re.compile(rf"(?<![\w-])\b{metric}\b[^.\d\n()\[\]]{{0,40}}?{value}", re.IGNORECASE),
        re.compile(rf"{value}\s*(?:points?\s+)?(?:of\s+)?{metric}\b", re.IGNORECASE),
    )


def _metric_key(name: str) -> str | None:
    """The registered metric a card's name for it means ("F1 score", "EM", "pearsonr"), if any."""
    _, names = _metric_names()
    normal = " ".join(name.lower().replace("-", " ").replace("_", " ").split())
    return names.get(name.lower()) or names.get(normal) or names.get(normal.replace(" score", ""))


def _on_scale(info: MetricInfo, value: float, decimals: int) -> tuple[float, int]:
    """A stated value on the metric's own scale: a percentage may be stated as a fraction (0.87 for 87%)."""
    if info.unit == "%" and 0 < abs(value) <= 1.0:
        return value * 100.0, max(0, decimals - 2)
    return value, decimals


def dataset_kind(text: str) -> str | None:
    """The dataset key (squad_v2, squad, sst2, ...) a dataset name, type, config or sentence names; None when not said.

    Each task kind declares the patterns of the datasets it is measured on (``Task.claim_patterns``).
    """
    t = text.lower().replace("_", " ").replace("-", " ")
    for task in TASKS.values():
        for key, pattern in task.claim_patterns.items():
            if re.search(pattern, t):
                return key
    return None


def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


def model_index_claims(card: ModelCard) -> list[Claim]:
    infos, _ = _metric_names()
    claims = []
    for e, entry in enumerate(card.metadata.get("model-index") or []):
        for r, result in enumerate((entry or {}).get("results") or []):
            dataset = (result or {}).get("dataset") or {}
            said = " ".join(str(dataset.get(k, "")) for k in ("name", "type", "config"))
            kind = dataset_kind(said)
            for m, metric in enumerate((result or {}).get("metrics") or []):
                if not isinstance(metric, dict):
                    continue
                name = str(metric.get("type") or metric.get("name") or "")
                key = _metric_key(name) or _metric_key(str(metric.get("name") or ""))
                raw_value = metric.get("value")
                if key is None or isinstance(raw_value, bool) or not isinstance(raw_value, (int, float)):
                    continue
                raw = str(raw_value)
                scaled = _on_scale(infos[key], float(raw_value), _decimals(raw))
                if not math.isfinite(scaled[0]):
                    continue  # a structured claim outside the metric's range is kept: it cannot hold
                line = card.metadata_lines.get(("model-index", e, "results", r, "metrics", m, "value"), 1)
                claims.append(Claim("model-index", line, key, kind, scaled[0], scaled[1], f"{name}: {raw}", said))
    return claims


def _paren_depth(line: str, position: int) -> int:
    depth = 0
    for ch in line[:position]:
        depth += {"(": 1, ")": -1}.get(ch, 0)
    return depth


def prose_claims(card: ModelCard) -> list[Claim]:
    """Figures stated in sentences ("reaches a F1 score of 87.1 on the SQuAD v1.1 dev set", "Pearson 0.95").

    Read conservatively: outside code blocks, not inside parentheses (where cards compare with *other*
    models: "(for comparison, BERT reaches ...)"); a percentage between 1 and 100, any other metric inside its
    own range.
    """
    infos, _ = _metric_names()
    code_lines = {b.line + i for b in card.code_blocks for i in range(-1, b.code.count("\n") + 2)}
    claims = []
    heading = ""
    for number, line in enumerate(card.lines, start=1):
        if line.startswith("#") and number >= card.body_start and number not in code_lines:
            heading = line
        if number < card.body_start or number in code_lines or not _DIGIT.search(line):
            continue  # a claim states a number: most lines of a long card are passed over at once
        seen = set()
        for pattern in _prose_patterns():
            for match in pattern.finditer(line):
                key = _metric_key(match["metric"])
                if key is None or match.start() in seen or _paren_depth(line, match.start()) > 0:
                    continue
                info = infos[key]
                value = float(match["value"].replace("−", "-"))
                if info.unit == "%" and not 1.0 <= value <= 100.0:
                    continue
                if not info.contains(value):
                    continue
                seen.add(match.start())
                claims.append(
                    Claim(
                        "prose",
                        number,
                        key,
                        dataset_kind(line),
                        value,
                        _decimals(match["value"]),
                        match.group(0).strip(),
                        heading,
                    )
                )
    return claims


def _job_for(claim: Claim, jobs: list[Job]) -> tuple[Job | None, str | None]:
    def kind(job: Job) -> str | None:
        return task_class(job.kind).claim_dataset(job)

    def key(job: Job) -> str | None:
        names = task_class(job.kind).claim_metrics.get(claim.metric, (claim.metric,))
        return next((name for name in names if name in job.metrics), None)

    candidates = [j for j in jobs if key(j) and (claim.dataset is None or kind(j) == claim.dataset)]
    if len(candidates) > 1 and claim.context:  # several jobs have the metric: the heading names the task
        named = [j for j in candidates if re.search(rf"(?<![\w-]){re.escape(j.task)}(?![\w-])", claim.context)]
        candidates = named if len(named) == 1 else candidates
    if len(candidates) != 1:
        return None, None
    return candidates[0], key(candidates[0])


def claim_tolerance(info: MetricInfo, tolerance: float, measured: float) -> float:
    """The tolerance on a claim, given in points of a percentage: the same share of the metric's range for any
    other bounded metric (0.5 points of 100 is 0.01 of a correlation's range of 2), and of the measured value
    for an unbounded one."""
    if info.unit == "%":
        return tolerance
    span = info.span
    return tolerance / 100.0 * (span if span is not None else abs(measured))


def check_claims(claims: list[Claim], jobs: list[Job] | None, tolerance: float) -> list[dict[str, Any]]:
    """Each claim against the measured metric: holds (inside the 95% CI or within the tolerance), does not hold,
    or not measured."""
    infos, _ = _metric_names()
    out = []
    for claim in claims:
        row = {**vars(claim), "measured": None, "low": None, "high": None, "difference": None, "job": None}
        job, key = _job_for(claim, jobs or [])
        if job is None or key is None:
            row.update(
                verdict="not measured",
                reason="no run given" if jobs is None else "no single measured job matches this metric and dataset",
            )
        else:
            info = task_class(job.kind).metrics.get(key) or infos[claim.metric]
            est = job.metrics[key]
            diff = claim.value - est.value
            d = info.digits()
            row.update(measured=est.value, low=est.low, high=est.high, difference=diff, job=f"{job.model} · {job.task}")
            allowed = claim_tolerance(info, tolerance, est.value)
            inside = est.low is not None and math.isfinite(est.low) and est.low <= claim.value <= est.high
            if not info.contains(claim.value):
                row.update(
                    verdict="does not hold",
                    reason=f"claimed {claim.value:g}, outside {info.name}'s range {info.range_text()}; measured"
                    f" {est.value:.{d}f}, off by {diff:+.{d}f}",
                )
            elif inside:
                row.update(verdict="holds", reason=f"inside the measured 95% CI [{est.low:.{d}f}, {est.high:.{d}f}]")
            elif abs(diff) <= allowed:
                row.update(verdict="holds", reason=f"within the tolerance of {allowed:g}{info.suffix}")
            else:
                row.update(
                    verdict="does not hold",
                    reason=f"claimed {claim.value:g}, measured {est.value:.{d}f} "
                    f"(95% CI [{est.low:.{d}f}, {est.high:.{d}f}]), off by {diff:+.{d}f}",
                )
        out.append(row)
    return out


def _disagree(coarse: Claim, fine: Claim) -> bool:
    """The less precise figure must equal the more precise one rounded to its digits."""
    if coarse.decimals > fine.decimals:
        coarse, fine = fine, coarse
    tolerance: float = 10.0 ** (-coarse.decimals) / 2 + 1e-9
    return abs(round(fine.value, coarse.decimals) - coarse.value) > tolerance


def inconsistencies(claims: list[Claim]) -> list[dict[str, Any]]:
    """Claims about the same metric and data that disagree beyond rounding with its most precise statement.

    86.9965 and 87.0 agree; 86.9965 and 87.1 do not. Each claim is compared with the most precise claim of
    its (metric, dataset) -- a claim that names no dataset, with that of every dataset -- so the check is
    linear in the card's size, and each disagreeing claim is reported once.
    """
    reference: dict[tuple[str, str | None], Claim] = {}
    for claim in claims:  # the most precise claim per (metric, dataset); the first one wins a tie
        key = (claim.metric, claim.dataset)
        if key not in reference or claim.decimals > reference[key].decimals:
            reference[key] = claim
    by_metric: dict[str, list[Claim]] = {}
    for (metric, _), ref in reference.items():
        by_metric.setdefault(metric, []).append(ref)
    found: list[dict[str, Any]] = []
    seen: set[tuple[int, int]] = set()
    for claim in claims:
        refs = [reference[(claim.metric, claim.dataset)]]
        if claim.dataset is None:
            refs = by_metric[claim.metric]
        else:
            refs += [r for r in by_metric[claim.metric] if r.dataset is None]
        for ref in refs:
            pair = (min(id(ref), id(claim)), max(id(ref), id(claim)))
            if ref is claim or pair in seen or not _disagree(ref, claim):
                continue
            seen.add(pair)
            a, b = sorted((ref, claim), key=lambda c: (c.line, c.source))
            found.append(
                {
                    "metric": a.metric,
                    "dataset": a.dataset or b.dataset,
                    "a": {"line": a.line, "source": a.source, "value": a.value, "text": a.text},
                    "b": {"line": b.line, "source": b.source, "value": b.value, "text": b.text},
                    "message": f"{a.metric} stated as {a.text!r} (line {a.line}, {a.source})"
                    f" and {b.text!r} (line {b.line}, {b.source})",
                }
            )
    return found


# ---------------------------------------------------------------- completeness

#: Sections of the Hugging Face model card template / Mitchell et al., with the headings that count for each.
EXPECTED_SECTIONS = (
    ("Model Details", r"model (details|description|summary)|^model$|^overview"),
    ("Uses", r"^(intended )?uses?\b|how to (use|get started)|direct use|intended use"),
    ("Out-of-Scope Use", r"out[- ]of[- ]scope|misuse"),
    ("Bias, Risks, and Limitations", r"bias|risks|limitations"),
    ("Training Data", r"training"),
    ("Evaluation", r"evaluation|results"),
    ("Environmental Impact", r"environmental|carbon|emission"),
    ("Citation", r"citation|bibtex|cite"),
)
_PLACEHOLDER = re.compile(r"\[?more information needed\]?|:\**\s*\[?(unknown|n/?a|tbd|todo)\]?\s*$", re.IGNORECASE)


def completeness(card: ModelCard) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each expected section as present / empty / missing, and lines that are placeholders."""
    sections = []
    for name, pattern in EXPECTED_SECTIONS:
        regex = re.compile(pattern, re.IGNORECASE)
        match = next((s for s in card.sections if regex.search(s.title)), None)
        if match is None:
            sections.append({"section": name, "status": "missing", "line": None, "heading": None})
            continue
        idx = card.sections.index(match)
        stop = next((k for k, s in enumerate(card.sections[idx + 1 :]) if s.level <= match.level), None)
        nested = card.sections[idx : idx + 1 + stop] if stop is not None else card.sections[idx:]
        content = " ".join(s.body for s in nested)
        meaningful = _PLACEHOLDER.sub("", content).strip()
        status = "present" if meaningful else "empty"
        found: dict[str, Any] = {"section": name, "status": status, "line": match.line, "heading": match.title}
        sections.append(found)
    placeholders = [
        {"line": n, "text": line.strip()}
        for n, line in enumerate(card.lines, start=1)
        if n >= card.body_start and _PLACEHOLDER.search(line)
    ]
    return sections, placeholders


# ---------------------------------------------------------------- stale usage code

STALE_RULES = (
    (
        re.compile(r"""pipeline\(\s*(?:task\s*=\s*)?["']question-answering["']"""),
        5,
        "removed",
        "transformers 5 removed the question-answering pipeline (it raises 'The task question-answering has been"
        " removed from transformers')",
        "auditkit's QA engine gives the 4.57.6 pipeline's answers under transformers 5: "
        "QAEngine(model, tokenizer, QASettings()).predict(questions, contexts) from auditkit.engine.qa, or"
        " `auditkit run` with an extractive_qa task",
    ),
    (
        re.compile(r"\bTF(?:Auto)?\w*(?:For\w+|Model)\b"),
        5,
        "removed",
        "transformers 5 dropped TensorFlow models and their TF* classes",
        "the PyTorch class of the same name without the TF prefix (e.g. DistilBertForQuestionAnswering), with"
        " return_tensors='pt'",
    ),
    (
        re.compile(r"""return_tensors\s*=\s*["']tf["']"""),
        5,
        "removed",
        "transformers 5 has no TensorFlow tensors",
        "return_tensors='pt'",
    ),
    (re.compile(r"\btorch_dtype\s*="), 5, "deprecated", "torch_dtype= is deprecated in favour of dtype=", "dtype="),
)


def stale_code(card: ModelCard, transformers_version: str) -> list[dict[str, Any]]:
    """Snippets calling APIs that current transformers removed or deprecated, with the replacement."""
    leading = re.match(r"\d+", transformers_version)
    major = int(leading.group(0)) if leading else 0
    found = []
    for block in card.code_blocks:
        for offset, line in enumerate(block.code.splitlines()):
            for pattern, since, severity, problem, replacement in STALE_RULES:
                if pattern.search(line):
                    found.append(
                        {
                            "line": block.line + offset,
                            "code": line.strip(),
                            "severity": severity,
                            "since": f"transformers {since}",
                            "affects_installed": major >= since,
                            "problem": problem,
                            "replacement": replacement,
                        }
                    )
    return found


# ---------------------------------------------------------------- example outputs

_ANSWER_LINE = re.compile(
    r"Answer:\s*'(?P<answer>.*?)',\s*score:\s*(?P<score>[\d.]+),\s*start:\s*(?P<start>\d+),\s*end:\s*(?P<end>\d+)"
)


def _string_value(node: ast.AST, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    return None


def qa_examples(card: ModelCard) -> list[dict[str, Any]]:
    """QA calls in the card's Python snippets (question=..., context=... given as literals) with the output the card
    shows.
    """
    examples = []
    for block in card.code_blocks:
        if block.language not in ("python", "py", ""):
            continue
        try:
            tree = ast.parse(block.code)
        except SyntaxError:
            continue
        names: dict[str, str] = {}
        calls = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = _string_value(node.value, names)
                if value is not None:
                    names[node.targets[0].id] = value
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                kwargs = {k.arg: k.value for k in node.keywords if k.arg}
                if "question" in kwargs and "context" in kwargs:
                    question, context = (
                        _string_value(kwargs["question"], names),
                        _string_value(kwargs["context"], names),
                    )
                    if question is not None and context is not None:
                        calls.append((block.line + node.lineno - 1, question, context))
        outputs = [m for m in _ANSWER_LINE.finditer(block.code + "\n" + block.after)]
        for (line, question, context), match in zip(sorted(calls), outputs, strict=False):  # a call may show no output
            examples.append(
                {
                    "line": line,
                    "question": question,
                    "context": context,
                    "expected": {
                        "answer": match["answer"],
                        "score": float(match["score"]),
                        "start": int(match["start"]),
                        "end": int(match["end"]),
                    },
                }
            )
    return examples


def check_examples(examples: list[dict[str, Any]], predict: Any | None) -> list[dict[str, Any]]:
    """Re-run each example with ``predict(question, context) -> {answer, score, start, end}`` and compare.

    The card prints the score rounded to 4 decimals, so the re-run score must round to the same value.
    """
    out = []
    for ex in examples:
        row = {"line": ex["line"], "question": ex["question"], "expected": ex["expected"], "actual": None}
        if predict is None:
            row.update(verdict="not re-run", reason="no model given (pass --model or --results with the run's model)")
        else:
            actual = predict(ex["question"], ex["context"])
            row["actual"] = actual
            decimals = len(str(ex["expected"]["score"]).split(".")[1]) if "." in str(ex["expected"]["score"]) else 0
            same = (
                actual["answer"] == ex["expected"]["answer"]
                and actual["start"] == ex["expected"]["start"]
                and actual["end"] == ex["expected"]["end"]
                and round(actual["score"], decimals) == ex["expected"]["score"]
            )
            row.update(
                verdict="holds" if same else "does not hold",
                reason="answer, span and score reproduce"
                if same
                else f"re-run gives {actual['answer']!r}"
                f" (score {actual['score']:.4f}, {actual['start']}-{actual['end']})",
            )
        out.append(row)
    return out
