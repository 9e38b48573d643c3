"""Tables as rows: local Parquet and CSV files, and in-memory tables (DataFrames, ``datasets.Dataset``, lists).

Read here directly with pyarrow and pandas rather than through ``datasets.load_dataset``, which would
copy every file (and every notebook table) into the Hugging Face datasets cache and leave it there.
Cells become plain Python values (numpy scalars and arrays, ``pd.NA`` and ``NaT`` do not survive into
records), so a task parses a table exactly as it parses JSON Lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import DatasetError


def python_value(value: Any) -> Any:
    """A table cell as JSON-like Python: lists, dicts, str, int, float (NaN for a gap in a number column)."""
    if isinstance(value, np.ndarray):
        return [python_value(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [python_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): python_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def frame_records(frame: pd.DataFrame, source: str) -> tuple[list[dict[str, Any]], list[str]]:
    """A DataFrame's rows as records, each with its place ("row 3", and its index label when it has one)."""
    names = [str(c) for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DatasetError(
            f"the table has duplicate column names {duplicated}: which one is meant is ambiguous",
            source=source,
            hint="rename or drop one of each pair (DataFrame.loc[:, ~df.columns.duplicated()])",
        )
    plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
    records, places = [], []
    columns = [frame[c].tolist() for c in frame.columns]
    for position, label in enumerate(frame.index):
        records.append({name: python_value(column[position]) for name, column in zip(names, columns, strict=True)})
        places.append(f"row {position + 1}" + ("" if plain_index else f" (index {python_value(label)!r})"))
    return records, places


def read_parquet(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """A local Parquet file's rows."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types (ArrowInvalid, OSError) for a malformed file
        raise DatasetError(
            f"could not read the Parquet file: {type(exc).__name__}: {exc}".strip(),
            source=str(path),
            hint="check that the file is valid Parquet with the columns of its task (see docs/reference/suite.md)",
        ) from None
    return frame_records(table.to_pandas(), str(path))


def read_csv(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """A local CSV file's rows (a header line, then one row per example; cells quoted as CSV quotes them)."""
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", source=str(path)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DatasetError(
            f"could not read the CSV file: {exc}".strip(),
            source=str(path),
            hint="a header line naming the columns, then one comma-separated row per example",
        ) from None
    return frame_records(frame, str(path))
