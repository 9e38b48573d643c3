"""The run directory: the one artefact every later step (reports, gates, audits, exports) reads.

Layout of a run::

    <output_dir>/<suite>/<run_id>/
        results.json                       typed results (:class:`~auditkit.results.model.Results`)
        predictions/<model>/<task>.parquet per-example predictions, gold and scores
        gates.json, gates.junit.xml        the suite's release gates, when it has any
        card_audits.json                   audits of the models' cards, when the suite names any
        report/                            the report rendered at the end of the run
        manifest.json                      sha256 of every file above
    <output_dir>/<suite>/LATEST            name of the newest complete run

A run is assembled in a hidden ``.<run_id>.partial`` folder next to its final place and renamed into
place only when complete, and every file is written to a temporary name, fsynced and atomically
renamed. Once published, a run directory is never written again: later ``gate``, ``audit-card``,
``report`` and ``compare`` calls write elsewhere, and ``manifest.json`` lets every reader prove that
nothing changed since.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..core.errors import ResultsError
from .model import Results, migrate

if TYPE_CHECKING:
    import pandas as pd

RESULTS_FILE = "results.json"
MANIFEST_FILE = "manifest.json"
#: The gate report a run publishes with it (written by :mod:`auditkit.gates.outputs`).
GATES_FILE = "gates.json"
LATEST = "LATEST"
_OWNER = ".owner"


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``.

    The file gets the permissions a plain ``open`` would give it (0666 less the umask), not
    ``mkstemp``'s private 0600: reports and results are meant to be read by others.
    """
    if path.is_dir():  # say so about the path asked for, not about the temporary file beside it
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    with _atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: Path, data: Any) -> None:
    """JSON with NaN and infinity refused: a figure that is not a number must be said, not written."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    atomic_write_text(path, text + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    with _atomic_target(path) as tmp:
        frame.to_parquet(tmp, index=False)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_partials(suite_dir: Path) -> list[Path]:
    """Remove ``.<run>.partial`` folders whose writing process is gone (killed, or the machine rebooted).

    A staging folder records its owner's pid; one whose owner still runs (a concurrent run into the
    same folder) is left alone. Predictions computed by the dead run are not lost: they live in the
    prediction cache, which a new run resumes from.
    """
    removed = []
    for partial in suite_dir.glob(".*.partial"):
        owner = partial / _OWNER
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is None or not _pid_alive(pid):
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
    return removed


class RunWriter:
    """Builds one run directory out of sight, then publishes it with a single rename."""

    def __init__(self, output_dir: Path, suite_name: str, run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.suite_dir = Path(output_dir) / suite_name
        self.final_dir = self.suite_dir / self.run_id
        self.staging_dir = self.suite_dir / f".{self.run_id}.partial"
        self.suite_dir.mkdir(parents=True, exist_ok=True)
        self.swept = sweep_stale_partials(self.suite_dir)
        self.staging_dir.mkdir(exist_ok=False)
        (self.staging_dir / _OWNER).write_text(f"{os.getpid()}\n")

    @staticmethod
    def predictions_path(model: str, task: str) -> str:
        return f"predictions/{model}/{task}.parquet"

    def write_predictions(self, model: str, task: str, frame: pd.DataFrame) -> str:
        relative = self.predictions_path(model, task)
        atomic_write_parquet(self.staging_dir / relative, frame)
        return relative

    def write_json(self, name: str, data: Any) -> Path:
        path = self.staging_dir / name
        atomic_write_json(path, data)
        return path

    def publish(self, results: Results, *, latest: bool = True) -> Path:
        """Write results.json and the manifest, move the run into place, and (by default) point LATEST at it."""
        atomic_write_json(self.staging_dir / RESULTS_FILE, results)
        (self.staging_dir / _OWNER).unlink()
        atomic_write_json(self.staging_dir / MANIFEST_FILE, build_manifest(self.staging_dir))
        os.replace(self.staging_dir, self.final_dir)
        if latest:
            atomic_write_text(self.suite_dir / LATEST, self.run_id + "\n")
        return self.final_dir

    def discard(self) -> None:
        shutil.rmtree(self.staging_dir, ignore_errors=True)


def build_manifest(run_dir: Path) -> dict[str, Any]:
    """sha256 and size of every file in the run (the manifest itself excepted), by relative path."""
    files = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(run_dir).as_posix()
        if relative != MANIFEST_FILE:
            files[relative] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return {"manifest_version": 1, "files": files}


def verify_run(run_dir: Path) -> None:
    """Raise :class:`ResultsError` when any file of a published run changed, vanished or was added."""
    file = run_dir / MANIFEST_FILE
    links = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_symlink())
    if links:
        raise ResultsError(
            f"{run_dir} holds links, which a published run never does: {', '.join(links[:5])}",
            hint="a link can point anywhere; restore the run from its source, or re-run the suite",
        )
    if not file.is_file():
        return  # runs from before manifests (their results are migrated): nothing to check against
    try:
        recorded = json.loads(file.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(
            f"{file}: unreadable manifest ({exc})", hint="the run directory is damaged; re-run the suite"
        ) from None
    actual = build_manifest(run_dir)["files"]
    changed = sorted(p for p in recorded if p in actual and actual[p]["sha256"] != recorded[p]["sha256"])
    missing = sorted(p for p in recorded if p not in actual)
    added = sorted(p for p in actual if p not in recorded)
    if changed or missing or added:
        parts = [
            f"{label}: {', '.join(paths[:5])}"
            for label, paths in (("changed", changed), ("missing", missing), ("added", added))
            if paths
        ]
        raise ResultsError(
            f"{run_dir} no longer matches its manifest ({'; '.join(parts)})",
            hint="a published run must not be edited; restore it, or re-run the suite",
        )


def report_dir(run_dir: Path) -> Path:
    """Where a run's report goes: ``<run_id>.report/`` beside it, since a published run is never written again."""
    return run_dir.parent / f"{run_dir.name}.report"


