"""Secrets never leave auditkit's memory: header values and URL credentials are redacted before anything is
written (results, reports, model-index, gates) or printed (console, errors).

Headers are deny-by-default: only names known to carry no secret keep their value. A URL loses its
user-info (``https://user:pass@host``) and the values of its query string (``?code=...``, as Azure
Functions and many gateways take keys) and fragment; its scheme, host, port and path stay, because
they say which deployment was evaluated.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

#: Header names whose values are kept verbatim (lower case). Everything else is masked.
SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "content-type",
        "user-agent",
        "azureml-model-deployment",
        "x-ms-model-mesh-model-name",
        "x-request-id",
        "x-wait-for-model",
        "x-use-cache",
    }
)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: value if name.lower() in SAFE_HEADERS else MASK for name, value in headers.items()}


def redact_url(url: str) -> str:
    """``url`` without credentials: user-info masked, every query value and the fragment masked."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # not a URL we can take apart: say nothing of it but that it was one
        return MASK
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = (f"{MASK}@" if parts.username or parts.password else "") + host + (f":{port}" if port else "")
    query = urlencode([(key, MASK) for key, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, MASK if parts.fragment else ""))


def redact_text(text: str, url: str) -> str:
    """``text`` with every occurrence of ``url`` replaced by its redacted form (for error messages)."""
    return text.replace(url, redact_url(url)) if url else text


def redact_suite_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A suite's dumped spec as results record it: endpoint URLs and non-safe header values redacted."""
    models = []
    for model in spec.get("models", []):
        endpoint = model.get("endpoint") if isinstance(model, dict) else None
        if isinstance(endpoint, dict):
            endpoint = {
                **endpoint,
                "url": redact_url(str(endpoint.get("url", ""))),
                "headers": redact_headers(dict(endpoint.get("headers") or {})),
            }
            model = {**model, "endpoint": endpoint}
        models.append(model)
    return {**spec, "models": models}
