"""Model-card audits on fixture cards: consistent, contradictory, incomplete, claims that hold and that don't."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import transformers
from conftest import REPO, cli_in_process, model_spec, requires_data, write_suite

from auditkit.audit import audit_card
from auditkit.audit.card_reader import CardError, read_card
from auditkit.engine.qa import QAEngine, QASettings
from auditkit.models.hf import load_model
from auditkit.results import load_results, verify_run

CARDS = Path(__file__).parent / "fixtures" / "cards"
INSTALLED_MAJOR = int(transformers.__version__.split(".")[0])


def test_card_parsing_keeps_lines() -> None:
    card = read_card(CARDS / "contradictory.md")
    assert card.metadata["model-index"][0]["name"] == "distilbert-base-cased-distilled-squad"
    assert card.metadata_lines[("model-index", 0, "results", 0, "metrics", 1, "value")] == 22
    assert [s.title for s in card.sections][:3] == [
        "DistilBERT base cased distilled SQuAD (fixture)",
        "Model Details",
        "How to Get Started with the Model",
    ]
    assert card.code_blocks[0].language == "python" and card.code_blocks[0].line == 37


def test_contradictory_card_flags_both_locations_and_stale_code() -> None:
    audit = audit_card(CARDS / "contradictory.md")
    claims = [(c["line"], c["source"], c["metric"], c["value"]) for c in audit["claims"]]
    # The parenthetical comparison with BERT (88.7) is about another model and is not read as a claim.
    assert claims == [
        (19, "model-index", "exact_match", 79.5998),
        (22, "model-index", "f1", 86.9965),
        (68, "prose", "f1", 87.1),
    ]
    assert all(c["verdict"] == "not measured" for c in audit["claims"])
    [contradiction] = audit["inconsistencies"]
    assert (contradiction["a"]["line"], contradiction["b"]["line"]) == (22, 68)
    assert (
        contradiction["message"]
        == "f1 stated as 'f1: 86.9965' (line 22, model-index) and 'F1 score of 87.1' (line 68, prose)"
    )
    stale = {s["line"]: s for s in audit["stale_code"]}
    assert (
        stale[38]["severity"] == "removed"
        and "question-answering pipeline" in stale[38]["problem"]
        and "QAEngine" in stale[38]["replacement"]
    )
    assert "TF* classes" in stale[44]["problem"] and "DistilBertForQuestionAnswering" in stale[44]["replacement"]
    assert stale[45]["replacement"] == "return_tensors='pt'"
    assert all(s["affects_installed"] == (INSTALLED_MAJOR >= 5) for s in audit["stale_code"])
    assert audit["summary"]["missing_sections"] == 0 and audit["summary"]["placeholders"] == 0


def test_consistent_card_has_no_findings_but_unmeasured_claims() -> None:
    audit = audit_card(CARDS / "consistent.md")
    assert audit["inconsistencies"] == []  # 86.9965 ~ 87.0 and 0.795998 (a fraction) ~ 79.6
    assert [c["value"] for c in audit["claims"]] == pytest.approx([86.9965, 79.5998, 87.0, 79.6])
    assert {s["status"] for s in audit["sections"]} == {"present"}
    assert audit["stale_code"] == [] and audit["placeholders"] == []


def test_incomplete_card_sections_and_placeholders() -> None:
    audit = audit_card(CARDS / "incomplete.md")
    status = {s["section"]: s["status"] for s in audit["sections"]}
    assert status == {
        "Model Details": "present",
        "Uses": "empty",
        "Out-of-Scope Use": "missing",
        "Bias, Risks, and Limitations": "empty",
        "Training Data": "missing",
        "Evaluation": "present",
        "Environmental Impact": "missing",
        "Citation": "missing",
    }
    assert [p["line"] for p in audit["placeholders"]] == [9, 10, 16]


def test_broken_card_errors(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="model card not found"):
        read_card(tmp_path / "README.md")
    broken = tmp_path / "broken.md"
    broken.write_text("---\nmodel-index: [\n---\n# x\n")
    with pytest.raises(CardError, match="invalid YAML front matter"):
        read_card(broken)
    unclosed = tmp_path / "unclosed.md"
    unclosed.write_text("---\nlicense: mit\n# x\n")
    with pytest.raises(CardError, match="never ends"):
        read_card(unclosed)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("audit")
    suite = write_suite(
        work / "suite.yaml",
        """name: audited
