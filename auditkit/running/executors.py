"""Where a job's chunks are computed: in this process, or by an executor a ``--runner`` names (Ray ships with
auditkit; another package adds one through an ``auditkit.runners`` entry point). Every executor computes the
same chunks as the local one, so results are identical whichever ran them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..core.registry import Registry
from ..data.types import Dataset
from ..engine.types import ProgressSink
from ..models import Head, Model
from ..spec.schema import ModelSpec
from ..tasks.base import Predictions, Task


class Executor(Protocol):
    """Where a job's chunks are computed when not in this process (``--runner``): see :data:`RUNNERS`."""

    def shards(self, spec: ModelSpec, head: Head) -> ShardRunner: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def _ray(address: str | None, workers: int | None) -> Executor:
    from .ray_executor import RayExecutor

    return RayExecutor(address, workers)


#: Runners by name: a factory of an :class:`Executor` from (address, workers), or None for this process.
#: Another package adds one through an ``auditkit.runners`` entry point.
RUNNERS: Registry[Callable[[str | None, int | None], Executor] | None] = Registry("runner", "auditkit.runners")
RUNNERS.add("local", None)
RUNNERS.add("ray", _ray)


#: Computes the given (chunk index, chunk) pairs of a job and yields each chunk's predictions as it finishes,
#: in any order: in this process (:func:`local_shards`) or on a cluster (:mod:`auditkit.running.ray_executor`).
ShardRunner = Callable[
    [Task[Any], Model, list[tuple[int, Dataset]], "ProgressSink | None"], Iterator[tuple[int, Predictions]]
]


def local_shards(
    task: Task[Any], model: Model, chunks: list[tuple[int, Dataset]], progress: ProgressSink | None
) -> Iterator[tuple[int, Predictions]]:
    """Predict chunk after chunk in this process."""
    for index, chunk in chunks:
        yield index, task.predict(model, chunk, progress)
