"""Score an existing SQuAD predictions file: the official scripts' job, with CIs and breakdowns.

Input is what the official scripts take: the dataset JSON and a JSON object mapping question ids to
answer strings (``""`` = no answer in v2), optionally with a no-answer probability file. The figures
are the official ones (same rules, same summation order); auditkit adds bootstrap intervals, the
per-article and per-question-type breakdowns, and the coverage counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..core.errors import DatasetError
from ..data import DatasetRequest, load_dataset
from ..spec.schema import BootstrapSpec
from ..tasks.extractive_qa import ExtractiveQATask, score_qa


def _answer_problem(value: Any) -> str | None:
    return None if isinstance(value, str) else f"is {type(value).__name__}, expected an answer string"


def _probability_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"is {type(value).__name__}, expected a probability (a number from 0 to 1)"
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return f"is {value!r}, expected a probability from 0 to 1"
    return None


def _read_mapping(path: Path, what: str, problem: Callable[[Any], str | None]) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{what} file not found", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", source=str(path)) from None
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"not valid JSON: {exc.msg}", source=str(path), location=f"line {exc.lineno}, column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise DatasetError(
            f"{what} must be a JSON object mapping question ids to values, found {type(data).__name__}",
            source=str(path),
        )
    for key, value in data.items():
        found = problem(value)
        if found is not None:
            raise DatasetError(
                f"the value for id {key!r} {found}",
                source=str(path),
                hint=f"{what} map each question id to one value; fix or remove that entry",
            )
    return data


def score_predictions(
    task: Literal["squad", "squad_v2"],
    dataset: str | Path,
    predictions: str | Path,
    *,
    na_probs: str | Path | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Official SQuAD figures for a predictions file, plus CIs, breakdowns and coverage."""
    request = DatasetRequest(Path(dataset), None, None, "validation", None, "squad", None, None, None)
    ds = load_dataset(request, ExtractiveQATask, name=Path(dataset).stem)
    version = ds.info["squad_version"]
    preds = _read_mapping(Path(predictions), "predictions", _answer_problem)
    ids = [e.id for e in ds.examples]
    known = [qid for qid in ids if qid in preds]
    frame = pd.DataFrame({"id": known, "prediction": [preds[q] for q in known]})
    if na_probs is not None:
        probs = _read_mapping(Path(na_probs), "no-answer probabilities", _probability_problem)
        # evaluate-v2.0 tunes the threshold over the predictions as given.
        frame["best_span"] = frame["prediction"]
        frame["no_answer_probability"] = [float(probs.get(q, 0.0)) for q in known]
    scores = score_qa(frame, ds, task, BootstrapSpec(resamples=resamples, confidence=confidence), seed)
    details = scores.details
    return {
        "task": task,
        "dataset": {
            "path": str(dataset),
            "version": version,
            "questions": len(ds),
            "fingerprint": ds.fingerprint,
        },
        "predictions": {
            "path": str(predictions),
            "count": len(preds),
            "missing": len(ids) - len(known),
            "unknown_ids": len(set(preds) - set(ids)),
        },
        "official": details["official"],
        "metrics": {name: est.to_dict() for name, est in scores.metrics.items()},
        "by_question_type": details["by_question_type"],
        "by_article": details["by_article"],
        **({"by_answerability": details["by_answerability"]} if "by_answerability" in details else {}),
    }
