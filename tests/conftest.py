"""Shared fixtures: the real data in ../shared/data, and models built offline through the real loading path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# No hub access in tests, and libraries read these at import time: set them before anything imports them.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AUDITKIT_DATA", REPO.parent / "shared" / "data")).resolve()

requires_data = pytest.mark.skipif(
    not (DATA / "squad" / "dev-v1.1.json").is_file(),
    reason=f"the shared data folder is absent ({DATA}); set AUDITKIT_DATA to a copy of shared/data",
)
#: The trained checkpoints (../shared/models, or $AUDITKIT_MODELS) that tests judge real figures with.
MODELS = Path(os.environ.get("AUDITKIT_MODELS", REPO.parent / "shared" / "models")).resolve()
#: Tiny DistilBERT configs for tests where the size of the architecture does not matter (see its README).
TINY_QA = REPO / "tests" / "fixtures" / "models" / "tiny-qa-cased.json"
TINY_SST2 = REPO / "tests" / "fixtures" / "models" / "tiny-sst2-uncased.json"
requires_models = pytest.mark.skipif(
    not all((MODELS / name / "model.safetensors").is_file() for name in ("minilm-squad", "minilm-sst2"))
    or not (DATA / "sst2" / "dev.tsv").is_file(),
    reason=f"the trained checkpoints ({MODELS}) or the shared data ({DATA}) are absent;"
    " set AUDITKIT_MODELS and AUDITKIT_DATA to copies of shared/models and shared/data",
)
#: Debian's Chromium for the browser tests, and the flags it needs on these closed-network machines.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
requires_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it; `apt-get install chromium`)"
)


# Two xdist workers share the machine's cores: each worker (and every `auditkit` process a test starts, which
# inherits this) computes on one thread, rather than each spinning up a thread per core and contending.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build models into a per-session cache so tests never depend on (or pollute) ~/.cache/auditkit."""
    os.environ["AUDITKIT_CACHE"] = str(tmp_path_factory.mktemp("auditkit-cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"the shared data folder is absent ({DATA})")
    return DATA


def model_spec(name: str, config: str, vocab: str, **build: object):
    """A ModelSpec with an offline build recipe, exactly as a suite would declare it."""
    from auditkit.spec.schema import ModelSpec

    return ModelSpec.model_validate(
        {"name": name, "build": {"config": config, "vocab": str(DATA / "vocab" / vocab), **build}}
    )


@pytest.fixture(scope="session")
def sst2_model():
    from auditkit.models.hf import load_model

    return load_model(
        model_spec("sst2", "distilbert-base-uncased-finetuned-sst-2-english", "bert-base-uncased-vocab.txt"),
        "sequence-classification",
    )


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``auditkit ARGS`` in a fresh interpreter (what a user's shell runs), with ``env`` added to this one's."""
    return subprocess.run(
        [sys.executable, "-m", "auditkit.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def cli_in_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``auditkit ARGS`` run by this interpreter (typer's test runner): the same command, error handling and exit
    codes as :func:`cli` without an interpreter's start-up, for tests that make many calls. An exception that
    escapes the command is put on stderr as a traceback, so a test that forbids one still sees it."""
    import contextlib
    import traceback

    from typer.testing import CliRunner

    from auditkit.cli import app

    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(app, list(args), prog_name="auditkit", env=env)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["auditkit", *args], result.exit_code, result.stdout, stderr)


def write_suite(path: Path, text: str) -> Path:
    path.write_text(text.replace("$DATA", str(DATA)), encoding="utf-8")
    return path


def data_owner(kind: str) -> Any:
    """The task class that owns a kind of data ("qa", "classification", "probe"): what ``load_dataset`` takes."""
    from auditkit.tasks import task_class

    return task_class({"qa": "extractive_qa", "classification": "classification", "probe": "bias_probe"}[kind])
