"""Paths as results record them: relative to the directory auditkit ran in, never the machine's own absolute
paths, so a run directory means the same on every machine that reads it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


def relative(path: Path) -> str:
    """``path`` relative to the working directory: results and reports carry no absolute path of the machine."""
    try:
        return Path(os.path.relpath(path.resolve(), Path.cwd().resolve())).as_posix()
    except ValueError:  # another drive (Windows): the name alone
        return path.name


def display_model_source(source: str) -> str:
    """A model's source as results record it: local paths (also a build recipe's config file) relative."""
    recipe = source.removeprefix("build:")
    if not Path(recipe).is_absolute():
        return source
    return source[: len(source) - len(recipe)] + relative(Path(recipe))


def display_source(source: str) -> str:
    """A dataset's source as results record it: hub ids as they are, files relative to the working directory."""
    path = Path(source)
    return relative(path) if path.is_absolute() and path.exists() else source
