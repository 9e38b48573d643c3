"""auditkit's version, importable from every layer without loading the package's public API."""

__version__ = "0.2.0"
