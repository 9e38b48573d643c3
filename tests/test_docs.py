"""The docs are tested like code: every suite in them validates, every Python example runs, and the reference
they generate covers every key.

``mkdocs build --strict`` (in ``.ci/run``) checks links, anchors and the generated reference pages; these
tests check what a reader copies out of the docs. A code block is a *suite* when it is YAML with ``models``
and ``tasks`` (written as if saved in ``suites/``, where the shipped suites live); snippets of a suite are
not suites. A Python block runs as written in a fresh folder whose ``suites`` is the repository's, with the
shared data and models; the only blocks that do not run are outlines, which say so in their title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DATA, MODELS, REPO, requires_data, requires_models

PAGES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
README_MAX_LINES = 160


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    info: str
    body: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(language: str) -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            info = match.group("info").strip()
            if info.split(" ")[0] == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append(Block(page, line, language, info, match.group("body")))
    return found


def is_suite(block: Block) -> bool:
    try:
        data = yaml.safe_load(block.body)
    except yaml.YAMLError as exc:
        raise AssertionError(f"{block.name}: a YAML block that does not parse: {exc}") from exc
    return isinstance(data, dict) and "models" in data and "tasks" in data


SUITES = [block for block in blocks("yaml") if is_suite(block)]
PYTHON = blocks("python")


def test_the_docs_hold_suites_and_python_examples_to_test() -> None:
    """A guard against a fence pattern that silently matches nothing."""
    assert len(SUITES) >= 4 and len(PYTHON) >= 4
    assert {block.page.name for block in SUITES} >= {"suite.md", "compare-checkpoints.md", "README.md"}


@requires_data
@requires_models
@pytest.mark.parametrize("block", SUITES, ids=lambda block: block.name)
def test_every_suite_in_the_docs_validates(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``auditkit validate`` does (schema, paths, every local dataset file read), in process."""
    from auditkit.running.suite import load_suite
    from auditkit.tasks import load_task_data

    monkeypatch.setenv("AUDITKIT_DATA", str(DATA))
    monkeypatch.setenv("AUDITKIT_MODELS", str(MODELS))
    path = REPO / "suites" / f".docs-example-{block.page.stem}-{block.line}.yaml"  # git-ignored
    path.write_text(block.body, encoding="utf-8")
    try:
        loaded = load_suite(path)
        for spec in loaded.suite.tasks:
            if spec.dataset.path is not None:
                assert len(load_task_data(spec, loaded.suite.seed)) > 0, f"{block.name}: task {spec.name} is empty"
    finally:
        path.unlink()


@requires_data
@requires_models
@pytest.mark.parametrize("block", PYTHON, ids=lambda block: block.name)
def test_every_python_example_runs(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if block.info.startswith('python title="outline'):
        worked = re.search(r"runnable example: (\S+?)\)?\"", block.info)
        assert worked and (REPO / worked.group(1)).is_file(), f"{block.name}: an outline must name its worked example"
        return
    (tmp_path / "suites").symlink_to(REPO / "suites")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITKIT_DATA", str(DATA))
    monkeypatch.setenv("AUDITKIT_MODELS", str(MODELS))
    scope: dict[str, Any] = {"__name__": "__docs_example__"}
    exec(compile(block.body, block.name, "exec"), scope)
    CHECKS.get(block.page.name, lambda scope, printed: None)(scope, capsys.readouterr().out)


def _notebook(scope: dict[str, Any], printed: str) -> None:
    """The notebook tutorial shows what its lines print: hold it to that."""
    assert printed.startswith("GO\n") and "accuracy" in printed
    assert scope["card"].startswith("---\n")
    assert all(Path(p).is_file() for p in scope["report_files"])


def _statistics(scope: dict[str, Any], printed: str) -> None:
    assert scope["d"].n_clusters == 40 and scope["d"].verdict in ("GO", "NO_GO", "INCONCLUSIVE")
    assert len(scope["decisions"]) == 3


CHECKS = {"notebook-api.md": _notebook, "decisions.md": _statistics}


def test_every_suite_key_has_a_type_default_and_description() -> None:
    """The generated suite reference is complete only if every key of the schema says what it is for."""
    from auditkit.running.suite import suite_model

    schema = suite_model().model_json_schema()
    missing = [
        f"{name}.{key}"
        for name, definition in [("Suite", schema), *schema["$defs"].items()]
        for key, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert not missing, f"suite keys without a description (add Field(description=...)): {missing}"


def test_the_generated_reference_names_every_command_key_and_exit_code() -> None:
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    try:
        import docs_reference
    finally:
        sys.path.remove(str(REPO / "tools"))
    from auditkit.cli import command
    from auditkit.cli.app import EXIT_CODES

    cli = docs_reference.cli_reference()
    root = command()
    with root.context_class(root, info_name="auditkit") as context:
        for name in root.list_commands(context):
            assert f"## auditkit {name} " in cli, name
    suite = docs_reference.suite_reference()
    for key in ("fast_mode_min_agreement", "articles_file", "on_inconclusive", "handle_impossible_answer", "null_bias"):
        assert f"| `{key}` |" in suite, key
    assert "[DatasetSpec](#datasetspec)" in suite  # types link to their definitions
    codes = docs_reference.exit_codes_reference()
    assert all(f"| `{code}` |" in codes for code in EXIT_CODES)
    assert "| `schema_version` |" in docs_reference.results_reference()


def test_the_readme_is_short_and_its_commands_are_what_ci_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    bash = [block.body.strip() for block in blocks("bash") if block.page.name == "README.md"]
    install, tests = bash[0], bash[1]
    assert install in ci and tests in ci
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / target).is_file(), f"README links to a missing page: {target}"


def test_the_package_version_has_a_changelog_entry() -> None:
    """Semantic versioning: every released version is a Keep a Changelog heading; unreleased work waits above it."""
    from auditkit import __version__

    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.match(r"^\d+\.\d+\.\d+$", __version__), __version__
    assert f"## [{__version__}]" in changelog and changelog.index("## [Unreleased]") < changelog.index(
        f"## [{__version__}]"
    )
