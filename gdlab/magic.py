"""``%%gdlab_submit EXERCISE``: send the cell, as it is, as a solution file.

Loaded by ``%load_ext gdlab`` (IPython only)::

    %%gdlab_submit adam
    import numpy as np

    def update(params, grad, lr, state, beta1, beta2, eps, **hyper):
        ...

Options: ``--student NAME``, ``--server URL``, ``--local`` (grade here, as
:func:`gdlab.grade`). The cell is not run in the notebook: it is graded in the sandbox.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from gdlab.api import grade, submit
from gdlab.errors import GdlabError
from gdlab.result import Result


class _Arguments(argparse.ArgumentParser):
    """argparse whose mistakes are a :class:`GdlabError` (one line), never an exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GdlabError(f"%%gdlab_submit: {message} ({self.format_usage().strip()})")


def magic_parser() -> argparse.ArgumentParser:
    """The options of ``%%gdlab_submit``.

    Examples
    --------
    >>> magic_parser().parse_args(["adam", "--student", "Ada"]).student
    'Ada'
    """
    parser = _Arguments(prog="%%gdlab_submit", add_help=False)
    parser.add_argument("exercise")
    parser.add_argument("--student")
    parser.add_argument("--server")
    parser.add_argument("--local", action="store_true")
    return parser


def gdlab_submit(line: str, cell: str) -> Result:
    """Grade ``cell`` for the exercise named on ``line``; the result, displayed."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise GdlabError(f"%%gdlab_submit: {error}") from None
    args = magic_parser().parse_args(words)
    if args.local:
        return grade(cell, args.exercise)
    return submit(cell, args.exercise, student=args.student, server=args.server)


def register(ipython: Any) -> None:
    """Register the cell magic on an IPython shell."""
    ipython.register_magic_function(gdlab_submit, magic_kind="cell",
                                    magic_name="gdlab_submit")
