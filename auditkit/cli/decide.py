"""Commands that decide from a published run: ``auditkit gate`` and ``auditkit audit-card``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..audit.summary import finding_lines, summary_line
from .app import (
    LISTED_FINDINGS,
    BaselineKeyOpt,
    BaselineOpt,
    RunDirArg,
    app,
    emit_json,
    err,
    guarded,
    print_gates,
    read_audits,
)


def _print_audit(audit: dict[str, Any], quiet: bool) -> None:
    if quiet:
        return
    err.print(escape(summary_line(audit, audit["card"])), highlight=False, soft_wrap=True)
    lines = finding_lines(audit)
    for line in lines[:LISTED_FINDINGS]:
        err.print(escape(line), highlight=False, soft_wrap=True)
    if len(lines) > LISTED_FINDINGS:
        err.print(f"  ... and {len(lines) - LISTED_FINDINGS} more findings (all of them are in the audit JSON)")


@app.command("audit-card")
@guarded
def audit_card_cmd(
    card: Annotated[Path, typer.Argument(help="The model card (README.md with YAML front matter).")],
    results: Annotated[
        Path | None, typer.Option("--results", help="Run to check the claims against (the run is not modified).")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Which of the run's models the card describes.")] = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="Hub id or local directory to re-run the card's examples with.")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="Points a claim may differ from the measured value and still hold.")
    ] = 0.5,
    rerun: Annotated[
        bool, typer.Option("--rerun/--no-rerun", help="Re-run the card's example outputs on the model.")
    ] = True,
    out: Annotated[Path | None, typer.Option("--out", help="Write the audit JSON here (default: stdout).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
    fail: Annotated[
        bool,
        typer.Option(
            "--fail/--no-fail",
            help="Exit 1 when a claim does not hold, the card contradicts itself or an example output differs"
            " (like a linter); --no-fail always exits 0 after a completed audit.",
        ),
    ] = True,
) -> None:
    """Audit a model card: claims vs measured, internal consistency, completeness, stale usage code, example outputs.

    Exit codes: 0 the card's claims hold, 1 a claim does not hold / the card contradicts itself / an example
    output differs (unless --no-fail), 2 bad input."""
    from ..audit import audit_card
    from ..spec.schema import ModelSpec

    spec = ModelSpec.model_validate({"name": "card-model", "id": model_id}) if model_id else None
    audit = audit_card(card, results_dir=results, model=model, model_spec=spec, tolerance=tolerance, rerun=rerun)
    emit_json(audit, out)
    _print_audit(audit, quiet)
    summary = audit["summary"]
    if fail and summary["claims_failed"] + summary["inconsistencies"] + summary["examples_failed"] > 0:
        raise typer.Exit(1)


@app.command("promote")
@guarded
def promote_cmd(
    results_dir: Annotated[Path, typer.Argument(help="The released run (or a suite's output folder: its LATEST run).")],
    to: Annotated[Path, typer.Option("--to", help="The releases folder, e.g. reports/releases/<suite>/.")],
) -> None:
    """Make a released run the baseline of the next: copy it, verified, into a releases folder and point LATEST at it.

    Commit the folder; the next candidate's `auditkit run SUITE --baseline FOLDER` pairs with it."""
    from ..results.store import promote_run

    target = promote_run(results_dir, to)
    err.print(escape(f"promoted: {target} (LATEST of {to})"), highlight=False)
    typer.echo(str(target))


@app.command("gate")
@guarded
def gate_cmd(
    results_dir: RunDirArg,
    baseline: BaselineOpt = None,
    suite: Annotated[
        Path | None,
        typer.Option("--suite", help="Take the gates from this suite file instead of the run's own suite."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Where to write JUnit XML (default: <out>/gates.junit.xml).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for gates.json and JUnit (default: <run_id>.gate/ beside the run)."),
    ] = None,
    audit: Annotated[
        list[Path] | None,
        typer.Option("--audit", help="Card audit JSON (from audit-card --out) for card.* gates; repeatable."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only failures.")] = False,
    baseline_key: BaselineKeyOpt = None,
) -> None:
    """Re-apply release gates to a finished run (no model runs; the run is not modified).

    Exit codes: 0 GO; 1 NO_GO; 2 input error; 3 INCONCLUSIVE (see decision.on_inconclusive).
    """
    from ..gates import gate

    gates, decision = None, None
    if suite is not None:
        from ..running.suite import load_suite

        loaded = load_suite(suite).suite
        gates, baseline, decision = loaded.gates, baseline or loaded.baseline, loaded.decision
    verdict = gate(
        results_dir,
        baseline=baseline,
        gates=gates,
        junit=junit,
        out_dir=out,
        card_audits=read_audits(audit),
        decision=decision,
        baseline_key=baseline_key,
    )
    if not verdict.results:
        err.print("no gates defined (add 'gates:' to the suite, or pass --suite)")
    print_gates(verdict, quiet)
    if verdict.exit_code:
        raise typer.Exit(verdict.exit_code)


@app.command("keygen")
@guarded
def keygen_cmd(
    key: Annotated[Path, typer.Argument(help="Where to write the private key (PEM); the public key goes to KEY.pub.")],
) -> None:
    """Make an Ed25519 key pair for `auditkit attest` (private key owner-readable only; never overwritten)."""
    from ..results.attestation import generate_key

    public = generate_key(key)
    err.print(escape(f"private key: {key}; public key: {public}"), highlight=False)


@app.command("attest")
@guarded
def attest_cmd(
    results_dir: RunDirArg,
    key: Annotated[Path, typer.Option("--key", help="The signer's private key (PEM: Ed25519 or EC P-256).")],
    signer: Annotated[str, typer.Option("--signer", help="Who signs: the responsible person or role.")] = "unknown",
) -> None:
    """Sign a verified run: an in-toto Statement (every file's sha256, the suite, fingerprints, verdicts, the date)
    in a DSSE envelope, written beside the run as <run_id>.attestation.json."""
    from ..results.attestation import attest

    target = attest(results_dir, key, signer)
    err.print(escape(f"attested by {signer}: {target}"), highlight=False)
    typer.echo(str(target))


@app.command("verify")
@guarded
def verify_cmd(
    results_dir: RunDirArg,
    key: Annotated[Path, typer.Option("--key", help="The signer's public key (PEM).")],
    attestation: Annotated[
        Path | None, typer.Option("--attestation", help="The envelope (default: <run_id>.attestation.json beside it).")
    ] = None,
) -> None:
    """Check a run against its signed attestation: the signature, the manifest and every file.

    Exit codes: 0 verified, 1 something differs (each difference is listed), 2 bad input."""
    from ..results.attestation import verify_attestation

    problems, predicate = verify_attestation(results_dir, key, attestation)
    for problem in problems:
        err.print(escape(f"differs: {problem}"), highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    assert predicate is not None
    err.print(
        escape(
            f"verified: run {predicate['run_id']} attested by {predicate['signer']} on {predicate['attested']};"
            f" verdict {predicate['verdict'] or 'none'}"
        ),
        highlight=False,
    )
