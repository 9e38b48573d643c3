"""Signed, dated attestations: `auditkit attest` signs an in-toto Statement of every file of a run in a DSSE
envelope (Ed25519 via `cryptography`); `auditkit verify` checks the signature, the manifest and every file;
`gate --baseline-key` refuses a baseline that does not verify."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_SST2, cli, cli_in_process, requires_data, write_suite


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("attest")
    suite = write_suite(
        work / "suite.yaml",
        f"""name: signed
output_dir: runs
models: [{{name: m, build: {{config: {TINY_SST2}, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}}}]
tasks: [{{name: t, kind: classification, dataset: {{path: $DATA/sst2/dev.tsv, limit: 24}}}}]
gates: ["t.accuracy >= 0"]
""",
    )
    from auditkit import run_suite
    from auditkit.results.attestation import generate_key

    run = run_suite(suite, output_dir=work / "runs", quiet=True, report_formats=[])
    key = work / "keys" / "release.pem"
    assert cli("keygen", str(key), cwd=work).returncode == 0  # the command once; in process elsewhere
    assert generate_key(work / "keys" / "other.pem").is_file()
    return work, run.run_dir, key


@requires_data
def test_attest_then_verify_and_every_tampering_is_named(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    import shutil

    from auditkit.results import atomic_write_json
    from auditkit.results.store import build_manifest

    work, run_dir, key = signed
    made = cli_in_process("attest", str(run_dir), "--key", str(key), "--signer", "Jane Doe, release manager", cwd=work)
    assert made.returncode == 0, made.stderr
    envelope = json.loads(Path(made.stdout.strip()).read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json" and len(envelope["signatures"]) == 1
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    names = {s["name"] for s in statement["subject"]}
    assert {"results.json", "manifest.json", "gates.json"} <= names and any(n.endswith(".parquet") for n in names)
    predicate = statement["predicate"]
    results = json.loads((run_dir / "results.json").read_text())
    assert (
        predicate["suite"]["sha256"] == results["suite"]["sha256"]
        and predicate["signer"] == "Jane Doe, release manager"
    )
    assert predicate["verdict"] in ("GO", "INCONCLUSIVE") and predicate["attested"] and predicate["models"]["m"]
    ok = cli_in_process("verify", str(run_dir), "--key", f"{key}.pub", cwd=work)
    assert ok.returncode == 0 and "verified: run" in ok.stderr, ok.stderr

    # An edited prediction, even with the manifest rewritten to match (as whoever edits can do): named.
    copy = tmp_path / "copy" / run_dir.name
    shutil.copytree(run_dir, copy)
    shutil.copy(run_dir.parent / f"{run_dir.name}.attestation.json", copy.parent)
    parquet = next(copy.rglob("*.parquet"))
    frame = pd.read_parquet(parquet)
    frame.loc[0, "correct"] = not frame.loc[0, "correct"]
    frame.to_parquet(parquet)
    atomic_write_json(copy / "manifest.json", build_manifest(copy))
    edited = cli_in_process("verify", str(copy), "--key", f"{key}.pub", cwd=work)
    assert (
        edited.returncode == 1
        and f"{parquet.relative_to(copy).as_posix()}: changed since it was attested" in edited.stderr
    )
    # Another key, a forged payload: the signature does not verify.
    from auditkit.results.attestation import verify_attestation

    other = work / "keys" / "other.pem"
    wrong, _ = verify_attestation(run_dir, f"{other}.pub")
    assert wrong and "no signature" in wrong[0]
    forged = dict(envelope, payload=base64.b64encode(json.dumps({**statement, "subject": []}).encode()).decode())
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    bad, _ = verify_attestation(run_dir, f"{key}.pub", tmp_path / "forged.json")
    assert bad and "no signature" in bad[0]
    extra = tmp_path / "extra" / run_dir.name
    shutil.copytree(run_dir, extra)
    shutil.copy(run_dir.parent / f"{run_dir.name}.attestation.json", extra.parent)
    (extra / "planted.txt").write_text("x")
    added, _ = verify_attestation(extra, f"{key}.pub")
    assert any("planted.txt: in the run, but not attested" in p for p in added)
    from auditkit.core.errors import ResultsError
    from auditkit.results.attestation import generate_key

    with pytest.raises(ResultsError, match="exists"):  # a key is never overwritten
        generate_key(key)


@requires_data
def test_gate_can_require_a_verified_baseline(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    work, run_dir, key = signed
    assert cli_in_process("attest", str(run_dir), "--key", str(key), cwd=work).returncode == 0
    suite = write_suite(
        tmp_path / "gates.yaml",
        f"""name: signed
models: [{{name: m, build: {{config: {TINY_SST2}, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}}}]
tasks: [{{name: t, kind: classification, dataset: {{path: $DATA/sst2/dev.tsv, limit: 24}}}}]
gates: ["t.accuracy >= baseline - 50"]
""",
    )
    args = ["gate", str(run_dir), "--suite", str(suite), "--baseline", str(run_dir), "--out", str(tmp_path / "g")]
    trusted = cli_in_process(*args, "--baseline-key", f"{key}.pub", cwd=work)
    assert trusted.returncode in (0, 3), trusted.stderr
    from auditkit.core.errors import ResultsError
    from auditkit.gates import gate
    from auditkit.running.suite import load_suite

    other = work / "keys" / "other.pem"
    with pytest.raises(ResultsError, match="is not verified by"):  # exit 2 from the command
        gate(run_dir, baseline=run_dir, gates=load_suite(suite).suite.gates, out_dir=tmp_path / "g2",
             baseline_key=f"{other}.pub")  # fmt: skip