def resolve_run_dir(path: str | Path) -> Path:
    """A run directory from itself, its suite folder (newest via LATEST), or a results.json path."""
    path = Path(path)
    if path.is_file() and path.name == RESULTS_FILE:
        return path.parent
    if (path / RESULTS_FILE).is_file():
        return path
    if (path / LATEST).is_file():
        return path / (path / LATEST).read_text().strip()
    raise ResultsError(
        f"no results found at {path}", hint="pass a run directory (holding results.json) or a suite's output folder"
    )


@dataclass(frozen=True)
class Run:
    """A published run: where it is and what it measured. Per-example tables are read on demand."""

    dir: Path
    results: Results

    def predictions(self, model: str, task: str) -> pd.DataFrame:
        return load_predictions(self.dir, model, task)

    @property
    def suite_dir(self) -> Path:
        """The folder the recorded spec's relative paths (data, models, cards, baseline) are relative to: the
        suite file's, found from the run (runs that recorded no ``suite.base``: the working directory)."""
        base = self.results.suite.base
        return (self.dir / base).resolve() if base is not None else Path.cwd()

    def recorded_gates(self) -> dict[str, Any] | None:
        """The gate report published with the run (``gates.json``), or None when the run had no gates."""
        path = self.dir / GATES_FILE
        if not path.is_file():
            return None
        gates: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return gates


def parse_results(data: Any, source: Path) -> Results:
    """Validate a results.json document (migrating older versions), with one clear error on failure."""
    if not isinstance(data, dict):
        raise ResultsError(f"{source}: not a results document (a JSON object)", hint="re-run the suite")
    data = migrate(data)
    version = data.get("schema_version")
    if version != 2:
        raise ResultsError(
            f"{source} has results schema version {version!r}; this auditkit reads version 2 (and migrates 1)",
            hint="re-run the suite with this version of auditkit, or read it with the auditkit that wrote it",
        )
    try:
        return Results.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ResultsError(
            f"{source}: {where}: {first['msg']} ({exc.error_count()} problem(s))",
            hint="the file was edited or written by another tool; re-run the suite",
        ) from None


