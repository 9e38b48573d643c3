"""Orchestration: suites (from YAML or Python objects), the pre-run checks, running jobs with a resumable
prediction cache (in this process or on Ray), early stopping (``--until-decided``), sizing (``plan``),
single-request latency and scoring a predictions file. The only layer that both loads models and writes runs."""
