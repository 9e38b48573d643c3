"""The results directory: the one artefact every later step (reports, gates, comparisons) reads.

Layout of a run::

    <output_dir>/<suite>/<run_id>/
        results.json                       suite, versions, fingerprints, metrics with CIs, timing
        predictions/<model>/<task>.parquet per-example predictions, gold and scores
    <output_dir>/<suite>/LATEST            name of the newest complete run

A run is assembled in a hidden ``.<run_id>.partial`` folder next to its final place and renamed into
place only when complete, and every file is written to a temporary name and then atomically
replaced. So an interrupted run never leaves a truncated results.json, and never touches the
results of earlier runs.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ResultsError

RESULTS_VERSION = 1
RESULTS_FILE = "results.json"
LATEST = "LATEST"


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    with _atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    with _atomic_target(path) as tmp:
        frame.to_parquet(tmp, index=False)


def environment() -> dict[str, Any]:
    """Versions of everything that can change a figure, and the hardware it ran on."""
    from importlib import metadata

    import torch

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "packages": {p: version(p) for p in ("auditkit", "torch", "transformers", "tokenizers", "datasets", "numpy", "pandas", "pydantic")},
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return env


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class RunWriter:
    """Builds one run directory out of sight, then publishes it with a single rename."""

    def __init__(self, output_dir: Path, suite_name: str, run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.suite_dir = Path(output_dir) / suite_name
        self.final_dir = self.suite_dir / self.run_id
        self.staging_dir = self.suite_dir / f".{self.run_id}.partial"
        self.staging_dir.mkdir(parents=True, exist_ok=False)

    @staticmethod
    def predictions_path(model: str, task: str) -> str:
        return f"predictions/{model}/{task}.parquet"

    def write_predictions(self, model: str, task: str, frame: pd.DataFrame) -> str:
        relative = self.predictions_path(model, task)
        atomic_write_parquet(self.staging_dir / relative, frame)
        return relative

    def publish(self, results: dict[str, Any]) -> Path:
        """Write results.json, move the run into place, and point LATEST at it."""
        atomic_write_json(self.staging_dir / RESULTS_FILE, results)
        os.replace(self.staging_dir, self.final_dir)
        atomic_write_text(self.suite_dir / LATEST, self.run_id + "\n")
        return self.final_dir

    def discard(self) -> None:
        shutil.rmtree(self.staging_dir, ignore_errors=True)


def resolve_run_dir(path: str | Path) -> Path:
    """A run directory from itself, its suite folder (newest via LATEST), or a results.json path."""
    path = Path(path)
    if path.is_file() and path.name == RESULTS_FILE:
        return path.parent
    if (path / RESULTS_FILE).is_file():
        return path
    if (path / LATEST).is_file():
        return path / (path / LATEST).read_text().strip()
    raise ResultsError(f"no results found at {path}", hint="pass a run directory (holding results.json) or a suite's output folder")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and sanity-check a run's results.json."""
    run_dir = resolve_run_dir(path)
    file = run_dir / RESULTS_FILE
    try:
        results = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"cannot read {file}: {exc}", hint="the file is damaged; re-run the suite") from None
    if results.get("auditkit_results_version") != RESULTS_VERSION:
        raise ResultsError(f"{file} has results format {results.get('auditkit_results_version')!r}; this auditkit reads {RESULTS_VERSION}",
                           hint="re-run the suite with this version of auditkit")
    results["_dir"] = str(run_dir)
    return results


def load_predictions(path: str | Path, model: str, task: str) -> pd.DataFrame:
    """The per-example table of one (model, task) job of a run."""
    run_dir = resolve_run_dir(path)
    file = run_dir / RunWriter.predictions_path(model, task)
    if not file.is_file():
        raise ResultsError(f"no predictions for model {model!r} on task {task!r} in {run_dir}")
    return pd.read_parquet(file)
