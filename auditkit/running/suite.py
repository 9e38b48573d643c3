"""Suite files: the YAML schema, loading, and errors that say where and how to fix.

A suite names models, tasks (each with a dataset and parameters) and run settings. It is validated
with pydantic; every problem is reported with the suite file, the YAML line and column, the key path
(``tasks[1].params.doc_stride``) and what is expected -- all problems at once, not one per attempt.
Relative paths in a suite are resolved against the suite file's folder, and ``${VAR}`` /
``${VAR:-default}`` are expanded from the environment, so one suite works from any directory.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import typing
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, create_model, field_validator, model_validator

from ..core import yamlsafe
from ..core.errors import SuiteError
from ..endpoints.contracts import CONTRACTS
from ..spec.expressions import GateExpr, parse_gate
from ..spec.schema import (
    NAME_PATTERN,
    BootstrapSpec,
    DecisionSpec,
    GateSpec,
    ModelSpec,
    StrictModel,
    TaskSpecBase,
    resolve_optional_path,
    shipped_configs,
)
from ..tasks import TASKS


class Suite(StrictModel):
    """A whole suite file. ``tasks`` holds the spec of each task's registered kind (see :func:`suite_model`)."""

    name: str = Field(pattern=NAME_PATTERN, description="the suite's name: letters, digits, '.', '_' and '-'")
    description: str = Field(default="", description="free text, shown in the report")
    seed: int = Field(default=0, description="seed of `sample:` and of the bootstrap")
    output_dir: Path = Field(
        default=Path("reports/runs"), description="where runs go, relative to the current directory (`-o` overrides)"
    )
    bootstrap: BootstrapSpec = Field(default=BootstrapSpec(), description="the metric tables' intervals")
    models: list[ModelSpec] = Field(min_length=1, description="the models under evaluation")
    tasks: list[TaskSpecBase] = Field(
        min_length=1, description="what the models are evaluated on; each task's kind picks its keys"
    )
    gates: list[GateSpec] = Field(
        default_factory=list, description="release gates: a check string, or a mapping with check and options"
    )
    decision: DecisionSpec = Field(default=DecisionSpec(), description="how gates turn intervals into verdicts")
    baseline: Path | None = Field(
        default=None, description="baseline run directory for regression gates (`--baseline` overrides)"
    )

    _baseline_path = field_validator("baseline", mode="before")(resolve_optional_path)

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Suite:
        # The suite loader checks these itself, to point at the line of each offending name.
        if not (info.context or {}).get("cross_references_checked_by_loader"):
            problems = self.cross_reference_problems()
            if problems:
                raise ValueError(problems[0][1])
        return self

    def cross_reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Names that refer to nothing, or twice to the same thing: (key path, message) each."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for kind, names in (("models", [m.name for m in self.models]), ("tasks", [t.name for t in self.tasks])):
            for i, name in enumerate(names):
                if name in names[:i]:
                    problems.append(((kind, i, "name"), f"duplicate {kind[:-1]} name {name!r}"))
        known = [m.name for m in self.models]
        for i, task in enumerate(self.tasks):
            for j, model in enumerate(task.models or []):
                if model not in known:
                    problems.append(
                        (
                            ("tasks", i, "models", j),
                            f"task {task.name!r} names unknown model {model!r}; the suite defines {known}",
                        )
                    )
        for i, task in enumerate(self.tasks):
            units = TASKS.get(task.kind).cluster_units if task.kind in TASKS else {}
            if task.cluster is not None and task.cluster not in (*units, "none"):
                problems.append(
                    (
                        ("tasks", i, "cluster"),
                        f"task {task.name!r}: {task.cluster!r} is not a sampling unit of kind {task.kind!r};"
                        f" use one of {[*units, 'none']}",
                    )
                )
        tasks = [t.name for t in self.tasks]
        for i, gate in enumerate(self.gates):
            expr = parse_gate(gate.check)
            if expr.task != "card" and expr.op in ("==", "!="):
                problems.append(
                    (
                        ("gates", i) if gate.model_fields_set == {"check"} else ("gates", i, "check"),
                        f"gate {gate.check!r}: {expr.op} cannot be decided from data with error control (a measured"
                        f" value is never exactly a bound); for a tolerance write two gates, e.g."
                        f" '{expr.task}.{expr.metric} >= LOW' and '{expr.task}.{expr.metric} <= HIGH'",
                    )
                )
            where: tuple[str | int, ...] = ("gates", i) if gate.model_fields_set == {"check"} else ("gates", i, "check")
            if expr.task != "card" and expr.task not in tasks:
                problems.append((where, f"gate {gate.check!r} names task {expr.task!r}; the suite's tasks are {tasks}"))
            elif expr.task != "card":
                problem = self._metric_problem(gate.check, expr) or self._range_problem(gate.check, expr)
                if problem:
                    problems.append((where, problem))
            if gate.against is not None and gate.against not in known:
                problems.append(
                    (
                        ("gates", i, "against"),
                        f"gate {gate.label!r} compares against unknown model {gate.against!r}; the suite defines"
                        f" {known}",
                    )
                )
            for j, model in enumerate(gate.models or []):
                if model not in known:
                    problems.append(
                        (
                            ("gates", i, "models", j),
                            f"gate {gate.label!r} names unknown model {model!r}; the suite defines {known}",
                        )
                    )
        return problems

    def _metric_problem(self, check: str, expr: GateExpr) -> str | None:
        """A gate on a figure its task never produces would fail only after every model ran: refused at load."""
        spec = next(t for t in self.tasks if t.name == expr.task)
        if spec.kind not in TASKS or expr.path[0] == "latency" or expr.metric == "agreement":
            return None
        cls = TASKS.get(spec.kind)
        plugins = [metric.name for metric in spec.evaluate]
        if len(expr.path) == 1:
            if expr.metric in cls.metrics or None in plugins:  # an unnamed evaluate metric's name is its module's
                return None
            if any(expr.metric == name or expr.metric.startswith(f"{name}_") for name in plugins if name):
                return None
        elif expr.path[0] in cls.figure_groups:
            return None
        figures = [f"{expr.task}.{group}.<key>" for group in cls.figure_groups]
        known = ", ".join([*cls.metrics, *(name for name in plugins if name)])
        return (
            f"gate {check!r}: {spec.kind} task {expr.task!r} has no metric {'.'.join(expr.path)!r}; its metrics are"
            f" {known}"
            + (f"; other figures: {', '.join(figures)}" if figures else "")
            + f"; and {expr.task}.latency.<key>"
        )

    def _range_problem(self, check: str, expr: GateExpr) -> str | None:
        """A bound outside the metric's range (``pearson >= -1.5``) can only hold or fail trivially: refused."""
        kind = next(t.kind for t in self.tasks if t.name == expr.task)
        if kind not in TASKS or expr.metric not in TASKS.get(kind).metrics:
            return None
        info = TASKS.get(kind).metric_info(expr.metric)
        if expr.number is not None and not info.contains(expr.number):
            return (
                f"gate {check!r}: {expr.number:g} is outside {info.name}'s range {info.range_text()}; a bound"
                " there is met or missed by every model"
            )
        span = info.span
        if expr.baseline_offset is not None and span is not None and abs(expr.baseline_offset) >= span:
            return (
                f"gate {check!r}: a change of {expr.baseline_offset:+g} is at least {info.name}'s whole range"
                f" {info.range_text()}"
            )
        return None

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    def jobs(self) -> list[tuple[ModelSpec, TaskSpecBase]]:
        """(model, task) pairs in suite order: every task with each model it names (default: all)."""
        return [
            (self.model(name), task) for task in self.tasks for name in (task.models or [m.name for m in self.models])
        ]


