"""MkDocs hook: the reference pages' generated parts, made from the code at every build so they cannot drift.

A page asks for a part with a line of its own, ``<!-- generated: NAME -->``; the hook replaces it with
Markdown made from what auditkit itself uses: the suite reference from the suite's pydantic models (their JSON
Schema: every key, type, default and description), the results reference from the JSON Schema that ships with
the package, the CLI reference from the Typer application's click commands, the exit codes from the table the
CLI's help is made from, and the Python API from the curated public names (rendered by mkdocstrings).

Why not a plug-in per part: mkdocs-click needs a click command as a module attribute, and auditkit builds its
command on demand (``auditkit.cli.command()``, which also fixes how flags are shown); no maintained plug-in
renders a pydantic JSON Schema as tables with links between its definitions. An unknown NAME fails the build.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise PluginError(f"{page.file.src_path}: unknown generated part {name!r}; known: {sorted(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


#: A Sphinx role left in a docstring (``:func:`run_suite```) as rendered by mkdocstrings: the role's name before the
#: code span, and a ``~`` that shortens a dotted path.
SPHINX_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):(<code>)~?")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """auditkit's docstrings cross-reference the Sphinx way; in these pages the code span alone reads better."""
    return SPHINX_ROLE.sub(r"\1", html)


# --- JSON Schema (suites, results) -------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _prose(text: str) -> str:
    """Help or description text as Markdown: ``<run>`` is a placeholder to show, not an HTML tag to hide."""
    parts = " ".join(text.split()).split("`")
    for i in range(0, len(parts), 2):  # outside `code spans`, which show their text as it is
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _anchor(name: str) -> str:
    return name.lower()


def _type(schema: dict[str, Any]) -> str:
    """A property's type as a reader says it: links to other definitions, ``or`` for unions, constraints."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            parts = [_type(part) for part in schema[union] if part.get("type") != "null"]
            nullable = any(part.get("type") == "null" for part in schema[union])
            return " or ".join(parts) + (" or null" if nullable else "")
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        text = f"list of {_type(items)}" if items else "list"
    elif kind == "object":
        values = schema.get("additionalProperties")
        text = f"mapping to {_type(values)}" if isinstance(values, dict) and values else "mapping"
    elif kind == "string" and schema.get("format") == "path":
        text = "path"
    else:
        text = str(kind or "any")
    return text + _constraints(schema)


def _constraints(schema: dict[str, Any]) -> str:
    bounds = [
        (key, symbol)
        for key, symbol in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
            ("minItems", "items ≥"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
        )
        if key in schema
    ]
    parts = [f"{symbol} {schema[key]}" for key, symbol in bounds]
    if "pattern" in schema:
        parts.append(f"matching `{schema['pattern']}`")
    return f" ({', '.join(parts)})" if parts else ""


def _default(name: str, schema: dict[str, Any], required: set[str]) -> str:
    if name in required:
        return "**required**"
    if "default" in schema:
        return f"`{json.dumps(schema['default'])}`"
    return "empty" if schema.get("type") in ("array", "object") else "—"


def _definitions_in_order(schema: dict[str, Any]) -> list[str]:
    """Definitions in the order a reader meets them, from the root down (breadth first)."""
    definitions = schema.get("$defs", {})
    order: list[str] = []
    queue = [{key: value for key, value in schema.items() if key != "$defs"}]
    while queue:
        text = json.dumps(queue.pop(0), sort_keys=False)
        for name in re.findall(r'"#/\$defs/([^"]+)"', text):
            if name not in order:
                order.append(name)
                queue.append(definitions[name])
    return order + [name for name in definitions if name not in order]


def schema_reference(schema: dict[str, Any], root: str, level: int = 2) -> str:
    """Every definition of a JSON Schema as a heading, its description and a table of its keys."""
    definitions = schema.get("$defs", {})
    sections = [(root, schema)] + [(name, definitions[name]) for name in _definitions_in_order(schema)]
    lines: list[str] = []
    for name, definition in sections:
        lines += [f"{'#' * level} {name} {{#{_anchor(name)}}}", ""]
        if definition.get("description"):
            lines += [_prose(definition["description"]), ""]
        properties = definition.get("properties", {})
        if not properties:
            continue
        required = set(definition.get("required", []))
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for key, prop in properties.items():
            description = _prose(prop.get("description", "")) or "—"
            row = (f"`{key}`", _type(prop), _default(key, prop, required), description)
            lines.append("| " + " | ".join(_cell(part) for part in row) + " |")
        lines.append("")
    return "\n".join(lines)


def suite_reference() -> str:
    from auditkit.running.suite import suite_model

    return schema_reference(suite_model().model_json_schema(), "Suite")


def results_reference() -> str:
    from auditkit.results.schema import SCHEMA_FILE

    return schema_reference(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")), "Results")


# --- the command line ----------------------------------------------------------------------------------------------


def _parameter_row(param: Any, context: Any) -> str:
    """A parameter as ``--help`` shows it: its names with the value's metavar, then its help with the default."""
    record = param.get_help_record(context)
    names, help_text = record if record else ((param.name or "").upper(), "")
    cells = (f"`{names}`", _prose(help_text) or "—")
    return "| " + " | ".join(_cell(part) for part in cells) + " |"


