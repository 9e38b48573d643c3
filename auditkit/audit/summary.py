"""A card audit in words, for the console: one summary line, then one line per finding that needs attention.
``auditkit run`` (for the cards it audits) and ``auditkit audit-card`` print the same text."""

from __future__ import annotations

from typing import Any


def summary_line(audit: dict[str, Any], card_name: str) -> str:
    s = audit["summary"]
    return (
        f"card audit of {card_name} ({audit['model'] or 'no run'}): claims {s['claims_held']} hold,"
        f" {s['claims_failed']} do not, {s['claims_not_measured']} not measured; {s['inconsistencies']}"
        f" inconsistencies; sections missing {s['missing_sections']}, empty {s['empty_sections']};"
        f" {s['placeholders']} placeholders; {s['stale_snippets']} stale snippets;"
        f" examples failing {s['examples_failed']} of {len(audit['examples'])}"
    )


def finding_lines(audit: dict[str, Any]) -> list[str]:
    """Claims that do not hold or were not measured, inconsistencies and stale code, each with its card line."""
    lines = [
        f"  line {c['line']} ({c['source']}): {c['text']}: {c['verdict']} -- {c['reason']}"
        for c in audit["claims"]
        if c["verdict"] != "holds"
    ]
    lines += [f"  inconsistent: {i['message']}" for i in audit["inconsistencies"]]
    lines += [
        f"  line {st['line']}: {st['code']} -- {st['problem']}; use {st['replacement']}" for st in audit["stale_code"]
    ]
    return lines