@functools.cache
def _suite_model(specs: tuple[type[TaskSpecBase], ...]) -> type[Suite]:
    union: Any = Annotated[Union[specs], Field(discriminator="kind")]  # noqa: UP007 - a runtime-built union
    model: type[Suite] = create_model(
        "Suite",
        __base__=Suite,
        tasks=(list[union], Field(min_length=1, description=Suite.model_fields["tasks"].description)),
    )
    return model


def suite_model() -> type[Suite]:
    """The suite schema for the task kinds registered now (plug-ins included), built once per set of kinds."""
    return _suite_model(tuple(task.Spec for task in TASKS.values()))


def validation_context(base_dir: Path) -> dict[str, Any]:
    """What suite validation checks names against: the registered contracts and the shipped model configs."""
    return {
        "base_dir": base_dir,
        "contracts": {name: contract.tasks for name, contract in CONTRACTS.items()},
        "shipped_configs": shipped_configs(),
    }


class LoadedSuite(typing.NamedTuple):
    suite: Suite
    path: Path
    sha256: str


def load_suite(path: str | Path) -> LoadedSuite:
    """Read and validate a suite file; raise :class:`SuiteError` listing every problem with its place."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(
            f"suite file not found: {path}", hint="pass the path of a .yaml suite, e.g. suites/offline-demo.yaml"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        root = yamlsafe.compose(text)
        data = yamlsafe.load(text)
    except UnicodeDecodeError as exc:
        raise SuiteError(f"not UTF-8 text: {exc.reason}", source=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(
            f"invalid YAML: {problem}",
            source=str(path),
            location=where,
            hint="write each key once, each value in full, and only real characters"
            if isinstance(exc, yamlsafe.UnsafeYAML)
            else "fix the YAML syntax (indentation, colons, quotes)",
        ) from None
    return validate_suite(
        data, source=path, base_dir=path.parent.resolve(), root=root, sha256=hashlib.sha256(raw).hexdigest()
    )


def validate_suite(
    data: Any, *, source: Path, base_dir: Path, sha256: str, root: yaml.Node | None = None
) -> LoadedSuite:
    """Validate a suite's data (parsed YAML, or a dict from Python); ``root`` (the YAML nodes) adds line numbers.

    Relative paths resolve against ``base_dir``; every problem is reported at once, with its key path.
    """
    if not isinstance(data, dict):
        raise SuiteError(
            "a suite must be a mapping with 'name', 'models' and 'tasks'", source=str(source), location="top level"
        )
    try:
        context = {**validation_context(base_dir), "cross_references_checked_by_loader": True}
        suite = suite_model().model_validate(data, context=context)
    except ValidationError as exc:
        raise SuiteError(
            _describe(exc, root), source=str(source), hint="see the suite reference (docs/reference/suite.md)"
        ) from None
    problems = suite.cross_reference_problems()
    if problems:
        described = [f"{_yaml_line(root, list(loc))}{_dotted(list(loc))}: {message}" for loc, message in problems]
        raise SuiteError(
            "invalid suite:\n    " + "\n    ".join(described),
            source=str(source),
            hint="fix each problem above: every name must be defined once in the suite, and every gate must"
            " judge something its task measures",
        )
    return LoadedSuite(suite, source, sha256)


def _describe(exc: ValidationError, root: yaml.Node | None) -> str:
    """All validation errors, one per line: ``line L, column C: key.path: message``."""

    lines = []
    for error in exc.errors(include_url=False):
        loc = [
            part
            for i, part in enumerate(error["loc"])
            if not (isinstance(part, str) and part in TASKS and i > 0 and isinstance(error["loc"][i - 1], int))
        ]
        dotted = _dotted(loc)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(error["loc"][:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            message = (
                f"unknown key {loc[-1]!r}"
                + (f" -- did you mean {close[0]!r}?" if close else "")
                + (f" (allowed: {', '.join(allowed)})" if allowed else "")
            )
        elif error["type"] == "missing":
            message = f"missing required key {loc[-1]!r}"
        elif error["type"] == "union_tag_invalid":
            message = (
                f"unknown task kind {error['input'].get('kind')!r}; known kinds: {', '.join(TASKS.names())}"
                if isinstance(error.get("input"), dict)
                else message
            )
        elif "input" in error and not isinstance(error["input"], (dict, list)):
            message += f" (got {error['input']!r})"
        line = _yaml_line(root, loc)
        lines.append(f"{line}{dotted}: {message}")
    return "invalid suite:\n    " + "\n    ".join(lines)


def _dotted(loc: list[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc)) or (
        "(top level)"
    )


def _yaml_line(root: yaml.Node | None, loc: list[Any]) -> str:
    """'line L, column C: ' of the deepest YAML node on ``loc`` (best effort)."""
    node = root
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:  # point at the key itself for missing/extra keys
                child = next((k for k, _ in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    if node is None:
        return ""
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}: "


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the schema model at ``loc`` (for 'did you mean' hints)."""

    cls: Any = Suite
    for i, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if cls is Suite and part == "tasks":
            kind = loc[i + 2] if len(loc) > i + 2 and isinstance(loc[i + 2], str) else None
            cls = TASKS.get(kind).Spec if kind is not None and kind in TASKS else TaskSpecBase
            continue
        if isinstance(part, str) and part in TASKS:
            continue
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return []
        cls = _model_in(field.annotation)
        if cls is None:
            return []
    return sorted(getattr(cls, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