def _prose_paragraphs(text: str) -> str:
    return "\n\n".join(_prose(paragraph) for paragraph in text.split("\n\n"))


def _usage(name: str, params: list[Any]) -> str:
    arguments = [
        (param.name or "").upper() + ("..." if param.nargs == -1 else "")
        for param in params
        if param.param_type_name == "argument"
    ]
    return " ".join(["auditkit", name, "[OPTIONS]", *arguments])


def cli_reference() -> str:
    """Every command of ``auditkit --help``, in its order: usage, help text, and a table of its parameters.

    Typer vendors its own click, so the commands are read by their attributes, not by click's classes.
    """
    from auditkit.cli import command

    root = command()
    lines: list[str] = []
    with root.context_class(root, info_name="auditkit") as context:
        for name in root.list_commands(context):
            sub = root.get_command(context, name)
            if sub is None or sub.hidden:
                continue
            params = [param for param in sub.params if param.name != "help"]
            lines += [f"## auditkit {name} {{#{name}}}", "", f"```\n{_usage(name, params)}\n```", ""]
            lines += [_prose_paragraphs(inspect.cleandoc(sub.help or "").replace("\b\n", "")), ""]
            if params:
                with sub.context_class(sub, info_name=name, parent=context) as sub_context:
                    lines += ["| argument or option | description |", "|---|---|"]
                    lines += [_parameter_row(param, sub_context) for param in params]
                lines.append("")
    return "\n".join(lines)


def exit_codes_reference() -> str:
    from auditkit.cli.app import EXIT_CODES

    lines = ["| code | short | meaning |", "|--:|---|---|"]
    lines += [f"| `{code}` | {_cell(short)} | {_cell(meaning)} |" for code, (short, meaning) in EXIT_CODES.items()]
    return "\n".join(lines) + "\n"


# --- the Python API -------------------------------------------------------------------------------------------------


def api_reference() -> str:
    """One mkdocstrings block per public name of ``auditkit`` (its curated ``__all__``), where it is defined."""
    import auditkit

    exports: dict[str, str] = auditkit._EXPORTS  # the lazy tables behind auditkit.__getattr__
    modules: dict[str, str] = auditkit._MODULES
    targets = [f"{module}.{name}" for name, module in exports.items()] + list(modules.values())
    lines: list[str] = []
    for target in targets:
        lines += [f"::: {target}", "    options:", "      show_root_heading: true", ""]
    return "\n".join(lines)


GENERATORS: dict[str, Callable[[], str]] = {
    "suite-reference": suite_reference,
    "results-reference": results_reference,
    "cli-reference": cli_reference,
    "exit-codes": exit_codes_reference,
    "api-reference": api_reference,
}
