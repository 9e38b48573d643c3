"""The ``auditkit`` command's application: its options, error handling and exit codes, shared by every command
group of this package.

Exit codes: 0 success (every gate GO); 1 a gate said NO_GO; 2 a usage or input error (bad suite,
dataset, model, results), printed as one message naming the file, the place and the fix -- never a
traceback; 3 the release decision is INCONCLUSIVE (``decision.on_inconclusive`` maps it to 1 or 0);
130 interrupted.
"""

from __future__ import annotations

import errno
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..core.errors import AuditkitError
from ..reports.render import REPORT_FORMATS

if TYPE_CHECKING:
    from ..gates import GateReport


#: The registered report formats, for the commands' help (a plug-in's format is listed too).
REPORT_FORMAT_NAMES = ",".join(REPORT_FORMATS.names())

# Arguments and options several commands take, defined once so their names and help read the same everywhere.
RunDirArg = Annotated[Path, typer.Argument(help="A run directory (or a suite's output folder: its LATEST run).")]
BaselineOpt = Annotated[
    Path | None, typer.Option("--baseline", help="Baseline run for regression gates (overrides the suite's).")
]
BaselineKeyOpt = Annotated[
    Path | None,
    typer.Option("--baseline-key", help="Require the baseline run's signed attestation to verify with this key."),
]
FormatsOpt = Annotated[str, typer.Option("--format", "-f", help=f"Comma-separated: {REPORT_FORMAT_NAMES}.")]
TemplateDirOpt = Annotated[
    Path | None, typer.Option("--template-dir", help="Folder with report templates overriding the defaults.")
]
#: Every exit code of ``auditkit``: (short name, meaning). The help text and the docs' reference are made from this.
EXIT_CODES: dict[int, tuple[str, str]] = {
    0: ("GO (or success)", "every gate said GO, or the command had nothing to decide and succeeded"),
    1: (
        "NO_GO (a gate failed)",
        "run, gate: a gate said NO_GO; plan: some gate cannot be decided; audit-card: a claim does not hold, the card"
        " contradicts itself or an example output differs; verify: the run differs from its attestation; run,"
        " report: the report failed to render (the run stays published)",
    ),
    2: ("input error", "a usage or input error: one message naming the file, the place and the fix"),
    3: (
        "INCONCLUSIVE (decision.on_inconclusive: fail -> 1, pass -> 0)",
        "some gate could not be decided and none said NO_GO; decision.on_inconclusive maps it to 1 (fail) or 0 (pass)",
    ),
    130: ("interrupted", "Ctrl-C or SIGTERM: nothing is published and earlier runs are untouched"),
}
EXIT_CODES_HELP = "Exit codes: " + "; ".join(f"{code} {short}" for code, (short, _) in EXIT_CODES.items()) + "."


app = typer.Typer(
    name="auditkit",
    help="Evaluate and audit transformer models with declarative suites.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


err = Console(stderr=True)


#: Findings of a card audit printed on the console; the audit JSON holds them all.
LISTED_FINDINGS = 20


F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Turn input errors into a message and exit code 2, and Ctrl-C into exit code 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AuditkitError as exc:
            err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/yellow]: no results were written; earlier runs are untouched")
            raise typer.Exit(130) from None
        except OSError as exc:  # a file or folder auditkit was told to read or write
            err.print(f"[bold red]error:[/bold red] {escape(_os_error(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _os_error(exc: OSError) -> str:
    """One line naming the path, what went wrong and what to do; nothing half-written was published."""
    where = exc.filename or "a file"
    problem = exc.strerror or str(exc)
    hints = {
        errno.ENOSPC: "free some disk space (or choose another output folder) and run again",
        errno.EACCES: "choose a folder you can write to, or fix its permissions",
        errno.EROFS: "the file system is read-only: choose another output folder",
        errno.EISDIR: "a file was expected here: give a file name, not a folder",
        errno.ENOTDIR: "a folder was expected in this path",
        errno.ENOENT: "check the path",
    }
    hint = hints.get(exc.errno or 0, "check the path and the permissions")
    return f"{where}: {problem}\n  fix: {hint}; no partial result was published and earlier runs are untouched"


def emit_json(data: Any, out: Path | None) -> None:
    """Machine-readable output: to ``out`` (written atomically) or to stdout."""
    if out is not None:
        from ..results import atomic_write_json

        atomic_write_json(out, data)
    else:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"auditkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evaluate and audit transformer models with declarative suites."""


def parse_formats(value: str) -> list[str]:

    if value.strip().lower() == "none":
        return []
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown:
        raise typer.BadParameter(
            f"unknown format(s) {', '.join(unknown)}; use {', '.join(REPORT_FORMATS.names())} or none",
            param_hint="--format",
        )
    return formats


_MARKS = {
    "GO": "[green]GO[/green]",
    "NO_GO": "[bold red]NO_GO[/bold red]",
    "INCONCLUSIVE": "[yellow]INCONCLUSIVE[/yellow]",
}


def print_gates(verdict: GateReport, quiet: bool) -> None:
    for r in verdict.results:
        if quiet and r.passed:
            continue
        err.print(
            f"{_MARKS[r.verdict]} {escape(f'{r.gate} [{r.model}]: {r.message}')}", highlight=False, soft_wrap=True
        )
    c = verdict.counts()
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg"}.get(verdict.correction, "no")
    for note in verdict.notes:
        err.print(escape(f"note: {note}"), highlight=False, soft_wrap=True)
    if verdict.results:
        from ..gates.outputs import guarantee_sentence

        err.print(escape(guarantee_sentence(verdict)), highlight=False, soft_wrap=True)
    err.print(
        f"decision: {_MARKS[verdict.verdict]} ({c['GO']} GO, {c['NO_GO']} NO_GO, {c['INCONCLUSIVE']} INCONCLUSIVE;"
        f" alpha {verdict.alpha:g}, {correction} correction)",
        highlight=False,
    )


def read_audits(paths: list[Path] | None) -> list[dict[str, Any]] | None:
    """Card audits from ``audit-card --out`` files (each one audit, or a list of them)."""
    if not paths:
        return None
    audits: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AuditkitError(
                f"cannot read the card audit {path}: {exc}", hint="pass a file written by audit-card --out"
            ) from None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(a, dict) and "summary" in a and "model" in a for a in items):
            raise AuditkitError(f"{path} is not a card audit", hint="pass a file written by audit-card --out")
        audits.extend(items)
    return audits


def command() -> Any:
    """The click command behind :data:`app`, with flags shown as flags: typer's help gives boolean flags a
    ``<bool>`` metavar, which reads as if ``--quiet`` took a value."""
    cmd = typer.main.get_command(app)
    commands = [cmd, *getattr(cmd, "commands", {}).values()]
    for each in commands:
        for param in each.params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
    return cmd


def main() -> None:
    """Console-script entry point."""
    sys.exit(command()(prog_name="auditkit"))
