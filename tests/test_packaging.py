"""The installed package is complete: a wheel built from the checkout, installed into a fresh virtualenv outside
it, renders a report (templates are package data) and ships the results JSON Schema."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import DATA, REPO, requires_data


@requires_data
@pytest.mark.slow
def test_a_wheel_installed_elsewhere_renders_a_report(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"""name: wheel
output_dir: runs
bootstrap: {{resamples: 50}}
models:
  - name: cls
    build: {{config: distilbert-base-uncased-finetuned-sst-2-english, vocab: {DATA}/vocab/bert-base-uncased-vocab.txt}}
tasks:
  - {{name: sst2, kind: classification, dataset: {{path: {DATA}/sst2/dev.tsv, limit: 8}}}}
"""
    )
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "run", str(suite), "-q", "--report", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip())

    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("auditkit-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # The dependencies come from the environment running these tests (system-wide or itself a virtualenv: a
    # venv's system_site_packages would see the base interpreter's instead), added as plain path entries so
    # that its editable auditkit (a .pth finder, processed only in site directories) stays out of sight.
    inner_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (Path(inner_site) / "outer-environment.pth").write_text("\n".join(outer) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "rendered"
    code = (
        "import json, sys, auditkit\n"
        "from importlib.resources import files\n"
        f"written = auditkit.report({str(run_dir)!r}, out_dir={str(out)!r})\n"
        "schema = json.loads(files('auditkit.results').joinpath('results.schema.json').read_text())\n"
        "print(json.dumps({'file': auditkit.__file__, 'title': schema['title'], 'n': len(written)}))\n"
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    done = subprocess.run([str(python), "-c", code], cwd=outside, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert Path(info["file"]).is_relative_to(env_dir), info["file"]  # the wheel's copy, not the checkout
    assert info["title"] == "Results"
    assert (out / "report.html").is_file() and "Evaluation report" in (out / "report.md").read_text()
