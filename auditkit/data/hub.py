"""Datasets from the Hugging Face hub via ``datasets`` (rajpurkar/squad, rajpurkar/squad_v2, stanfordnlp/sst2, ...)."""

from __future__ import annotations

import os
from typing import Any

from ..core.errors import DatasetError

#: Variables that put ``datasets`` offline: then only the local cache answers.
OFFLINE_VARIABLES = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")


def load_rows(
    repo_id: str, config: str | None, split: str, revision: str | None
) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Download (or read from the local datasets cache) one split; return its rows and label names, if any."""
    import datasets

    datasets.disable_progress_bars()
    try:
        ds = datasets.load_dataset(repo_id, name=config, split=split, revision=revision)
    except Exception as exc:  # datasets raises many types (ConnectionError, DatasetNotFoundError, ValueError, ...)
        offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in OFFLINE_VARIABLES)
        raise DatasetError(
            f"could not load split {split!r} of hub dataset {repo_id!r}: {type(exc).__name__}: {exc}".strip(),
            source=repo_id,
            hint="offline mode (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE) reads only datasets already in the local cache"
            f" ({datasets.config.HF_DATASETS_CACHE}): load it once with network access, or use a local file"
            " ('path:')"
            if offline
            else "check the id, config and split; without network access use a local file ('path:') instead",
        ) from None
    label_feature: Any = ds.features.get("label") if hasattr(ds, "features") else None
    names = list(label_feature.names) if getattr(label_feature, "names", None) else None
    return [dict(row) for row in ds], names
