"""Model-card audits: what a card claims against what was measured, and whether the card holds together.

``audit_card(card, results_dir=..., model=...)`` checks a Hugging Face model card (Markdown with YAML
front matter), given a run against its measured figures. The audit is returned (and written where the
caller says); a published run is never modified. ``auditkit run`` audits the cards a suite names
before it publishes, into the run's ``card_audits.json``, where reports and ``card.*`` gates read it.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.errors import AuditkitError
from ..results import Results, Run, load_run
from ..spec.expressions import SUMMARY_KEYS
from ..spec.schema import ModelSpec
from .card_reader import CardError, read_card
from .checks import (
    check_claims,
    check_examples,
    completeness,
    inconsistencies,
    model_index_claims,
    prose_claims,
    qa_examples,
    stale_code,
)

__all__ = ["SUMMARY_KEYS", "CardError", "audit_card"]


def _pick_model(results: Results, card_name: str | None, model: str | None) -> str:
    names = list(results.models)
    if model is not None:
        if model not in names:
            raise AuditkitError(
                f"model {model!r} is not in run {results.run_id}", hint=f"the run's models: {', '.join(names)}"
            )
        return model
    by_source = [n for n, m in results.models.items() if card_name and m.source == card_name]
    if len(by_source) == 1:
        return by_source[0]
    if len(names) == 1:
        return names[0]
    raise AuditkitError(
        f"run {results.run_id} has several models; which one does the card describe?",
        hint=f"pass --model, one of {', '.join(names)}",
    )


def _predictor(spec: ModelSpec) -> Any:
    """``predict(question, context)`` with the QA pipeline's default settings, as the cards' snippets use it."""
    from ..core.errors import ModelError
    from ..engine.types import QASettings
    from ..models import open_model

    engine = open_model(spec, "question-answering").qa_engine(QASettings())

    def predict(question: str, context: str) -> dict[str, Any]:
        [prediction] = engine.predict([question], [context], ["card-example"])
        if prediction is None:
            raise ModelError(
                f"the endpoint could not answer the card's example: {engine.failures[-1]['error']}", source=spec.name
            )
        best = prediction.answers[0]
        return {"answer": best["answer"], "score": best["score"], "start": best["start"], "end": best["end"]}

    return predict


def audit_card(
    card_path: str | Path,
    *,
    results_dir: str | Path | None = None,
    run: Run | None = None,
    model: str | None = None,
    model_spec: ModelSpec | None = None,
    tolerance: float = 0.5,
    rerun: bool = True,
) -> dict[str, Any]:
    """Audit a model card; with ``results_dir`` (or a loaded ``run``), check its claims against that run.

    ``model_spec`` (or, with a run, the run's own model) re-runs the card's example outputs.
    """
    installed = metadata.version("transformers")  # the version, without importing transformers itself

    card = read_card(card_path)
    index = card.metadata.get("model-index") or []
    card_name = index[0].get("name") if index and isinstance(index[0], dict) else None
    if run is None and results_dir is not None:
        run = load_run(results_dir)
    results = run.results if run is not None else None
    jobs = None
    chosen = model
    if results is not None:
        chosen = _pick_model(results, card_name, model)
        jobs = [j for j in results.jobs if j.model == chosen]
        if model_spec is None:
            spec = next((m for m in results.suite.spec["models"] if m["name"] == chosen), None)
            model_spec = _recorded_model(spec, run) if spec and run is not None else None

    claims = model_index_claims(card) + prose_claims(card)
    checked = check_claims(claims, jobs, tolerance)
    sections, placeholders = completeness(card)
    stale = stale_code(card, installed)
    examples = qa_examples(card)
    predict = _predictor(model_spec) if (examples and rerun and model_spec is not None) else None
    example_rows = check_examples(examples, predict)
    contradictions = inconsistencies(claims)
    audit = {
        "card": os.path.relpath(card.path),
        "model": chosen,
        "card_model_name": card_name,
        "transformers": installed,
        "tolerance": tolerance,
        "claims": checked,
        "inconsistencies": contradictions,
        "sections": sections,
        "placeholders": placeholders,
        "stale_code": stale,
        "examples": example_rows,
        "summary": {
            "claims_failed": sum(c["verdict"] == "does not hold" for c in checked),
            "claims_not_measured": sum(c["verdict"] == "not measured" for c in checked),
            "claims_held": sum(c["verdict"] == "holds" for c in checked),
            "inconsistencies": len(contradictions),
            "missing_sections": sum(s["status"] == "missing" for s in sections),
            "empty_sections": sum(s["status"] == "empty" for s in sections),
            "placeholders": len(placeholders),
            "stale_snippets": sum(1 for s in stale if s["affects_installed"]),
            "examples_failed": sum(e["verdict"] == "does not hold" for e in example_rows),
        },
    }
    return audit


def _recorded_model(spec: dict[str, Any], run: Run) -> ModelSpec | None:
    """The model a run recorded, its relative paths resolved against the run's suite folder."""
    try:
        return ModelSpec.model_validate(spec, context={"base_dir": run.suite_dir})
    except ValidationError:
        return None  # a model that cannot be rebuilt here: the card's examples are not re-run
