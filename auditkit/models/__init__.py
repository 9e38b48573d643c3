"""Model adapters: a local checkpoint (:mod:`.hf`) or a deployment behind an HTTP contract (:mod:`.endpoint`).

Both give tasks the same interface (``qa_engine``, ``classification_engine``, ``fingerprint``,
``info``); these three functions pick the adapter from the suite's model spec.
"""

from __future__ import annotations

from ..core.errors import ModelError
from ..spec.schema import HEAD_TASKS, ModelSpec
from .endpoint import EndpointModel
from .hf import Head, LoadedModel, check_source, config_warnings, detect_head, load_model

Model = LoadedModel | EndpointModel


def head_of(spec: ModelSpec) -> Head:
    """The head a model offers: an endpoint's declared task, or what a checkpoint's config declares."""
    if spec.endpoint is not None:
        return "question-answering" if spec.endpoint.task == "question-answering" else "sequence-classification"
    return detect_head(spec)


def check_model(spec: ModelSpec, head: Head) -> list[str]:
    """Cheap checks before anything runs: a checkpoint's config suits ``head``; an endpoint serves it.

    Returns warnings about the model that do not stop a run (see :func:`~.hf.config_warnings`).
    """
    if spec.endpoint is None:
        check_source(spec, head)
        return config_warnings(spec)
    if spec.endpoint.head != head:
        raise ModelError(
            f"endpoint {spec.endpoint.url} serves {spec.endpoint.task}, but this task needs {HEAD_TASKS[head]}",
            source=spec.name,
            hint="pair QA tasks with QA deployments and classification tasks with classifiers (the endpoint's task:)",
        )
    return []


def open_model(spec: ModelSpec, head: Head) -> Model:
    """Load a checkpoint or connect to an endpoint."""
    check_model(spec, head)
    return EndpointModel(spec) if spec.endpoint is not None else load_model(spec, head)


__all__ = ["EndpointModel", "Head", "LoadedModel", "Model", "check_model", "head_of", "open_model"]
