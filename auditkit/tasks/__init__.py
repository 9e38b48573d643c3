"""Task kinds. A new kind is one module defining a :class:`~auditkit.tasks.base.Task` subclass plus one entry here."""

from __future__ import annotations

from .base import Predictions, Scores, Task
from .bias_probe import BiasProbeTask
from .classification import ClassificationTask
from .extractive_qa import ExtractiveQATask

TASKS: dict[str, type[Task]] = {
    ExtractiveQATask.kind: ExtractiveQATask,
    ClassificationTask.kind: ClassificationTask,
    BiasProbeTask.kind: BiasProbeTask,
}

__all__ = ["TASKS", "Task", "Predictions", "Scores", "make_task"]


def make_task(spec) -> Task:  # noqa: ANN001 - any registered task spec
    """Instantiate the task class registered for ``spec.kind``."""
    return TASKS[spec.kind](spec)
