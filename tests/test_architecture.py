"""The layering of auditkit (docs/explanation/architecture.md), checked on the source: lower layers never import
higher ones, module-level imports form no cycle, and reading a finished run loads neither torch nor transformers."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "auditkit"

ARCHITECTURE = PACKAGE.parent / "docs" / "explanation" / "architecture.md"


def read_layers() -> list[tuple[str, ...]]:
    """The layer table of the architecture page -- its single source -- as module prefixes per layer, lowest first."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text[text.index("## Layers") :]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", section, flags=re.M)
    layers = [tuple(re.findall(r"`([\w.]+)`", packages)) for _, packages in rows]
    assert [int(n) for n, _ in rows] == list(range(len(rows))), "layers must be numbered 0, 1, 2, ..."
    return layers


LAYERS = read_layers()


def test_the_layer_table_names_every_top_level_package() -> None:
    """Every sub-package and module of auditkit belongs to a layer, and the table names nothing that is gone."""
    named = {prefix for layer in LAYERS for prefix in layer}
    present = {f"auditkit.{p.stem if p.suffix else p.name}" for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}  # fmt: skip
    assert present <= named, f"not in the architecture page's layer table: {sorted(present - named)}"
    assert named - {"auditkit"} <= present, f"named but absent: {sorted(named - {'auditkit'} - present)}"


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to the architecture page's layer table"
    return best


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported auditkit module, whether the import is at module level) for every import in the file."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    top_level = {id(node) for node in tree.body}
    guarded = set()
    for node in tree.body:  # `if TYPE_CHECKING:` blocks import nothing at run time
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(id(n) for n in ast.walk(node))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules()]
            # `from pkg import submodule` depends on the submodule; `from pkg import name` on pkg itself.
            targets = submodules + ([target] if len(submodules) < len(node.names) else [])
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            if target.startswith("auditkit") and target in modules():
                out.append((target, id(node) in top_level and id(node) not in guarded))
    return out


def test_lower_layers_never_import_higher_ones() -> None:
    violations = []
    for name, path in modules().items():
        for target, _ in imports(name, path):
            if layer_of(target) > layer_of(name):
                violations.append(f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})")
    assert not violations, "\n".join(violations)


def test_no_import_cycles_at_module_level() -> None:
    graph = {name: {t for t, top in imports(name, path) if top and t != name} for name, path in modules().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package importing its own submodules is how packages are assembled, not a cycle.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if not state.get(name):
            visit(name)


def test_reading_a_run_imports_neither_torch_nor_transformers() -> None:
    """Reports, gates, audits and exports of finished runs work from results alone; reading a suite (``auditkit gate
    RUN --suite FILE``) and the command line itself need no torch either."""
    code = (
        "import sys\n"
        "import auditkit, auditkit.results, auditkit.reports, auditkit.gates, auditkit.tasks, auditkit.audit\n"
        "import auditkit.running.suite, auditkit.cli\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "", f"imported while reading results: {proc.stdout.strip()}"


def test_suites_read_the_shipped_configs_as_the_builder_does() -> None:
    """Suites name shipped model configs; reading them needs no torch, so the folder is named twice: once here."""
    from auditkit.models.synthetic import CONFIG_DIR
    from auditkit.spec.schema import SHIPPED_CONFIG_DIR, shipped_configs

    assert SHIPPED_CONFIG_DIR.resolve() == CONFIG_DIR.resolve()
    assert "distilbert-base-cased-distilled-squad" in shipped_configs()