output_dir: runs
bootstrap: {resamples: 300}
models:
  - name: qa
    build: {config: distilbert-base-cased-distilled-squad, vocab: $DATA/vocab/bert-base-cased-vocab.txt}
  - name: cls
    build: {config: distilbert-base-uncased-finetuned-sst-2-english, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}
tasks:
  - {name: squad_v1, kind: extractive_qa, models: [qa], dataset: {path: $DATA/squad/dev-v1.1.json, limit: 40},
     cluster: none}  # the first 40 questions are one article: no article-level interval exists
  - {name: sst2, kind: classification, models: [cls], dataset: {path: $DATA/sst2/dev.tsv, limit: 100}}
""",
    )
    proc = cli_in_process("run", str(suite), "-q", "--report", "none", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


@requires_data
def test_claims_against_a_real_run(run: Path, tmp_path: Path) -> None:
    results = load_results(run)
    f1 = next(j for j in results.jobs if j.task == "squad_v1").metrics["f1"].value
    card = tmp_path / "README.md"
    card.write_text((CARDS / "contradictory.md").read_text().replace("value: 86.9965", f"value: {f1:.2f}"))
    audit = audit_card(card, results_dir=run, model="qa")
    verdicts = {(c["line"], c["metric"]): c["verdict"] for c in audit["claims"]}
    assert verdicts == {(19, "exact_match"): "does not hold", (22, "f1"): "holds", (68, "f1"): "does not hold"}
    held = next(c for c in audit["claims"] if c["verdict"] == "holds")
    assert held["measured"] == f1 and held["job"] == "qa · squad_v1" and "95% CI" in held["reason"]
    failed = next(c for c in audit["claims"] if c["line"] == 68)
    assert failed["difference"] == pytest.approx(87.1 - f1) and "off by" in failed["reason"]
    # A SQuAD v2 claim cannot be checked against a run without SQuAD v2.
    v2 = tmp_path / "v2.md"
    v2.write_text("# Card\n\n## Evaluation\n\nIt reaches an F1 score of 80.2 on SQuAD 2.0.\n")
    assert audit_card(v2, results_dir=run, model="qa")["claims"][0]["verdict"] == "not measured"
    # Auditing against a run never writes into it: every file still matches the run's manifest.
    verify_run(run)


@requires_data
def test_classification_claim_and_tolerance(run: Path, tmp_path: Path) -> None:
    acc = next(j for j in load_results(run).jobs if j.task == "sst2").metrics["accuracy"]
    card = tmp_path / "sst.md"
    card.write_text(
        f"# Card\n\n## Evaluation\n\nThe model reaches an accuracy of {acc.high + 0.3:.1f} on the dev set.\n"
    )
    tight = audit_card(card, results_dir=run, model="cls", tolerance=0.0)["claims"][0]
    loose = audit_card(card, results_dir=run, model="cls", tolerance=50.0)["claims"][0]
    assert tight["verdict"] == "does not hold" and loose["verdict"] == "holds" and "tolerance" in loose["reason"]


@requires_data
def test_example_outputs_are_rerun(run: Path, tmp_path: Path) -> None:
    spec = model_spec("qa", "distilbert-base-cased-distilled-squad", "bert-base-cased-vocab.txt")
    loaded = load_model(spec, "question-answering")
    question, context = (
        "Which tool audits model cards?",
        "Release managers use auditkit to audit model cards before a release.",
    )
    best = QAEngine(loaded.model, loaded.tokenizer, QASettings()).predict([question], [context])[0].answers[0]
    snippet = (
        f'```python\ncontext = r"""{context}"""\nresult = qa(question="{question}", context=context)\n'
        "print(f\"Answer: '{result['answer']}', score: {round(result['score'], 4)}, start: {result['start']}, end:"
        " {result['end']}\")\n```\n"
    )
    good = f"Answer: '{best['answer']}', score: {round(best['score'], 4)}, start: {best['start']}, end: {best['end']}"
    bad = f"Answer: 'auditkit', score: 0.5152, start: {best['start']}, end: {best['end']}"
    for output, verdict in ((good, "holds"), (bad, "does not hold")):
        card = tmp_path / f"{verdict}.md"
        card.write_text(f"# Card\n\n## How to use\n\n{snippet}\n```\n{output}\n```\n")
        [example] = audit_card(card, results_dir=run, model="qa")["examples"]
        assert example["verdict"] == verdict and example["line"] == 7
        assert example["expected"]["start"] == best["start"]
    assert audit_card(card, rerun=False)["examples"][0]["verdict"] == "not re-run"


@requires_data
def test_audit_cli_report_and_gates(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    proc = cli_in_process(
        "audit-card", str(CARDS / "contradictory.md"), "--results", str(run), "--model", "qa", "--out", str(out)
    )
    assert proc.returncode == 1, proc.stderr  # a card that contradicts itself fails, like a linter
    lenient = ["--results", str(run), "--model", "qa", "--out", str(tmp_path / "again.json"), "--no-fail"]
    assert cli_in_process("audit-card", str(CARDS / "contradictory.md"), *lenient).returncode == 0
    audit = json.loads(out.read_text())
    assert audit["summary"]["inconsistencies"] == 1 and "inconsistent: f1 stated as" in proc.stderr
    rendered = tmp_path / "rendered"
    assert (
        cli_in_process("report", str(run), "-f", "md,html", "--audit", str(out), "--out", str(rendered)).returncode == 0
    )
    md = (rendered / "report.md").read_text()
    assert "## Model card audit: qa" in md and "**Inconsistent:** f1 stated as" in md
    assert "Model card audit: qa" in (rendered / "report.html").read_text()
    gates = write_suite(
        tmp_path / "gates.yaml",
        (run.parent.parent.parent / "suite.yaml").read_text()
        + 'gates:\n  - "card.claims_failed <= 0"\n  - "card.inconsistencies <= 1"\n',
    )
    proc = cli_in_process(
        "gate", str(run), "--suite", str(gates), "--audit", str(out), "--out", str(tmp_path / "gated")
    )
    assert (
        proc.returncode == 1
        and "NO_GO card.claims_failed <= 0 [qa]" in proc.stderr
        and "GO card.inconsistencies <= 1 [qa]" in proc.stderr
    )
    assert cli_in_process("audit-card", str(tmp_path / "missing.md")).returncode == 2


@requires_data
def test_audit_card_fails_like_a_linter_and_ships_a_pre_commit_hook(run: Path, tmp_path: Path) -> None:
    """A generated card audits clean (exit 0); the same card with one figure edited exits 1; the shipped
    pre-commit hook runs exactly that command on a model repository's README.md."""
    import yaml

    card = tmp_path / "README.md"
    made = cli_in_process("card", str(run), "--model", "cls", "--out", str(card), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    clean = cli_in_process("audit-card", str(card), "--results", str(run), "--model", "cls", "--no-rerun", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    accuracy = next(j for j in load_results(run).jobs if j.task == "sst2").metrics["accuracy"]
    outside = accuracy.high + 5 if accuracy.high < 94 else accuracy.low - 5  # beyond the interval: cannot hold
    card.write_text(card.read_text().replace(f"of {accuracy.value:.2f}", f"of {outside:.2f}"))
    edited = cli_in_process(
        "audit-card", str(card), "--results", str(run), "--model", "cls", "--no-rerun", cwd=tmp_path
    )
    assert edited.returncode == 1 and "does not hold" in edited.stderr, edited.stderr
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "auditkit-audit-card" and hook["entry"].startswith("auditkit audit-card README.md")
    assert hook["language"] == "python" and hook["pass_filenames"] is False and hook["files"] == r"^README\.md$"
