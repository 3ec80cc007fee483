"""The ``gdlab`` parser: one sub-command group per module of :mod:`service.cli`, and
:func:`main`, which turns a command's :class:`~service.cli.common.UsageError` (and the
engine's and the configuration's errors) into one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from grader.engine import SpecError
from service.cli import (
    exercises,
    export,
    grade,
    instructor,
    reference,
    sandbox,
    serve,
    submit,
)
from service.cli.common import EXIT_USAGE, Parser, SandboxFailureError, UsageError
from service.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    """The ``gdlab`` argument parser with all its subcommands."""
    parser = Parser(prog="gdlab", description="gdlab: grade gradient-descent exercises.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    reference.add_commands(commands)
    grade.add_commands(commands)
    submit.add_submit(commands)
    exercises.add_commands(commands)
    sandbox.add_commands(commands)
    serve.add_commands(commands)
    instructor.add_commands(commands)
    export.add_export(commands, Parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except (UsageError, SpecError, ConfigError) as error:
        print(f"gdlab: error: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except SandboxFailureError as error:
        print(f"gdlab: error: the sandbox failed: {_one_line(str(error))}", file=sys.stderr)
        return 1


def _one_line(text: str) -> str:
    return " ".join(text.split())
