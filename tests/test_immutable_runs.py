"""Published runs are immutable and verifiable: gate, audit-card, report and compare write elsewhere; the manifest
catches any later change; older results migrate; runs killed mid-way leave nothing behind for long."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from conftest import DATA, cli_in_process, requires_data

from auditkit.core.errors import ResultsError
from auditkit.results import load_run, verify_run
from auditkit.results.schema import SCHEMA_FILE, results_schema
from auditkit.results.store import RunWriter, sweep_stale_partials

SUITE = """name: frozen
output_dir: runs
bootstrap: {{resamples: 100}}
models:
  - name: cls
    build: {{config: distilbert-base-uncased-finetuned-sst-2-english, vocab: {data}/vocab/bert-base-uncased-vocab.txt}}
tasks:
  - {{name: sst2, kind: classification, dataset: {{path: {data}/sst2/dev.tsv, limit: 24}}}}
gates:
  - "sst2.accuracy >= 0"
"""


def digest_tree(run_dir: Path) -> dict[str, str]:
    return {
        p.relative_to(run_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("frozen")
    (work / "suite.yaml").write_text(SUITE.format(data=DATA))
    proc = cli_in_process("run", "suite.yaml", "-q", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


@requires_data
def test_every_later_command_leaves_the_run_byte_identical(published: Path, tmp_path: Path) -> None:
    before = digest_tree(published)
    assert {"results.json", "manifest.json", "gates.json", "gates.junit.xml"} <= set(before)
    assert not any(name.startswith("report/") for name in before)  # views live beside the run, never inside it
    card = tmp_path / "README.md"
    card.write_text("# Card\n\n## Evaluation\n\nThe model reaches an accuracy of 50.0 on SST-2.\n")
    assert cli_in_process("gate", str(published), cwd=tmp_path).returncode == 0
    assert (
        cli_in_process("audit-card", str(card), "--results", str(published), "--no-rerun", cwd=tmp_path).returncode == 0
    )
    assert cli_in_process("report", str(published), cwd=tmp_path).returncode == 0
    assert (
        cli_in_process(
            "compare", str(published), str(published), "--out", str(tmp_path / "cmp"), cwd=tmp_path
        ).returncode
        == 0
    )
    assert digest_tree(published) == before
    # Their outputs went beside the run, or where they were told.
    assert (published.parent / f"{published.name}.gate" / "gates.json").is_file()
    assert (published.parent / f"{published.name}.report" / "report.html").is_file()
    assert (tmp_path / "cmp" / "report.md").is_file()


@requires_data
def test_the_manifest_catches_any_change(published: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    verify_run(copy)
    results = json.loads((copy / "results.json").read_text())
    results["jobs"][0]["metrics"]["accuracy"]["value"] = 99.0
    (copy / "results.json").write_text(json.dumps(results))
    with pytest.raises(ResultsError, match=r"no longer matches its manifest \(changed: results\.json\)"):
        load_run(copy)
    proc = cli_in_process("gate", str(copy), cwd=tmp_path)
    assert proc.returncode == 2 and "no longer matches its manifest" in proc.stderr and "Traceback" not in proc.stderr


@requires_data
def test_a_run_read_again_is_hashed_once_until_a_file_changes(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-run checks, the gates and early stopping all read a baseline run: its files are hashed once per
    process, and again as soon as any file of it changes (a tampered run is still refused)."""
    import shutil

    from auditkit.results import store

    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    hashed: list[Path] = []
    real = store.verify_run
    monkeypatch.setattr(store, "verify_run", lambda run_dir: (hashed.append(run_dir), real(run_dir))[1])
    for _ in range(5):
        load_run(copy)
    assert len(hashed) == 1
    results = copy / "results.json"
    results.write_text(results.read_text().replace('"status"', ' "status"', 1))
    with pytest.raises(ResultsError, match="no longer matches its manifest"):
        load_run(copy)
    assert len(hashed) == 2


@requires_data
def test_results_of_the_first_format_migrate(published: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(published, old)
    (old / "manifest.json").unlink()  # runs of the first format had no manifest
    data = json.loads((old / "results.json").read_text())
    data.pop("schema_version")
    data["auditkit_results_version"] = 1
    data["gates"] = {"passed": True}  # kept inside results.json back then
    data["environment"].pop("cpu_features")
    (old / "results.json").write_text(json.dumps(data))
    run = load_run(old)
    assert run.results.schema_version == 2 and run.results.jobs[0].task == "sst2"
    data["auditkit_results_version"] = 7
    (old / "results.json").write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="schema version"):
        load_run(old)


def test_a_dead_runs_staging_folder_is_swept(tmp_path: Path) -> None:
    dead = RunWriter(tmp_path, "suite", run_id="dead")
    (dead.staging_dir / ".owner").write_text("999999999\n")  # no such process
    alive = RunWriter(tmp_path, "suite", run_id="alive")  # this process: still writing
    assert sweep_stale_partials(tmp_path / "suite") == []
    assert not dead.staging_dir.exists() and alive.staging_dir.exists()
    alive.discard()


def test_files_are_written_readable_by_others(tmp_path: Path) -> None:
    from auditkit.results import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.html", "<p>hi</p>")
    finally:
        os.umask(old)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644


def test_the_shipped_json_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == results_schema(), "run: python -m auditkit.results.schema"


@requires_data
def test_a_run_stays_trustworthy_against_deletion_links_and_writes_into_it(published: Path, tmp_path: Path) -> None:
    """Deleting the manifest does not turn verification off; a planted link is refused; no command's --out may
    point into a published run."""
    import shutil

    import auditkit

    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(ResultsError, match=r"has no manifest\.json"):
        load_run(copy)
    linked = tmp_path / "linked"
    shutil.copytree(published, linked)
    (linked / "predictions" / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ResultsError, match="holds links, which a published run never does: predictions/elsewhere"):
        load_run(linked)
    before = digest_tree(published)
    for attempt in (
        lambda: auditkit.report(published, out_dir=published / "view"),
        lambda: auditkit.gate(published, out_dir=published / "gate"),
        lambda: auditkit.compare(published, published, out_dir=published),
    ):
        with pytest.raises(ResultsError, match="is inside the published run"):
            attempt()
    proc = cli_in_process("card", str(published), "--model", "cls", "--out", str(published / "README.md"), cwd=tmp_path)
    assert proc.returncode == 2 and "is inside the published run" in proc.stderr
    assert digest_tree(published) == before