def load_run(path: str | Path, *, verify: bool = True) -> Run:
    """Read a run directory (or its suite folder, via LATEST), checking it against its manifest."""
    run_dir = resolve_run_dir(path)
    file = run_dir / RESULTS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"cannot read {file}: {exc}", hint="the file is damaged; re-run the suite") from None
    if verify:
        if isinstance(data, dict) and data.get("schema_version") == 2 and not (run_dir / MANIFEST_FILE).is_file():
            raise ResultsError(
                f"{run_dir} has no {MANIFEST_FILE}: every run of this results version is published with one, so"
                " it was removed and nothing in the run can be trusted",
                hint="restore the run from its source, or re-run the suite",
            )
        _verify_once(run_dir)
    return Run(run_dir, parse_results(data, file))


def refuse_inside_run(path: str | Path, what: str) -> None:
    """Raise when ``path`` lies inside a published run (or is one): a published run is never written into, so a
    command's ``--out`` must point elsewhere."""
    target = Path(path).resolve()
    for folder in (target, *target.parents):
        if (folder / MANIFEST_FILE).is_file() and (folder / RESULTS_FILE).is_file():
            raise ResultsError(
                f"{what} {path} is inside the published run {folder}, which is never written again",
                hint="choose a folder outside the run (by default the command writes beside it)",
            )


#: Runs already verified in this process, with the (path, size, mtime) of every file when they were: one run is
#: read by the pre-run checks, the gates and early stopping, and hashing its predictions once is enough while no
#: file of it has changed since (any write changes a size or a modification time, and is verified again).
_VERIFIED: dict[Path, tuple[tuple[str, int, int], ...]] = {}


def _signature(run_dir: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (p.relative_to(run_dir).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    )


def _verify_once(run_dir: Path) -> None:
    key = run_dir.resolve()
    signature = _signature(run_dir)
    if _VERIFIED.get(key) == signature:
        return
    verify_run(run_dir)
    _VERIFIED[key] = signature


def load_results(path: str | Path) -> Results:
    """The typed results of a run (see :func:`load_run` for the directory as well)."""
    return load_run(path).results


def load_predictions(path: str | Path, model: str, task: str) -> pd.DataFrame:
    """The per-example table of one (model, task) job of a run."""
    import pandas as pd

    run_dir = resolve_run_dir(path)
    file = run_dir / RunWriter.predictions_path(model, task)
    if not file.is_file():
        raise ResultsError(f"no predictions for model {model!r} on task {task!r} in {run_dir}")
    try:
        return pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise ResultsError(f"cannot read {file}: {exc}", hint="the file is damaged; re-run the suite") from None


def has_run(path: str | Path) -> bool:
    """Whether ``path`` holds a run (a run directory, or a suite folder whose LATEST names one): a releases folder
    before its first release holds none. A run that is there but broken is not "none" -- reading it says why."""
    try:
        resolve_run_dir(path)
    except ResultsError:
        return False
    return True


def promote_run(source: str | Path, releases: str | Path) -> Path:
    """Copy a verified run into a releases folder (``reports/releases/<suite>/``) and point its LATEST at it: how a
    release's run becomes the next candidate's baseline, without copying by hand. The copy is verified against
    the run's manifest before one rename publishes it; the run's report folder goes beside it when there is one.
    """
    run = load_run(source)
    root = Path(releases)
    target = root / run.dir.name
    if target.exists():
        raise ResultsError(
            f"run {run.dir.name} is already in {root}", hint="a promoted run is never replaced; promote a new run"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f".{run.dir.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(run.dir, staging)
        verify_run(staging)
        report = report_dir(run.dir)
        if report.is_dir() and not report_dir(target).exists():
            shutil.copytree(report, report_dir(target))
        os.replace(staging, target)
        atomic_write_text(root / LATEST, run.dir.name + "\n")
    except OSError as exc:
        raise ResultsError(
            f"cannot promote run {run.dir.name} into {root}: {exc.strerror or exc}",
            hint="choose a writable releases folder; nothing was promoted",
        ) from None
    return target
