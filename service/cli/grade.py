"""``gdlab grade FILE --exercise ID``: grade a submission offline, in the sandbox, exactly
as the service would, and print the score, a verdict per learning rate and the diagnosis
(or the JSON of the API with ``--json``; the overlay plot with ``--plot``).

Exit status 0 when graded (whatever the score), 2 for bad usage or code that cannot be
graded, 1 when the sandbox fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from service.cli.common import (
    UsageError,
    catalog,
    exercise,
    grader,
    plot_format,
    report,
    write,
)
from service.report import format_grade


def add_commands(commands) -> None:
    """``gdlab grade``."""
    grade = commands.add_parser(
        "grade",
        help="grade a submission offline, in the sandbox, as the service would",
        description="Grade FILE against an exercise: score, verdict per learning rate, "
                    "diagnosis. Exit status 0 when graded (whatever the score), 2 for bad "
                    "usage or code that cannot be graded, 1 when the sandbox fails.",
    )
    grade.add_argument("file", help="the submission, e.g. adam.py")
    grade.add_argument("--exercise", required=True, metavar="ID", help="the exercise id")
    grade.add_argument("--json", action="store_true", help="print one JSON object")
    grade.add_argument("--plot", metavar="FILE", help="write the overlay plot (.png or .svg)")
    grade.set_defaults(handler=grade_command)


def grade_command(args: argparse.Namespace) -> int:
    """Grade the file, print the result, draw the plot."""
    from grader.sandbox import SourceRejectedError

    try:
        source = Path(args.file).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {args.file}: {error.strerror}") from None
    fmt = plot_format(args.plot)
    exercises = catalog()
    chosen = exercise(exercises, args.exercise)
    with grader(exercises) as grading:
        try:
            result = grading.grade(chosen, source)
        except SourceRejectedError as error:
            where = f"line {error.line}: " if error.line else ""
            raise UsageError(f"{args.file}: {where}{error.message}") from None
    if args.plot:
        from grader.plots import plot_grade

        write(args.plot, plot_grade(result, fmt))
    data = result.to_dict()
    return report(data, lambda: format_grade(data), args)
