"""Signed, dated attestations of published runs: an in-toto Statement in a DSSE envelope, signed with ``cryptography``.

Why: a run's manifest proves that its files belong together, not who produced them or when; the EU AI Act's
Annex IV 2(g) asks for "test logs and all test reports dated and signed by the responsible persons". The
Statement's subjects are every file of the run with its sha256; its predicate says what was evaluated (the
suite's hash, every model's and dataset's fingerprint), what was decided (the gates' verdicts), when, by
whom (``signer``) and with which auditkit and environment. The envelope follows DSSE v1: the signature is
over ``PAE(payloadType, payload)``, made and checked by ``cryptography`` (Ed25519, or ECDSA P-256 with
SHA-256); no cryptography is written here. Keyless signing (sigstore) signs the same envelope in CI.

The attestation lives beside the run (``<run_id>.attestation.json``): a published run is never written again.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

from ..core.errors import ResultsError
from .store import MANIFEST_FILE, Run, atomic_write_text, build_manifest, load_run, sha256_file

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://github.com/auditkit/auditkit/attestation/evaluation-run/v1"


def attestation_path(run_dir: Path) -> Path:
    """Where a run's attestation goes: ``<run_id>.attestation.json`` beside it."""
    return run_dir.parent / f"{run_dir.name}.attestation.json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1's pre-authentication encoding: what is signed, so type and body cannot be confused."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _private_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ResultsError(
            f"cannot read the private key: {exc}",
            source=str(path),
            hint="give an unencrypted PEM private key (Ed25519 or EC P-256), e.g. made by `auditkit keygen`",
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ResultsError("the key is neither Ed25519 nor ECDSA", source=str(path), hint="use an Ed25519 key")
    return key


def _public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise ResultsError(
            f"cannot read the public key: {exc}", source=str(path), hint="give the PEM public key (KEY.pub)"
        ) from None


def key_id(public_key: Any) -> str:
    """The sha256 of the public key's DER encoding: which key signed, without trusting the envelope's word."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _sign(key: Any, message: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return bytes(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return bytes(key.sign(message))


def _verify(public_key: Any, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, message)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def generate_key(path: Path) -> Path:
    """A new Ed25519 key pair: ``path`` (private, PEM, owner-only) and ``path.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if path.exists():
        raise ResultsError(f"{path} exists", hint="a key is never overwritten; choose another path")
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(private)
    path.chmod(0o600)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(public)
    return pub


def _files(run_dir: Path, *, verified: bool) -> dict[str, str]:
    """Every file of the run (POSIX relative path -> sha256), the manifest included. A ``verified`` run's
    manifest already holds every other file's digest (checked against the files), so only the manifest itself is
    hashed; otherwise every file is hashed, as the manifest does."""
    manifest = run_dir / MANIFEST_FILE
    if verified and manifest.is_file():
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    else:
        files = build_manifest(run_dir)["files"]
    digests = {name: entry["sha256"] for name, entry in files.items()}
    if manifest.is_file():
        digests[MANIFEST_FILE] = sha256_file(manifest)
    return dict(sorted(digests.items()))


def statement(run: Run, signer: str, now: _dt.datetime | None = None) -> dict[str, Any]:
    """The in-toto Statement of a verified run."""
    results = run.results
    gates = run.recorded_gates()
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": name, "digest": {"sha256": digest}} for name, digest in _files(run.dir, verified=True).items()
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "run_id": results.run_id,
            "run_created": results.created,
            "attested": (now or _dt.datetime.now(_dt.timezone.utc)).isoformat(timespec="seconds"),
            "signer": signer,
            "auditkit_version": results.auditkit_version,
            "suite": {"name": results.suite.name, "sha256": results.suite.sha256},
            "models": {name: record.fingerprint for name, record in results.models.items()},
            "datasets": {
                task: {"fingerprint": d.fingerprint, "source_fingerprint": d.source_fingerprint}
                for task, d in results.datasets.items()
            },
            "verdict": gates.get("verdict") if gates else None,
            "gates": [
                {"gate": g["gate"], "model": g["model"], "verdict": g["verdict"]}
                for g in (gates or {}).get("results", [])
            ],
            "environment": results.environment.model_dump(mode="json"),
        },
    }


def attest(results_dir: str | Path, key_file: str | Path, signer: str) -> Path:
    """Sign a verified run's Statement with ``key_file``; write the DSSE envelope beside the run."""
    run = load_run(results_dir)  # verifies the manifest first: never sign an edited run
    key = _private_key(Path(key_file))
    payload = json.dumps(statement(run, signer), sort_keys=True, separators=(",", ":")).encode()
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {
                "keyid": key_id(key.public_key()),
                "sig": base64.b64encode(_sign(key, pae(PAYLOAD_TYPE, payload))).decode(),
            }
        ],
    }
    target = attestation_path(run.dir)
    atomic_write_text(target, json.dumps(envelope, indent=2) + "\n")
    return target


def verify_attestation(
    results_dir: str | Path, public_key_file: str | Path, attestation: str | Path | None = None
) -> tuple[list[str], dict[str, Any] | None]:
    """What differs between the run and its signed attestation (``[]``: the signature, the manifest and every
    file check out), and the attested predicate when the signature holds."""
    from .store import resolve_run_dir, verify_run

    run_dir = resolve_run_dir(results_dir)
    public_key = _public_key(Path(public_key_file))
    source = Path(attestation) if attestation is not None else attestation_path(run_dir)
    try:
        envelope = json.loads(source.read_text(encoding="utf-8"))
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = envelope["signatures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"no readable attestation at {source}: {exc}"], None
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        return [f"the envelope's payload type is {envelope.get('payloadType')!r}, not {PAYLOAD_TYPE}"], None
    message = pae(PAYLOAD_TYPE, payload)
    good = any(
        isinstance(s, dict)
        and _verify(public_key, base64.b64decode(str(s.get("sig", "")) or "", validate=False), message)
        for s in signatures
    )
    if not good:
        return [f"no signature in {source.name} verifies with the key {key_id(public_key)[:16]}…"], None
    stated = json.loads(payload)
    problems: list[str] = []
    if stated.get("_type") != STATEMENT_TYPE or stated.get("predicateType") != PREDICATE_TYPE:
        problems.append("the signed statement is not an auditkit run attestation")
    verified = True
    try:
        verify_run(run_dir)
    except ResultsError as exc:
        problems.append(f"the run does not match its manifest: {exc}")
        verified = False
    attested = {s["name"]: s["digest"]["sha256"] for s in stated.get("subject", [])}
    present = _files(run_dir, verified=verified)
    for name in sorted(set(attested) | set(present)):
        if name not in present:
            problems.append(f"{name}: attested, but missing from the run")
        elif name not in attested:
            problems.append(f"{name}: in the run, but not attested")
        elif attested[name] != present[name]:
            problems.append(
                f"{name}: changed since it was attested (sha256 {present[name][:12]}, attested {attested[name][:12]})"
            )
    if MANIFEST_FILE not in attested:
        problems.append("the attestation does not cover the run's manifest")
    return problems, stated.get("predicate")


def require_verified(results_dir: str | Path, public_key_file: str | Path) -> None:
    """Raise unless the run's attestation verifies with the key: for a baseline a release is judged against."""
    problems, _ = verify_attestation(results_dir, public_key_file)
    if problems:
        raise ResultsError(
            f"the baseline run at {results_dir} is not verified by {public_key_file}: " + "; ".join(problems[:5]),
            hint="use a baseline attested with `auditkit attest RUN --key KEY`, or check the key",
        )
