"""Read a Hugging Face model card: YAML front matter, Markdown sections and code blocks, with line numbers.

Every finding of an audit points at a line of the card, so the parser keeps positions: the front
matter's ``model-index`` values (via the YAML node tree), each heading's span, each fenced block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core import yamlsafe
from ..core.errors import AuditkitError

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


class CardError(AuditkitError):
    """The model card cannot be read (missing file, broken front matter)."""


@dataclass
class Section:
    title: str
    level: int
    line: int  # 1-based line of the heading
    end: int  # last line of the section's own content (before the next heading of any level)
    body: str


@dataclass
class CodeBlock:
    language: str
    line: int  # 1-based line of the first code line
    code: str
    after: str  # the text following the block up to the next heading (where outputs are often shown)


@dataclass
class ModelCard:
    path: Path
    text: str
    metadata: dict[str, Any]
    metadata_lines: dict[tuple[Any, ...], int]  # YAML path -> 1-based line in the file
    body_start: int  # 1-based line where the Markdown body starts
    sections: list[Section] = field(default_factory=list)
    code_blocks: list[CodeBlock] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def _node_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int], offset: int) -> None:
    out[path] = node.start_mark.line + 1 + offset
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _node_lines(value, (*path, key.value), out, offset)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, (*path, i), out, offset)


def read_card(path: str | Path) -> ModelCard:
    """Parse a model card file; raise :class:`CardError` naming the line when its front matter is broken."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CardError("model card not found", source=str(path), hint="pass the path of a model's README.md") from None
    except UnicodeDecodeError as exc:
        raise CardError(f"not UTF-8 text: {exc.reason}", source=str(path)) from None
    lines = text.splitlines()
    metadata: dict[str, Any] = {}
    metadata_lines: dict[tuple[Any, ...], int] = {}
    body_start = 1
    if lines and lines[0].strip() == "---":
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
        except StopIteration:
            raise CardError(
                "front matter starts with '---' on line 1 but never ends",
                source=str(path),
                location="line 1",
                hint="close the YAML front matter with a line '---'",
            ) from None
        block = "\n".join(lines[1:end])
        try:
            node = yamlsafe.compose(block)
            loaded = yamlsafe.load(block) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 2}" if mark else None
            raise CardError(
                f"invalid YAML front matter: {getattr(exc, 'problem', exc)}", source=str(path), location=where
            ) from None
        if not isinstance(loaded, dict):
            raise CardError("the front matter must be a YAML mapping", source=str(path), location="line 2")
        metadata = loaded
        if node is not None:
            _node_lines(node, (), metadata_lines, offset=1)
        body_start = end + 2
    card = ModelCard(path, text, metadata, metadata_lines, body_start)
    _scan_body(card, lines)
    return card


def _scan_body(card: ModelCard, lines: list[str]) -> None:
    headings: list[tuple[int, int, str]] = []
    fence: tuple[str, str, int] | None = None
    code: list[str] = []
    blocks: list[tuple[str, int, str, int]] = []  # language, first code line, code, fence close line
    for number in range(card.body_start, len(lines) + 1):
        line = lines[number - 1]
        match = _FENCE.match(line)
        if fence is None and match:
            fence, code = (match.group(2), match.group(3).lower(), number + 1), []
            continue
        if fence is not None:
            if line.strip().startswith(fence[0][0] * len(fence[0])) and line.strip().strip(fence[0][0]) == "":
                blocks.append((fence[1], fence[2], "\n".join(code), number))
                fence = None
            else:
                code.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            headings.append((number, len(heading.group(1)), heading.group(2).strip()))
    bounds = [h[0] for h in headings] + [len(lines) + 1]
    for (number, level, title), nxt in zip(headings, bounds[1:], strict=True):
        card.sections.append(Section(title, level, number, nxt - 1, "\n".join(lines[number : nxt - 1])))
    for language, first, body, close in blocks:
        nxt = next((h for h in bounds if h > close), len(lines) + 1)
        card.code_blocks.append(CodeBlock(language, first, body, "\n".join(lines[close : nxt - 1])))
