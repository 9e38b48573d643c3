"""The ``auditkit`` command, one module per command group; :mod:`.app` holds what they share (exit codes,
error handling). Each command parses its options and calls the public API."""

from __future__ import annotations

# isort: off
# Imported in the order their commands appear in ``auditkit --help``; each registers its commands on the app.
from . import run, decide, reports, data, models

# isort: on
from .app import app, command, main

__all__ = ["app", "command", "data", "decide", "main", "models", "reports", "run"]
