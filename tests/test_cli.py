"""CLI conventions: --version/-V, flags that look like flags, exit codes in --help, NO_COLOR, quiet progress in
CI or into a pipe, shell completion."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console

from auditkit import __version__
from auditkit.running.jobs import show_progress


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditkit.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "120", **env},
    )


def test_version_flags() -> None:
    for flag in ("--version", "-V"):
        proc = cli(flag)
        assert proc.returncode == 0 and proc.stdout.strip() == f"auditkit {__version__}"


def test_help_documents_exit_codes_and_shows_flags_as_flags() -> None:
    top = cli("--help").stdout
    assert "Exit codes: 0 GO" in top and "2 input error" in top and "3" in top and "INCONCLUSIVE" in top
    for command in ("export", "history", "promote", "keygen", "attest", "verify", "audit-card"):
        assert f" {command} " in top, command  # every command is listed
    for command in ("run", "gate"):
        text = cli(command, "--help").stdout
        assert "Exit codes: 0 GO; 1 NO_GO; 2 input error; 3 INCONCLUSIVE" in " ".join(text.split())
        quiet = next(line for line in text.splitlines() if "--quiet" in line)
        assert "<bool>" not in quiet and "BOOLEAN" not in quiet  # a plain flag, not an option taking a value
    assert cli("gate", "/nonexistent", "--quiet").returncode == 2  # and it parses as one


#: An SGR sequence that sets a foreground or background colour (30-38, 40-48, 90-97, 100-107).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def test_no_color_is_respected() -> None:
    colored = cli("gate", "/nonexistent", FORCE_COLOR="1", TERM="xterm-256color")
    assert COLOUR.search(colored.stderr)  # forced colour shows the check is meaningful
    plain = cli("gate", "/nonexistent", FORCE_COLOR="1", TERM="xterm-256color", NO_COLOR="1")
    assert plain.returncode == 2 and "error:" in plain.stderr and "no results found" in plain.stderr
    assert not COLOUR.search(plain.stderr), plain.stderr  # bold may stay: NO_COLOR forbids colour only


def test_progress_only_for_a_person_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    tty = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    assert show_progress(tty, quiet=False)
    assert not show_progress(tty, quiet=True)
    assert not show_progress(pipe, quiet=False)
    monkeypatch.setenv("CI", "true")
    assert not show_progress(tty, quiet=False)


def test_shell_completion() -> None:
    proc = cli("--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert proc.returncode == 0 and "complete" in proc.stdout and "auditkit" in proc.stdout.lower()
