"""Text that is not text: a lone UTF-16 surrogate (U+D800..U+DFFF).

A JSON or YAML ``\\ud800`` escape, a Python string, or undecodable bytes read with ``surrogateescape`` can hold
one alone. It is no character: it cannot be written as UTF-8 (to results, a cache key, a response) nor
tokenised, so every reader of untrusted text -- datasets, suites and cards, serve's requests -- refuses it at
its place with this one test.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> int | None:
    """The index of the first surrogate code point in ``text``, or None when it is all characters."""
    found = _SURROGATE.search(text)
    return found.start() if found is not None else None
