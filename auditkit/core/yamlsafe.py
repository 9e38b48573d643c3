"""YAML for untrusted files (suites, model cards' front matter, probe sets): bounded, unambiguous, alias-free.

PyYAML's safe loader still expands aliases, so a few hundred bytes of nested ``&a [*a, *a, ...]``
("billion laughs") become gigabytes in memory; and it silently keeps the last of two equal keys, so
a suite that says ``limit`` twice runs with whichever came last. These files have no use for
aliases, so :func:`load` refuses them, refuses duplicate keys, refuses documents over a size
bound, and refuses a ``"\\ud800"`` escape (a lone surrogate: no character, and nothing can write it as
UTF-8) -- each with the line and column, before anything is built.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from .text import lone_surrogate

#: Largest YAML document read (bytes of text): suites and front matter are a few kilobytes.
MAX_YAML_BYTES = 1_000_000


class UnsafeYAML(yaml.YAMLError):
    """A document auditkit refuses to read: aliases, duplicate keys, or too large. Carries a ``problem_mark``."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise UnsafeYAML(
                "YAML aliases (*name) are not accepted here: write the value out in full", event.start_mark
            )
        node: Node | None = super().compose_node(parent, index)
        return node

    def construct_scalar(self, node: ScalarNode | MappingNode) -> Any:
        value = super().construct_scalar(node)
        if isinstance(value, str):
            bad = lone_surrogate(value)
            if bad is not None:
                raise UnsafeYAML(
                    f"a lone surrogate (U+{ord(value[bad]):04X}) is not a character: fix the \\u escape",
                    node.start_mark,
                )
        return value

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base constructor reports it
                break
            if duplicate:
                raise UnsafeYAML(f"duplicate key {key!r}: each key may appear once", key_node.start_mark)
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _check_size(text: str) -> None:
    if len(text) > MAX_YAML_BYTES:
        raise UnsafeYAML(f"the document is {len(text):,} characters; at most {MAX_YAML_BYTES:,} are read", None)


def load(text: str) -> Any:
    """The document's data (like ``yaml.safe_load``), refusing aliases, duplicate keys and huge documents."""
    _check_size(text)
    try:
        return yaml.load(text, Loader=_Loader)
    except ConstructorError as exc:
        raise UnsafeYAML(str(exc.problem or exc), exc.problem_mark) from None


def compose(text: str) -> Node | None:
    """The document's node tree (for line numbers), with the same refusals as :func:`load`."""
    _check_size(text)
    node: Node | None = yaml.compose(text, Loader=_Loader)
    return node
