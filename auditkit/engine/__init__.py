"""Inference engine: batching, windows, answer extraction and timing, shared by tasks."""
