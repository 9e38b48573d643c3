"""Run job chunks on a Ray cluster (``auditkit run --runner ray [--address ADDR]``).

The driver does everything but inference: it loads and checks the suite and data, fingerprints each
model (which keys the cache), splits each job into the same chunks the local runner uses, and scores
and publishes the run. Each model gets a pool of Ray actors -- one model copy per actor, loaded once
through the same code path as locally -- and the chunks a job still needs are spread over them.
Finished chunks go through the prediction cache as they arrive, so an interrupted cluster run resumes
like a local one. Endpoints are not sharded: their client already spreads requests.

Ray is optional (``pip install 'auditkit[ray]'``); without ``--runner ray`` it is never imported.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..core.errors import AuditkitError, ModelError
from ..data.types import Dataset
from ..engine.types import ProgressSink
from ..models import Head, Model, open_model
from ..spec.schema import ModelSpec, TaskSpecBase
from ..tasks.base import Predictions, Task

if TYPE_CHECKING:
    from .executors import ShardRunner

#: Environment a local cluster's workers need to find built models and stay off the hub like the driver.
_FORWARDED_ENV = (
    "AUDITKIT_CACHE",
    "AUDITKIT_DATA",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_HOME",
    "TRANSFORMERS_OFFLINE",
)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds on a cluster address nobody answers at (Ray itself retries for minutes)."""
    target = address.removeprefix("ray://")
    if target in ("auto", "local") or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        raise AuditkitError(
            f"cannot start or reach the Ray cluster at {address}: {exc}",
            hint="check --address (host:port of the head's GCS, ray://host:10001, or auto)"
            " and that the head node is up",
        ) from None


class ModelWorker:
    """A Ray actor holding one copy of a model; predicts the chunks it is handed."""

    def __init__(self, spec: ModelSpec, head: Head) -> None:
        self.model = open_model(spec, head)

    def predict(self, task_spec: TaskSpecBase, chunk: Dataset) -> Predictions:
        from ..tasks import make_task

        return make_task(task_spec).predict(self.model, chunk)


class RayExecutor:
    """A connection to a Ray cluster (a new local one when ``address`` is None) and the actor pools on it."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise AuditkitError(
                "--runner ray needs Ray, which is not installed",
                hint="pip install 'auditkit[ray]' (or pip install ray)",
            ) from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if address is not None:
            _check_reachable(address)
        if self.started:
            env = {name: os.environ[name] for name in _FORWARDED_ENV if name in os.environ}
            try:
                ray.init(
                    address=address,
                    runtime_env={"env_vars": env} if address is None else None,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except Exception as exc:  # ConnectionError, a bad address, a version mismatch ...
                raise AuditkitError(
                    f"cannot start or reach the Ray cluster{f' at {address}' if address else ''}: {exc}",
                    hint="check --address (e.g. ray://head:10001 or auto)"
                    " and that the cluster runs the same Ray and Python versions",
                ) from None
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._actor = ray.remote(num_cpus=1)(ModelWorker)
        self._pool: tuple[tuple[str, Head], list[Any]] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "ray",
            "ray_version": self.ray.__version__,
            "workers": self.workers,
            "address": self.ray.get_runtime_context().gcs_address,
        }

    def _actors(self, spec: ModelSpec, head: Head) -> list[Any]:
        """One pool at a time, like the local runner's one model in memory: a new model retires the last pool."""
        key = (spec.name, head)
        if self._pool is None or self._pool[0] != key:
            self.release()
            self._pool = (key, [self._actor.remote(spec, head) for _ in range(self.workers)])
        return self._pool[1]

    def shards(self, spec: ModelSpec, head: Head) -> ShardRunner:
        """A shard runner for ``spec``'s jobs: chunks go to the least busy actor; results come back as they finish."""

        def run(
            task: Task[Any], model: Model, chunks: list[tuple[int, Dataset]], progress: ProgressSink | None
        ) -> Iterator[tuple[int, Predictions]]:
            if not chunks:
                return
            actors = self._actors(spec, head)
            if progress is not None:
                progress.start(sum(len(chunk) for _, chunk in chunks))
            queue = list(chunks)
            idle = list(actors)
            pending: dict[Any, tuple[int, Any, int]] = {}
            while queue or pending:
                while queue and idle:
                    index, chunk = queue.pop(0)
                    actor = idle.pop()
                    pending[actor.predict.remote(task.spec, chunk)] = (index, actor, len(chunk))
                [ready], _ = self.ray.wait(list(pending), num_returns=1)
                index, actor, size = pending.pop(ready)
                idle.append(actor)
                yield index, self._get(ready)
                if progress is not None:
                    progress.advance(size)

        return run

    def _get(self, ref: Any) -> Predictions:
        """A chunk's predictions; a worker's input error surfaces as itself, not wrapped in Ray's."""
        try:
            predictions: Predictions = self.ray.get(ref)
            return predictions
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, AuditkitError):
                raise cause from None
            raise ModelError(
                f"a Ray worker failed: {cause or exc}", hint="see the worker logs (ray logs) for the traceback"
            ) from None
        except self.ray.exceptions.RayActorError as exc:
            raise ModelError(
                f"a Ray worker died: {exc}",
                hint="a worker may have run out of memory; lower --workers or the batch size",
            ) from None

    def release(self) -> None:
        if self._pool is not None:
            for actor in self._pool[1]:
                self.ray.kill(actor)
            self._pool = None

    def close(self) -> None:
        self.release()
        if self.started:
            self.ray.shutdown()
