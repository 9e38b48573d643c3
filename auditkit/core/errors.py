"""Errors a user can act on.

Every failure caused by input (a suite, a dataset file, a model id, a results directory) is raised as
one of these. The CLI prints them as a single block -- where, what, how to fix -- and exits with
code 2, so a user never has to read a traceback to learn that line 12 of their suite has a typo.
"""

from __future__ import annotations


class AuditkitError(Exception):
    """Base class: an input problem with a location and a suggested fix."""

    def __init__(
        self, message: str, *, source: str | None = None, location: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.location) if part)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class SuiteError(AuditkitError):
    """The suite file is malformed or refers to something that does not exist."""


class DatasetError(AuditkitError):
    """A dataset file or hub dataset cannot be read, or a record in it is malformed."""


class ModelError(AuditkitError):
    """A model cannot be found, loaded or used for the requested task."""


class ContractError(ModelError):
    """An endpoint's response breaks its contract (missing keys, wrong types, spans not in the context)."""


class ResultsError(AuditkitError):
    """A results directory is missing, incomplete or from an incompatible version."""


class ReportError(AuditkitError):
    """A report cannot be rendered (missing or broken template, unwritable output)."""


class GateError(AuditkitError):
    """A gate cannot be evaluated (unknown metric, missing baseline, incomparable data)."""
