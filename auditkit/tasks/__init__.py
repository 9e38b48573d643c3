"""Task kinds, the extension point for new kinds of evaluation.

A new kind is one module with a :class:`~auditkit.tasks.base.Task` subclass decorated with
``@TASKS.register(kind)`` (in this package, or in another package through an ``auditkit.tasks`` entry point).
The task owns its data (``parse_rows``), its metrics' meaning, prediction and scoring, and every reading of its
results; the rest of auditkit reaches it only through :data:`TASKS`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ..core.registry import Registry
from ..data import Dataset, load_dataset
from ..spec.schema import TaskSpecBase
from .base import Predictions, Scores, Task

__all__ = ["TASKS", "Predictions", "Scores", "Task", "load_task_data", "make_task", "task_class"]

#: Task kinds by name.
TASKS: Registry[type[Task[Any]]] = Registry("task kind", "auditkit.tasks")

#: Modules of this package that hold no task kind: the base class and what tasks share.
_SHARED = {"base", "pairing", "sampling"}


def task_class(kind: str) -> type[Task[Any]]:
    """The registered task class of ``kind`` (a clear error naming the known kinds otherwise)."""
    return TASKS.get(kind)


def make_task(spec: TaskSpecBase) -> Task[Any]:
    """Instantiate the task class registered for ``spec.kind``."""
    return task_class(spec.kind)(spec)


def load_task_data(spec: TaskSpecBase, seed: int) -> Dataset:
    """The examples of a suite's task, read by its dataset's format and made into examples by its task kind."""
    return load_dataset(spec.dataset, task_class(spec.kind), name=spec.name, seed=seed)


def _register_builtin_kinds() -> None:
    """Import every task module of this package: each built-in kind registers itself with ``@TASKS.register``."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name not in _SHARED:
            importlib.import_module(f"{__name__}.{module.name}")


_register_builtin_kinds()
