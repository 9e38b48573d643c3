"""Datasets from the Hugging Face hub via ``datasets`` (rajpurkar/squad, rajpurkar/squad_v2, stanfordnlp/sst2, ...)."""

from __future__ import annotations

from typing import Any

from ..errors import DatasetError


def load_rows(
    repo_id: str, config: str | None, split: str, revision: str | None
) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Download (or read from the local datasets cache) one split; return its rows and label names, if any."""
    import datasets

    datasets.disable_progress_bars()
    try:
        ds = datasets.load_dataset(repo_id, name=config, split=split, revision=revision)
    except Exception as exc:  # datasets raises many types (ConnectionError, DatasetNotFoundError, ValueError, ...)
        raise DatasetError(
            f"could not load split {split!r} of hub dataset {repo_id!r}: {type(exc).__name__}: {exc}".strip(),
            source=repo_id,
            hint="check the id, config and split; without network access use a local file ('path:') instead",
        ) from None
    label_feature: Any = ds.features.get("label") if hasattr(ds, "features") else None
    names = list(label_feature.names) if getattr(label_feature, "names", None) else None
    return [dict(row) for row in ds], names
