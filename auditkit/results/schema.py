"""The JSON Schema of results.json, generated from :class:`~auditkit.results.model.Results`.

The schema ships with the package (``results.schema.json`` beside this module) for tools outside
Python; ``python -m auditkit.results.schema`` regenerates it, and a test checks it is current.
"""

from __future__ import annotations

import json
from pathlib import Path

from .model import Results

SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


def results_schema() -> str:
    return json.dumps(Results.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(results_schema())
    print(SCHEMA_FILE)
