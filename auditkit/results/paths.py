"""Paths as results record them: never the machine's own absolute paths, so a run means the same wherever it
is read and whatever folder auditkit ran in.

A run records its suite file relative to the run directory, and every other path (data, models, cards, the
baseline run) relative to the suite's folder -- as the suite itself writes them -- which the run records as
``suite.base`` (relative to the run directory too). A checkout that moves as a whole keeps every path valid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` (POSIX separators): results carry no absolute path of the machine."""
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive (Windows): the name alone
        return path.name


def display_model_source(source: str, base: Path) -> str:
    """A model's source as results record it: local paths (also a build recipe's config file) relative."""
    recipe = source.removeprefix("build:")
    if not Path(recipe).is_absolute():
        return source
    return source[: len(source) - len(recipe)] + relative(Path(recipe), base)


def display_source(source: str, base: Path) -> str:
    """A dataset's source as results record it: hub ids as they are, files relative to ``base``."""
    path = Path(source)
    return relative(path, base) if path.is_absolute() and path.exists() else source


def portable(value: Any, base: Path) -> Any:
    """``value`` (a suite spec as JSON) with every absolute path of an existing file or folder made relative to
    ``base``; URLs, hub ids and an endpoint's own paths (which are not files here) stay as they are."""
    if isinstance(value, dict):
        return {key: portable(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, base) for item in value]
    if isinstance(value, str) and len(value) > 1 and os.path.isabs(value) and Path(value).exists():
        return relative(Path(value), base)
    return value
