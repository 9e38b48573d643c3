"""Model-card audits: what a card claims against what was measured, and whether the card holds together.

``audit_card(card, results_dir=..., model=...)`` checks a Hugging Face model card (Markdown with YAML
front matter) and, given a run, records the audit in its results.json so reports show it and gates
can use it (``card.claims_failed <= 0``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AuditkitError
from ..results import RESULTS_FILE, atomic_write_json, load_results
from ..schema import ModelSpec
from .card import CardError, read_card
from .checks import (
    SUMMARY_KEYS,
    check_claims,
    check_examples,
    completeness,
    inconsistencies,
    model_index_claims,
    prose_claims,
    qa_examples,
    stale_code,
)

__all__ = ["audit_card", "CardError", "SUMMARY_KEYS"]

def _pick_model(results: dict[str, Any], card_name: str | None, model: str | None) -> str:
    names = list(results["models"])
    if model is not None:
        if model not in names:
            raise AuditkitError(f"model {model!r} is not in run {results['run_id']}", hint=f"the run's models: {', '.join(names)}")
        return model
    by_source = [n for n, m in results["models"].items() if card_name and m["source"] == card_name]
    if len(by_source) == 1:
        return by_source[0]
    if len(names) == 1:
        return names[0]
    raise AuditkitError(f"run {results['run_id']} has several models; which one does the card describe?", hint=f"pass --model, one of {', '.join(names)}")


def _predictor(spec: ModelSpec) -> Any:
    """``predict(question, context)`` with the QA pipeline's default settings, as the cards' snippets use it."""
    from ..engine.qa import QASettings
    from ..errors import ModelError
    from ..models import open_model

    engine = open_model(spec, "question-answering").qa_engine(QASettings())

    def predict(question: str, context: str) -> dict[str, Any]:
        [prediction] = engine.predict([question], [context], ["card-example"])
        if prediction is None:
            raise ModelError(f"the endpoint could not answer the card's example: {engine.failures[-1]['error']}", source=spec.name)
        best = prediction.answers[0]
        return {"answer": best["answer"], "score": best["score"], "start": best["start"], "end": best["end"]}

    return predict


def audit_card(card_path: str | Path, *, results_dir: str | Path | None = None, model: str | None = None, model_spec: ModelSpec | None = None,
               tolerance: float = 0.5, rerun: bool = True) -> dict[str, Any]:
    """Audit a model card; with ``results_dir``, check its claims against that run and record the audit there.

    ``model_spec`` (or, with a run, the run's own model) re-runs the card's example outputs.
    """
    import transformers

    card = read_card(card_path)
    index = card.metadata.get("model-index") or []
    card_name = index[0].get("name") if index and isinstance(index[0], dict) else None
    results = load_results(results_dir) if results_dir is not None else None
    jobs = None
    chosen = model
    if results is not None:
        chosen = _pick_model(results, card_name, model)
        jobs = [j for j in results["jobs"] if j["model"] == chosen]
        if model_spec is None:
            spec = next((m for m in results["suite"]["spec"]["models"] if m["name"] == chosen), None)
            model_spec = ModelSpec.model_validate(spec) if spec else None

    claims = model_index_claims(card) + prose_claims(card)
    checked = check_claims(claims, jobs, tolerance)
    sections, placeholders = completeness(card)
    stale = stale_code(card, transformers.__version__)
    examples = qa_examples(card)
    predict = _predictor(model_spec) if (examples and rerun and model_spec is not None) else None
    example_rows = check_examples(examples, predict)
    contradictions = inconsistencies(claims)
    audit = {
        "card": str(card.path),
        "model": chosen,
        "card_model_name": card_name,
        "transformers": transformers.__version__,
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
    if results is not None:
        stored = {k: v for k, v in results.items() if k != "_dir"}
        audits = [a for a in stored.get("card_audits", []) if not (a["card"] == audit["card"] and a["model"] == chosen)]
        stored["card_audits"] = audits + [audit]
        atomic_write_json(Path(results["_dir"]) / RESULTS_FILE, stored)
    return audit
