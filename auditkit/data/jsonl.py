"""JSON Lines: one JSON object per line, for QA (SQuAD fields) or classification (text + label)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import DatasetError


def read_records(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse every non-blank line as a JSON object; return the records and their places ("line N") so that
    later errors about a record name its line too."""
    records = []
    places = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", source=str(path)) from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"not valid JSON: {exc.msg} (column {exc.colno})",
                source=str(path),
                location=f"line {lineno}",
                hint="each line must be one complete JSON object",
            ) from None
        if not isinstance(record, dict):
            raise DatasetError(
                f"expected a JSON object, found {type(record).__name__}", source=str(path), location=f"line {lineno}"
            )
        records.append(record)
        places.append(f"line {lineno}")
    if not records:
        raise DatasetError("the file holds no records", source=str(path), hint="one JSON object per line")
    return records, places
