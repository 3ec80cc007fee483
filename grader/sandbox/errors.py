"""What can go wrong around a sandboxed job, as exceptions the service maps to HTTP.

A job that *ran* never raises: however the student's code behaved (raised, looped,
crashed, tried the network) the result carries a verdict. These exceptions are for jobs
that could not run at all.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base class: the job did not run."""


class SandboxBusyError(SandboxError):
    """Every slot is taken and the wait queue is full: try again shortly (HTTP 503).

    Attributes
    ----------
    retry_after : int
        Seconds after which a retry is likely to be served (for ``Retry-After``).
    """

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SandboxUnavailableError(SandboxError):
    """The runner cannot be reached or started (HTTP 503)."""


class SourceRejectedError(SandboxError):
    """The submitted code failed the static checks: not UTF-8, too large, does not parse,
    or lacks the entry point (HTTP 422). Carries where, when it is known.

    Parameters
    ----------
    code : str
        A stable identifier: ``encoding``, ``nul``, ``too-large``, ``empty``, ``syntax``,
        ``missing-entry``, ``signature``.
    message : str
        A sentence for the student.
    line, column : int or None
        1-based position in the source, for syntax errors and entry-point problems.
    """

    def __init__(self, code: str, message: str, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: code, message, line, column."""
        return {"code": self.code, "message": self.message, "line": self.line,
                "column": self.column}
