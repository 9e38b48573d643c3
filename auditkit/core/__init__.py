"""Layer 0, what every other layer stands on: the error hierarchy, the generic registry, secret redaction and
bounded YAML. Imports nothing of auditkit's."""
