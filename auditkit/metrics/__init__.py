"""Metrics: pure functions on per-example data (no I/O, no models)."""
